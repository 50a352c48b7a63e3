"""drop1: lme4's refits with likelihood-ratio tests, lmerTest's F tests (tests/reference/update_drop1_r.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixedfx as mfx

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "update_drop1_r.json").read_text())
SIMFEAT = mfx.datasets.load("simfeat")


def _numbers(values: list[str]) -> np.ndarray:
    return np.array([np.nan if v == "NA" else float(v) for v in values])


@pytest.mark.parametrize("kind", ["lmer", "glmer"])
def test_lme4_drop1_matches(kind: str) -> None:
    ref = REFERENCE[f"drop1_{kind}"]
    if kind == "lmer":
        fit = mfx.lmer("y ~ x * f + w + (1 | g1)", SIMFEAT)
    else:
        fit = mfx.glmer("cbind(succ, trials - succ) ~ x * f + w + (1 | g1)", SIMFEAT, family="binomial")
    table = mfx.drop1(fit, test="Chisq")
    assert list(table.index) == ref["rows"]
    np.testing.assert_allclose(table["AIC"], _numbers(ref["aic"]), atol=4e-3)
    np.testing.assert_allclose(table["LRT"], _numbers(ref["lrt"]), atol=4e-3)
    np.testing.assert_allclose(table["npar"], _numbers(ref["npar"]))
    lines = str(table).splitlines()
    assert lines[:5] == ref["text"][:5]
    assert [line.split()[0] for line in lines[5:]] == ref["rows"]
    assert list(mfx.drop1(fit).columns) == ["npar", "AIC"]


@pytest.mark.parametrize("ddf", ["Satterthwaite", "Kenward-Roger"])
def test_lmertest_drop1_matches(ddf: str) -> None:
    ref = REFERENCE[f"drop1_{ddf}"]
    table = mfx.drop1(mfx.lmer("y ~ x * f + w + (1 | g1)", SIMFEAT), ddf=ddf)
    assert list(table.index) == ref["rows"]
    np.testing.assert_allclose(table["F value"], _numbers(ref["f"]), rtol=1e-3)
    np.testing.assert_allclose(table["DenDF"], _numbers(ref["den_df"]), rtol=1e-3)
    assert str(table).splitlines()[:4] == ref["text"][:4]


def test_drop1_arguments_are_checked() -> None:
    fit = mfx.lmer("y ~ x + (1 | g1)", SIMFEAT)
    with pytest.raises(ValueError, match="test must be"):
        mfx.drop1(fit, test="F")
    with pytest.raises(ValueError, match="without ddf"):
        mfx.drop1(fit, test="Chisq", ddf="Satterthwaite")
    binomial = mfx.glmer("cbind(succ, trials - succ) ~ x + (1 | g1)", SIMFEAT, family="binomial")
    with pytest.raises(ValueError, match="linear mixed models only"):
        mfx.drop1(binomial, ddf="Satterthwaite")
