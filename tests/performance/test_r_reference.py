"""r2, icc and variance_components against performance 0.10.2 and insight 0.19 (tests/reference/performance_r.R)."""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.glmm.families import Gamma, binomial, gaussian, inverse_gaussian, poisson
from mixedfx.performance import icc, r2, variance_components
from mixedfx.performance.r2 import NO_RANDOM_R2_WARNING

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "performance_r.json").read_text())["cases"]

# The variances are exact algebra at the estimates, so each tolerance is how closely the fit agrees with lme4's:
# these linear fits agree to 1e-8 in theta
EXACT_RTOL = 1e-6
# crossed and large linear fits (Penicillin, InstEval) and one with a slope the fixed part lacks agree to 5e-5
# in theta; a variance is quadratic in theta
LMER_RTOL = 1e-4
# glmer optima (and the null models' intercepts behind the log-link variances) agree with lme4's to about 1e-4
GLMER_RTOL = 5e-4

CBPP_RESPONSE = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def _cbpp_with_observations() -> pd.DataFrame:
    cbpp = mfx.datasets.load("cbpp")
    return cbpp.assign(obs=pd.Categorical([str(i) for i in range(1, len(cbpp) + 1)]))


def _lmer(formula: str, dataset: str):
    return lambda: mfx.lmer(formula, mfx.datasets.load(dataset))


def _glmer(formula: str, dataset: str, family):
    return lambda: mfx.glmer(formula, mfx.datasets.load(dataset), family=family)


CASES = {
    "sleepstudy_intercept": (_lmer("Reaction ~ Days + (1 | Subject)", "sleepstudy"), EXACT_RTOL),
    "sleepstudy_slopes": (_lmer("Reaction ~ Days + (Days | Subject)", "sleepstudy"), EXACT_RTOL),
    "sleepstudy_uncorrelated": (_lmer("Reaction ~ Days + (Days || Subject)", "sleepstudy"), EXACT_RTOL),
    "sleepstudy_slope_not_fixed": (_lmer("Reaction ~ 1 + (Days | Subject)", "sleepstudy"), LMER_RTOL),
    "penicillin_crossed": (_lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", "Penicillin"), LMER_RTOL),
    "pastes_nested": (_lmer("strength ~ 1 + (1 | batch / cask)", "Pastes"), EXACT_RTOL),
    "insteval": (_lmer("y ~ service + lectage + studage + (1 | s) + (1 | d) + (1 | dept:service)", "InstEval"),
                 LMER_RTOL),
    "dyestuff2_singular": (_lmer("Yield ~ 1 + (1 | Batch)", "Dyestuff2"), EXACT_RTOL),
    "cbpp_logit": (_glmer(CBPP_RESPONSE, "cbpp", "binomial"), GLMER_RTOL),
    "cbpp_probit": (_glmer(CBPP_RESPONSE, "cbpp", binomial("probit")), GLMER_RTOL),
    "cbpp_observation_level": (lambda: mfx.glmer(CBPP_RESPONSE + " + (1 | obs)", _cbpp_with_observations(),
                                                 family="binomial"), GLMER_RTOL),
    "simfeat_cloglog_slopes": (_glmer("cbind(succ, trials - succ) ~ x + (1 + x | g1)", "simfeat",
                                      binomial("cloglog")), GLMER_RTOL),
    "verbagg_bernoulli": (_glmer("r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", "VerbAgg",
                                 "binomial"), GLMER_RTOL),
    "grouseticks_poisson": (_glmer("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", "grouseticks", "poisson"),
                            GLMER_RTOL),
    "simfeat_poisson_offset": (_glmer("count ~ x + offset(log(expo)) + (1 | g1)", "simfeat", "poisson"),
                               GLMER_RTOL),
    "simfeat_poisson_sqrt": (_glmer("count ~ x + (1 | g1)", "simfeat", poisson("sqrt")), GLMER_RTOL),
    "grouseticks_nb": (lambda: mfx.glmer_nb("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)",
                                            mfx.datasets.load("grouseticks")), GLMER_RTOL),
    "simfeat_gamma_log": (_glmer("pos ~ x + (1 | g1)", "simfeat", Gamma("log")), GLMER_RTOL),
    "simfeat_gamma_inverse": (_glmer("pos ~ x + (1 | g1)", "simfeat", "Gamma"), GLMER_RTOL),
    "simfeat_inverse_gaussian": (_glmer("pos ~ x + (1 | g1)", "simfeat", inverse_gaussian("log")), GLMER_RTOL),
    "simfeat_gaussian_log": (_glmer("pos ~ x + (1 | g1)", "simfeat", gaussian("log")), GLMER_RTOL),
}


def _numbers(values: list[str]) -> np.ndarray:
    return np.array([np.nan if v == "NA" else float(v) for v in values])


def _reference(values: dict[str, list[str]], index: pd.Index) -> np.ndarray:
    return np.concatenate([_numbers(values[name]) for name in index])


def _normalised(messages) -> list[str]:
    return [re.sub(r"\s+", " ", str(m)).strip() for m in messages]


def _with_warnings(function, fit) -> tuple[pd.Series, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = function(fit)
    return value, _normalised(w.message for w in caught)


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    make, rtol = CASES[request.param]
    return request.param, make(), rtol


def test_cases_match_the_reference_script():
    assert set(CASES) == set(REFERENCE)


@pytest.mark.parametrize("function, key", [(variance_components, "variance"), (r2, "r2"), (icc, "icc")])
def test_values_and_warnings_as_performance(case, function, key):
    name, fit, rtol = case
    value, messages = _with_warnings(function, fit)
    expected = _reference(REFERENCE[name][key], value.index)
    # a variance that is 0 in R (the fixed part of an intercept-only model) is 0 to rounding here
    atol = 1e-12 * np.nansum(np.abs(expected))
    np.testing.assert_allclose(value.to_numpy(), expected, rtol=rtol, atol=atol, equal_nan=True)
    r_name = "variance" if function is variance_components else key
    # performance prints its note that R² leaves the random effects out; here it is a warning too
    assert [m for m in messages if m != NO_RANDOM_R2_WARNING] == _normalised(REFERENCE[name][f"{r_name}_warnings"])


def test_singular_r2_says_it_leaves_the_random_effects_out():
    fit = CASES["dyestuff2_singular"][0]()
    value, messages = _with_warnings(r2, fit)
    assert NO_RANDOM_R2_WARNING in messages
    assert value["marginal"] == 0.0 and np.isnan(value["conditional"])
