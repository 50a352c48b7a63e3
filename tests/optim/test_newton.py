"""Newton steps on finite-difference derivatives against functions whose minimum is known."""

import numpy as np
import pytest

from mixedfx.optim.newton import CachedObjective, gradient_hessian, newton_minimise

_MINIMUM = np.array([0.7, -1.2, 2.0])
_QUADRATIC = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])


def _smooth(x):
    """Convex, not quadratic: its Hessian at a start away from the minimum is off, as glmer's stage 2's."""
    d = np.asarray(x) - _MINIMUM
    return float(d @ _QUADRATIC @ d + np.sum(np.cosh(d)) - 3.0)


def _smooth_and_gradient(x):
    d = np.asarray(x) - _MINIMUM
    return _smooth(x), 2.0 * _QUADRATIC @ d + np.sinh(d)


def test_newton_reaches_the_minimum_of_a_smooth_function():
    result = newton_minimise(_smooth, _MINIMUM + 0.3, np.full(3, -np.inf))
    assert result is not None and result.optimizer == "newton" and result.return_code == 3
    assert np.allclose(result.x, _MINIMUM, atol=1e-5)
    assert result.fval == pytest.approx(0.0, abs=1e-8)
    assert result.feval < 60  # a quadratic model from the start, then gradients of 6 points


def test_newton_gives_up_where_a_bound_is_in_the_way():
    lower = np.array([0.8, -np.inf, -np.inf])  # the minimum's first coordinate lies below its bound
    assert newton_minimise(_smooth, _MINIMUM + np.array([0.3, 0.3, 0.3]), lower) is None


def test_newton_gives_up_on_a_saddle():
    def saddle(x):
        return float(x[0] ** 2 - x[1] ** 2)
    assert newton_minimise(saddle, np.array([0.1, 0.1]), np.full(2, -np.inf)) is None


def test_newton_gives_up_where_steps_do_not_lower_the_objective():
    def flattening(x):  # convex, but its curvature at the start sends the first step far past the minimum
        return float(np.sqrt(1.0 + x[0] ** 2) + x[1] ** 2)
    assert newton_minimise(flattening, np.array([2.0, 0.0]), np.full(2, -np.inf)) is None


def test_cached_objective_evaluates_each_point_once():
    calls = []

    def objective(x):
        calls.append(x.copy())
        return float(x.sum())

    cached = CachedObjective(objective)
    assert cached(np.array([1.0, 2.0])) == 3.0
    assert cached(np.array([1.0, 2.0])) == 3.0
    assert cached(np.array([1.0, 2.5])) == 3.5
    assert len(calls) == 2 and cached.evaluations == 2


def test_newton_gives_up_where_the_objective_fails_near_the_start():
    def failing(x):  # an objective that fails (PIRLS: inf) on one side of the start
        return np.inf if x[0] > 1.0 else _smooth(x)
    assert newton_minimise(failing, np.array([1.0, -1.0, 2.0]), np.full(3, -np.inf)) is None


def test_newton_on_an_exact_gradient_takes_one_evaluation_per_step():
    calls = []

    def counted(x):
        calls.append(x)
        return _smooth_and_gradient(x)
    result = newton_minimise(_smooth, _MINIMUM + 0.3, np.full(3, -np.inf), gradient=counted)
    assert result is not None and result.return_code == 3
    assert np.allclose(result.x, _MINIMUM, atol=1e-5)
    assert result.feval == len(calls) < 12  # the start, its Hessian's 3 points, then a point per step


def test_newton_gives_up_where_the_exact_gradient_fails():
    def failing(x):
        return _smooth(x), np.full(3, np.nan)
    assert newton_minimise(_smooth, _MINIMUM + 0.3, np.full(3, -np.inf), gradient=failing) is None


@pytest.mark.parametrize("workers", [1, 2])
def test_gradient_hessian_matches_the_analytic_hessian(workers):
    x = _MINIMUM + np.array([0.4, -0.2, 0.1])
    hessian = gradient_hessian(_smooth_and_gradient, x, _smooth_and_gradient(x)[1], workers=workers)
    expected = 2.0 * _QUADRATIC + np.diag(np.cosh(x - _MINIMUM))
    np.testing.assert_allclose(hessian, expected, rtol=1e-6)
    np.testing.assert_array_equal(hessian, hessian.T)
