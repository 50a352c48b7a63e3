import warnings

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.design.matrices import build_model_matrices
from mixedfx.glmm import scalar_laplace
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.model import HESSIAN_FORMS_AGREE, SCALAR_NEWTON_MAX_WORK, GeneralizedLinearMixedModel

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
NEWTON = "Newton steps on the exact Laplace deviance (one scalar term)"
ON = {"exact_laplace": True}
TWO_STAGES = {"scalar_newton": False}


def _data(seed, family, n_levels, per_level, sd, offset=False):
    """A random one-term model's data: x, a three-level factor f and group g."""
    rng = np.random.default_rng(seed)
    n = n_levels * per_level
    g = np.repeat(np.arange(n_levels), per_level)
    x, f = rng.normal(size=n), rng.integers(0, 3, n)
    eta = -0.5 + 0.7 * x + 0.3 * (f == 1) + rng.normal(0, sd, n_levels)[g]
    data = pd.DataFrame({"g": [f"L{v}" for v in g], "x": x, "f": [f"F{v}" for v in f]})
    if family == "poisson":
        data["t"] = rng.uniform(0.5, 2.0, n)
        data["y"] = rng.poisson(np.exp(eta + 1 + (np.log(data["t"]) if offset else 0.0)))
        return ("y ~ x + f + offset(log(t)) + (1 | g)" if offset else "y ~ x + f + (1 | g)"), data
    size = rng.integers(1, 12, n)
    data["s"] = rng.binomial(size, 1 / (1 + np.exp(-eta)))
    data["fl"] = size - data["s"]
    return "cbind(s, fl) ~ x + f + (1 | g)", data


