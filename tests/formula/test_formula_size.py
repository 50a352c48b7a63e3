"""Long and deeply nested formulas (issue [robustness] item 2): parsed, or refused with a FormulaError."""

import sys

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.errors import FormulaError
from mixedfx.formula.bars import parse_formula
from mixedfx.formula.update import update_formula


def test_five_hundred_summed_terms_fit():
    rng = np.random.default_rng(3)
    data = pd.DataFrame({f"x{i}": rng.normal(size=1200) for i in range(500)})
    data = data.assign(y=rng.normal(size=1200), g=np.repeat(np.arange(12), 100).astype(str))
    formula = "y ~ " + " + ".join(f"x{i}" for i in range(500)) + " + (1 | g)"
    assert mfx.lmer(formula, data).fixef.shape == (501,)
    assert update_formula(formula, ". ~ . - x0").startswith("y ~ x1 + x2")


def test_deep_nesting_parses_and_deeper_is_refused():
    assert parse_formula("y ~ " + "(" * 450 + "x" + ")" * 450 + " + (1 | g)").bars
    with pytest.raises(FormulaError, match="nested too deeply: 600 levels"):
        parse_formula("y ~ " + "(" * 600 + "x" + ")" * 600 + " + (1 | g)")


def test_too_long_is_refused_and_the_recursion_limit_is_restored():
    limit = sys.getrecursionlimit()
    with pytest.raises(FormulaError, match="too long"):
        parse_formula("y ~ " + " + ".join(f"x{i}" for i in range(3000)) + " + (1 | g)")
    assert sys.getrecursionlimit() == limit
