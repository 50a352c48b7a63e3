"""ranova: lmerTest's likelihood-ratio tests of random-effects terms (tests/reference/ranova_modcomp_r.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.formula.bars import parse_formula
from mixedfx.inference.ranova import RanovaTable, lm_loglik, ranova, reduced_formulas

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "ranova_modcomp_r.json").read_text())
DATA = {name: mfx.datasets.load(name) for name in ("sleepstudy", "Penicillin", "simfeat")}


def _numbers(values: list[str]) -> np.ndarray:
    return np.array([np.nan if v == "NA" else float(v) for v in values])


@pytest.mark.parametrize("case", sorted(REFERENCE["ranova"]))
def test_ranova_matches_lmertest(case: str) -> None:
    ref = REFERENCE["ranova"][case]
    fit = mfx.lmer(ref["formula"], DATA[ref["dataset"]], REML=ref["reml"])
    table = ranova(fit, reduce_terms=ref["reduce_terms"])
    assert isinstance(table, RanovaTable)
    assert list(table.index) == ref["rows"]
    assert list(table.attrs["formulae"].values()) == ref["formulae"]
    assert list(table.columns) == ["npar", "logLik", "AIC", "LRT", "Df", "Pr(>Chisq)"]
    np.testing.assert_array_equal(table["npar"], _numbers(ref["npar"]))
    np.testing.assert_array_equal(table["Df"], _numbers(ref["df"]))
    # the conformance tolerance of a log-likelihood (2e-3), doubled for the AIC and the LRT
    np.testing.assert_allclose(table["logLik"], _numbers(ref["loglik"]), atol=2e-3)
    np.testing.assert_allclose(table["AIC"], _numbers(ref["aic"]), atol=4e-3)
    np.testing.assert_allclose(table["LRT"], _numbers(ref["lrt"]), atol=4e-3)
    np.testing.assert_allclose(table["Pr(>Chisq)"], _numbers(ref["p"]), rtol=2e-3, atol=1e-12)
    assert str(table).splitlines() == ref["text"]


def test_reduced_formulas_follow_lmertest_rules() -> None:
    formula = parse_formula("y ~ x + (0 + x + z | g) + (1 | h) + (x * z | k)")
    full, forms = reduced_formulas(formula.text, formula.bars, "x")
    assert full == "y ~ x + (0 + x + z | g) + (1 | h) + (x * z | k)"
    assert forms == {"x in (0 + x + z | g)": "y ~ x + (1 | h) + (x * z | k) + (z - 1 | g)",
                     "z in (0 + x + z | g)": "y ~ x + (1 | h) + (x * z | k) + (x - 1 | g)",
                     "(1 | h)": "y ~ x + (0 + x + z | g) + (x * z | k)",
                     "x:z in (x * z | k)": "y ~ x + (0 + x + z | g) + (1 | h) + (x + z | k)"}
    _, removed = reduced_formulas(formula.text, formula.bars, "x", reduce_terms=False)
    assert list(removed) == ["(0 + x + z | g)", "(1 | h)", "(x * z | k)"]


def test_lm_loglik_is_r_loglik_lm() -> None:
    # R: logLik(lm(y ~ x, weights = w), REML = TRUE) for these numbers is -6.42304788347695
    x = np.column_stack([np.ones(5), np.arange(5.0)])
    y, w = np.array([1.0, 3.0, 2.0, 5.0, 4.0]), np.array([1.0, 2.0, 1.0, 0.5, 1.0])
    value, df = lm_loglik(x, y, reml=True, weights=w)
    assert df == 3
    assert value == pytest.approx(-6.42304788347695, abs=1e-10)


def test_ranova_refuses_generalized_models() -> None:
    fit = mfx.glmer("cbind(succ, trials - succ) ~ x + (1 | g1)", DATA["simfeat"], family="binomial")
    with pytest.raises(TypeError, match="linear mixed model"):
        ranova(fit)