def _both(formula, data, family):
    """The fit by Newton steps on the exact Laplace deviance where it takes them, and by lme4's two stages."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (mfx.glmer(formula, data, family=family, control=ON),
                mfx.glmer(formula, data, family=family, control=TWO_STAGES))


def _kernel_deviance(newton, pars):
    u, base = np.zeros(newton.n_levels), np.empty(len(newton.codes))
    scalar_laplace._bases(newton.X, newton.offset, pars[1:], base)
    value = scalar_laplace._modes(newton.code, newton.a, newton.b, newton.z, newton.codes, base, pars[0], u,
                                  np.empty((scalar_laplace._MODE_WORK_ROWS, newton.n_levels)))
    return value, u, base


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_gradient_and_hessian_are_those_of_the_deviance(family):
    formula, data = _data(3, family, 12, 6, 0.8)
    model = mfx.glmer_model(mfx.glmer_design(formula, data, family=family), family=family, control=ON)
    newton = model.scalar_newton
    pars = np.array([0.9, -0.3, 0.5, 0.1, 0.2])
    _, u, base = _kernel_deviance(newton, pars)
    gradient, hessian, lme4_hessian, _ = scalar_laplace.laplace_derivatives(
        newton.code, newton.a, newton.b, newton.z, newton.codes, newton.X, base, pars[0], u)
    step, eye = 1e-5, np.eye(len(pars))
    central = np.array([(_kernel_deviance(newton, pars + step * e)[0] - _kernel_deviance(newton, pars - step * e)[0])
                        / (2 * step) for e in eye])
    np.testing.assert_allclose(gradient, central, rtol=1e-6, atol=1e-6 * np.abs(gradient).max())

    def gradient_at(x):
        _, u_x, base_x = _kernel_deviance(newton, x)
        return scalar_laplace.laplace_derivatives(newton.code, newton.a, newton.b, newton.z, newton.codes, newton.X,
                                                  base_x, x[0], u_x)[0]
    differences = np.array([(gradient_at(pars + step * e) - gradient_at(pars - step * e)) / (2 * step) for e in eye])
    np.testing.assert_allclose(hessian, differences, rtol=1e-6, atol=1e-6 * np.abs(hessian).max())
    # lme4's form lacks only the modes' third-derivative term: close, not equal
    assert not np.allclose(lme4_hessian, hessian, rtol=1e-6)
    np.testing.assert_allclose(lme4_hessian, hessian, rtol=0.1, atol=0.05 * np.abs(hessian).max())


def test_cbpp_reaches_lme4s_optimum_with_deriv12s_standard_errors():
    newton, two_stage = _both(CBPP, mfx.datasets.load("cbpp"), "binomial")
    assert newton.opt_summary.factorizer == NEWTON and newton.optimizer == "newton"
    assert two_stage.opt_summary.factorizer.startswith("PIRLS")
    assert newton.loglik >= two_stage.loglik - 1e-9
    assert newton.loglik == pytest.approx(-92.02629, abs=2e-3)  # lme4's logLik
    np.testing.assert_allclose(newton.fixef, two_stage.fixef, atol=1e-3)
    hessian = two_stage.optimum.hessian
    np.testing.assert_allclose(newton.optimum.hessian, hessian, rtol=5e-3, atol=1e-3 * np.abs(hessian).max())
    np.testing.assert_allclose(np.diag(newton.fixed_covariance()), np.diag(two_stage.fixed_covariance()),
                               rtol=2e-3)
    assert not newton.messages
    assert newton.optimum.stage1.feval == 0 and "not run" in newton.optimum.stage1.messages[0]


RANDOM_MODELS = ("seed", "family", "n_levels", "per_level", "sd", "offset"), [
    (11, "binomial", 30, 2, 0.5, False),
    (12, "binomial", 200, 20, 0.05, False),
    (13, "poisson", 30, 20, 0.5, True),
    (14, "poisson", 200, 5, 0.05, False),
    (15, "binomial", 3, 20, 1.5, False),
    (16, "poisson", 8, 5, 3.0, False),
    (17, "binomial", 30, 5, 3.0, False),
]
"""Random one-term models (:func:`_data`'s arguments), for pytest.mark.parametrize."""


@pytest.mark.parametrize(*RANDOM_MODELS)
def test_random_models_reach_the_two_stage_optimum_or_fall_back(seed, family, n_levels, per_level, sd, offset):
    formula, data = _data(seed, family, n_levels, per_level, sd, offset)
    newton, two_stage = _both(formula, data, family)
    # an optimum as good as lme4's two stages, never worse
    assert newton.loglik >= two_stage.loglik - 1e-7
    if newton.opt_summary.factorizer != NEWTON:  # fell back: the two stages' numbers exactly
        np.testing.assert_array_equal(newton.fixef, two_stage.fixef)
        return
    assert newton.theta[0] == pytest.approx(two_stage.theta[0], rel=2e-3)
    se = np.sqrt(np.diag(two_stage.fixed_covariance()))
    assert np.all(np.abs(newton.fixef - two_stage.fixef) <= 0.01 * se)
    np.testing.assert_allclose(np.sqrt(np.diag(newton.fixed_covariance())), se, rtol=HESSIAN_FORMS_AGREE)


def test_a_variance_near_zero_falls_back_to_the_two_stages():
    formula, data = _data(22, "binomial", 30, 4, 0.0)
    newton, two_stage = _both(formula, data, "binomial")
    assert newton.opt_summary.factorizer.startswith("PIRLS")
    assert newton.theta[0] == two_stage.theta[0] == 0.0 and newton.is_singular


def test_the_path_is_chosen_with_the_model():
    matrices = build_model_matrices(CBPP, mfx.datasets.load("cbpp"))
    binomial = mfx.families.binomial
    on = GlmerControl(**ON)
    assert GeneralizedLinearMixedModel(matrices, binomial(), control=on).scalar_newton is not None
    assert GeneralizedLinearMixedModel(matrices, binomial()).scalar_newton.lme4_stages  # lme4's, by default
    assert not GeneralizedLinearMixedModel(matrices, binomial(), control=on).scalar_newton.lme4_stages
    assert GeneralizedLinearMixedModel(matrices, binomial(), control=GlmerControl(**TWO_STAGES)).scalar_newton is None
    assert GeneralizedLinearMixedModel(matrices, binomial(), n_agq=3, control=on).scalar_newton is None
    assert GeneralizedLinearMixedModel(matrices, binomial("probit"), control=on).scalar_newton is None
    for control in ({"use_gradient": False}, {"optimizer": "bobyqa"}):
        model = GeneralizedLinearMixedModel(matrices, binomial(), control=GlmerControl(**ON, **control))
        assert model.scalar_newton is None
    formula, data = _data(3, "binomial", 100, 11, 0.7)  # 1,100 rows x (4 + 1)^2: the two stages are faster
    large = build_model_matrices(formula, data)
    assert 1100 * 25 > SCALAR_NEWTON_MAX_WORK
    assert GeneralizedLinearMixedModel(large, binomial()).scalar_newton is None
    two_terms = build_model_matrices("cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)",
                                     mfx.datasets.load("cbpp").assign(obs=lambda d: d.index.astype(str)))
    assert GeneralizedLinearMixedModel(two_terms, binomial(), control=on).scalar_newton is None


def test_a_newton_fit_refits_and_reports_its_factor():
    fit = mfx.glmer(CBPP, mfx.datasets.load("cbpp"), family="binomial", control=ON)
    assert fit.opt_summary.factorizer == NEWTON
    # the factor, formed on first read, is PIRLS's at the estimates: its log-determinant is the fit's
    assert 2 * np.log(np.abs(fit.optimum.state.factor.l11[:, 0, 0])).sum() == pytest.approx(fit.optimum.state.logdet_re,
                                                                                       rel=1e-8)
    refit = fit.refit(fit.simulate(1, seed=4)["sim_1"])
    assert refit.nobs == fit.nobs and np.isfinite(refit.loglik)


def test_the_fit_on_the_exact_laplace_deviance_shares_the_models_arrays():
    lme4s = GeneralizedLinearMixedModel(build_model_matrices(CBPP, mfx.datasets.load("cbpp")),
                                        mfx.families.binomial()).scalar_newton
    exact = lme4s.on_exact_laplace()
    assert lme4s.lme4_stages and not exact.lme4_stages
    assert exact.X is lme4s.X and exact.y is lme4s.y and exact.name == NEWTON
