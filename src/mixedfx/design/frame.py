"""The model frame: every variable a mixed model uses, on the rows it keeps.

Mirrors what ``lme4::lFormula`` gets from ``model.frame``: the variables of
the formula with bars turned into ``+`` (response, fixed-effect variables,
random-effect slope variables, grouping variables), plus weights and offset,
evaluated on the whole data; ``.`` stands for the data's other columns (R's
``terms(formula, data)``); the ``subset`` is taken, then rows with a missing
value in any variable are dropped (``na_action="omit"``, or ``"exclude"``,
which also remembers where they were) or reported (``"fail"``), as R's
model.frame applies ``subset`` before ``na.action``; factors lose levels no
kept row uses. Grouping factors are then formed as lme4's ``mkReTrms``
does: the variables of each grouping expression become factors, the
expression is evaluated (``g:h`` is the interaction) and unused levels go.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from mixedfx.dataframes.convert import as_pandas, column_array, unknown_column
from mixedfx.errors import DataError, FormulaError, MixedFxError
from mixedfx.formula.bars import MixedFormula, parse_formula
from mixedfx.formula.evaluate import (
    DataEnv, Factor, Value, as_column, as_factor, column_value, evaluate, is_missing, take,
)
from mixedfx.formula.frozen import quick_init
from mixedfx.formula.syntax import Call, Name, Node
from mixedfx.formula.terms import Terms, expand_dot
from mixedfx.formula.transforms import MATRIX_FUNCTIONS, LearnedTransforms

__all__ = ["ModelFrame", "model_frame", "grouping_factor", "NA_ACTIONS"]

NA_ACTIONS = {"omit": "omit", "na.omit": "omit", "exclude": "exclude", "na.exclude": "exclude",
              "fail": "fail", "na.fail": "fail"}
_EXCLUDE_TOO = " (or 'exclude': omit, then pad fitted values and residuals back to the input rows)"


@quick_init
@dataclass(frozen=True)
class ModelFrame:
    """Variables of a mixed model on the rows it keeps.

    Attributes
    ----------
    formula : MixedFormula
        The parsed formula, ``.`` in its fixed part replaced by the columns it stands for.
    fixed : Terms
        Terms of the fixed part (variable 0 is the response).
    slopes : tuple of Terms
        Per random-effects term (``formula.bars`` order), the terms of its model.
    values : dict of str to Value
        Every variable by its R label, on the kept rows; factors keep only
        the levels those rows use.
    groups : tuple of Factor
        Per random-effects term, its grouping factor on the kept rows.
    y : ndarray
        The response as floats, shape (n,) or (n, 2) for ``cbind(...)``; a
        factor response is 0 for its first level and 1 otherwise (R's
        binomial convention), a logical one 0/1.
    weights : ndarray or None
        Prior weights on the kept rows.
    offset : ndarray
        Sum of the formula's ``offset()`` terms and the ``offset`` argument.
    rows : pandas.Index
        Index labels of the kept rows of the data.
    n_dropped_na : int
        Number of rows dropped for missing values.
    input_rows : pandas.Index
        Index labels of the rows the NA action saw: every row of the data, or
        the ``subset``'s rows in its order.
    kept : ndarray of int
        Positions of ``rows`` in ``input_rows``.
    na_action : {"omit", "exclude", "fail"}
        The NA action, by its short name.
    transforms : LearnedTransforms
        What the formula's ``poly()``, ``scale()``, ``bs()`` and ``ns()``
        calls learned on the whole data (before rows with missing values are
        dropped, as R's model.frame evaluates them), or were given, to code new data alike.
    """

    formula: MixedFormula
    fixed: Terms
    slopes: tuple[Terms, ...]
    values: dict[str, Value]
    groups: tuple[Factor, ...]
    y: np.ndarray
    weights: np.ndarray | None
    offset: np.ndarray
    rows: pd.Index
    n_dropped_na: int
    input_rows: pd.Index
    kept: np.ndarray
    na_action: str = "omit"
    transforms: LearnedTransforms = LearnedTransforms()


def _extra_name(value: object, what: str) -> str:
    """How messages name the weights or the offset: by column when given one."""
    return f"{what} column {value!r}" if isinstance(value, str) else f"the {what} argument"


def _rows_text(rows: pd.Index, bad: np.ndarray, values: np.ndarray) -> str:
    """``"1 row (inf in row 3)"``: how many rows ``bad`` marks, and the first with its value."""
    where = np.flatnonzero(bad)
    first = values[where[0]]
    shown = ", ".join(f"{v:g}" for v in np.atleast_1d(first))
    return f"{where.size} row{'s' if where.size > 1 else ''} ({shown} in row {rows[where[0]]})"


def _missing_rows(value: Value) -> np.ndarray | None:
    """Rows where R's ``is.na`` is true; None where every value is present (and numbers finite).

    The least and the largest value decide the common case (numpy's
    ``argmin`` and ``argmax`` find a NaN first, an infinite value at an
    end). A numeric mask may mark no row (its values were not all finite).
    """
    if isinstance(value, Factor):
        return value.codes < 0 if value.has_missing else None
    flat = value.reshape(-1)
    if value.dtype.kind in "iu" or not flat.size or (math.isfinite(flat[flat.argmin()])
                                                      and math.isfinite(flat[flat.argmax()])):
        return None
    return is_missing(value)


def _check_finite(value: np.ndarray, what: str, rows: pd.Index) -> None:
    """Refuse infinite values (missing ones are gone by now), as R's model fitting does."""
    finite = np.isfinite(value)
    bad = ~(finite if finite.ndim == 1 else finite.all(axis=1))
    if bad.any():
        raise DataError(f"{what} has infinite values in {_rows_text(rows, bad, value)}; "
                        "a model needs finite values: remove those rows or replace the values")


def _check_weights(w: np.ndarray, what: str, rows: pd.Index) -> None:
    """lme4's ``all(weights >= 0)``, finite weights and at least one positive."""
    _check_finite(w, what, rows)
    negative = w < 0
    if negative.any():
        raise DataError(f"negative weights are not allowed: {what} has negative values in "
                        f"{_rows_text(rows, negative, w)}; weights must be 0 or more")
    if not (w > 0).any():
        raise DataError(f"{what}: all weights are zero; at least one must be positive")


def _extra_column(value: object, data: pd.DataFrame, what: str) -> np.ndarray:
    """Weights or offset given as a column name or as values, as floats over all rows."""
    if isinstance(value, str):
        if value not in data.columns:
            raise DataError(f"{what}: {unknown_column(value, data.columns)}")
        column = column_value(column_array(data, value), value)
        if isinstance(column, Factor):
            raise DataError(f"{what} column {value!r} must be numeric, not text or a factor")
        return column.astype(np.float64)
    if isinstance(value, dict | set) or np.isscalar(value):
        raise TypeError(f"{what} must be a column name or an array of length {len(data)}, "
                        f"not {type(value).__name__}")
    if isinstance(value, pd.Series | pd.Index):
        value = value.to_numpy(dtype=np.float64, na_value=np.nan)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{what} must be numeric ({exc})") from None
    if arr.ndim != 1 or arr.shape[0] != len(data):
        raise DataError(f"{what} has {arr.shape[0] if arr.ndim else 1} values but the data have {len(data)} rows")
    return arr


def _query_mask(query: str, data: pd.DataFrame) -> pd.Series:
    """The rows a pandas query string selects, one True/False per row."""
    try:
        mask = data.eval(query)
    except (NameError, SyntaxError, TypeError, ValueError, KeyError, AttributeError) as exc:
        columns = ", ".join(map(str, data.columns[:20])) + (", ..." if len(data.columns) > 20 else "")
        raise DataError(f"subset {query!r} could not be evaluated on the data ({type(exc).__name__}: {exc}); "
                        f"the data have columns {columns} (names with spaces go in backticks)") from None
    if not isinstance(mask, pd.Series) or not pd.api.types.is_bool_dtype(mask.dtype):
        raise DataError(f"subset {query!r} must give True or False for each row, "
                        "like 'Days > 2' or 'period != \"4\"'")
    return mask


def _subset_rows(subset: object, data: pd.DataFrame) -> tuple[np.ndarray | None, np.ndarray | None]:
    """R's ``subset`` of a model frame: positions of the rows it keeps, and which of them it marks NA.

    A logical subset keeps its True rows; an NA in it keeps the row with
    every variable missing, as R's ``[.data.frame`` does, for the NA action
    to handle. Integer positions (0-based, distinct) keep those rows in their
    order. Without a subset, both are None: every row, in order, none marked.
    """
    if subset is None:
        return None, None
    n = len(data)
    if isinstance(subset, str):
        subset = _query_mask(subset, data)
    if isinstance(subset, dict | set | bytes) or np.isscalar(subset):
        raise TypeError("subset must be a boolean mask with one value per row, an array of row positions or "
                        f"a query string such as 'Days > 2', not {type(subset).__name__}")
    if isinstance(subset, pd.Series) and pd.api.types.is_bool_dtype(subset.dtype) \
            and not subset.index.equals(data.index):
        if len(subset) != n or not subset.index.sort_values().equals(data.index.sort_values()):
            raise ValueError("the subset mask's index does not match the data's: give one value per row of "
                             "the data, with its index (or a plain array)")
        subset = subset.reindex(data.index)
    raw = subset.array if isinstance(subset, pd.Series | pd.Index) else np.asarray(subset)
    if raw.ndim != 1:
        raise ValueError(f"subset must be one-dimensional, not of shape {np.shape(raw)}")
    if len(raw) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    values = pd.array(raw)
    if pd.api.types.is_bool_dtype(values.dtype):
        if len(values) != n:
            raise ValueError(f"the subset mask has {len(values)} values but the data have {n} rows")
        na = np.asarray(values.isna())
        chosen = np.flatnonzero(np.asarray(values.fillna(True), dtype=bool))
        return chosen, na[chosen]
    if pd.api.types.is_integer_dtype(values.dtype) and not values.isna().any():
        positions = np.asarray(values, dtype=np.int64)
        outside = (positions < 0) | (positions >= n)
        if outside.any():
            raise ValueError(f"subset position {positions[outside][0]} is outside the data's rows 0 to {n - 1} "
                             "(positions count from 0; to leave rows out, give a boolean mask)")
        if np.unique(positions).size != positions.size:
            raise ValueError("subset positions repeat a row; give each row at most once")
        return positions, np.zeros(positions.size, dtype=bool)
    raise TypeError(f"subset must hold booleans (a mask) or integers (row positions), not {values.dtype}")


def _response(value: Value) -> np.ndarray:
    if isinstance(value, Factor):
        if value.logical:
            return value.codes.astype(np.float64)
        return (value.codes != 0).astype(np.float64)
    return value.astype(np.float64)


def grouping_factor(group: Node, env: DataEnv, label: str) -> Factor:
    """Evaluate a grouping expression as lme4 does (``factor(<expr>)``).

    Parameters
    ----------
    group : Node
        The grouping expression (``Subject``, ``cask:batch``, ``as.factor(x)``).
    env : DataEnv
        An environment with ``factorize=True``.
    label : str
        The expression deparsed, for messages.

    Returns
    -------
    Factor
        Level labels in R's order (``"a:A"`` for interactions), unused levels
        dropped; NA codes where a variable is missing.
    """
    return as_factor(as_column(evaluate(group, env), env.n, label), label).drop_unused()


def model_frame(formula: str | MixedFormula, data: pd.DataFrame, *, weights: object = None,
                offset: object = None, na_action: str = "omit", subset: object = None,
                allow_no_rows: bool = False, transforms: LearnedTransforms | None = None) -> ModelFrame:
    """Build the model frame of a mixed model.

    Parameters
    ----------
    formula : str or MixedFormula
        lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame
        The data; never modified.
    weights : str or array-like, optional
        Prior weights: a column name or one value per row of ``data``.
    offset : array-like, optional
        One value per row, added to the formula's ``offset()`` terms.
    na_action : {"omit", "exclude", "fail"}
        Drop rows with missing values in any used variable (``"exclude"``
        too, and row-wise results are then padded back to ``input_rows``), or raise.
    subset : array-like or str, optional
        The rows to use, taken before the NA action: a boolean mask (one
        value per row; an NA marks the row missing, as in R), an array of
        0-based row positions (used in that order), or a pandas query string
        such as ``"Days > 2"``. Variables are evaluated on every row first, as
        R's model.frame does, so ``poly()`` and ``scale()`` learn on all of them.
    allow_no_rows : bool
        Give a frame without rows where the data have none, or none left after
        the NA action, instead of raising: one partition of a distributed data set.
    transforms : LearnedTransforms, optional
        What the formula's ``poly()``, ``scale()``, ``bs()`` and ``ns()`` calls
        learned on other rows (every partition of a distributed data set), used
        here instead of learning on ``data``.

    Returns
    -------
    ModelFrame

    Raises
    ------
    TypeError
        If ``data`` is not a DataFrame, ``formula`` not a string,
        ``na_action`` not a string, or ``subset`` of another kind.
    ValueError
        A subset mask of the wrong length or positions outside the data.
    FormulaError
        For a formula without a response or with a malformed term.
    DataError
        Unknown columns, empty data, a query that fails, a subset that keeps
        no row, missing values under ``"fail"``, infinite values, negative,
        infinite or all-zero weights, no rows left.
    MixedFxError
        An unknown ``na_action``.

    Examples
    --------
    >>> d = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.0, 1, 2, 3], "g": list("aabb")})
    >>> frame = model_frame("y ~ . + (1 | g)", d, subset="x > 0")
    >>> frame.fixed.term_labels, list(frame.rows)
    (['x', 'g'], [1, 2, 3])
    """
    data = as_pandas(data, "data")
    if not isinstance(na_action, str):
        raise TypeError(f"na_action must be 'omit' or 'fail', not {type(na_action).__name__}{_EXCLUDE_TOO}")
    if na_action not in NA_ACTIONS:
        raise MixedFxError(f"na_action must be 'omit' or 'fail', not {na_action!r}{_EXCLUDE_TOO}")
    parsed = formula if isinstance(formula, MixedFormula) else parse_formula(formula)
    if parsed.response is None:
        raise FormulaError(f"the formula {parsed.text} has no response: write it as 'y ~ ...'")
    env = DataEnv(data, fitted=transforms)
    if env.n == 0 and not allow_no_rows:
        raise DataError("the data have no rows")
    if parsed.fixed_has_dot:
        parsed = replace(parsed, fixed=expand_dot(parsed.fixed, data.columns, parsed.response))
    base, subset_na = _subset_rows(subset, data)
    if base is not None and base.size == 0 and not allow_no_rows:
        raise DataError(f"the subset keeps no rows of the data ({len(data)} rows)")
    fixed, slopes = parsed.fixed_terms, parsed.slope_terms
    full: dict[str, Value] = {}
    masks: dict[str, np.ndarray | None] = {}  # most variables get no mask: no value is missing, numbers are finite
    for label, node in parsed.frame_variables:
        value = full[label] = as_column(evaluate(node, env), env.n, label)
        if (isinstance(value, np.ndarray) and value.ndim != 1 and label != fixed.labels[0]
                and not (isinstance(node, Call) and node.fn in MATRIX_FUNCTIONS)):
            raise FormulaError(f"{label} has several columns; only the response may (cbind(successes, failures))")
        masks[label] = _missing_rows(value)
    extras = {"weights": None if weights is None else _extra_column(weights, data, "weights"),
              "offset": None if offset is None else _extra_column(offset, data, "offset")}

    if extras["weights"] is not None:
        base_weights = extras["weights"] if base is None else extras["weights"][base]
        nan = np.isnan(base_weights)
        if nan.any():
            raise DataError(f"{_extra_name(weights, 'weights')} has missing (NaN) values in "
                            f"{_rows_text(data.index if base is None else data.index[base], nan, base_weights)}; "
                            "weights must be numbers >= 0: give those rows a weight or drop them from the data")
    offset_mask = None if extras["offset"] is None else _missing_rows(extras["offset"])
    missing = {label: m if base is None else m[base] for label, m in masks.items() if m is not None}
    if offset_mask is not None:
        missing["offset"] = offset_mask if base is None else offset_mask[base]
    if subset_na is not None and subset_na.any():
        missing["subset"] = subset_na
    drop = np.logical_or.reduce(list(missing.values())) if missing else None
    if drop is not None and drop.any() and NA_ACTIONS[na_action] == "fail":
        named = [label for label, m in missing.items() if m.any()]
        raise DataError(f"missing values in {', '.join(named)} ({int(drop.sum())} rows); "
                        "remove them or use na_action='omit'")
    kept_input = np.arange(env.n if base is None else base.size) if drop is None else np.flatnonzero(~drop)
    kept = kept_input if base is None else base[kept_input]
    if kept.size == 0 and not allow_no_rows:
        named = [label for label, m in missing.items() if m.any()]
        raise DataError(f"no rows left after removing rows with missing values (in {', '.join(named)})")

    every_row = kept.size == env.n and (base is None or bool((kept == np.arange(env.n)).all()))
    values: dict[str, Value] = {}
    for label, value in full.items():
        value = value if every_row else take(value, kept)
        values[label] = value.drop_unused() if isinstance(value, Factor) else value
    rows = data.index if every_row else data.index[kept]
    for label, value in values.items():
        if isinstance(value, Factor) or masks[label] is None:
            continue
        what = (f"the response {label}" if label == fixed.labels[0]
                else f"column {label!r}" if label in data.columns else f"the variable {label}")
        _check_finite(value, what, rows)
    total_offset = np.zeros(kept.size)
    for i in fixed.offsets:
        part = values[fixed.labels[i]]
        if isinstance(part, Factor) or part.ndim != 1:
            raise DataError(f"{fixed.labels[i]} must be a numeric vector")
        total_offset = total_offset + part
    if extras["offset"] is not None:
        if offset_mask is not None:
            _check_finite(extras["offset"][kept], _extra_name(offset, "offset"), rows)
        total_offset = total_offset + extras["offset"][kept]
    w = None if extras["weights"] is None else extras["weights"][kept]
    if w is not None:
        _check_weights(w, _extra_name(weights, "weights"), rows)

    groups, group_env = [], None
    for bar in parsed.bars:
        if isinstance(bar.group, Name):  # a frame variable: on the kept rows, without missing values or unused levels
            groups.append(as_factor(values[bar.group_name], bar.group_name))
            continue
        if group_env is None:
            group_env = DataEnv(data, factorize=True, shared=env) if every_row else \
                DataEnv(data, rows=kept, factorize=True)
        factor = grouping_factor(bar.group, group_env, bar.group_name)
        if factor.has_missing:
            raise DataError(f"Invalid grouping factor specification, {bar.group_name}: "
                            "it evaluates to missing values")
        groups.append(factor)
    return ModelFrame(
        formula=parsed, fixed=fixed, slopes=slopes, values=values, groups=tuple(groups),
        y=_response(values[fixed.labels[0]]), weights=w, offset=total_offset,
        rows=rows, n_dropped_na=0 if drop is None else int(drop.sum()),
        input_rows=data.index if base is None else data.index[base], kept=kept_input,
        na_action=NA_ACTIONS[na_action], transforms=env.learned_transforms() if transforms is None else transforms,
    )
