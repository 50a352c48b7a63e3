"""emmeans' contrast methods (its ``.emmc`` functions): coefficients over the levels, names and default adjustment.

Each method takes the level labels of the estimates it contrasts (within a by
group) and gives one column of coefficients per contrast, named as emmeans
names them, with the adjustment emmeans applies to them by default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from mixedfx.formula.contrasts import contr_poly

__all__ = ["CONTRAST_METHODS", "ContrastSet", "contrast_set"]

_POLY_NAMES = ("linear", "quadratic", "cubic", "quartic", *(f"degree {d}" for d in range(5, 21)))
_POLY_MAX_DEGREE = 6  # emmeans' default max.degree


@dataclass(frozen=True)
class ContrastSet:
    """The contrasts of one method over k levels.

    Attributes
    ----------
    names : list of str
        One per contrast (``"A - B"``, ``"linear"``, ``"B effect"``).
    coefficients : ndarray, shape (k, c)
        Column j gives contrast j's weight on each level.
    adjust : str
        emmeans' default adjustment for the method.
    pairs : bool
        Whether the contrasts are one set of pairwise differences (Tukey's method applies).
    family_size : int
        emmeans' ``famSize``: the number of levels compared.
    """

    names: list[str]
    coefficients: np.ndarray
    adjust: str
    pairs: bool
    family_size: int


def _position(levels: Sequence[str], ref: int | str, raw: Sequence[str]) -> int:
    """A level's position from its label (as shown, or the bare level) or its 0-based position."""
    if isinstance(ref, (int, np.integer)) and not isinstance(ref, bool):
        if not 0 <= ref < len(levels):
            raise ValueError(f"ref={ref} is out of range: there are {len(levels)} levels (positions from 0)")
        return int(ref)
    for labels in (levels, raw):
        if ref in labels:
            return list(labels).index(ref)
    raise ValueError(f"ref={ref!r} is not one of the levels: {', '.join(levels)}")


def _pairwise(levels: Sequence[str], reverse: bool) -> tuple[list[str], list[np.ndarray]]:
    k = len(levels)
    pairs = [(j, i) for j in range(1, k) for i in range(j)] if reverse else \
        [(i, j) for i in range(k - 1) for j in range(i + 1, k)]
    names, columns = [], []
    for first, second in pairs:
        column = np.zeros(k)
        column[first], column[second] = 1.0, -1.0
        names.append(f"{levels[first]} - {levels[second]}")
        columns.append(column)
    return names, columns


def _trt_vs_ctrl(levels: Sequence[str], refs: list[int], reverse: bool) -> tuple[list[str], list[np.ndarray]]:
    control = levels[refs[0]] if len(refs) == 1 else "avg(" + ",".join(levels[r] for r in refs) + ")"
    template = np.zeros(len(levels))
    template[refs] = -1.0 / len(refs)
    names, columns = [], []
    for i, level in enumerate(levels):
        if i in refs:
            continue
        column = template.copy()
        column[i] = 1.0
        names.append(f"{control} - {level}" if reverse else f"{level} - {control}")
        columns.append(-column if reverse else column)
    return names, columns


def _effects(levels: Sequence[str], deleted: bool) -> tuple[list[str], list[np.ndarray]]:
    k = len(levels)
    columns = []
    for i in range(k):
        column = np.full(k, -1.0 / k)
        column[i] += 1.0
        columns.append(column / column[i] if deleted else column)
    return [f"{level} effect" for level in levels], columns


def _poly(k: int, max_degree: int | None) -> tuple[list[str], list[np.ndarray]]:
    """emmeans' ``poly.emmc``: orthogonal polynomials scaled to small integers."""
    degree = min(_POLY_MAX_DEGREE if max_degree is None else max_degree, k - 1, len(_POLY_NAMES))
    basis = contr_poly(k)[:, :degree]
    columns = []
    for column in basis.T:
        column = column / np.min(column[column > 0.01])
        gap = np.max(np.abs(column - np.rint(column)))
        while gap > 0.05:
            column = column / gap
            gap = np.max(np.abs(column - np.rint(column)))
        columns.append(np.rint(column))
    return list(_POLY_NAMES[:degree]), columns


def _consecutive(levels: Sequence[str], reverse: bool, mean_change: bool) -> tuple[list[str], list[np.ndarray]]:
    k = len(levels)
    sign = -1.0 if reverse else 1.0
    names, columns = [], []
    for i in range(k - 1):
        column = np.zeros(k)
        if mean_change:
            column[: i + 1], column[i + 1:] = -sign / (i + 1), sign / (k - i - 1)
            names.append(f"{levels[i]}|{levels[i + 1]}")
        else:
            column[i], column[i + 1] = -sign, sign
            names.append(f"{levels[i]} - {levels[i + 1]}" if reverse else f"{levels[i + 1]} - {levels[i]}")
        columns.append(column)
    return names, columns


CONTRAST_METHODS = ("pairwise", "revpairwise", "trt.vs.ctrl", "trt.vs.ctrl1", "trt.vs.ctrlk", "dunnett", "eff",
                    "del.eff", "poly", "consec", "mean_chg")
"""emmeans' contrast methods by name; a dict of named coefficient lists is a custom set."""
_DEFAULT_ADJUST = {"pairwise": "tukey", "revpairwise": "tukey", "trt.vs.ctrl": "dunnettx", "eff": "fdr",
                   "del.eff": "fdr", "poly": "none", "consec": "mvt", "mean_chg": "mvt"}


def contrast_set(method: str | Mapping[str, Sequence[float]], levels: Sequence[str], *,
                 raw_levels: Sequence[str] | None = None, ref: int | str | Sequence[int | str] | None = None,
                 reverse: bool = False, max_degree: int | None = None) -> ContrastSet:
    """The contrasts of ``method`` over ``levels`` (emmeans' ``<method>.emmc(levels)``).

    Parameters
    ----------
    method : str or dict
        One of :data:`CONTRAST_METHODS`, or a dict from contrast name to one
        coefficient per level (no adjustment by default).
    levels : sequence of str
        The labels of the estimates, as contrast names show them.
    raw_levels : sequence of str, optional
        The bare levels (``"1"`` for the label ``"period1"``), which ``ref`` may name.
    ref : int, str or sequence, optional
        The control level(s) of "trt.vs.ctrl" (default the first; "trt.vs.ctrlk"
        the last): labels, or 0-based positions.
    reverse : bool
        "trt.vs.ctrl": control minus treatment; "consec", "mean_chg": earlier minus later.
    max_degree : int, optional
        The highest degree of "poly" (default 6, at most k - 1).

    Returns
    -------
    ContrastSet

    Raises
    ------
    ValueError
        An unknown method, or custom coefficients of the wrong length.

    Examples
    --------
    >>> cs = contrast_set("pairwise", ["A", "B", "C"])
    >>> cs.names, cs.adjust
    (['A - B', 'A - C', 'B - C'], 'tukey')
    >>> contrast_set("poly", ["a", "b", "c", "d"]).coefficients[:, 0].tolist()
    [-3.0, -1.0, 1.0, 3.0]
    """
    levels = list(levels)
    raw = list(raw_levels) if raw_levels is not None else levels
    k = len(levels)
    if isinstance(method, Mapping):
        columns = [np.asarray(v, dtype=float) for v in method.values()]
        if any(c.shape != (k,) for c in columns):
            raise ValueError(f"each custom contrast needs {k} coefficients, one per level: {', '.join(levels)}")
        return ContrastSet(list(method), np.column_stack(columns) if columns else np.zeros((k, 0)), "none",
                           False, k)
    if method not in CONTRAST_METHODS:
        raise ValueError(f"method must be one of {', '.join(CONTRAST_METHODS)} or a dict of coefficients, "
                         f"not {method!r}")
    family = {"trt.vs.ctrl1": "trt.vs.ctrl", "trt.vs.ctrlk": "trt.vs.ctrl", "dunnett": "trt.vs.ctrl"}.get(method,
                                                                                                        method)
    if family in ("pairwise", "revpairwise"):
        names, columns = _pairwise(levels, family == "revpairwise")
    elif family == "trt.vs.ctrl":
        refs = [k - 1] if ref is None and method == "trt.vs.ctrlk" else [0] if ref is None else \
            [ref] if isinstance(ref, (str, int, np.integer)) else list(ref)
        names, columns = _trt_vs_ctrl(levels, sorted({_position(levels, r, raw) for r in refs}), reverse)
    elif family in ("eff", "del.eff"):
        names, columns = _effects(levels, family == "del.eff")
    elif family == "poly":
        names, columns = _poly(k, max_degree)
    else:
        names, columns = _consecutive(levels, reverse, family == "mean_chg")
    coefficients = np.column_stack(columns) if columns else np.zeros((k, 0))
    return ContrastSet(names, coefficients, _DEFAULT_ADJUST[family], family in ("pairwise", "revpairwise"), k)
