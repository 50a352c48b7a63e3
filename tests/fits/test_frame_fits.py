"""Fits with '.', subset= and na_action="exclude" against lme4 (tests/reference/frame_r.R, its "fit" section)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixedfx as mfx

FITS = json.loads((Path(__file__).parents[1] / "reference" / "frame_r.json").read_text())["fit"]
SLEEP = mfx.datasets.load("sleepstudy")
CBPP = mfx.datasets.load("cbpp")
CBPP_FORMULA = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def _numbers(values) -> np.ndarray:
    values = values if isinstance(values, list) else [values]
    return np.array([np.nan if v == "NA" else float(v) for v in values])


def _with_missing_reaction() -> object:
    data = SLEEP.copy()
    data.loc[data.index[[2, 49, 50]], "Reaction"] = np.nan  # R's rows 3, 50, 51
    return data


@pytest.mark.parametrize(("case", "subset"), [("subset", "Days > 2"),
                                              ("subset_positions", np.r_[np.arange(9, 100), 4])])
def test_subset_fits_as_lme4(case: str, subset) -> None:
    ref = FITS[case]
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", SLEEP, subset=subset)
    np.testing.assert_allclose(fit.fixef, _numbers(ref["fixef"]), rtol=1e-5)
    assert fit.reml_criterion == pytest.approx(_numbers(ref["reml_criterion"])[0], abs=2e-3)
    assert fit.update(". ~ . - Days").nobs == fit.nobs


def test_na_exclude_pads_rowwise_results_as_lme4() -> None:
    ref = FITS["exclude"]
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", _with_missing_reaction(), na_action="exclude")
    assert fit.nobs == 177
    for name, got in [("fitted", fit.fitted()), ("residuals", fit.residuals()), ("predict", fit.predict())]:
        expected = _numbers(ref[name])
        assert got.shape == (180,)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-3)  # lme4 stops at its tolerance
    assert "Scaled residuals" in str(fit.summary())
    assert len(fit.hatvalues()) == 177


def test_na_exclude_with_a_subset_pads_to_the_subsets_rows() -> None:
    ref = FITS["exclude_subset"]
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", _with_missing_reaction(), na_action="exclude",
                   subset="Days > 2")
    expected = _numbers(ref["fitted"])
    np.testing.assert_array_equal(np.isnan(fit.fitted()), np.isnan(expected))
    np.testing.assert_allclose(fit.residuals(), _numbers(ref["residuals"]), rtol=1e-5, atol=1e-3)


def test_glmer_subset_and_exclude_as_lme4() -> None:
    ref = FITS["cbpp_subset"]
    fit = mfx.glmer(CBPP_FORMULA, CBPP, family="binomial", subset='period != "4"')
    se = np.sqrt(np.diag(fit.vcov))
    assert np.max(np.abs(fit.fixef.to_numpy() - _numbers(ref["fixef"])) / se) < 0.02
    assert fit.deviance == pytest.approx(_numbers(ref["deviance"])[0], rel=1e-3)
    ref = FITS["cbpp_exclude"]
    data = CBPP.copy()
    data.loc[data.index[[1, 19]], "incidence"] = np.nan
    fit = mfx.glmer(CBPP_FORMULA, data, family="binomial", subset='period != "4"', na_action="exclude")
    for name, got in [("fitted", fit.fitted()), ("residuals", fit.residuals()),
                      ("residuals_response", fit.residuals(type="response")), ("predict_link", fit.predict())]:
        expected = _numbers(ref[name])
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_allclose(got, expected, rtol=2e-3, atol=2e-3)
    assert np.isfinite(fit.simulate(1, seed=1).to_numpy()).all()
