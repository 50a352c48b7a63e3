"""Tests of mixedfx.estimated_means against emmeans 1.8.4-1 (tests/reference/emmeans_r.R), and what they share."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "emmeans_r.json").read_text())

TEXT_COLUMNS = ("contrast", "recipe", "temp", "temperature", "cask", "period", "YEAR", "odd", "shift", "1")
"""Label columns that are factors in emmeans' summaries (compared as text)."""


NEAR_ZERO = 1e-3
ROUNDING = 1e-13  # differences of this size are rounding (p values of 1e-15 computed as 1 - (1 - p))


def numbers(values: list[str]) -> np.ndarray:
    """R's numbers written by sprintf("%.17g"), "NA" as NaN."""
    return np.array([np.nan if v == "NA" else float(v) for v in values])


def reference_table(case: str, name: str) -> dict:
    """One summary written by emmeans_r.R: its columns, values by column and notes."""
    return REFERENCE[case][name]


def assert_table(ours: pd.DataFrame, case: str, name: str, rtol: float, atol: dict[str, float] | None = None) -> None:
    """Our summary against emmeans': the same columns in order, labels, NaN cells and notes; numbers to ``rtol``.

    A value near zero is compared relative to a thousandth of its column's
    largest value (an exact zero in one is 1e-14 in the other), and no gap
    below 1e-13 counts; ``atol`` gives absolute tolerances by column (for randomised methods).
    """
    ref = reference_table(case, name)
    assert list(ours.columns) == ref["columns"]
    assert len(ours) == len(next(iter(ref["values"].values())))
    for column in ref["columns"]:
        expected = ref["values"][column]
        if column in TEXT_COLUMNS:
            assert [str(v) for v in ours[column]] == expected, column
            continue
        want, got = numbers(expected), ours[column].to_numpy(dtype=float)
        assert np.array_equal(np.isnan(want), np.isnan(got)), column
        present = ~np.isnan(want)
        want, got = want[present], got[present]
        if atol and column in atol:
            np.testing.assert_allclose(got, want, rtol=0, atol=atol[column], err_msg=column)
            continue
        infinite = np.isinf(want)
        assert np.array_equal(want[infinite], got[infinite]), column
        want, got = want[~infinite], got[~infinite]
        scale = np.maximum.reduce([np.abs(want), np.full(want.shape, NEAR_ZERO * np.max(np.abs(want), initial=0)),
                                   np.full(want.shape, ROUNDING / rtol)])
        gap = np.abs(got - want) / scale
        assert np.all(gap <= rtol), f"{column}: largest relative gap {gap.max(initial=0):.3g}"
    assert ours.attrs["notes"] == ref["notes"]
