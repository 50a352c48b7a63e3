"""lme4's likelihood-ratio table for nested models, linear and generalized."""

import numpy as np
import pytest

import mixedfx as mfx
from tests.conformance.cases import load_case
from tests.text_match import tokens_match


def test_anova_matches_lme4_likelihood_ratio_table(sleep):
    ref = load_case("sleepstudy_ml")["lme4"]["anova"]
    m0 = mfx.lmer("Reaction ~ Days + (1 | Subject)", data=sleep, REML=False)
    m1 = mfx.lmer("Reaction ~ Days + (Days || Subject)", data=sleep, REML=False)
    m2 = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep, REML=False)
    table = mfx.anova(m2=m2, m0=m0, m1=m1)
    assert list(table.index) == ["m0", "m1", "m2"]
    assert table["npar"].tolist() == ref["npar"]
    np.testing.assert_allclose(table["logLik"], ref["logLik"], atol=2e-3)
    np.testing.assert_allclose(table["Chisq"].iloc[1:], ref["Chisq"][1:], atol=4e-3)
    np.testing.assert_allclose(table["Pr(>Chisq)"].iloc[1:], ref["p"][1:], rtol=0.02)
    assert table.attrs["messages"] == []
    text = str(table).splitlines()
    assert text[0] == "Data: sleepstudy"
    assert text[1:] == ref["text"][1:]  # lme4's lines after "Data: d"


def test_anova_refits_reml_fits_with_ml(sleep, slopes):
    m0 = mfx.lmer("Reaction ~ Days + (1 | Subject)", data=sleep)
    table = mfx.anova(m0, slopes, names=["a", "b"])
    assert table.attrs["messages"] == ["refitting model(s) with ML (instead of REML)"]
    assert table.loc["b", "logLik"] == pytest.approx(-875.9697, abs=2e-3)


def test_anova_on_glmer_fits_matches_lme4():
    ref = load_case("cbpp_anova")["lme4"]["anova"]
    cbpp = mfx.datasets.load("cbpp")
    m0 = mfx.glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", data=cbpp, family="binomial")
    m1 = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=cbpp, family="binomial")
    table = mfx.anova(m1=m1, m0=m0)
    assert table["npar"].tolist() == ref["npar"]
    np.testing.assert_allclose(table["logLik"], ref["logLik"], atol=2e-3)
    assert table["Chisq"].iloc[1] == pytest.approx(ref["Chisq"][1], abs=4e-3)
    assert table["Pr(>Chisq)"].iloc[1] == pytest.approx(ref["p"][1], rel=0.02)
    assert table.attrs["messages"] == []
    mine, want = str(table).splitlines()[1:], ref["text"][1:]
    assert len(mine) == len(want)
    for got, expected in zip(mine, want):
        # the printed logLik sits near a rounding boundary: one unit of its last digit either way
        assert tokens_match(got, expected), f"{got!r} vs lme4 {expected!r}"


def test_anova_of_one_model_is_lmertests_type3_table(slopes):
    table = mfx.anova(slopes)
    assert table.attrs["ddf"] == "Satterthwaite"
    assert list(table.index) == ["Days"]
    assert str(table).startswith("Type III Analysis of Variance Table with Satterthwaite's method")
    kr = mfx.anova(slopes, ddf="kenward-roger")
    assert kr.attrs["ddf"] == "Kenward-Roger"
    glmm = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=mfx.datasets.load("cbpp"),
                     family="binomial")
    with pytest.raises(ValueError, match="compare nested fits"):
        mfx.anova(glmm)


def test_anova_of_several_models_needs_the_same_data(sleep):
    fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", data=sleep, REML=False)
    with pytest.raises(ValueError, match="ddf and type apply to the tests of one model"):
        mfx.anova(fit, fit, ddf="Satterthwaite")
    fewer = mfx.lmer("Reaction ~ Days + (1 | Subject)", data=sleep.iloc[:90], REML=False)
    with pytest.raises(ValueError, match="same size of dataset"):
        mfx.anova(fit, fewer)
    with pytest.raises(TypeError, match="not a fitted mixed model"):
        mfx.anova(fit, "model")
