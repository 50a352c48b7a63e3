"""The analytic gradient of lmer's criterion for scalar terms against finite differences."""

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.linalg import derivatives
from mixedfx.design.matrices import build_model_matrices
from mixedfx.lmm.model import LinearMixedModel
from mixedfx.lmm.gradient import GradientWorkspace, criterion_gradient, spherical_effects


def _gradient(model, theta, workspace=None):
    dof = model.n - model.p if model.reml else model.n
    return criterion_gradient(model.factorizer, model.factor(theta), theta, model.reml, dof, workspace)


def _richardson(model, theta, h=1e-3):
    """Central differences with one Richardson step: error of order h^4."""
    def central(step):
        return np.array([(model.objective(theta + step * e) - model.objective(theta - step * e)) / (2 * step)
                         for e in np.eye(theta.size)])
    return (4 * central(h) - central(2 * h)) / 3


@pytest.fixture(scope="module")
def penicillin():
    data = mfx.datasets.load("Penicillin")
    return LinearMixedModel(build_model_matrices("diameter ~ 1 + (1 | plate) + (1 | sample)", data))


@pytest.mark.parametrize("reml", [True, False])
def test_gradient_matches_finite_differences_on_a_sparse_crossed_design(crossed_model, reml):
    model = crossed_model.with_criterion(reml)
    assert model.has_gradient
    theta = np.array([0.6, 0.5])
    np.testing.assert_allclose(_gradient(model, theta), _richardson(model, theta), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("reml", [True, False])
def test_gradient_matches_finite_differences_with_a_dense_coupling(penicillin, reml):
    model = penicillin.with_criterion(reml)
    theta = model.start_theta() * 1.3
    np.testing.assert_allclose(_gradient(model, theta), _richardson(model, theta), rtol=1e-6, atol=1e-8)


def test_gradient_vanishes_where_a_theta_is_zero(crossed_model):
    theta = np.array([0.6, 0.0])
    gradient = _gradient(crossed_model, theta)
    assert gradient[1] == 0.0
    # the criterion is even in theta_2: it leaves zero quadratically, with no linear term
    f0 = crossed_model.objective(theta)
    rise = [crossed_model.objective(theta + [0.0, h]) - f0 for h in (2e-3, 1e-3)]
    assert rise[0] / rise[1] == pytest.approx(4.0, rel=1e-2)


def test_single_precision_inverse_agrees_with_double(crossed_model, monkeypatch):
    theta = np.array([0.6, 0.5])
    single = _gradient(crossed_model, theta)
    monkeypatch.setattr(derivatives, "SINGLE_MAX_COND", 0.0)
    double = _gradient(crossed_model, theta)
    np.testing.assert_allclose(single, double, rtol=1e-4, atol=1e-4)
    assert not np.array_equal(single, double)


def test_a_reused_workspace_gives_the_same_gradient(crossed_model):
    workspace = GradientWorkspace(crossed_model.cross.a_rr.shape[0])
    theta = np.array([0.3, 0.9])
    first = _gradient(crossed_model, theta, workspace)
    _gradient(crossed_model, np.array([1.2, 0.1]), workspace)
    np.testing.assert_array_equal(_gradient(crossed_model, theta, workspace), first)


def test_objective_and_gradient_in_a_workspace_match_the_separate_calls(crossed_model):
    workspace = GradientWorkspace(crossed_model.cross.a_rr.shape[0])
    theta = np.array([0.6, 0.5])
    value, gradient = crossed_model.objective_and_gradient(theta, workspace)
    assert value == pytest.approx(crossed_model.objective(theta), rel=1e-13)
    np.testing.assert_allclose(gradient, _gradient(crossed_model, theta), rtol=1e-12)


def test_spherical_effects_match_the_factor_solution(crossed_model, penicillin):
    for model in (crossed_model, penicillin):
        theta = model.start_theta() * 0.9
        factor = model.factor(theta)
        np.testing.assert_allclose(spherical_effects(model.cross, factor, theta), factor.solve_coefficients()[1],
                                   rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("reml", [True, False])
def test_gradient_and_fit_with_prior_weights_and_an_offset(reml):
    from tests.conftest import crossed_ratings

    data = crossed_ratings(5, 0.4)
    data["w"] = np.random.default_rng(5).uniform(0.5, 2.0, len(data))
    data["o"] = 0.3 * data["x"]
    matrices = build_model_matrices("y ~ x + (1 | subject) + (1 | item)", data, weights="w", offset="o")
    model = LinearMixedModel(matrices, reml=reml)
    assert model.has_gradient
    theta = np.array([0.7, 0.4])
    np.testing.assert_allclose(_gradient(model, theta), _richardson(model, theta), rtol=1e-6, atol=1e-6)
    fast = mfx.lmer("y ~ x + (1 | subject) + (1 | item)", data, REML=reml, weights="w", offset="o")
    slow = mfx.lmer("y ~ x + (1 | subject) + (1 | item)", data, REML=reml, weights="w", offset="o",
                    control={"use_gradient": False})
    assert fast.opt_summary.optimizer == "ai-newton"
    assert fast.deviance <= slow.deviance + 1e-6
    np.testing.assert_allclose(fast.theta, slow.theta, rtol=1e-4)
