"""PIRLS, the Laplace and AGQ deviance, and the two-stage fit of generalized mixed models."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.design.matrices import build_model_matrices
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.laplace import gauss_hermite_rule
from mixedfx.glmm.model import EXACT_SLACK, GeneralizedLinearMixedModel
from mixedfx.glmm.pirls import PirlsError
from mixedfx.glmm.scalar_laplace import CONVERGED
from mixedfx.optim import optimize

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp_model():
    """cbpp by lme4's two stages (not by Newton steps on its one scalar term)."""
    matrices = build_model_matrices(CBPP, mfx.datasets.load("cbpp"))
    return GeneralizedLinearMixedModel(matrices, mfx.families.binomial(), n_agq=1,
                                       control=GlmerControl(scalar_newton=False))


def test_gauss_hermite_rule_integrates_normal_moments():
    z, w, ldnorm = gauss_hermite_rule(9)
    assert w.sum() == pytest.approx(1.0)
    assert (w * z**2).sum() == pytest.approx(1.0)
    assert (w * z**4).sum() == pytest.approx(3.0)
    np.testing.assert_allclose(ldnorm, -0.5 * z**2 - 0.5 * np.log(2 * np.pi))
    z3, w3, _ = gauss_hermite_rule(3)  # lme4's GHrule(3)
    np.testing.assert_allclose(z3, [-np.sqrt(3), 0, np.sqrt(3)], atol=1e-12)
    np.testing.assert_allclose(w3, [1 / 6, 2 / 3, 1 / 6])


def test_pirls_solves_the_penalised_weighted_problem(cbpp_model):
    model = cbpp_model
    theta = np.array([0.7])
    state = model.pirls(theta, None, model.eta_start)
    # at the mode, the penalised score vanishes: Z'(y - mu) w-scaled equals u / theta
    mu = state.mu
    resid = model.weights * (model.y - mu)  # binomial, logit: score = w (y - mu)
    codes = model.layouts[0].codes
    score_u = theta[0] * np.bincount(codes, weights=resid, minlength=15) - state.u
    np.testing.assert_allclose(score_u, 0.0, atol=1e-4)
    np.testing.assert_allclose(model.X.T @ resid, 0.0, atol=1e-4)


def test_pirls_with_fixed_beta_keeps_beta(cbpp_model):
    beta = np.array([-1.4, -1.0, -1.1, -1.6])
    state = cbpp_model.pirls(np.array([0.6]), beta, cbpp_model.eta_start)
    np.testing.assert_array_equal(state.beta, beta)


def test_laplace_at_zero_theta_is_the_glm_deviance_scale(cbpp_model):
    model = cbpp_model
    state = model.pirls(np.array([0.0]), None, model.eta_start)
    assert state.factor.logdet_re == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(state.u, 0.0, atol=1e-12)
    aic = model.family.aic(model.y, model.n_trials, state.mu, model.weights, state.dev)
    assert model.laplace_deviance(state) == pytest.approx(aic)


def test_agq_with_one_node_is_laplace_on_the_deviance_scale():
    matrices = build_model_matrices(CBPP, mfx.datasets.load("cbpp"))
    laplace = GeneralizedLinearMixedModel(matrices, mfx.families.binomial(), n_agq=1)
    agq = GeneralizedLinearMixedModel(matrices, mfx.families.binomial(), n_agq=2)
    theta = np.array([0.6])
    beta = np.array([-1.4, -1.0, -1.1, -1.6])
    state = laplace.pirls(theta, beta, laplace.eta_start)
    # with more nodes the AGQ value moves away from the Laplace value only slightly
    agq_value = agq.agq_deviance(state, theta)
    laplace_on_deviance_scale = state.factor.logdet_re + state.u @ state.u + state.dev
    assert agq_value == pytest.approx(laplace_on_deviance_scale, abs=0.5)


def test_agq_refuses_models_with_more_than_one_scalar_term():
    matrices = build_model_matrices("z ~ x + (1 + x | g1)", mfx.datasets.load("simfeat"))
    with pytest.raises(ValueError, match="nAGQ > 1 is only available for models with a single, scalar"):
        GeneralizedLinearMixedModel(matrices, mfx.families.binomial(), n_agq=5)


