"""The contrasts argument (R's contrasts.arg) against lme4 with the same codings (tests/reference/contrasts_r.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.errors import DataError

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "contrasts_r.json").read_text())
CAKE = mfx.datasets.load("cake")
FORMULA = "angle ~ recipe * temperature + (1 | recipe:replicate)"
CODINGS = {
    "sum": {"recipe": "contr.sum"},
    "helmert": {"recipe": "contr.helmert"},
    "treatment_base2": {"recipe": pd.DataFrame(np.eye(3)[:, [0, 2]], columns=["1", "3"])},
    "treatment_base2_levels": {"recipe": ("contr.treatment", {"base": 2})},
    "sas": {"recipe": "contr.SAS"},
    "poly": {"recipe": "contr.poly"},
    "temperature_treatment": {"temperature": "contr.treatment", "recipe": "contr.sum"},
    "matrix": {"recipe": np.array([[-1.0, 1.0], [0.0, -2.0], [1.0, 1.0]])},
}
NEW_CAKE = pd.DataFrame({
    "recipe": pd.Categorical(["A", "B", "C"], categories=["A", "B", "C"]),
    "temperature": pd.Categorical(["175", "205", "225"], categories=CAKE["temperature"].cat.categories, ordered=True),
    "replicate": pd.Categorical(["1", "2", "3"], categories=CAKE["replicate"].cat.categories),
})


def _numbers(values: list[str]) -> np.ndarray:
    return np.array([float(v) for v in values])


@pytest.mark.parametrize("case", list(CODINGS))
def test_lmer_codes_and_fits_as_lme4(case: str) -> None:
    ref = REFERENCE["cake"][case]
    fit = mfx.lmer(FORMULA, CAKE, contrasts=CODINGS[case])
    fixef = fit.fixef
    assert list(fixef.index) == ref["x_names"] == ref["fixef"]["names"]
    se = np.sqrt(np.diag(fit.vcov))
    assert np.max(np.abs(fixef.to_numpy() - _numbers(ref["fixef"]["values"])) / se) < 0.002
    assert fit.reml_criterion == pytest.approx(float(ref["reml"][0]), abs=2e-3)
    np.testing.assert_allclose(fit.predict(NEW_CAKE), _numbers(ref["predict"]), rtol=1e-6)
    np.testing.assert_allclose(fit.predict(NEW_CAKE, re_form="~0"), _numbers(ref["predict_fixed"]),
                               rtol=1e-6)


def test_type3_anova_under_sum_contrasts_matches_lmertest() -> None:
    ref = REFERENCE["cake_anova3"]
    fit = mfx.lmer(FORMULA, CAKE, contrasts=CODINGS["temperature_treatment"])
    table = mfx.anova(fit)
    assert list(table.index) == ref["terms"]
    np.testing.assert_allclose(table["F value"], _numbers(ref["F"]), rtol=1e-4)
    np.testing.assert_allclose(table["DenDF"], _numbers(ref["df_den"]), rtol=1e-4)


def test_glmer_takes_contrasts() -> None:
    ref = REFERENCE["cbpp_sum"]
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                    family="binomial", contrasts={"period": "contr.sum"})
    assert list(fit.fixef.index) == ref["x_names"]
    se = np.sqrt(np.diag(fit.vcov))
    assert np.max(np.abs(fit.fixef.to_numpy() - _numbers(ref["fixef"]["values"])) / se) < 0.02
    assert -2 * fit.loglik == pytest.approx(float(ref["deviance"][0]), abs=2e-3)


def test_the_random_part_keeps_default_contrasts_as_in_lme4() -> None:
    sleep = mfx.datasets.load("sleepstudy").assign(late=lambda d: np.where(d["Days"] > 4, "yes", "no"))
    fit = mfx.lmer("Reaction ~ late + (late | Subject)", sleep, contrasts={"late": "contr.sum"})
    assert list(fit.fixef.index) == ["(Intercept)", "late1"]
    assert list(fit.ranef()["Subject"].columns) == ["(Intercept)", "lateyes"]


@pytest.mark.parametrize(("contrasts", "error", "words"), [
    ({"recipe": "contr.Sum"}, ValueError, "unknown coding 'contr.Sum'"),
    ({"recipe": ("contr.sum", {"base": 2})}, ValueError, "takes no options"),
    ({"recipe": 3}, TypeError, "coding name"),
    ("contr.sum", TypeError, "must be a dict"),
    ({"flavour": "contr.sum"}, DataError, "not a variable of the fixed effects"),
    ({"recipe": np.ones((2, 2))}, DataError, "wrong number of contrast matrix rows"),
    ({"recipe": ("contr.treatment", {"base": 4})}, DataError, "baseline group number out of range"),
])
def test_bad_contrasts_are_refused_clearly(contrasts, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        mfx.lmer(FORMULA, CAKE, contrasts=contrasts)


def test_contrasts_apply_only_to_factors() -> None:
    with pytest.raises(DataError, match="only to factors"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", mfx.datasets.load("sleepstudy"), contrasts={"Days": "contr.sum"})
