"""profile(): the zeta curves of lmer and glmer fits, their intervals against lme4, backSpline."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2

import mixedfx as mfx
from mixedfx.errors import MixedFxError
from mixedfx.inference.profile import LikelihoodProfile, profile
from mixedfx.inference.sdcor import parameter_vector, select_parameters
from mixedfx.inference.profile_spline import SplineError, inverse_spline, profile_interval

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "inference_r.json").read_text())


def _floats(values):
    return np.array([np.nan if v == "NA" else float(v) for v in values])


@pytest.fixture(scope="module")
def cbpp_profile():
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=mfx.datasets.load("cbpp"),
                    family="binomial")
    return fit, profile(fit)


@pytest.fixture(scope="module")
def dyestuff_profile():
    return profile(mfx.lmer("Yield ~ 1 + (1 | Batch)", data=mfx.datasets.load("Dyestuff")))


def _check_curves(prof: LikelihoodProfile, n_parameters: int):
    """zeta is 0 at the estimate, increases with the value and passes the cutoff unless a bound stops it."""
    cutoff = np.sqrt(chi2.ppf(0.99, n_parameters))
    for name, points in prof.frame.groupby("parameter", sort=False):
        zeta, value = points["zeta"].to_numpy(), points["value"].to_numpy()
        assert np.all(np.diff(value) > 0) and np.all(np.diff(zeta) > 0), name
        at_estimate = np.isclose(value, prof.estimates[name], rtol=1e-12)
        assert at_estimate.sum() == 1 and zeta[at_estimate][0] == 0.0
        np.testing.assert_array_equal(points[name].to_numpy(), value)
        low, high = prof.bounds.loc[name]
        assert zeta[-1] > cutoff or value[-1] == high
        assert zeta[0] < -cutoff or value[0] == low


def test_lmer_profile_frame(dyestuff_profile):
    prof = dyestuff_profile
    names = ["sd_(Intercept)|Batch", "sigma", "(Intercept)"]
    assert list(prof.frame.columns) == ["parameter", "zeta", "value", *names]
    assert list(prof.frame["parameter"].unique()) == names
    assert list(prof.bounds.index) == names and prof.n_variance == 2
    np.testing.assert_array_equal(prof.bounds.to_numpy()[:2], [[0.0, np.inf], [0.0, np.inf]])
    _check_curves(prof, 3)


def test_reml_fit_profiled_by_ml(dyestuff_profile):
    reml = mfx.lmer("Yield ~ 1 + (1 | Batch)", data=mfx.datasets.load("Dyestuff"))
    ml = mfx.lmer("Yield ~ 1 + (1 | Batch)", data=mfx.datasets.load("Dyestuff"), REML=False)
    np.testing.assert_allclose(dyestuff_profile.estimates, parameter_vector(ml), rtol=1e-5)
    assert not np.allclose(dyestuff_profile.estimates, parameter_vector(reml), rtol=1e-3)


def test_lmer_profile_points_are_optima(dyestuff_profile):
    """Each point's other parameters minimise the deviance: its zeta^2 is the deviance increase there."""
    data = mfx.datasets.load("Dyestuff")
    ml = mfx.lmer("Yield ~ 1 + (1 | Batch)", data=data, REML=False)
    points = dyestuff_profile.frame[dyestuff_profile.frame["parameter"] == "(Intercept)"]
    row = points.iloc[2]
    held = mfx.lmer("Yield ~ 0 + offset(b) + (1 | Batch)", data=data.assign(b=row["value"]), REML=False)
    assert row["zeta"] ** 2 == pytest.approx(held.deviance - ml.deviance, rel=1e-6)
    assert row["sigma"] == pytest.approx(held.sigma, rel=1e-4)


def test_glmer_profile_against_lme4(cbpp_profile):
    fit, prof = cbpp_profile
    _check_curves(prof, 5)
    assert list(prof.bounds["lower"]) == [0.0, -np.inf, -np.inf, -np.inf, -np.inf]
    reference = REFERENCE["cases"]["cbpp_binomial"]["confint_profile"]
    ci = prof.confint()
    assert list(ci.index) == reference["rows"]
    lower, upper = _floats(reference["lower"]), _floats(reference["upper"])
    width = upper - lower
    np.testing.assert_allclose((ci.iloc[:, 0] - lower) / width, 0.0, atol=0.01)
    np.testing.assert_allclose((ci.iloc[:, 1] - upper) / width, 0.0, atol=0.01)
    # the sd's walk down reaches its bound 0, as lme4's
    sd_points = prof.frame[prof.frame["parameter"] == "sd_(Intercept)|herd"]
    assert sd_points["value"].iloc[0] == 0.0


