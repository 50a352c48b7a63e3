"""The analytic gradient of lmer's criterion for vector-valued terms against finite differences."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.linalg import derivatives
from mixedfx.linalg.derivatives import dense_derivatives
from mixedfx.lmm.gradient import template_gradient

_MAXIMAL = "rt ~ 1 + spkr*prec*load + (1 + spkr + prec | subj) + (1 + load | item)"


def _gradient(model, theta, compiled=True):
    """The gradient as the model's factoriser gives it (compiled for one term), or by numpy's dense formulas."""
    dof = model.n - model.p if model.reml else model.n
    size = model.cross.layout.q_rest + (model.p if model.reml else 0)
    if compiled:
        factor, derivatives = model.factorizer.factor_with_derivatives(theta, size)
    else:
        factor = model.factor(theta)
        derivatives = dense_derivatives(model.cross, factor, theta, size)
    return template_gradient(derivatives, factor.pwrss, dof)


def _richardson(model, theta, h=1e-4):
    """Central differences with one Richardson step: error of order h^4."""
    def central(step):
        return np.array([(model.objective(theta + step * e) - model.objective(theta - step * e)) / (2 * step)
                         for e in np.eye(theta.size)])
    return (4 * central(h) - central(2 * h)) / 3


def _random_theta(model, seed):
    rng = np.random.default_rng(seed)
    return np.where(model.lower == 0.0, rng.uniform(0.2, 1.5, model.lower.size), rng.normal(0.0, 0.6, model.lower.size))


@pytest.fixture(scope="module")
def maximal():
    return mfx.lmer_model(mfx.lmer_design(_MAXIMAL, mfx.datasets.load("maximal_2k")))


@pytest.fixture(scope="module")
def quadratic():
    formula = "Reaction ~ Days + I(Days^2) + (Days + I(Days^2) | Subject)"
    return mfx.lmer_model(mfx.lmer_design(formula, mfx.datasets.load("sleepstudy")))


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("seed", [1, 2])
def test_gradient_matches_finite_differences_on_crossed_vector_terms(maximal, reml, seed):
    model = maximal.with_criterion(reml)
    assert model.factorizer.gradient == "vector"
    theta = _random_theta(model, seed)
    expected = _richardson(model, theta)
    np.testing.assert_allclose(_gradient(model, theta), expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("reml", [True, False])
def test_gradient_matches_finite_differences_on_one_term(quadratic, reml, compiled):
    model = quadratic.with_criterion(reml)
    assert model.factorizer.name == "one term (compiled)"
    theta = _random_theta(model, 3)
    expected = _richardson(model, theta)
    np.testing.assert_allclose(_gradient(model, theta, compiled), expected, rtol=1e-6,
                               atol=1e-6 * np.abs(expected).max())


def test_gradient_holds_on_the_boundary(maximal):
    # a zero diagonal (Lambda singular): the one-sided difference into the feasible side agrees
    theta = _random_theta(maximal, 4)
    theta[3] = 0.0
    gradient = _gradient(maximal, theta)
    h = 1e-6
    step = np.zeros_like(theta)
    step[3] = h
    one_sided = (-3 * maximal.objective(theta) + 4 * maximal.objective(theta + step)
                 - maximal.objective(theta + 2 * step)) / (2 * h)
    assert gradient[3] == pytest.approx(one_sided, rel=1e-4)
    assert gradient[3] != 0.0


def test_gradient_with_prior_weights():
    data = mfx.datasets.load("maximal_2k")
    weights = np.random.default_rng(5).uniform(0.5, 2.0, len(data))
    model = mfx.lmer_model(mfx.lmer_design(_MAXIMAL, data, weights=weights), REML=False)
    theta = _random_theta(model, 6)
    expected = _richardson(model, theta)
    np.testing.assert_allclose(_gradient(model, theta), expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_optimum_has_a_vanishing_projected_gradient(maximal):
    # the gradient path ends where every free component is near zero and the bound ones point outward
    fit = mfx.optimize_lmer(maximal)
    assert fit.optimizer == "L-BFGS-B"
    gradient = _gradient(maximal, fit.x)
    on_bound = fit.x <= maximal.lower
    assert np.all(np.abs(gradient[~on_bound]) < 1e-2)
    assert np.all(gradient[on_bound] > -1e-2)


def _sparse_crossed(seed):
    """(x | d) + (x2 + x3 | e) + (1 | s) on simulated data: a scalar first term on many levels, a sparse coupling,
    two vector-valued rest terms, each with variance to find."""
    rng = np.random.default_rng(seed)
    n, n_d, n_e = 3000, 150, 30
    frame = pd.DataFrame({"s": pd.Categorical(rng.integers(0, 700, n)), "d": pd.Categorical(rng.integers(0, n_d, n)),
                          "e": pd.Categorical(rng.integers(0, n_e, n)), "x": rng.normal(size=n),
                          "x2": rng.normal(size=n), "x3": rng.normal(size=n)})
    d, e, s = (frame[g].cat.codes.to_numpy() for g in ("d", "e", "s"))
    correlation = rng.uniform(-0.95, 0.95)
    b_d = rng.multivariate_normal([0, 0], [[1, correlation / 2], [correlation / 2, 0.25]], size=n_d) * rng.uniform(0.2, 1.5)
    b_e = rng.normal(size=(n_e, 3)) * rng.uniform(0, 1, 3)
    frame["y"] = (frame["x"] + b_d[d, 0] + b_d[d, 1] * frame["x"] + b_e[e, 0] + b_e[e, 1] * frame["x2"]
                  + b_e[e, 2] * frame["x3"] + rng.normal(size=700)[s] * rng.uniform(0, 1) + rng.normal(size=n))
    return mfx.lmer_model(mfx.lmer_design("y ~ x + (x | d) + (x2 + x3 | e) + (1 | s)", frame))


@pytest.fixture(scope="module")
def sparse_crossed():
    return _sparse_crossed(11)


@pytest.mark.parametrize("reml", [True, False])
def test_sparse_coupling_gradient_matches_the_dense_formulas_and_finite_differences(sparse_crossed, reml,
                                                                                     monkeypatch):
    model = sparse_crossed.with_criterion(reml)
    assert model.factorizer.name == "vector-valued rest, scalar first term, sparse coupling"
    theta = _random_theta(model, 12)
    theta[1] = 0.0  # a zero diagonal in a rest term
    single = _gradient(model, theta)  # the rest's inverse in single precision
    dense = _gradient(model, theta, compiled=False)
    np.testing.assert_allclose(single, dense, rtol=1e-5, atol=1e-5 * np.abs(dense).max())
    monkeypatch.setattr(derivatives, "SINGLE_MAX_COND", 0.0)
    compiled = _gradient(model, theta)
    np.testing.assert_allclose(compiled, dense, rtol=1e-9, atol=1e-9 * np.abs(compiled).max())
    free = np.flatnonzero(theta != 0.0)
    expected = _richardson(model, theta)
    np.testing.assert_allclose(compiled[free], expected[free], rtol=1e-6, atol=1e-6 * np.abs(expected).max())


@pytest.mark.parametrize("seed", [100, 103, 107])
def test_sparse_coupling_fit_on_the_gradient_reaches_bobyqa_s_optimum(seed):
    model = _sparse_crossed(seed)
    fit = mfx.optimize_lmer(model)
    bobyqa = model.optimize(mfx.LmerControl(use_gradient=False))
    assert fit.optimizer in ("ai-newton", "L-BFGS-B")
    assert fit.fval <= bobyqa.fval + 1e-5


def test_sparse_coupling_fit_inside_the_bounds_takes_information_steps():
    # seed 100's optimum has every variance well away from zero: Newton steps on the average information
    # reach it where L-BFGS-B took 60 evaluations
    model = _sparse_crossed(100)
    fit = mfx.optimize_lmer(model)
    bobyqa = model.optimize(mfx.LmerControl(use_gradient=False))
    assert fit.optimizer == "ai-newton" and fit.feval <= 12
    assert fit.fval <= bobyqa.fval + 1e-7


def test_sparse_coupling_model_takes_a_new_response_and_a_held_fixed_effect(sparse_crossed):
    # the factoriser keeps the coupling's values (completed pattern): a new response or a fixed effect moved into
    # the offset must reach it
    theta = _random_theta(sparse_crossed, 13)
    matrices = sparse_crossed.matrices
    fresh = mfx.lmer_model(replace(matrices, y=2.0 * matrices.y))
    assert sparse_crossed.with_response(2.0 * matrices.y).objective(theta) == pytest.approx(fresh.objective(theta),
                                                                                            rel=1e-10)
    moved = mfx.lmer_model(replace(matrices, X=matrices.X[:, :1], x_names=matrices.x_names[:1],
                                   offset=matrices.offset + 0.5 * matrices.X[:, 1]))
    assert sparse_crossed.with_fixed_effect(1, 0.5).objective(theta) == pytest.approx(moved.objective(theta),
                                                                                      rel=1e-10)
