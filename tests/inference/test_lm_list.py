"""lm_list against lme4 1.1-31's lmList, coef, sigma and confint (tests/reference/influence_r.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixedfx.errors import FormulaError
from mixedfx.inference.lm_list import LmList, lm_list

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "influence_r.json").read_text())["lm_list"]
# least squares: exact algebra
RTOL = 1e-9


@pytest.fixture(scope="module")
def fits(sleep) -> LmList:
    return lm_list("Reaction ~ Days | Subject", sleep)


def _confint_rows(key: str) -> np.ndarray:
    """R's array [group, bound, coefficient] as a row per group, bounds varying fastest."""
    return np.array(REFERENCE[key], dtype=float)


def test_coef_and_pooled_sigma_match_lme4(fits: LmList) -> None:
    coef = fits.coef()
    assert list(coef.index) == REFERENCE["groups"] and coef.index.name == "Subject"
    assert list(coef.columns) == REFERENCE["names"]
    np.testing.assert_allclose(coef.to_numpy(), np.array(REFERENCE["coef"], dtype=float), rtol=RTOL)
    np.testing.assert_allclose(fits.sigma, float(REFERENCE["sigma"][0]), rtol=RTOL)
    assert fits.pooled_df == int(REFERENCE["df"][0])


@pytest.mark.parametrize("key, options", [("confint_pooled", {}), ("confint_separate", {"pool": False}),
                                          ("confint_default", {"pool": False}), ("confint_90", {"level": 0.9})])
def test_confint_matches_lme4(fits: LmList, key: str, options: dict) -> None:
    table = fits.confint(**options)
    labels = ["5 %", "95 %"] if options.get("level") == 0.9 else REFERENCE["confint_bounds"]
    assert list(table.columns) == [(name, bound) for name in REFERENCE["names"] for bound in labels]
    np.testing.assert_allclose(table.to_numpy(), _confint_rows(key), rtol=RTOL)


def test_pool_false_is_the_default_of_an_unpooled_list(sleep) -> None:
    unpooled = lm_list("Reaction ~ Days | Subject", sleep, pool=False)
    np.testing.assert_allclose(unpooled.confint().to_numpy(), _confint_rows("confint_separate"), rtol=RTOL)


def test_dependent_columns_and_missing_values() -> None:
    data = pd.DataFrame({"y": [1.0, 2.0, 2.5, 4.0, 3.0, 5.0, np.nan],
                         "x": [0.0, 1.0, 2.0, 3.0, 1.0, 1.0, 2.0],
                         "g": ["a", "a", "a", "a", "b", "b", "b"]})
    fits = lm_list("y ~ x | g", data)
    coef = fits.coef()
    # group b has one value of x: its slope is not estimable (NA, as R's lm)
    assert np.isnan(coef.loc["b", "x"]) and np.isclose(coef.loc["b", "(Intercept)"], 4.0)
    slope, intercept = np.polyfit([0.0, 1.0, 2.0, 3.0], [1.0, 2.0, 2.5, 4.0], 1)
    np.testing.assert_allclose(coef.loc["a"].to_numpy(), [intercept, slope])
    assert fits.fits["b"].n == 2 and fits.fits["b"].rank == 1
    assert fits.pooled_df == (4 - 2) + (2 - 2)
    assert fits.confint(pool=True).loc["b", ("x", "2.5 %")] != fits.confint(pool=True).loc["b", ("x", "2.5 %")]


def test_formula_must_be_a_grouped_model(sleep) -> None:
    with pytest.raises(FormulaError, match="y ~ x \\| g"):
        lm_list("Reaction ~ Days + (1 | Subject)", sleep)
    with pytest.raises(FormulaError, match="y ~ x \\| g"):
        lm_list("Reaction ~ Days", sleep)
    assert "18 groups" in repr(lm_list("Reaction ~ 1 | Subject", sleep))
