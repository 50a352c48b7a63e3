"""emmeans of glmer fits against emmeans 1.8.4-1: link and response scales, odds ratios and rate ratios.

A glmer optimum agrees with lme4's to within about 1e-5 (relative) in these
models, which moves means, SE and p values by up to 2e-4.
"""

from __future__ import annotations

import pytest

import mixedfx as mfx
from mixedfx.estimated_means import emmeans
from mixedfx.glmm.families import binomial
from tests.estimated_means import assert_table

GLMER_RTOL = 5e-4
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp_periods():
    return emmeans(mfx.glmer(CBPP, mfx.datasets.load("cbpp"), family="binomial"), "period")


CBPP_CASES = {
    "emm": lambda e: e.summary(),
    "emm_response": lambda e: e.summary(type="response"),
    "emm_response_tests": lambda e: e.summary(type="response", infer=True),
    "pairs": lambda e: e.pairs().summary(),
    "pairs_response": lambda e: e.pairs().summary(type="response"),
    "pairs_response_ci": lambda e: e.pairs().summary(type="response", infer=True),
    "eff_response": lambda e: e.contrast("eff").summary(type="response"),
    "poly_response": lambda e: e.contrast("poly").summary(type="response"),
}


@pytest.mark.parametrize("name", list(CBPP_CASES))
def test_cbpp_binomial(name, cbpp_periods):
    assert_table(CBPP_CASES[name](cbpp_periods), "cbpp", name, GLMER_RTOL)


def test_emmeans_type_sets_the_summaries_scale(cbpp_periods):
    fit = cbpp_periods.effects.fit
    response = emmeans(fit, "period", type="response")
    assert_table(response.summary(), "cbpp", "emm_response", GLMER_RTOL)
    assert_table(response.pairs().summary(), "cbpp", "pairs_response", GLMER_RTOL)


def test_probit_contrasts_stay_on_the_link_scale():
    fit = mfx.glmer(CBPP, mfx.datasets.load("cbpp"), family=binomial(link="probit"))
    means = emmeans(fit, "period")
    assert_table(means.summary(type="response"), "cbpp_probit", "emm_response", GLMER_RTOL)
    assert_table(means.pairs().summary(type="response"), "cbpp_probit", "pairs_response", GLMER_RTOL)


def test_grouseticks_poisson_rates():
    fit = mfx.glmer("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", mfx.datasets.load("grouseticks"), family="poisson")
    years = emmeans(fit, "YEAR")
    assert_table(years.summary(), "grouseticks", "emm", GLMER_RTOL)
    assert_table(years.summary(type="response"), "grouseticks", "emm_response", GLMER_RTOL)
    assert_table(years.pairs().summary(type="response"), "grouseticks", "pairs_response", GLMER_RTOL)
    assert_table(years.contrast("trt.vs.ctrl").summary(type="response"), "grouseticks", "trt_vs_ctrl_response",
                 GLMER_RTOL)
    heights = emmeans(fit, "cHEIGHT", at={"cHEIGHT": [-10, 0, 10]})
    assert_table(heights.summary(type="response"), "grouseticks", "height", GLMER_RTOL)
