"""The fitted generalized model: lme4's classic cbpp figures, response forms, residuals, predictions."""

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import digamma

import mixedfx as mfx
from mixedfx.glmm.negative_binomial import theta_ml

CBIND = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp():
    return mfx.datasets.load("cbpp")


@pytest.fixture(scope="module")
def herd(cbpp):
    return mfx.glmer(CBIND, data=cbpp, family="binomial")


def test_classic_cbpp_figures(herd):
    # lme4 stops slightly short here (logLik -92.02657 where -92.02628 is reachable): either passes
    assert herd.aic == pytest.approx(194.0531, abs=2e-3)
    assert herd.bic == pytest.approx(204.1799, abs=2e-3)
    assert herd.loglik == pytest.approx(-92.0266, abs=2e-3)
    assert herd.varcorr().sdcor[0] == pytest.approx(0.6421, rel=0.02)
    np.testing.assert_allclose(herd.fixef, [-1.3983, -0.9919, -1.1282, -1.5797], atol=0.02 * 0.3)


def test_classic_cbpp_overdispersion_figures(cbpp):
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)",
                    data=cbpp.assign(obs=lambda d: np.arange(len(d)).astype(str)), family="binomial")
    assert fit.aic == pytest.approx(186.6383, abs=2e-3)
    assert fit.loglik == pytest.approx(-87.3192, abs=2e-3)
    sd = dict(zip(fit.varcorr().grp, fit.varcorr().sdcor))
    assert sd["obs"] == pytest.approx(0.8911, rel=0.02) and sd["herd"] == pytest.approx(0.1840, rel=0.02)
    np.testing.assert_allclose(fit.fixef, [-1.500, -1.226, -1.329, -1.866], atol=0.01)


def test_proportion_with_weights_is_the_same_fit_as_cbind(cbpp, herd):
    same = mfx.glmer("incidence / size ~ period + (1 | herd)", data=cbpp, weights="size", family="binomial")
    assert same.loglik == pytest.approx(herd.loglik, abs=1e-6)
    np.testing.assert_allclose(same.fixef, herd.fixef, atol=1e-5)
    np.testing.assert_allclose(np.diag(same.vcov), np.diag(herd.vcov), rtol=1e-3)


def test_binary_response_forms_agree():
    d = mfx.datasets.load("simfeat")
    numeric = mfx.glmer("z ~ x + (1 | g1)", data=d, family="binomial")
    logical = mfx.glmer("z ~ x + (1 | g1)", data=d.assign(z=d["z"] == 1), family="binomial")
    factor = mfx.glmer("z ~ x + (1 | g1)", family="binomial",
                       data=d.assign(z=pd.Categorical(np.where(d["z"] == 1, "yes", "no"), categories=["no", "yes"])))
    for other in (logical, factor):
        assert other.loglik == pytest.approx(numeric.loglik, abs=1e-8)
        np.testing.assert_allclose(other.fixef, numeric.fixef, rtol=1e-8)


def test_offset_in_formula_or_argument_agree():
    d = mfx.datasets.load("simfeat")
    in_formula = mfx.glmer("count ~ x + offset(log(expo)) + (1 | g1)", data=d, family="poisson")
    argument = mfx.glmer("count ~ x + (1 | g1)", data=d, family="poisson", offset=np.log(d["expo"].to_numpy()))
    assert argument.loglik == pytest.approx(in_formula.loglik, abs=1e-8)


def test_residual_types(herd, cbpp):
    y = (cbpp["incidence"] / cbpp["size"]).to_numpy()
    mu = herd.fitted()
    np.testing.assert_allclose(herd.residuals("response"), y - mu)
    np.testing.assert_allclose(herd.residuals("pearson"), (y - mu) * np.sqrt(cbpp["size"] / (mu * (1 - mu))))
    eta = herd.predict()
    np.testing.assert_allclose(herd.residuals("working"), (y - mu) / (mu * (1 - mu)))
    deviance = herd.residuals("deviance")
    assert np.all(np.sign(deviance) == np.sign(y - mu))
    np.testing.assert_allclose(mu, 1 / (1 + np.exp(-eta)))
    with pytest.raises(ValueError, match="deviance, pearson, response, working"):
        herd.residuals("partial")


def test_predict_scales_and_new_levels(herd, cbpp):
    new = pd.DataFrame({"period": ["1", "4"], "herd": ["1", "99"], "incidence": 0, "size": 1})
    link = herd.predict(new, allow_new_levels=True)
    response = herd.predict(new, allow_new_levels=True, type="response")
    np.testing.assert_allclose(response, 1 / (1 + np.exp(-link)))
    fixef = herd.fixef
    assert link[1] == pytest.approx(fixef["(Intercept)"] + fixef["period4"])
    with pytest.raises(ValueError, match="'link' or 'response'"):
        herd.predict(new, allow_new_levels=True, type="probability")


def test_summary_table_uses_z_or_t_by_family(herd):
    table = herd.summary().coefficients
    assert list(table.columns) == ["Estimate", "Std. Error", "z value", "Pr(>|z|)"]
    gamma = mfx.glmer("pos ~ x + (1 | g1)", data=mfx.datasets.load("simfeat"),
                      family=mfx.families.Gamma(link="log"))
    assert list(gamma.summary().coefficients.columns) == ["Estimate", "Std. Error", "t value", "Pr(>|z|)"]
    assert gamma.varcorr().grp.tolist()[-1] == "Residual" and "Residual" not in herd.varcorr().grp.tolist()


def test_agq_only_for_one_scalar_term(cbpp):
    with pytest.raises(ValueError, match="single, scalar random-effects term"):
        mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | period)", data=cbpp,
                  family="binomial", nAGQ=5)
    with pytest.raises(ValueError, match="nAGQ must be a whole number from 0 to 100"):
        mfx.glmer(CBIND, data=cbpp, family="binomial", nAGQ=130)


def test_gaussian_identity_falls_back_to_lmer_with_a_warning():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = mfx.glmer("Reaction ~ Days + (1 | Subject)", data=mfx.datasets.load("sleepstudy"), family="gaussian")
    assert isinstance(fit, mfx.LmerFit) and not fit.reml
    assert any("please call lmer() directly" in str(w.message) for w in caught)


def test_theta_ml_solves_the_negative_binomial_score():
    rng = np.random.default_rng(4)
    mu = rng.uniform(1, 6, 400)
    y = rng.negative_binomial(2.5, 2.5 / (2.5 + mu)).astype(float)
    w = np.ones_like(y)
    theta = theta_ml(y, mu, w)
    score = np.sum(digamma(theta + y) - digamma(theta) + np.log(theta) + 1 - np.log(theta + mu)
                   - (y + theta) / (mu + theta))
    assert abs(score) < 1e-3
    assert 1.5 < theta < 4.0


def test_glmer_nb_reports_its_theta_in_the_family():
    fit = mfx.glmer_nb("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", data=mfx.datasets.load("grouseticks"))
    assert fit.family.name.startswith("Negative Binomial(")
    assert fit.df == 6  # beta (4), theta (1) and the negative binomial's theta


def test_means_leaving_the_family_range_give_lme4s_error():
    # lme4 fails here too ("PIRLS loop resulted in NaN value")
    with pytest.raises(ValueError, match="PIRLS loop resulted in NaN value"):
        mfx.glmer("z ~ x + (1 | g1)", data=mfx.datasets.load("simfeat"), family=mfx.families.binomial(link="log"))