def test_pirls_failure_is_reported():
    matrices = build_model_matrices(CBPP, mfx.datasets.load("cbpp"))
    model = GeneralizedLinearMixedModel(matrices, mfx.families.binomial(), control=GlmerControl(max_pirls=1))
    with pytest.raises(PirlsError, match="did not converge"):
        model.pirls(np.array([0.6]), None, model.eta_start)


def test_two_stage_fit_improves_on_stage_one(cbpp_model):
    optimum = cbpp_model.fit()
    stage1_loglik = -0.5 * cbpp_model.laplace_deviance(cbpp_model.pirls(optimum.stage1.x, None, cbpp_model.eta_start))
    assert -0.5 * optimum.opt.fval >= stage1_loglik - 1e-6
    assert optimum.hessian.shape == (5, 5)
    assert np.all(np.linalg.eigvalsh(optimum.hessian) > 0)


def test_stage_two_newton_steps_reach_bobyqas_optimum(cbpp_model):
    newton = cbpp_model.fit()
    bobyqa_only = cbpp_model.fit(optimizer=optimize.bobyqa)
    assert newton.opt.optimizer == "newton" and bobyqa_only.opt.optimizer == "nloptwrap"
    # each stage 2 restarts PIRLS from its own stage 1's predictor: their deviances agree to PIRLS's tolerance
    assert newton.opt.fval <= bobyqa_only.opt.fval * (1 + 2 * cbpp_model.control.tol_pwrss)
    np.testing.assert_allclose(newton.opt.x, bobyqa_only.opt.x, atol=2e-4)
    # the reported derivatives are deriv12's at the optimum either way
    np.testing.assert_allclose(newton.hessian, bobyqa_only.hessian, rtol=2e-3)


def test_stage_two_falls_back_to_bobyqa_where_newton_steps_stop(cbpp_model):
    # the deviance is even in theta, and at 0 a maximum along it: no positive definite Hessian there,
    # so BOBYQA takes over from the same start
    x0 = np.concatenate([[0.0], cbpp_model.fit().beta])
    optimum = cbpp_model.fit_stage2(x0, cbpp_model.eta_start, cbpp_model.fit().stage1)
    assert optimum.opt.optimizer == "nloptwrap"
    assert optimum.theta[0] == pytest.approx(0.642, abs=2e-3)  # lme4's cbpp theta


def _stage1(link="logit", **settings):
    matrices = build_model_matrices(CBPP, mfx.datasets.load("cbpp"))
    control = GlmerControl(scalar_newton=False, **{k: v for k, v in settings.items() if k != "n_agq"})
    model = GeneralizedLinearMixedModel(matrices, mfx.families.binomial(link), settings.get("n_agq", 1), control)
    return model.fit().stage1


def test_stage_one_takes_its_gradient_only_where_newton_steps_follow():
    newton, alone, zero = _stage1(), _stage1(stage2_newton=False), _stage1(n_agq=0)
    assert newton.optimizer == "BFGS" and alone.optimizer == zero.optimizer == "nloptwrap"
    assert newton.feval < alone.feval == zero.feval
    # a start, which stage 2 then refines; closer to stage 1's optimum than lme4's tolerances leave it
    np.testing.assert_allclose(newton.x, zero.x, atol=2e-3)


def test_stage_one_falls_back_to_bobyqa_where_bfgs_fails(monkeypatch):
    from mixedfx.glmm import model as glmm  # noqa: PLC0415

    def failing(objective_and_gradient, x0, lower, **options):
        return optimize.OptSummary(optimizer="BFGS", x0=x0, x=x0, fval=np.inf, feval=3, return_code=-1)
    monkeypatch.setattr(glmm, "projected_bfgs", failing)
    stage1 = _stage1()
    assert stage1.optimizer == "nloptwrap"
    np.testing.assert_allclose(stage1.x, _stage1(n_agq=0).x, atol=1e-2)


def test_stage_one_stops_early_where_it_has_no_gradient():
    newton, alone = _stage1("probit"), _stage1("probit", stage2_newton=False)
    assert newton.optimizer == alone.optimizer == "nloptwrap"
    assert newton.feval < alone.feval
    np.testing.assert_allclose(newton.x, alone.x, atol=1e-2)


