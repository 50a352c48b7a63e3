"""Tests of broom.mixed's tidiers (tidy, glance, augment) against tests/reference/tidy_r.json.

``assert_table`` compares a DataFrame with one of the reference's tables: the
column names and their order exactly, the text columns (NA as R's "NA") and so
the row order exactly, the numbers to a relative tolerance (and the same
tolerance in units of the column's largest value, for entries near zero).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "tidy_r.json").read_text())
TEXT_COLUMNS = ("effect", "group", "level", "term")


def numbers(values: list[str]) -> np.ndarray:
    return np.array([np.nan if v == "NA" else float(v) for v in values], dtype=float)


def assert_table(table: pd.DataFrame, reference: dict, rtol: float, columns: list[str] | None = None,
                 column_rtol: dict[str, float] | None = None) -> None:
    """``table`` is the reference's table; ``columns``: its column names here where they differ from R's."""
    assert list(table.columns) == (reference["columns"] if columns is None else columns)
    for name, expected in reference["values"].items():
        if expected is None:  # a matrix column (cbind), two columns here
            continue
        if name in TEXT_COLUMNS or not pd.api.types.is_numeric_dtype(table[name]):
            assert ["NA" if pd.isna(v) else str(v) for v in table[name]] == expected, name
            continue
        ref = numbers(expected)
        tol = (column_rtol or {}).get(name, rtol)
        scale = np.nanmax(np.abs(ref)) if np.isfinite(ref).any() else 0.0
        np.testing.assert_allclose(table[name].to_numpy(dtype=float), ref, rtol=tol, atol=tol * scale,
                                   err_msg=name)


def glance_reference(reference: dict) -> dict:
    """A glance reference (one row: its names and values) as a table's."""
    return {"columns": reference["columns"],
            "values": {name: [value] for name, value in zip(reference["columns"], reference["values"])}}
