"""lmer with poly() and scale() in the formula against lme4 (tests/reference/transforms_r.R).

R evaluates poly() and scale() on the whole data before rows with missing values
go, and predicts new data on the fitted basis (the model's predvars).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "transforms.json").read_text())["models"]
SLEEP = mfx.datasets.load("sleepstudy")
# lme4's optimiser stops at a tolerance: the conformance tolerances (tests/conformance)
FIXEF_SE = 0.002
CRITERION = 2e-3
SD_REL = 5e-3
CORRELATION = 5e-3


def _numbers(values: list[str]) -> np.ndarray:
    return np.array([float(v) for v in values])


def _data(name: str) -> pd.DataFrame:
    if name == "sleepstudy":
        return SLEEP
    missing = SLEEP.copy()
    missing.loc[np.array(REFERENCE["poly2_missing"]["missing_rows"]) - 1, "Reaction"] = np.nan  # R's rows count from 1
    return missing


def _covariance(theta: np.ndarray, sigma: float, k: int) -> np.ndarray:
    """The random effects' covariance from lme4's theta (the lower triangle by columns)."""
    lower = np.zeros((k, k))
    rows, cols = np.tril_indices(k)
    order = np.lexsort((rows, cols))
    lower[rows[order], cols[order]] = theta
    return sigma**2 * lower @ lower.T


@pytest.fixture(scope="module")
def fits() -> dict[str, mfx.LmerFit]:
    return {name: mfx.lmer(case["formula"], data=_data(case["data"])) for name, case in REFERENCE.items()}


@pytest.mark.parametrize("name", list(REFERENCE))
def test_fits_as_lme4(fits: dict, name: str) -> None:
    ref, fit = REFERENCE[name], fits[name]
    assert list(fit.fixef.index) == ref["fixef"]["names"]
    assert fit.matrices.re_terms[0].z_names == ref["z_names"]
    se = _numbers(ref["se"])
    np.testing.assert_array_less(np.abs(fit.fixef.to_numpy() - _numbers(ref["fixef"]["values"])), FIXEF_SE * se)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov)), se, rtol=5e-3)
    assert abs(fit.reml_criterion - float(ref["reml_criterion"][0])) < CRITERION
    sigma = float(ref["sigma"][0])
    assert fit.sigma == pytest.approx(sigma, rel=SD_REL)
    k = len(ref["z_names"])
    ours, theirs = (_covariance(np.asarray(t, dtype=float), s, k)
                    for t, s in ((fit.theta, fit.sigma), (_numbers(ref["theta"]), sigma)))
    sd_ours, sd_theirs = np.sqrt(np.diag(ours)), np.sqrt(np.diag(theirs))
    np.testing.assert_allclose(sd_ours, sd_theirs, rtol=SD_REL)
    np.testing.assert_allclose(ours / np.outer(sd_ours, sd_ours), theirs / np.outer(sd_theirs, sd_theirs),
                               atol=CORRELATION)


@pytest.mark.parametrize("name", list(REFERENCE))
def test_no_messages_where_lme4_gave_none(fits: dict, name: str) -> None:
    assert fits[name].messages == list(REFERENCE[name]["messages"])


def test_poly_random_slopes_converge_without_message(fits: dict) -> None:
    # L-BFGS-B once stopped here at max|grad| 0.0024: its tolerance was taken relative to its first step
    assert fits["poly_slopes"].messages == []


@pytest.mark.parametrize("name", list(REFERENCE))
def test_new_data_are_predicted_on_the_fitted_basis(fits: dict, name: str) -> None:
    ref, fit = REFERENCE[name], fits[name]
    newdata = pd.DataFrame({"Days": _numbers(ref["newdata"]["Days"]),
                            "Subject": np.resize(np.asarray(ref["newdata"]["Subject"]), 3)})
    # the 3 x 3 term's slopes are large; lme4 stops at a tolerance, so its conditional modes move a little
    rtol = 1e-4 if name == "poly_slopes" else 1e-6
    np.testing.assert_allclose(fit.predict(newdata), _numbers(ref["predict"]), rtol=rtol)
    np.testing.assert_allclose(fit.predict(newdata, re_form="NA"), _numbers(ref["predict_fixed"]), rtol=1e-6)


def test_predicting_fitted_rows_reproduces_the_fitted_values(fits: dict) -> None:
    fit = fits["poly_slopes"]
    rows = [0, 1, 2, 57, 179]
    np.testing.assert_allclose(fit.predict(SLEEP.iloc[rows]), fit.fitted()[rows], rtol=1e-10)
    fit = fits["poly2_missing"]
    kept = fit.matrices.rows
    np.testing.assert_allclose(fit.predict(SLEEP.loc[kept[:4]]), fit.fitted()[:4], rtol=1e-10)