def test_control_can_ask_for_bobyqa_alone():
    matrices = build_model_matrices(CBPP, mfx.datasets.load("cbpp"))
    model = GeneralizedLinearMixedModel(matrices, mfx.families.binomial(), n_agq=1,
                                        control=GlmerControl(stage2_newton=False))
    optimum = model.fit()
    assert optimum.opt.optimizer == "nloptwrap"
    assert optimum.theta[0] == pytest.approx(0.642, abs=2e-3)
    fit = mfx.glmer(CBPP, data=mfx.datasets.load("cbpp"), family="binomial", control={"stage2_newton": False})
    assert fit.optimizer == "nloptwrap"


def test_a_fit_rescaled_for_x_alone_reports_theta_on_z_as_it_is():
    """X's columns spread (a covariate times 1e4) and Z's not: the fit on rescaled columns divides Z's columns by
    their scales too, and maps theta back by them (it once kept theta on the rescaled slope's scale)."""
    ticks = mfx.datasets.load("grouseticks").assign(cH=lambda d: d.cHEIGHT / 5, big=lambda d: 1e4 * d.cHEIGHT)
    formula = "TICKS ~ YEAR + {} + (1 + cH | BROOD)"
    spread = mfx.glmer(formula.format("big"), ticks, family="poisson")
    plain = mfx.glmer(formula.format("cHEIGHT"), ticks, family="poisson")
    z_scales, x_scales = spread.model.rescaling()
    assert plain.model.rescaling() is None and x_scales.max() > 1e3 and z_scales[0][1] != 1.0
    assert -2 * spread.loglik == pytest.approx(-2 * plain.loglik, rel=1e-9)
    np.testing.assert_allclose(spread.theta[[0, 2]], plain.theta[[0, 2]], rtol=1e-3)


_REFERENCE = Path(__file__).parents[1] / "reference"
_FORM_FITS = json.loads((_REFERENCE / "stage2_forms_r.json").read_text())["fits"]


@pytest.fixture(scope="module")
def stage2_form_fits():
    """The models of tests/reference/stage2_forms.csv fitted, by model number."""
    rows = pd.read_csv(_REFERENCE / "stage2_forms.csv")
    fits = {}
    for model, reference in _FORM_FITS.items():
        data = rows[rows["model"] == int(model)].dropna(axis=1, how="all")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fits[model] = mfx.glmer(reference["formula"], data, family=reference["family"])
    return fits


@pytest.mark.parametrize("model", list(_FORM_FITS))
def test_stage2_ends_no_lower_than_lme4_where_its_deviance_changes_form(stage2_form_fits, model):
    """lme4 1.1-31's fits (tests/reference/scalar_glmer_r.R stage2_forms). The two stages stopped on a local
    optimum of one form of lme4's stage-2 deviance, 3.9e-3 and 3.3e-4 below lme4's log-likelihood; from there the
    fit moves to the exact Laplace deviance's optimum, which lme4's fits lie near."""
    fit, lme4 = stage2_form_fits[model], _FORM_FITS[model]
    se = np.array(lme4["se"], dtype=float)
    assert EXACT_SLACK < 1e-3
    assert "then Newton steps on the exact Laplace deviance" in fit.opt_summary.factorizer
    assert fit.loglik >= float(lme4["loglik"][0]) - 1e-6
    assert fit.theta[0] == pytest.approx(float(lme4["theta"][0]), rel=1e-3)
    if not lme4["messages"]:  # where lme4 warned, its Hessian is not to be trusted
        assert np.all(np.abs(fit.fixef.to_numpy() - np.array(lme4["fixef"], dtype=float)) <= 0.01 * se)
        np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), se, rtol=5e-3)


@pytest.mark.parametrize("model", list(_FORM_FITS))
def test_stage2_ends_within_its_slack_of_the_exact_optimum(stage2_form_fits, model):
    fit = stage2_form_fits[model]
    exact = fit.model.scalar_newton.on_exact_laplace()
    further = exact.fit(fit.model.eta_start, float(fit.theta[0]), fit.fixef.to_numpy().copy())
    assert further.status == CONVERGED
    assert further.start_deviance - further.deviance <= EXACT_SLACK
