"""Newton steps on finite-difference derivatives against functions whose minimum is known."""

import numpy as np
import pytest

from mixedfx.optim.newton import CachedObjective, gradient_hessian, hessian_columns, newton_minimise, projected_bfgs

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


def test_newton_from_a_given_start_hessian_skips_its_differences():
    calls = []

    def counted(x):
        calls.append(x)
        return _smooth_and_gradient(x)
    rough = 2.0 * np.diag(np.diag(_QUADRATIC)) + np.eye(3)  # the curvature without its coupling
    result = newton_minimise(_smooth, _MINIMUM + 0.3, np.full(3, -np.inf), gradient=counted, hessian=rough)
    assert result is not None and result.return_code == 3
    assert np.allclose(result.x, _MINIMUM, atol=1e-4)
    assert not any(np.count_nonzero(x != _MINIMUM + 0.3) == 1 for x in calls)  # no point one step off the start


def test_newton_takes_differences_where_the_given_hessian_is_not_positive_definite():
    calls = []

    def counted(x):
        calls.append(x)
        return _smooth_and_gradient(x)
    result = newton_minimise(_smooth, _MINIMUM + 0.3, np.full(3, -np.inf), gradient=counted, hessian=-np.eye(3))
    assert result is not None and np.allclose(result.x, _MINIMUM, atol=1e-5)
    assert sum(np.count_nonzero(x != _MINIMUM + 0.3) == 1 for x in calls) == 3


def test_hessian_columns_are_those_of_gradient_hessian():
    x = _MINIMUM + np.array([0.4, -0.2, 0.1])
    slope = _smooth_and_gradient(x)[1]
    columns = hessian_columns(_smooth_and_gradient, x, slope, np.array([2, 0]))
    expected = 2.0 * _QUADRATIC + np.diag(np.cosh(x - _MINIMUM))
    np.testing.assert_allclose(columns, expected[:, [2, 0]], rtol=1e-6)


def test_projected_bfgs_reaches_an_inner_minimum():
    result = projected_bfgs(_smooth_and_gradient, np.zeros(3), np.full(3, -np.inf), gtol=1e-8)
    assert result.return_code == 1 and result.optimizer == "BFGS"
    np.testing.assert_allclose(result.x, _MINIMUM, atol=1e-6)
    assert result.feval < 40


def test_projected_bfgs_stops_on_a_bound_the_gradient_pushes_against():
    lower = np.array([0.8, -np.inf, 2.5])  # both bounds above the minimum's coordinates
    result = projected_bfgs(_smooth_and_gradient, np.array([1.5, 0.0, 3.0]), lower, gtol=1e-7)
    assert result.return_code == 1
    assert result.x[0] == 0.8 and result.x[2] == 2.5
    slope = _smooth_and_gradient(result.x)[1]
    assert slope[0] > 0 and slope[2] > 0 and abs(slope[1]) <= 1e-7


def test_projected_bfgs_first_step_has_the_given_length():
    calls = []

    def counted(x):
        calls.append(np.array(x))
        return _smooth_and_gradient(x)
    projected_bfgs(counted, np.zeros(3), np.full(3, -np.inf), first_step=0.3)
    assert np.linalg.norm(calls[1] - calls[0]) == pytest.approx(0.3)


def test_projected_bfgs_fails_where_the_start_has_no_gradient():
    result = projected_bfgs(lambda x: (1.0, np.full(2, np.nan)), np.zeros(2), np.full(2, -np.inf))
    assert result.return_code == -1 and result.feval == 1


def test_projected_bfgs_steps_back_from_points_without_a_value():
    def walled(x):  # fails beyond 0.5 in the first coordinate, the minimum lying beyond the wall
        return (np.inf, np.full(3, np.nan)) if x[0] > 0.5 else _smooth_and_gradient(x)
    result = projected_bfgs(walled, np.zeros(3), np.full(3, -np.inf), first_step=2.0, maxeval=60)
    assert result.x[0] <= 0.5 and result.fval < _smooth(np.zeros(3))
