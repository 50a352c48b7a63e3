"""BOBYQA and L-BFGS-B wrappers, lme4's edge restart and boundary snapping."""

import numpy as np
import pytest

from mixedfx.optim.optimize import (
    OptSummary,
    bobyqa,
    evaluate_points,
    finite_difference_derivatives,
    lbfgsb,
    restart_from_edge,
    snap_to_boundary,
)


def test_bobyqa_finds_interior_minimum():
    result = bobyqa(lambda x: float(((x - [0.3, -2.0]) ** 2).sum()), np.array([1.0, 1.0]), np.array([0.0, -np.inf]))
    np.testing.assert_allclose(result.x, [0.3, -2.0], atol=1e-5)
    assert result.convergence_code == 0
    assert result.feval > 0
    assert result.optimizer == "nloptwrap"


def test_bobyqa_respects_lower_bound():
    result = bobyqa(lambda x: float((x[0] + 1.0) ** 2), np.array([2.0]), np.array([0.0]))
    assert result.x[0] == pytest.approx(0.0, abs=1e-8)
    assert result.fval == pytest.approx(1.0, abs=1e-6)


def _quadratic(centre):
    def value_and_gradient(x):
        return float(((x - centre) ** 2).sum()), 2.0 * (x - centre)
    return value_and_gradient


def test_lbfgsb_finds_interior_and_bound_minima():
    result = lbfgsb(_quadratic(np.array([0.3, -2.0])), np.array([1.0, 1.0]), np.array([0.0, -np.inf]))
    np.testing.assert_allclose(result.x, [0.3, -2.0], atol=1e-6)
    assert (result.optimizer, result.convergence_code) == ("L-BFGS-B", 0)
    assert result.feval > 0
    on_bound = lbfgsb(_quadratic(np.array([-1.0])), np.array([2.0]), np.array([0.0]))
    assert on_bound.x[0] == 0.0 and on_bound.fval == pytest.approx(1.0)


def test_lbfgsb_reports_failure_at_a_non_finite_value():
    def infinite_beyond_one(x):
        value, gradient = _quadratic(np.array([3.0]))(x)
        return (np.inf if x[0] > 1.0 else value), gradient

    result = lbfgsb(infinite_beyond_one, np.array([0.5]), np.array([0.0]))
    assert result.return_code < 0
    assert "not finite" in result.messages[0]
    stalled = lbfgsb(_quadratic(np.array([3.0])), np.array([0.5]), np.array([0.0]), maxeval=2)
    assert stalled.return_code < 0 and stalled.messages


def test_maxeval_reported():
    result = bobyqa(lambda x: float(((x - 3.0) ** 2).sum()), np.zeros(3), np.full(3, -np.inf), maxeval=5)
    assert result.convergence_code != 0
    assert any("maximum number of function evaluations" in m for m in result.messages)


def _summary(x, f):
    return OptSummary("nloptwrap", np.array(x), np.array(x, dtype=float), f(np.array(x, dtype=float)), 1, 4)


def test_restart_from_edge_when_moving_inward_helps():
    f = lambda x: float((x[0] - 0.5) ** 2)  # noqa: E731
    lower = np.array([0.0])
    restarted = restart_from_edge(_summary([0.0], f), f, lower)
    assert restarted.x[0] == pytest.approx(0.5, abs=1e-5)
    assert restarted.feval > 1


def test_no_restart_when_bound_is_optimal():
    f = lambda x: float((x[0] + 0.5) ** 2)  # noqa: E731
    start = _summary([0.0], f)
    assert restart_from_edge(start, f, np.array([0.0])) is start


def test_snap_to_boundary_only_when_not_worse():
    flat = lambda x: 1.0  # noqa: E731
    snapped = snap_to_boundary(_summary([3e-6], flat), flat, np.array([0.0]))
    assert snapped.x[0] == 0.0
    rising = lambda x: float(-x[0])  # noqa: E731
    kept = snap_to_boundary(_summary([3e-6], rising), rising, np.array([0.0]))
    assert kept.x[0] == 3e-6


def test_finite_difference_derivatives_of_a_quadratic_and_threads_give_the_same_values():
    a = np.array([[3.0, 0.5, -0.2], [0.5, 2.0, 0.1], [-0.2, 0.1, 1.5]])
    b = np.array([0.3, -1.0, 0.4])

    def quadratic(x):
        return float(0.5 * x @ a @ x + b @ x)

    x = np.array([0.2, -0.1, 0.7])
    grad, hess = finite_difference_derivatives(quadratic, x, quadratic(x))
    np.testing.assert_allclose(grad, a @ x + b, atol=1e-7)
    np.testing.assert_allclose(hess, a, atol=1e-5)
    grad2, hess2 = finite_difference_derivatives(quadratic, x, quadratic(x), workers=2)
    np.testing.assert_array_equal(grad2, grad)
    np.testing.assert_array_equal(hess2, hess)


def test_points_evaluated_on_threads_come_back_in_order():
    points = [np.array([float(i), 2.0 * i]) for i in range(7)]
    assert evaluate_points(lambda x: float(x @ [1.0, 10.0]), points, workers=3) == [21.0 * i for i in range(7)]
    assert evaluate_points(lambda x: float(x.sum()), points[:1], workers=2) == [0.0]


def _mirror_trap(x):
    # at x[0] = 0 only x[1] ** 2 matters; from x[1] = -2 the objective rises along x[0], from +2 it falls
    return float((x[0] * x[1] - 1.0) ** 2 + x[0] ** 2 + (x[1] ** 2 - 4.0) ** 2)


def test_restart_from_edge_tries_the_mirrored_column():
    lower = np.array([0.0, -np.inf])
    stuck = _summary([0.0, -2.0], _mirror_trap)
    assert restart_from_edge(stuck, _mirror_trap, lower) is stuck
    restarted = restart_from_edge(stuck, _mirror_trap, lower, columns=[np.array([0, 1])])
    assert restarted.fval < 0.21 < stuck.fval
    assert restarted.x[0] > 0.3 and restarted.x[1] > 1.9


def test_mirrored_start_needs_a_non_zero_column():
    f = lambda x: float((x[0] + 0.5) ** 2 + x[1] ** 2)  # noqa: E731 - the bound is optimal, the column is 0
    start = _summary([0.0, 0.0], f)
    assert restart_from_edge(start, f, np.array([0.0, -np.inf]), columns=[np.array([0, 1])]) is start
