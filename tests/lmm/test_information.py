"""Newton steps on the average information: the matrix against the Hessian, and the steps."""

import numpy as np
import pytest

from mixedfx.lmm.information import average_information, information_minimise
from mixedfx.lmm.control import LmerControl


def _profiled_hessian(model, theta):
    """2 AI mapped from psi = (sigma^2 theta^2, sigma^2) to theta, sigma^2 profiled out."""
    point = model._criterion_point(theta, None)
    sigma2 = point.factor.pwrss / model._dof
    information = average_information(model.cross, point, sigma2)
    k = len(theta)
    jacobian = np.eye(k + 1)
    jacobian[:k, :k] = np.diag(2.0 * sigma2 * theta)
    jacobian[:k, k] = theta**2
    full = jacobian.T @ information @ jacobian
    return full[:k, :k] - np.outer(full[:k, k], full[k, :k]) / full[k, k]


@pytest.mark.parametrize("reml", [True, False])
def test_average_information_is_close_to_the_hessian_at_the_optimum(crossed_model, reml):
    model = crossed_model.with_criterion(reml)
    theta = model.optimize(LmerControl(use_gradient=False)).x
    h = 1e-5
    finite = np.array([(model.objective_and_gradient(theta + h * e)[1]
                        - model.objective_and_gradient(theta - h * e)[1]) / (2 * h) for e in np.eye(theta.size)])
    approx = _profiled_hessian(model, theta)
    np.testing.assert_allclose(approx, approx.T)
    np.testing.assert_allclose(approx, finite, rtol=0.01, atol=0.01 * np.abs(np.diag(finite)).max())


def _minimise(model, x0, information=None):
    calls = []

    def evaluate(theta, with_gradient):
        calls.append(with_gradient)
        return model._criterion_point(theta, None, with_gradient)

    information = information or (lambda point, sigma2: average_information(model.cross, point, sigma2))
    summary, evaluations = information_minimise(evaluate, information, x0, model._dof)
    return summary, evaluations, calls


@pytest.mark.parametrize("reml", [True, False])
def test_steps_reach_bobyqas_optimum_in_a_few_evaluations(crossed_model, reml):
    model = crossed_model.with_criterion(reml)
    reference = model.optimize(LmerControl(use_gradient=False))
    summary, evaluations, calls = _minimise(model, model.start_theta())
    assert summary.optimizer == "ai-newton" and summary.convergence_code == 0
    assert evaluations == summary.feval == len(calls) <= 8 < reference.feval
    assert summary.fval <= reference.fval + 1e-8
    np.testing.assert_allclose(summary.x, reference.x, rtol=1e-4)
    # the last step, predicted to gain little, is taken without a gradient at its end
    assert calls[-1] is False and all(calls[:-1])


def test_steps_hand_over_near_a_zero_theta(crossed_model):
    summary, evaluations, _ = _minimise(crossed_model, np.array([0.6, 1e-6]))
    assert summary is None and evaluations == 1


def test_steps_hand_over_where_the_information_is_not_positive_definite(crossed_model):
    k = crossed_model.start_theta().size
    summary, evaluations, _ = _minimise(crossed_model, crossed_model.start_theta(),
                                        information=lambda point, sigma2: -np.eye(k + 1))
    assert summary is None and evaluations == 1


def test_steps_that_overshoot_are_halved(crossed_model):
    # an information four times too small makes every step four times too long
    def weak(point, sigma2):
        return average_information(crossed_model.cross, point, sigma2) / 4.0

    values = []

    def evaluate(theta, with_gradient):
        point = crossed_model._criterion_point(theta, None, with_gradient)
        values.append(point.value)
        return point

    summary, _ = information_minimise(evaluate, weak, crossed_model.start_theta(), crossed_model._dof)
    reference = crossed_model.optimize(LmerControl(use_gradient=False))
    # some trial rose above the best value before it, and a halving took its place
    assert any(value > min(values[:i]) for i, value in enumerate(values) if i)
    assert summary is not None and summary.fval <= reference.fval + 1e-6
