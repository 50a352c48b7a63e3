"""print.summary.merMod's arguments, print(VarCorr(fit)) and coef() against lme4 (tests/reference/parity_r.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.errors import FormulaError
from tests.text_match import tokens_match

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "parity_r.json").read_text())
SLEEP = mfx.datasets.load("sleepstudy")
FIT = mfx.lmer("Reaction ~ Days + (Days | Subject)", SLEEP)
GFIT = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                 family="binomial")


def _same_text(got: str, expected: list[str], rel: float) -> None:
    lines = got.rstrip("\n").split("\n")
    assert len(lines) == len(expected), "\n".join(lines)
    for a, b in zip(lines, expected):
        assert tokens_match(a, b, rel), f"{a!r} vs lme4 {b!r}"


@pytest.mark.parametrize(("case", "fit", "options", "rel"), [
    ("digits5_nocor", FIT, {"digits": 5, "correlation": False}, 1e-4),
    ("std_only", FIT, {"ranef_comp": "Std.Dev.", "show_resids": False}, 1e-4),
    ("glmer_digits3", GFIT, {"digits": 3}, 0.01),
    ("glmer_cor_false", GFIT, {"correlation": False}, 0.01),
])
def test_summary_prints_with_lme4s_options(case: str, fit, options: dict, rel: float) -> None:
    _same_text(str(fit.summary(**options)), REFERENCE["summary"][case], rel)


@pytest.mark.parametrize(("case", "fit", "options"), [
    ("default", FIT, {}),
    ("variance", FIT, {"comp": "Variance"}),
    ("both_digits3", FIT, {"comp": ("Variance", "Std.Dev."), "digits": 3}),
    ("glmer", GFIT, {}),
])
def test_varcorr_prints_as_lme4(case: str, fit, options: dict) -> None:
    _same_text(str(fit.varcorr(**options)), REFERENCE["varcorr"][case], 1e-3 if fit is FIT else 0.01)


def test_varcorr_is_still_its_data_frame() -> None:
    table = FIT.varcorr(comp="Variance")
    assert list(table.columns) == ["grp", "var1", "var2", "vcov", "sdcor"]
    assert table["vcov"].iloc[0] == pytest.approx(FIT.varcorr()["vcov"].iloc[0])


@pytest.mark.parametrize("bad", [{"comp": "Var"}, {"comp": ()}])
def test_varcorr_refuses_unknown_components(bad: dict) -> None:
    with pytest.raises(ValueError, match="Variance"):
        FIT.varcorr(**bad)


def test_summary_refuses_bad_options() -> None:
    with pytest.raises(ValueError, match="digits"):
        FIT.summary(digits=0)
    with pytest.raises(ValueError, match="Variance"):
        FIT.summary(ranef_comp=("Corr",))


@pytest.mark.parametrize(("case", "formula", "data"), [
    ("no_intercept", "Reaction ~ 0 + Days + (1 | Subject)", SLEEP),
    ("random_only_slope", "Reaction ~ 1 + (1 | Subject) + (0 + Days | g)",
     SLEEP.assign(g=np.tile(np.arange(1, 10), 20).astype(str))),
])
def test_coef_orders_columns_as_lme4(case: str, formula: str, data) -> None:
    fitted = mfx.lmer(formula, data).coef()
    ref = REFERENCE["coef"][case]
    assert list(fitted) == list(ref)
    for group, table in fitted.items():
        assert list(table.columns) == ref[group]["columns"]
        assert [str(i) for i in table.index] == ref[group]["rows"]
        values = np.array([float(v) for v in ref[group]["values"]]).reshape(len(table.columns), -1).T
        np.testing.assert_allclose(table.to_numpy(), values, rtol=2e-3, atol=1e-6)


def test_glmer_covariance_from_r_x_as_lme4() -> None:
    expected = np.array([float(v) for v in REFERENCE["vcov_rx"]]).reshape(4, 4)
    np.testing.assert_allclose(mfx.vcov(GFIT, use_hessian=False), expected, rtol=2e-3)
    pd.testing.assert_frame_equal(mfx.vcov(GFIT), GFIT.vcov)
    with pytest.raises(ValueError, match="glmer"):
        mfx.vcov(FIT, use_hessian=True)


@pytest.mark.parametrize("kind", ["lmer", "glmer"])
def test_scaled_residuals_as_lme4(kind: str) -> None:
    fit = FIT if kind == "lmer" else GFIT
    expected = [float(v) for v in REFERENCE["residuals_scaled"][kind]]
    np.testing.assert_allclose(fit.residuals(scaled=True), expected, rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize(("case", "re_form", "uncorrelated"), [
    ("intercept_part", "~(1 | Subject)", False), ("slope_part", "~(0 + Days | Subject)", False),
    ("uncorrelated_slope", "~(0 + Days | Subject)", True),
])
def test_predict_with_part_of_a_term_as_lme4(case: str, re_form: str, uncorrelated: bool) -> None:
    newdata = pd.DataFrame({"Days": [1.0, 5.0, 9.0], "Subject": ["308", "309", "372"]})
    fit = mfx.lmer("Reaction ~ Days + (Days || Subject)", SLEEP) if uncorrelated else FIT
    expected = [float(v) for v in REFERENCE["re_form"][case]]
    np.testing.assert_allclose(fit.predict(newdata, re_form=re_form), expected, rtol=1e-4)


def test_fitted_rows_with_part_of_a_term_as_lme4() -> None:
    expected = [float(v) for v in REFERENCE["re_form"]["intercept_part_fitted"]]
    np.testing.assert_allclose(FIT.predict(re_form="~(1 | Subject)"), expected, rtol=1e-4)
    with pytest.raises(FormulaError, match="nor a part of one"):
        FIT.predict(re_form="~(1 | Days)")
