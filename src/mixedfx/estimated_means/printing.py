"""emmeans' summary table: a DataFrame that prints as emmeans' ``print.summary_emm``."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mixedfx.rbase.rformat import format_num
from mixedfx.rbase.rmath import r_round, zapsmall
from mixedfx.report.printed_table import PrintedTable

__all__ = ["EmmSummary", "format_emm_summary"]

_TEST_STATISTICS = ("t.ratio", "z.ratio")
_OPT_DIGITS_MIN = 3  # emmeans' .opt.dig never shows fewer digits


class EmmSummary(PrintedTable):
    """emmeans' summary: one row per estimate, printed as emmeans prints it.

    ``attrs`` hold what the print needs: ``"estimate_column"`` (the estimate's
    column), ``"by"`` (the by variables) and ``"notes"`` (the lines after the table).

    Examples
    --------
    >>> table = EmmSummary({"recipe": ["A", "B"], "emmean": [33.12, 31.64], "SE": [1.74, 1.74],
    ...                     "df": [42.0, 42.0]})
    >>> table.attrs.update(estimate_column="emmean", by=[], notes=["Confidence level used: 0.95"])
    >>> print(table)
     recipe emmean   SE df
     A        33.1 1.74 42
     B        31.6 1.74 42
    <BLANKLINE>
    Confidence level used: 0.95
    """

    def __str__(self) -> str:
        return format_emm_summary(pd.DataFrame(self), self.attrs.get("estimate_column"), self.attrs.get("by", []),
                                  self.attrs.get("notes", []))


def _opt_digits(row: np.ndarray) -> int:
    """emmeans' ``.opt.dig``: digits to show an estimate so that +-2 SE differ."""
    if not np.all(np.isfinite(row)) or np.max(np.abs(row)) == 0:
        return _OPT_DIGITS_MIN
    z = np.array([row.min(), row.max()]) / np.max(np.abs(row))
    dz = zapsmall([z[1] - z[0], *z], digits=8)[0]
    if dz <= 0:
        return _OPT_DIGITS_MIN
    return max(int(r_round(1.51 - math.log10(dz))), _OPT_DIGITS_MIN)


def _column_text(name: str, values: pd.Series, digits: int | None) -> tuple[list[str], bool]:
    """One column's printed cells and whether it is numeric (right-justified)."""
    if not pd.api.types.is_numeric_dtype(values):
        return [str(v) for v in values], False
    x = zapsmall(values.to_numpy(dtype=float))
    if name == "df":
        x = np.array([r_round(v, 2) for v in x])
    if name in _TEST_STATISTICS:
        return format_num([r_round(v, 3) for v in x], nsmall=3), True
    if name == "p.value":
        text = format_num([r_round(v, 4) for v in x], nsmall=4)
        return ["<.0001" if t.strip() == "0.0000" else t for t in text], True
    return format_num(x, digits=digits or 7), True


def _table_lines(table: pd.DataFrame, estimate_column: str | None, hidden: Sequence[str]) -> list[list[str]]:
    """The header and rows of the printed table, each a list of the lines' cells."""
    digits = None
    if estimate_column is not None and "SE" in table:
        est, se = table[estimate_column].to_numpy(float), table["SE"].to_numpy(float)
        digits = max(_opt_digits(np.array([e - 2 * s, e, e + 2 * s])) for e, s in zip(est, se))
    columns = []
    for name in table.columns:
        if name in hidden:
            continue
        cells, numeric = _column_text(name, table[name], digits)
        if name == estimate_column:
            cells = ["nonEst" if np.isnan(v) else c for v, c in zip(table[name].to_numpy(float), cells)]
        width = max([len(name), *(len(c) for c in cells)])
        if numeric:
            columns.append([name.rjust(width), *(c.rjust(width) for c in cells)])
        else:
            columns.append([name.ljust(width), *(c.ljust(width) for c in cells)])
    return [list(line) for line in zip(*columns)]


def format_emm_summary(table: pd.DataFrame, estimate_column: str | None, by: Sequence[str],
                       notes: Sequence[str]) -> str:
    """emmeans' ``print.summary_emm``: the table (one block per by group, as ``temp = 175:``) and its notes.

    Parameters
    ----------
    table : DataFrame
        The summary's columns.
    estimate_column : str or None
        The estimate's column (its digits follow emmeans' rule from the SE).
    by : sequence of str
        The by variables.
    notes : sequence of str
        Lines printed after the table.

    Returns
    -------
    str
    """
    by = [b for b in by if b in table.columns]
    lines = [" " + " ".join(cells) for cells in _table_lines(table, estimate_column, by)]
    out: list[str] = []
    if not by:
        out += lines + [""]
    else:
        header, body = lines[0], lines[1:]
        keys = [tuple(table[b].iloc[i] for b in by) for i in range(len(table))]
        order = sorted(range(len(table)), key=lambda i: tuple(_by_rank(table[b], i) for b in reversed(by)))
        groups: dict[tuple, list[int]] = {}
        for i in order:
            groups.setdefault(keys[i], []).append(i)
        for rows in groups.values():
            labels = ", ".join(f"{b} = {_by_text(table[b], rows[0])}" for b in by)
            out += [f"{labels}:", header, *(body[i] for i in rows), ""]
    out += list(dict.fromkeys(notes))
    return "\n".join(out)


def _by_rank(column: pd.Series, i: int) -> object:
    """Where row i's by value sorts: by level order for a categorical, else by value."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return int(column.cat.codes.iloc[i])
    return column.iloc[i]


def _by_text(column: pd.Series, i: int) -> str:
    if pd.api.types.is_numeric_dtype(column):
        return format_num(column.to_numpy(dtype=float))[i].strip()
    return str(column.iloc[i])
