"""confint(): profile, Wald and bootstrap intervals against lme4's."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.inference.confint import confint, wald_confint
from tests.conformance.cases import load_case

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "inference_r.json").read_text())["cases"]
SLEEP_ROWS = ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject", "sd_Days|Subject", "sigma",
              "(Intercept)", "Days"]

FITS = {
    "cbpp_binomial": lambda: mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                                       data=mfx.datasets.load("cbpp"), family="binomial"),
    "simfeat_cloglog_slopes": lambda: mfx.glmer("cbind(succ, trials - succ) ~ x + (1 + x | g1)",
                                                data=mfx.datasets.load("simfeat"),
                                                family=mfx.families.binomial("cloglog")),
    "dyestuff2_singular": lambda: mfx.lmer("Yield ~ 1 + (1 | Batch)", data=mfx.datasets.load("Dyestuff2")),
    "sleepstudy_uncorrelated": lambda: mfx.lmer("Reaction ~ Days + (Days || Subject)",
                                                data=mfx.datasets.load("sleepstudy")),
    "penicillin_crossed": lambda: mfx.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)",
                                           data=mfx.datasets.load("Penicillin")),
}


def _floats(values):
    return np.array([np.nan if v in ("NA", None) else float(v) for v in values], dtype=float)


def _relative_errors(ci: pd.DataFrame, reference: dict) -> np.ndarray:
    """Differences of the ends from lme4's, in widths of lme4's intervals (finite rows)."""
    assert list(ci.index) == reference["rows"]
    assert list(ci.columns) == ["2.5 %", "97.5 %"]
    lower, upper = _floats(reference["lower"]), _floats(reference["upper"])
    width = upper - lower
    keep = np.isfinite(width)
    np.testing.assert_array_equal(np.isnan(ci.to_numpy()), np.isnan(np.column_stack([lower, upper])))
    return np.abs(np.column_stack([ci.iloc[:, 0] - lower, ci.iloc[:, 1] - upper])[keep] / width[keep, None])


@pytest.fixture(scope="module")
def sleep_reference():
    return load_case("sleepstudy_slopes")["lme4"]


@pytest.fixture(scope="module")
def sleep_profile(slopes):
    return confint(slopes)


def test_sleepstudy_profile(sleep_profile, sleep_reference):
    assert list(sleep_profile.index) == SLEEP_ROWS
    assert _relative_errors(sleep_profile, sleep_reference["confint_profile"]).max() < 0.01


def test_sleepstudy_wald(slopes, sleep_reference):
    wald = confint(slopes, method="Wald")
    assert list(wald.index) == SLEEP_ROWS
    assert wald.iloc[:4].isna().all().all()
    assert _relative_errors(wald, sleep_reference["confint_wald"]).max() < 0.001


@pytest.mark.parametrize("name", sorted(FITS))
def test_wald_against_lme4(name):
    assert _relative_errors(wald_confint(FITS[name]()), REFERENCE[name]["confint_wald"]).max() < 0.001


@pytest.mark.parametrize("name", ["dyestuff2_singular", "sleepstudy_uncorrelated", "penicillin_crossed"])
def test_lmer_profile_against_lme4(name):
    assert _relative_errors(confint(FITS[name]()), REFERENCE[name]["confint_profile"]).max() < 0.01


def test_singular_fit_interval_starts_at_zero():
    ci = confint(FITS["dyestuff2_singular"](), parm="theta_")
    assert ci.iloc[0, 0] == 0.0 and ci.iloc[0, 1] > 0


def test_glmer_correlation_profile_against_lme4():
    """A correlation's profile (bounded by +-1) on a generalized model with a random slope."""
    ci = confint(FITS["simfeat_cloglog_slopes"](), parm="cor_x.(Intercept)|g1")
    reference = REFERENCE["simfeat_cloglog_slopes"]["confint_profile"]
    subset = {key: reference[key][1:2] for key in ("rows", "lower", "upper")}
    assert _relative_errors(ci, subset).max() < 0.01


def test_parm_and_level(slopes):
    wald = confint(slopes, method="Wald", level=0.9, parm=["Days", 0])
    assert list(wald.index) == ["sd_(Intercept)|Subject", "Days"]
    assert list(wald.columns) == ["5 %", "95 %"]
    se = np.sqrt(slopes.vcov.loc["Days", "Days"])
    assert wald.loc["Days", "95 %"] == pytest.approx(slopes.fixef["Days"] + 1.6448536269514722 * se)
    with pytest.raises(ValueError, match="method"):
        confint(slopes, method="wald")
    with pytest.raises(ValueError, match="unknown parameter"):
        confint(slopes, method="Wald", parm="Reaction")


def test_bootstrap_interval_near_profile(slopes, sleep_profile):
    """A 200-draw parametric bootstrap interval for Days lies close to the profile interval."""
    boot = confint(slopes, method="boot", nsim=200, seed=20, parm="Days", progress=False)
    assert list(boot.index) == ["Days"]
    profile_days = sleep_profile.loc["Days"].to_numpy()
    width = profile_days[1] - profile_days[0]
    np.testing.assert_array_less(np.abs(boot.loc["Days"].to_numpy() - profile_days), 0.15 * width)
