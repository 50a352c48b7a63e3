import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.glmm import scalar_laplace, scalar_lme4
from mixedfx.optim.optimize import bobyqa

from .test_scalar_laplace import CBPP, RANDOM_MODELS, _data

LME4 = "Newton steps on lme4's deviance after its stage 1 (one scalar term)"
TWO_STAGES = {"scalar_newton": False}


def _model(formula, data, family):
    return mfx.glmer_model(mfx.glmer_design(formula, data, family=family), family=family)


def _first_iterate(model, eta_start):
    newton = model.scalar_newton
    return newton, scalar_lme4.first_iterate_terms(newton.code, newton.a, newton.b, newton.z, newton.codes,
                                                   newton.X, newton.offset, eta_start, newton.n_levels)


def _stage2(newton, terms, pars):
    """lme4's stage-2 deviance as the Newton steps take it (less the family's constant), and its gradient."""
    base = newton.offset + newton.X @ pars[1:]
    work = np.empty((scalar_laplace._MODE_WORK_ROWS, newton.n_levels))
    value = scalar_laplace._deviance(newton.code, newton.a, newton.b, newton.z, newton.codes, newton.X, base, pars,
                                     np.zeros(newton.n_levels), work, terms)
    u = np.zeros(newton.n_levels)
    scalar_laplace._deviance(newton.code, newton.a, newton.b, newton.z, newton.codes, newton.X, base, pars, u, work,
                             terms)
    gradient = scalar_laplace._derivatives(newton.code, newton.a, newton.b, newton.z, newton.codes, newton.X, base,
                                           pars, u, terms)[0]
    return value, gradient


@pytest.mark.parametrize("family", ["binomial", "poisson"])
def test_stage2_deviance_and_gradient_are_pirls_from_stage1s_end(family):
    formula, data = _data(5, family, 15, 8, 0.7)
    model = _model(formula, data, family)
    start = model.pirls(np.ones(1), None, model.eta_start)
    stage1 = model.pirls(np.array([0.6]), None, start.eta)
    newton, terms = _first_iterate(model, stage1.eta)
    pirls = model.laplace_value_and_gradient(stage1.eta)  # lme4's devfun, by the compiled PIRLS
    centre = np.concatenate([[0.6], stage1.beta])
    gaps = []
    for shift in (np.zeros(5), np.array([0.02, -0.03, 0.01, 0.02, -0.01]), np.array([-0.03, 0.02, 0.0, -0.02, 0.01])):
        pars = centre + shift
        assert pirls._run(pars).iterations == 2
        value, gradient = _stage2(newton, terms, pars)
        reference, reference_gradient = pirls(pars)
        gaps.append(reference - value)  # the family's constant
        np.testing.assert_allclose(gradient, reference_gradient, rtol=1e-5, atol=1e-6 * np.abs(gradient).max())
    assert np.ptp(gaps) < 1e-8 * abs(gaps[0])


def test_the_first_iterates_log_determinant_has_its_gradient():
    formula, data = _data(6, "poisson", 10, 6, 0.9)
    model = _model(formula, data, "poisson")
    newton, terms = _first_iterate(model, model.eta_start)

    def logdet(pars):
        gradient = np.zeros(len(pars))
        base = newton.offset + newton.X @ pars[1:]
        value = scalar_lme4.first_iterate_logdet(newton.code, newton.a, newton.b, newton.z, newton.codes, newton.X,
                                                 base, pars[0], pars[1:], *terms, gradient)
        return value, gradient

    pars = np.array([0.8, 0.2, 0.4, -0.1, 0.3])
    step = 1e-6
    central = [(logdet(pars + step * e)[0] - logdet(pars - step * e)[0]) / (2 * step) for e in np.eye(len(pars))]
    np.testing.assert_allclose(logdet(pars)[1], central, rtol=1e-6, atol=1e-8)