def test_profile_confint_selection(cbpp_profile):
    _, prof = cbpp_profile
    assert list(prof.confint(parm="beta_").index) == ["(Intercept)", "period2", "period3", "period4"]
    assert list(prof.confint(parm=["period3", 0]).index) == ["sd_(Intercept)|herd", "period3"]
    narrow, wide = prof.confint(level=0.8), prof.confint(level=0.99)
    assert list(narrow.columns) == ["10 %", "90 %"]
    assert np.all(wide.iloc[:, 0] < narrow.iloc[:, 0]) and np.all(wide.iloc[:, 1] > narrow.iloc[:, 1])


def test_profile_which():
    fit = mfx.lmer("Yield ~ 1 + (1 | Batch)", data=mfx.datasets.load("Dyestuff"))
    prof = profile(fit, which="sigma")
    assert list(prof.frame["parameter"].unique()) == ["sigma"]
    with pytest.raises(ValueError, match="unknown parameter"):
        profile(fit, which=["nope"])


def test_select_parameters():
    names = ["sd_a|g", "sigma", "(Intercept)", "x"]
    assert select_parameters(None, names, 2) == [0, 1, 2, 3]
    assert select_parameters("theta_", names, 2) == [0, 1]
    assert select_parameters(["x", "theta_"], names, 2) == [0, 1, 3]
    assert select_parameters(2, names, 2) == [2]


def test_glmer_profile_refusals(cbpp_profile):
    data = mfx.datasets.load("simfeat")
    gamma = mfx.glmer("pos ~ x + (1 | g1)", data=data, family=mfx.families.Gamma("log"))
    with pytest.raises(MixedFxError, match="scale parameters"):
        profile(gamma)
    fit0 = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=mfx.datasets.load("cbpp"),
                     family="binomial", nAGQ=0)
    with pytest.raises(MixedFxError, match="nAGQ"):
        profile(fit0)


@pytest.mark.parametrize("case", REFERENCE["splines"])
def test_inverse_spline_as_backspline(case):
    spline = inverse_spline(_floats(case["x"]), _floats(case["zeta"]))
    np.testing.assert_allclose(spline(_floats(case["at"])), _floats(case["value"]), rtol=1e-12, equal_nan=True)


def test_profile_interval_fallbacks():
    x, zeta = np.array([0.0, 1.0, 2.0]), np.array([-2.5, 0.0, 2.5])
    with pytest.raises(SplineError):
        inverse_spline(x, zeta)
    with pytest.warns(UserWarning, match="linear interpolation"):
        ends = profile_interval(x, zeta, np.array([-1.25, 3.0]), (0.0, 7.0), "p")
    np.testing.assert_allclose(ends, [0.5, 7.0])
    with pytest.warns(UserWarning, match="non-monotonic"):
        ends = profile_interval(x, np.array([-2.5, 1.0, 0.5]), np.array([-1.0, 1.0]), (0.0, 7.0), "p")
    assert np.isnan(ends).all()
    with pytest.warns(UserWarning, match="bad profile"):
        profile_interval(x, np.full(3, np.nan), np.array([-1.0, 1.0]), (0.0, 7.0), "p")


def test_profile_progress_bar_on_stderr_only_when_asked(capsys):
    fit = mfx.lmer("Yield ~ 1 + (1 | Batch)", data=mfx.datasets.load("Dyestuff"))
    shown = profile(fit, which="theta_", progress=True)
    captured = capsys.readouterr()
    assert "profile" in captured.err and "2/2" in captured.err and captured.out == ""
    quiet = fit.profile(which="theta_", progress=False)
    assert capsys.readouterr() == ("", "")
    pd.testing.assert_frame_equal(shown.frame, quiet.frame)
    fit.confint(method="profile")  # stderr is no terminal under pytest: no bar
    assert capsys.readouterr() == ("", "")
