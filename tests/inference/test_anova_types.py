"""lmerTest's type I, II and III tables, car's Wald tables and lme4's refit = FALSE (tests/reference/anova_types_r.R)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pytest

import mixedfx as mfx

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "anova_types_r.json").read_text())
SIMFEAT = mfx.datasets.load("simfeat")


def _numbers(values: list[str]) -> np.ndarray:
    return np.array([np.nan if v == "NA" else float(v) for v in values])


@cache
def _linear():
    return mfx.lmer("y ~ x * f + (1 | g1) + (1 | g2)", SIMFEAT)


@cache
def _binomial():
    return mfx.glmer("cbind(succ, trials - succ) ~ x * f + (1 | g1)", SIMFEAT, family="binomial")


@pytest.mark.parametrize("kind", [1, 2, 3])
@pytest.mark.parametrize("ddf", ["Satterthwaite", "Kenward-Roger"])
def test_lmertest_types_match(kind: int, ddf: str) -> None:
    ref = REFERENCE[f"simfeat_type{kind}" + ("_kr" if ddf == "Kenward-Roger" else "")]
    table = mfx.anova(_linear(), type=kind, ddf=ddf)
    assert list(table.index) == ref["terms"]
    np.testing.assert_allclose(table["F value"], _numbers(ref["f"]), rtol=1e-3)
    np.testing.assert_allclose(table["NumDF"], _numbers(ref["num_df"]))
    np.testing.assert_allclose(table["DenDF"], _numbers(ref["den_df"]), rtol=1e-3)
    assert str(table).splitlines()[0] == ref["heading"].strip()


def test_the_types_differ_on_this_design() -> None:
    f_values = [mfx.anova(_linear(), type=kind)["F value"].iloc[0] for kind in (1, 2, 3)]
    assert len({round(f, 3) for f in f_values}) == 3


def test_roman_and_text_types_are_accepted() -> None:
    np.testing.assert_allclose(mfx.anova(_linear(), type="II")["F value"], mfx.anova(_linear(), type=2)["F value"])


@pytest.mark.parametrize("kind", [2, 3])
def test_glmer_wald_tests_match_car(kind: int) -> None:
    ref = REFERENCE[f"glmer_type{kind}"]
    table = mfx.anova(_binomial(), type=kind)
    assert list(table.index) == ref["terms"]
    np.testing.assert_allclose(table["Chisq"], _numbers(ref["chisq"]), rtol=2e-3)
    np.testing.assert_allclose(table["Df"], _numbers(ref["df"]))
    lines = str(table).splitlines()
    assert lines[:4] == ref["text"][:4]
    assert [line.split()[0] for line in lines[4:4 + len(ref["terms"])]] == ref["terms"]


def test_cbpp_wald_test_matches_car() -> None:
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                    family="binomial")
    ref = REFERENCE["cbpp_type2"]
    np.testing.assert_allclose(mfx.anova(fit, type=2)["Chisq"], _numbers(ref["chisq"]), rtol=2e-3)


def test_refit_false_compares_reml_fits_as_lme4() -> None:
    sleep = mfx.datasets.load("sleepstudy")
    m0 = mfx.lmer("Reaction ~ 1 + (Days | Subject)", sleep)
    m1 = mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    ref = REFERENCE["refit_false"]
    table = mfx.anova(m0, m1, refit=False)
    np.testing.assert_allclose(table["logLik"], _numbers(ref["loglik"]), atol=2e-3)
    np.testing.assert_allclose(table["Chisq"].iloc[1], float(ref["chisq"][1]), atol=4e-3)
    assert table.attrs["messages"] == []
    assert mfx.anova(m0, m1).attrs["messages"] != []


@pytest.mark.parametrize(("kwargs", "error", "words"), [
    ({"refit": False}, None, None),
    ({"type": 2}, ValueError, "one model's terms"),
    ({"verbose": True}, TypeError, "unexpected keyword argument 'verbose'"),
    ({"refit": "no"}, TypeError, "refit must be True or False"),
])
def test_keywords_are_never_read_as_models(kwargs: dict, error: type | None, words: str | None) -> None:
    sleep = mfx.datasets.load("sleepstudy")
    m0 = mfx.lmer("Reaction ~ 1 + (1 | Subject)", sleep)
    m1 = mfx.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    if error is None:
        assert len(mfx.anova(m0, m1, **kwargs)) == 2
    else:
        with pytest.raises(error, match=words):
            mfx.anova(m0, m1, **kwargs)


def test_one_glmer_needs_a_type() -> None:
    with pytest.raises(ValueError, match="type=2 or type=3"):
        mfx.anova(_binomial())
    with pytest.raises(ValueError, match="type must be 1, 2 or 3"):
        mfx.anova(_linear(), type=4)
