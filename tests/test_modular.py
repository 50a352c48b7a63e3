"""lme4's stages one by one give what lmer and glmer give, and each stage's result is usable on its own."""

import json
from pathlib import Path

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.errors import DataError, MixedFxError
from mixedfx.glmm.pirls import PythonPirls


@pytest.fixture(scope="module")
def cbpp():
    return mfx.datasets.load("cbpp")


def test_lmer_in_stages_is_lmer(sleep):
    design = mfx.lmer_design("Reaction ~ Days + (Days | Subject)", sleep)
    model = mfx.lmer_model(design, REML=False)
    opt = mfx.optimize_lmer(model, {"maxeval": 5000})
    fit = mfx.lmer_fit(model, opt)
    direct = mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False)
    assert fit.loglik == direct.loglik
    np.testing.assert_array_equal(fit.theta, direct.theta)
    assert opt.factorizer == "one term (compiled)"
    assert str(fit) == str(direct)


def test_the_objective_is_a_plain_function_of_theta(sleep):
    model = mfx.lmer_model(mfx.lmer_design("Reaction ~ Days + (Days | Subject)", sleep))
    fit = mfx.lmer_fit(model, mfx.optimize_lmer(model))
    # lme4's devFunOnly: the REML criterion at the optimum, larger away from it, inf where singular
    assert model.objective(fit.theta) == pytest.approx(fit.reml_criterion, rel=1e-12)
    assert model.objective(fit.theta * 1.2) > fit.reml_criterion
    assert model.objective(np.array([1.0, 0.0, 1.0])) > fit.reml_criterion


def test_glmer_in_stages_is_glmer(cbpp):
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    design = mfx.glmer_design(formula, cbpp, family="binomial")
    model = mfx.glmer_model(design, family="binomial", nAGQ=1, control={"compiled_pirls": False})
    assert isinstance(model.pirls_engines[0], PythonPirls)
    fit = mfx.glmer_fit(model, mfx.optimize_glmer(model))
    direct = mfx.glmer(formula, cbpp, family="binomial")
    # the Python loop's fit has no exact gradient, the default takes compiled Newton steps after lme4's stage 1:
    # their optimiser paths end within lme4's tolerance of each other
    assert fit.loglik == pytest.approx(direct.loglik, abs=1e-4)
    np.testing.assert_allclose(fit.fixef, direct.fixef, rtol=1e-3)
    assert fit.opt_summary.factorizer == "PIRLS (Python)"
    assert direct.opt_summary.factorizer == "Newton steps on lme4's deviance after its stage 1 (one scalar term)"


def test_the_design_stage_runs_lme4s_checks(sleep, cbpp):
    with pytest.raises(DataError, match="number of levels of each grouping factor"):
        mfx.lmer_design("Reaction ~ Days + (1 | obs)", sleep.assign(obs=np.arange(len(sleep))))
    with pytest.raises(MixedFxError, match="negative values not allowed"):
        mfx.glmer_design("y ~ period + (1 | herd)", cbpp.assign(y=-cbpp["incidence"]), family="poisson")
    with pytest.raises(MixedFxError, match="nAGQ"):
        mfx.glmer_model(mfx.glmer_design("incidence ~ period + (1 | herd)", cbpp, family="poisson"),
                        family="poisson", nAGQ=140)
    with pytest.raises(TypeError, match="REML"):
        mfx.lmer_model(mfx.lmer_design("Reaction ~ Days + (1 | Subject)", sleep), REML="yes")


@pytest.mark.parametrize("n_agq", ["50", "100"])
def test_glmer_takes_nagq_up_to_100_as_lme4(cbpp, n_agq):
    ref = json.loads((Path(__file__).parent / "reference" / "parity_r.json").read_text())["nagq"][n_agq]
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial",
                    nAGQ=int(n_agq))
    assert fit.nagq == int(n_agq)
    assert -2 * fit.loglik == pytest.approx(float(ref["deviance"][0]), abs=2e-3)
    se = np.sqrt(np.diag(fit.vcov))
    assert np.max(np.abs(fit.fixef.to_numpy() - [float(v) for v in ref["fixef"]]) / se) < 0.02
    with pytest.raises(MixedFxError, match="from 0 to 100"):
        mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial", nAGQ=101)


def test_a_response_the_fixed_effects_fit_exactly_is_refused_on_the_models_cross_products(sleep):
    """lFormula does not look at it; the model stage judges it from the cross-products it forms."""
    design = mfx.lmer_design("line ~ Days + (1 | Subject)", sleep.assign(line=3.0 * sleep["Days"] + 1.0))
    with pytest.raises(DataError, match="fit the response line exactly"):
        mfx.lmer_model(design)
    rng = np.random.default_rng(5)
    weights, offset = rng.uniform(0.5, 2.0, len(sleep)), rng.normal(size=len(sleep))
    fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", sleep, weights=weights, offset=offset)
    with pytest.raises(DataError, match="fit the response Reaction exactly"):
        fit.refit(offset + 2.0 * sleep["Days"].to_numpy() - 1.0)
    assert fit.refit(offset + 2.0 * sleep["Days"].to_numpy() + rng.normal(size=len(sleep))).nobs == len(sleep)
