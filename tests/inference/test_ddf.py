"""Satterthwaite and Kenward-Roger t- and F-tests against lmerTest and pbkrtest.

The reference numbers and printed text come from tests/reference/ddf_r.R (its
output, ddf_r.json) and from the conformance case sleepstudy_slopes; no test
runs R. Tolerances (the issue's): df within 0.01, p-values within 2 % relative.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.inference import ddf
from mixedfx.inference.hypotheses import type3_contrasts
from mixedfx.inference.kenward_roger import kenward_roger
from mixedfx.report.ddf_names import resolve_ddf
from mixedfx.report.text import format_anova_terms, format_summary_ddf
from tests.text_match import tokens_match

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "ddf_r.json").read_text())
SLOPES = json.loads((Path(__file__).parents[1] / "conformance" / "cases" / "sleepstudy_slopes.json").read_text())
CASES = [name for name, value in REFERENCE.items() if isinstance(value, dict)]
METHODS = {"satterthwaite": "Satterthwaite", "kenward_roger": "Kenward-Roger"}
# printed numbers besides one unit in the last digit: equally good optima differ this much
_PRINTED_REL = 1e-4
DF_ABS, P_REL, VALUE_REL = 0.01, 0.02, 0.005

# (case, method) pairs whose printed text matches R line by line; in the others the fit's
# own estimates (or numDeriv's noise) differ from lme4's in a printed digit (df printed
# to 9 significant digits, or a variance in sleepstudy_ml)
SAME_SUMMARY_TEXT = [
    ("sleepstudy_reml", "satterthwaite"), ("sleepstudy_reml", "kenward_roger"),
    ("cake_ordered", "satterthwaite"), ("cake_ordered", "kenward_roger"),
    ("cake_missing_cell", "satterthwaite"), ("cake_missing_cell", "kenward_roger"),
    ("cake_numeric", "kenward_roger"), ("cake_not_hierarchical", "kenward_roger"), ("penicillin", "kenward_roger"),
    ("dyestuff2_singular", "satterthwaite"), ("dyestuff2_singular", "kenward_roger"),
]
SAME_ANOVA_TEXT = [(c, m) for c in CASES if c != "sleepstudy_ml" for m in METHODS if m in REFERENCE[c]]


def _data(name: str) -> pd.DataFrame:
    """A data set as the R script used it."""
    if name == "cake_missing_cell":
        cake = mfx.datasets.load("cake")
        data = cake[~((cake["recipe"] == "C") & (cake["temperature"] == "225"))].copy()
        data.attrs["name"] = name
        return data
    return mfx.datasets.load(name)


@lru_cache(maxsize=None)
def _fit(case: str):
    ref = REFERENCE[case]
    return mfx.lmer(ref["formula"], data=_data(ref["data"]), REML=ref["REML"])


def _table(stored: dict) -> pd.DataFrame:
    values = {col: [float("nan") if v == "NA" else float(v) for v in vals] for col, vals in stored["values"].items()}
    return pd.DataFrame(values, index=stored["rows"], columns=stored["columns"])


def _method_pairs() -> list[tuple[str, str]]:
    return [(case, key) for case in CASES for key in METHODS if key in REFERENCE[case]]


def _assert_close(got: pd.Series, want: pd.Series, *, abs_tol: float = 0.0, rel_tol: float = 0.0) -> None:
    np.testing.assert_allclose(got.to_numpy(dtype=float), want.to_numpy(dtype=float), rtol=rel_tol, atol=abs_tol)


# --------------------------------------------------------------------------- the criterion
@pytest.mark.parametrize("key", list(METHODS))
def test_sleepstudy_slopes_conformance(slopes, key):
    want = SLOPES["lme4"][key]
    table = ddf.coef_table(slopes, METHODS[key])
    names = list(want["df"])
    _assert_close(table.loc[names, "df"], pd.Series(want["df"]), abs_tol=DF_ABS)
    _assert_close(table.loc[names, "Pr(>|t|)"], pd.Series(want["p"]), rel_tol=P_REL)
    if "se" in want:
        _assert_close(table.loc[names, "Std. Error"], pd.Series(want["se"]), rel_tol=VALUE_REL)


# --------------------------------------------------------------------------- coefficient tables
@pytest.mark.parametrize("case,key", _method_pairs())
def test_coef_table_matches_lmertest(case, key):
    want = _table(REFERENCE[case][key]["coef"])
    got = ddf.coef_table(_fit(case), METHODS[key])
    assert list(got.columns) == list(want.columns) and list(got.index) == list(want.index)
    _assert_close(got["df"], want["df"], abs_tol=DF_ABS)
    _assert_close(got["Pr(>|t|)"], want["Pr(>|t|)"], rel_tol=P_REL)
    for col in ("Estimate", "Std. Error", "t value"):
        _assert_close(got[col], want[col], rel_tol=VALUE_REL, abs_tol=1e-6)


@pytest.mark.parametrize("case", [c for c in CASES if "kenward_roger" in REFERENCE[c]])
def test_adjusted_covariance_matches_pbkrtest(case):
    want = np.array(REFERENCE[case]["kenward_roger"]["vcov_adj"], dtype=float).T
    fit = _fit(case)
    got = kenward_roger(fit.model, fit.theta, fit.sigma, fit.vcov.to_numpy()).vcov_adj
    np.testing.assert_allclose(got, want, rtol=VALUE_REL, atol=1e-8 * np.abs(want).max())


# --------------------------------------------------------------------------- type III anova
@pytest.mark.parametrize("case,key", _method_pairs())
def test_anova_type3_matches_lmertest(case, key):
    want = _table(REFERENCE[case][key]["anova"])
    got = ddf.anova_terms(_fit(case), METHODS[key])
    assert list(got.columns) == list(want.columns) and list(got.index) == list(want.index)
    assert got.attrs["ddf"] == METHODS[key]
    np.testing.assert_array_equal(got["NumDF"].to_numpy(), want["NumDF"].to_numpy())
    _assert_close(got["DenDF"], want["DenDF"], abs_tol=DF_ABS)
    _assert_close(got["Pr(>F)"], want["Pr(>F)"], rel_tol=P_REL)
    for col in ("Sum Sq", "Mean Sq", "F value"):
        _assert_close(got[col], want[col], rel_tol=VALUE_REL)


def test_type3_hypotheses_of_cake():
    contrasts = type3_contrasts(_fit("cake_ordered").matrices)
    assert list(contrasts) == ["recipe", "temperature", "recipe:temperature"]
    assert [c.shape for c in contrasts.values()] == [(2, 18), (5, 18), (10, 18)]
    stacked = np.vstack(list(contrasts.values()))
    assert np.linalg.matrix_rank(stacked) == 17  # every column but the intercept is tested


def test_intercept_only_model_has_no_terms():
    assert type3_contrasts(_fit("penicillin").matrices) == {}
    assert ddf.anova_terms(_fit("penicillin")).empty


def test_collinear_numeric_covariates_are_refused():
    rng = np.random.default_rng(1)
    data = pd.DataFrame({"x1": rng.normal(size=60), "g": np.repeat([f"g{i}" for i in range(12)], 5)})
    data["x2"] = 2.0 * data["x1"]
    data["y"] = data["x1"] + rng.normal(size=60) + np.repeat(rng.normal(size=12), 5)
    fit = mfx.lmer("y ~ x1 + x2 + (1 | g)", data=data)
    with pytest.raises(NotImplementedError, match="numeric covariates"):
        ddf.anova_terms(fit)


# --------------------------------------------------------------------------- printed text
@pytest.mark.parametrize("case,key", SAME_SUMMARY_TEXT)
def test_summary_text_matches_lmertest(case, key):
    fit = _fit(case)
    text = format_summary_ddf(fit, ddf.coef_table(fit, METHODS[key]), METHODS[key])
    mine, want = text.splitlines(), REFERENCE[case][key]["summary_text"]
    assert len(mine) == len(want)
    # df are printed to 9 digits; equally good stopping points of the optimiser move the last ones
    for got, expected in zip(mine, want):
        assert tokens_match(got, expected, rel=_PRINTED_REL), f"{got!r} vs lmerTest {expected!r}"


def test_ml_summary_title_wraps_as_lmertest():
    fit = _fit("sleepstudy_ml")
    text = format_summary_ddf(fit, ddf.coef_table(fit, "Satterthwaite"), "satterthwaite")
    assert text.splitlines()[:2] == REFERENCE["sleepstudy_ml"]["satterthwaite"]["summary_text"][:2]


@pytest.mark.parametrize("case,key", SAME_ANOVA_TEXT)
def test_anova_text_matches_lmertest(case, key):
    text = format_anova_terms(ddf.anova_terms(_fit(case), METHODS[key]), METHODS[key])
    mine, want = text.splitlines(), REFERENCE[case][key]["anova_text"]
    assert len(mine) == len(want)
    for got, expected in zip(mine, want):
        assert tokens_match(got, expected, rel=_PRINTED_REL), f"{got!r} vs lmerTest {expected!r}"


# --------------------------------------------------------------------------- arguments
def test_method_names_are_case_insensitive(slopes):
    assert resolve_ddf("kenward-roger") == "Kenward-Roger"
    assert resolve_ddf("SATTERTHWAITE") == "Satterthwaite"
    pd.testing.assert_frame_equal(ddf.coef_table(slopes, "satterthwaite"), ddf.coef_table(slopes, "Satterthwaite"))


@pytest.mark.parametrize("ddf_name", [None, "lme4", "LME4"])
def test_no_ddf_gives_lme4_table(slopes, ddf_name):
    pd.testing.assert_frame_equal(ddf.coef_table(slopes, ddf_name), slopes.coefficient_table())


def test_unknown_method_lists_the_valid_ones(slopes):
    with pytest.raises(ValueError, match="'Satterthwaite', 'Kenward-Roger' or 'lme4'"):
        ddf.coef_table(slopes, "residual")
    with pytest.raises(ValueError, match="Satterthwaite"):
        ddf.anova_terms(slopes, None)


def test_kenward_roger_needs_reml():
    with pytest.raises(ValueError, match="only available for REML"):
        ddf.coef_table(_fit("sleepstudy_ml"), "Kenward-Roger")


def test_generalized_fits_are_refused():
    cbpp = mfx.datasets.load("cbpp")
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=cbpp, family="binomial")
    with pytest.raises(TypeError, match="linear mixed models"):
        ddf.coef_table(fit, "Satterthwaite")
    with pytest.raises(TypeError, match="linear mixed models"):
        ddf.anova_terms(fit)


# --------------------------------------------------------------------------- numDeriv
def test_numderiv_derivatives_of_a_smooth_function():
    def f(v):
        return np.exp(v[0]) * np.sin(v[1]) + v[0] * v[1] ** 3

    x = np.array([0.3, 1.2])
    hess = np.array([[np.exp(x[0]) * np.sin(x[1]), np.exp(x[0]) * np.cos(x[1]) + 3 * x[1] ** 2],
                     [np.exp(x[0]) * np.cos(x[1]) + 3 * x[1] ** 2, -np.exp(x[0]) * np.sin(x[1]) + 6 * x[0] * x[1]]])
    np.testing.assert_allclose(ddf.numderiv_hessian(f, x), hess, rtol=1e-7)
    jac = ddf.numderiv_jacobian(lambda v: np.array([f(v), v[0] * v[1]]), x)
    want = np.array([[np.exp(x[0]) * np.sin(x[1]) + x[1] ** 3, np.exp(x[0]) * np.cos(x[1]) + 3 * x[0] * x[1] ** 2],
                     [x[1], x[0]]])
    np.testing.assert_allclose(jac, want, rtol=1e-9)


def test_hessian_eigenvalue_warnings_as_lmertest():
    hessian = np.diag([4.0, -2.0, 1e-10])
    with pytest.warns(UserWarning) as caught:
        inverse = ddf._positive_inverse(hessian)
    assert [str(w.message) for w in caught] == [
        "Model failed to converge with 1 negative eigenvalue: -2.0e+00",
        "Model may not have converged with 1 eigenvalue close to zero: 1.0e-10"]
    np.testing.assert_allclose(inverse, np.diag([0.25, 0.0, 0.0]))