def test_stage1_is_lme4s_stage1():
    model = _model(CBPP, mfx.datasets.load("cbpp"), "binomial")
    newton, control = model.scalar_newton, model.control
    settings = (control.tol_pwrss, control.max_pirls, control.max_halvings)
    u, beta = np.zeros(newton.n_levels), np.zeros(newton.X.shape[1])
    status, theta, value, evaluations = scalar_lme4.stage1(newton.code, newton.y, newton.weights, newton.a, newton.b,
                                                           newton.z, newton.codes, newton.X, newton.offset,
                                                           model.eta_start, 1.0, settings, u, beta)
    assert status == scalar_lme4.STAGE1_CONVERGED and evaluations < 30
    # lme4's stage-1 deviance by the compiled PIRLS from lme4's lp0: the same function, the same optimum
    lp0 = model.pirls(np.ones(1), None, model.eta_start).eta
    deviance = model.stage1_objective(lp0)
    lme4s = bobyqa(deviance, np.ones(1), model.lower, xtol_abs=1e-9, ftol_abs=1e-12)
    assert theta == pytest.approx(lme4s.x[0], rel=1e-4)
    state = model.pirls(np.array([theta]), None, lp0)
    np.testing.assert_allclose(beta, state.beta, rtol=1e-6)
    np.testing.assert_allclose(u, state.u, rtol=1e-6, atol=1e-8)
    constant = deviance(np.array([theta])) - value
    for other in (0.5, 0.9, 1.5):
        assert deviance(np.array([other])) - constant == pytest.approx(
            scalar_lme4._stage1_deviance(newton.code, newton.a, newton.b, newton.z, newton.codes, newton.X,
                                         newton.offset, scalar_lme4._start_terms(newton.code, newton.y,
                                                                                 newton.weights, newton.a, newton.b,
                                                                                 newton.offset, lp0),
                                         other, settings, u, beta), abs=1e-8)



def test_stage1_leaves_a_deviance_falling_towards_zero_to_the_two_stages():
    """No spread between the levels: stage 1's deviance falls all the way to theta = 0, so the bracket search
    stops there (a boundary the general fit settles), and the fit takes the two stages to theta 0."""
    formula, data = _data(114, "binomial", 30, 6, 0.0)
    model = _model(formula, data, "binomial")
    newton, control = model.scalar_newton, model.control
    settings = (control.tol_pwrss, control.max_pirls, control.max_halvings)
    status, theta, _, evaluations = scalar_lme4.stage1(
        newton.code, newton.y, newton.weights, newton.a, newton.b, newton.z, newton.codes, newton.X, newton.offset,
        model.eta_start, 1.0, settings, np.zeros(newton.n_levels), np.zeros(newton.X.shape[1]))
    assert status != scalar_lme4.STAGE1_CONVERGED and theta < 1e-3 and evaluations < 15
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mfx.glmer(formula, data, family="binomial")
    assert fit.opt_summary.factorizer.startswith("PIRLS") and fit.theta[0] == 0.0

def test_cbpp_ends_where_lme4s_two_stages_end():
    data = mfx.datasets.load("cbpp")
    fit = mfx.glmer(CBPP, data, family="binomial")
    two_stages = mfx.glmer(CBPP, data, family="binomial", control=TWO_STAGES)
    assert fit.opt_summary.factorizer == LME4 and two_stages.opt_summary.factorizer.startswith("PIRLS")
    assert fit.optimum.stage1.optimizer == "brent" and fit.optimum.stage1.feval > 0
    se = np.sqrt(np.diag(two_stages.fixed_covariance()))
    assert np.all(np.abs(fit.fixef - two_stages.fixef) <= 1e-4 * se)
    assert fit.theta[0] == pytest.approx(two_stages.theta[0], rel=1e-5)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.fixed_covariance())), se, rtol=1e-4)
    assert fit.loglik == pytest.approx(two_stages.loglik, abs=1e-7)
    # lme4's deviance at its optimum (lme4 1.1-31: 184.0531328 = AIC 194.0531328 less 2 x 5 parameters)
    assert fit.optimum.opt.fval == pytest.approx(184.0531328, abs=1e-6)
    assert not fit.messages


