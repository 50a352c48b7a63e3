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
    summary, evaluations = information_minimise(evaluate, information, x0, model._dof, model.ks)
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

    summary, _ = information_minimise(evaluate, weak, crossed_model.start_theta(), crossed_model._dof,
                                  crossed_model.ks)
    reference = crossed_model.optimize(LmerControl(use_gradient=False))
    # some trial rose above the best value before it, and a halving took its place
    assert any(value > min(values[:i]) for i, value in enumerate(values) if i)
    assert summary is not None and summary.fval <= reference.fval + 1e-6


def _unprofiled_hessian(model, theta, sigma2, h=1e-4):
    """Central second differences over psi = (each term's covariance entries, sigma^2) of the criterion at
    (theta(psi), sigma): -2 log-likelihood (REML: restricted) as a function of the variance components."""
    from mixedfx.lmm.variance_parameters import covariance_entries, theta_of_covariances

    psi = np.empty(theta.size + 1)
    covariance_entries(theta, model.ks, sigma2, psi)
    psi[-1] = sigma2

    def f(point):
        moved = np.empty(theta.size)
        assert theta_of_covariances(point, model.ks, moved)
        return model.deviance_at_scale(moved, np.sqrt(point[-1]))

    steps = h * np.maximum(np.abs(psi), 1e-2)
    n = psi.size
    hessian = np.empty((n, n))
    for i in range(n):
        for j in range(n):
            ei, ej = np.eye(n)[i] * steps[i], np.eye(n)[j] * steps[j]
            hessian[i, j] = (f(psi + ei + ej) - f(psi + ei - ej) - f(psi - ei + ej) + f(psi - ei - ej)) / (
                4 * steps[i] * steps[j])
    return hessian


@pytest.mark.parametrize("reml", [True, False])
def test_average_information_of_a_vector_valued_term_is_close_to_the_hessian_at_the_optimum(sleep, reml):
    import mixedfx as mfx

    formula = "Reaction ~ Days + I(Days^2) + (Days + I(Days^2) | Subject)"
    model = mfx.lmer_model(mfx.lmer_design(formula, sleep), REML=reml)
    theta = mfx.optimize_lmer(model).x
    point = model._criterion_point(theta, None)
    sigma2 = point.factor.pwrss / model._dof
    information = average_information(model.cross, point, sigma2)
    finite = _unprofiled_hessian(model, theta, sigma2)
    np.testing.assert_allclose(information, information.T)
    np.testing.assert_allclose(information, finite, rtol=0.02, atol=0.01 * np.abs(np.diag(finite)).max())


@pytest.mark.parametrize("reml", [True, False])
def test_steps_on_a_vector_valued_term_reach_bobyqa_s_optimum(sleep, reml):
    import mixedfx as mfx

    formula = "Reaction ~ Days + I(Days^2) + (Days + I(Days^2) | Subject)"
    # on Z's columns rescaled, as the fit optimises it (Days^2 runs to 81)
    model = mfx.lmer_model(mfx.lmer_design(formula, sleep), REML=reml)._rescaled
    reference = model.optimize(LmerControl(use_gradient=False))
    summary, evaluations, calls = _minimise(model, model.start_theta())
    assert summary.optimizer == "ai-newton" and evaluations <= 8 < reference.feval
    assert summary.fval <= reference.fval + 1e-8