@pytest.mark.parametrize(RANDOM_MODELS[0], [
    *RANDOM_MODELS[1],
    (18, "binomial", 40, 3, 0.0, False),
    (175, "poisson", 3, 5, 2.5, False),  # near PIRLS's third iteration at the optimum: the two stages
])
def test_random_models_end_where_lme4s_two_stages_end_or_fall_back(seed, family, n_levels, per_level, sd, offset):
    formula, data = _data(seed, family, n_levels, per_level, sd, offset)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mfx.glmer(formula, data, family=family)
        two_stages = mfx.glmer(formula, data, family=family, control=TWO_STAGES)
    if fit.opt_summary.factorizer != LME4:  # fell back: the two stages' numbers exactly
        np.testing.assert_array_equal(fit.fixef, two_stages.fixef)
        return
    # the same function from nearly the same stage-1 end: the same optimum, to lme4's tolerances and better
    se = np.sqrt(np.diag(two_stages.fixed_covariance()))
    assert np.all(np.abs(fit.fixef - two_stages.fixef) <= 1e-3 * se)
    assert fit.theta[0] == pytest.approx(two_stages.theta[0], rel=1e-3, abs=1e-4)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.fixed_covariance())), se, rtol=1e-3)
    assert fit.loglik == pytest.approx(two_stages.loglik, abs=1e-5)


def test_pirls_taking_more_iterations_is_detected():
    model = _model(CBPP, mfx.datasets.load("cbpp"), "binomial")
    fit = mfx.glmer(CBPP, mfx.datasets.load("cbpp"), family="binomial")
    newton, terms = _first_iterate(model, fit.optimum.eta_start)

    def two_iterations(pars):
        base = newton.offset + newton.X @ pars[1:]
        return scalar_lme4.pirls_takes_two_iterations(newton.code, newton.y, newton.weights, newton.a, newton.b,
                                                      newton.z, newton.codes, base, pars[0], pars[1:], *terms,
                                                      model.control.tol_pwrss)

    optimum = np.concatenate([fit.theta, fit.fixef.to_numpy()])
    assert two_iterations(optimum)
    assert not two_iterations(optimum + np.array([0.3, 0.5, -0.4, 0.2, 0.3]))
    pirls = model.laplace_value_and_gradient(fit.optimum.eta_start)
    assert pirls._run(optimum + np.array([0.3, 0.5, -0.4, 0.2, 0.3])).iterations > 2


def test_near_a_third_pirls_iteration_the_fit_takes_the_two_stages():
    """Three levels, theta about 2.5: at the two-iteration form's optimum PIRLS is within a factor 1.3 of its
    third iteration, where lme4's deviance is lower (there lme4 1.1-31 ends at theta 2.4671, the Newton steps at
    2.4453): the fit falls back to the two stages."""
    formula, data = _data(175, "poisson", 3, 5, 2.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mfx.glmer(formula, data, family="poisson")
    assert fit.opt_summary.factorizer.startswith("PIRLS")


_REFERENCE = Path(__file__).parents[1] / "reference"
_R_FITS = json.loads((_REFERENCE / "scalar_glmer_r.json").read_text())["fits"]


@pytest.mark.parametrize("seed", list(_R_FITS))
def test_random_models_land_on_lme4s_fits(seed):
    """lme4 1.1-31's fits (tests/reference/scalar_glmer_r.R): the compiled path ends within a few 1e-5 of them,
    about ten times closer than the two stages through PIRLS (159: an SE 1.8e-3 off)."""
    rows, fits = pd.read_csv(_REFERENCE / "scalar_glmer.csv"), _R_FITS
    lme4 = {key: np.array(value, dtype=float) for key, value in fits[seed].items()
            if key in ("theta", "fixef", "se", "loglik")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mfx.glmer(fits[seed]["formula"], rows[rows["model"] == int(seed)], family=fits[seed]["family"])
    assert fit.opt_summary.factorizer == LME4
    assert fit.theta[0] == pytest.approx(lme4["theta"][0], rel=2e-4)
    assert np.all(np.abs(fit.fixef.to_numpy() - lme4["fixef"]) <= 3e-4 * lme4["se"])
    # the Hessian by forward differences from modes that follow each step: SEs within about 1e-5 of lme4's
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), lme4["se"], rtol=1e-4)
    assert fit.loglik == pytest.approx(lme4["loglik"][0], abs=2e-3)  # mixedfx's is the Laplace deviance's at the modes
