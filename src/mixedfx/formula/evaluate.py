"""R's evaluation semantics for formula variables over a pandas DataFrame.

A formula variable (``x``, ``I(x^2)``, ``log(w)``, ``factor(g)``,
``offset(0.5 * w)``, ``cbind(a, b - a)``, ``poly(x, 2)``, ``g1:g2``) evaluates
to either a numeric array or a :class:`Factor` (integer codes plus R level labels). Column
dtypes map to R types: categoricals are factors (ordered ones R's ordered
factors), strings become factors with sorted levels, booleans are logicals
(levels ``FALSE``/``TRUE``), numbers stay numeric. ``^`` is power and ``:``
between factors is their interaction, as in R. ``poly``, ``scale``, ``bs``
and ``ns`` learn their parameters on the rows they first see
(:mod:`mixedfx.formula.transforms`); an environment given the fit's
:class:`LearnedTransforms` reuses them instead.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np
import pandas as pd

from mixedfx.dataframes.convert import column_array, read_only, unknown_column
from mixedfx.errors import DataError, FormulaError
from mixedfx.formula.frozen import computed_once, quick_init
from mixedfx.formula.syntax import Binary, Call, Name, Node, Num, Paren, Str, Unary, deparse, format_number
from mixedfx.formula.transforms import (STATEFUL_FUNCTIONS, LearnedTransforms, TransformCall, TransformParams,
                                        transform_call)

__all__ = [
    "Factor", "Value", "DataEnv", "evaluate", "as_factor", "is_missing", "take", "as_column",
    "column_value", "transform_argument", "SUPPORTED_FUNCTIONS",
]


@quick_init
@dataclass(frozen=True, eq=False)
class Factor:
    """An R factor: integer codes (-1 for NA) into level labels.

    Attributes
    ----------
    codes : ndarray of int64
        Per row, the index of its level; -1 for a missing value.
    levels : tuple of str
        Level labels in R's order.
    ordered : bool
        R ordered factor (coded with ``contr.poly``).
    logical : bool
        An R logical (levels ``FALSE``, ``TRUE``, never dropped).
    """

    codes: np.ndarray
    levels: tuple[str, ...]
    ordered: bool = False
    logical: bool = False

    @computed_once
    def has_missing(self) -> bool:
        """Whether a row is missing (code -1), judged by the least code (``argmin`` costs least of numpy's ways).

        Read once per factor: the frame's missing-value screen and :meth:`drop_unused` both ask.
        """
        return self.codes.size > 0 and self.codes[self.codes.argmin()] < 0

    def drop_unused(self) -> Factor:
        """The factor without levels that no row uses (logicals keep both levels)."""
        if self.logical:
            return self
        valid = self.codes >= 0 if self.has_missing else None  # None: every row counts
        counts = np.bincount(self.codes if valid is None else self.codes[valid], minlength=len(self.levels))
        if np.count_nonzero(counts) == len(self.levels):
            return self
        used = counts > 0
        remap = np.cumsum(used) - 1
        codes = remap[self.codes] if valid is None else np.where(valid, remap[np.maximum(self.codes, 0)], -1)
        return replace(self, codes=codes.astype(np.int64, copy=False),
                       levels=tuple(lv for lv, u in zip(self.levels, used) if u))

    def recode(self, levels: tuple[str, ...]) -> tuple[Factor, list[str]]:
        """Express this factor's rows as codes into other level labels.

        Parameters
        ----------
        levels : tuple of str
            The target levels (e.g. those of the fitted model).

        Returns
        -------
        Factor
            Codes into ``levels``; -1 for missing values and unknown labels.
        list of str
            Labels present in the rows but absent from ``levels``.
        """
        mapping = np.append(_level_index(levels).get_indexer(pd.Index(self.levels, dtype=object)),
                            -1).astype(np.int64)
        codes = mapping[self.codes]  # code -1 picks the trailing -1
        present = np.bincount(self.codes[self.codes >= 0], minlength=len(self.levels)) > 0
        unseen = [label for label, p, m in zip(self.levels, present, mapping) if p and m < 0]
        return replace(self, codes=codes, levels=levels), unseen


Value = np.ndarray | Factor


@lru_cache(maxsize=8)
def _level_index(levels: tuple[str, ...]) -> pd.Index:
    """Level labels as an index to look labels up in, kept for the next partition or prediction with them."""
    return pd.Index(levels, dtype=object)


# --------------------------------------------------------------------------- columns
def _labels(values: np.ndarray) -> tuple[str, ...]:
    """R's labels for category values: integers plainly, doubles as as.character."""
    if values.dtype.kind in "iu":
        return tuple(values.astype(str).tolist())
    if values.dtype.kind == "f":
        return tuple(format_number(float(v)) for v in values)
    if values.dtype.kind == "b":
        return tuple("TRUE" if v else "FALSE" for v in values)
    return tuple(map(str, values))


def _factor_from_values(values: np.ndarray, missing: np.ndarray) -> Factor:
    """R's factor(x) for a numeric vector: sorted unique values as levels."""
    inverse, uniq = pd.factorize(values[~missing], sort=True)
    labels = np.array(_labels(np.asarray(uniq)), dtype=object)
    label_codes, label_uniques = pd.factorize(labels)  # merges values printing alike
    codes = np.full(values.shape[0], -1, dtype=np.int64)
    codes[~missing] = label_codes[inverse]
    return Factor(codes, tuple(map(str, label_uniques.tolist())))


def _logical(series: pd.Series) -> Factor:
    missing = series.isna().to_numpy()
    values = series.to_numpy(dtype=object, na_value=False).astype(bool)
    codes = np.where(missing, -1, values.astype(np.int64))
    return Factor(codes, ("FALSE", "TRUE"), logical=True)


def _distinct(labels: tuple[str, ...], name: str) -> tuple[str, ...]:
    """A factor's level labels, refused where two levels print alike (``1`` and ``"1"``)."""
    if len(set(labels)) < len(labels):
        twice = next(label for label in labels if labels.count(label) > 1)
        raise DataError(f"column {name!r} has two categories that both read {twice!r} as text (e.g. the number 1 "
                        "and the string '1'); R and predict() could not tell them apart: make them one type")
    return labels


def _category_labels(categories: pd.Index, name: str) -> tuple[str, ...]:
    """R's labels of a categorical's categories, remembered for the categories' lifetime.

    A categorical column's categories are an immutable Index that every fit on
    the data (and every column of the same dtype) shares; turning them into text
    costs more than the rest of a small model's column (80 us for 400 levels).
    """
    kept = _CATEGORY_LABELS.get(id(categories))
    if kept is not None and kept[0]() is categories:
        return kept[1]
    labels = _labels(np.asarray(categories))
    # categories are distinct values; only values of mixed types (1 and "1") can print alike
    if categories.inferred_type.startswith("mixed"):
        labels = _distinct(labels, name)
    key = id(categories)
    _CATEGORY_LABELS[key] = (weakref.ref(categories, lambda _, key=key: _CATEGORY_LABELS.pop(key, None)), labels)
    return labels


_CATEGORY_LABELS: dict[int, tuple[weakref.ref, tuple[str, ...]]] = {}
""":func:`_category_labels` by the categories' identity (an entry leaves when its categories are freed)."""


def column_value(column: pd.Series | np.ndarray | pd.api.extensions.ExtensionArray, name: str) -> Value:
    """Convert a DataFrame column to its R value.

    Parameters
    ----------
    column : pandas.Series, ndarray or ExtensionArray
        The column, or its values
        (:func:`mixedfx.dataframes.convert.column_array`).
    name : str
        Its name, for error messages.

    Returns
    -------
    Value
        A :class:`Factor` for categorical, string and boolean columns; an
        int64 array for integer columns without missing values; otherwise a
        float64 array with NaN for missing values. Arrays that share the
        column's memory are read-only.

    Raises
    ------
    DataError
        For column types a model cannot use (dates, complex numbers, ...).
    """
    values = column.array if isinstance(column, pd.Series) else column
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        codes = values.codes.astype(np.int64)  # a copy: never the data's memory
        return Factor(codes, _category_labels(dtype.categories, name), ordered=bool(dtype.ordered))
    if isinstance(dtype, np.dtype) and dtype.kind in "fiub":  # numpy's own types: no missing values but NaN
        array = np.asarray(values)
        if dtype.kind == "b":
            return Factor(array.astype(np.int64), ("FALSE", "TRUE"), logical=True)
        converted = array.astype(np.float64 if dtype.kind == "f" else np.int64, copy=False)
        return read_only(converted) if converted is array and array.flags.writeable else converted
    series = column if isinstance(column, pd.Series) else pd.Series(values, copy=False)
    if pd.api.types.is_bool_dtype(dtype):
        return _logical(series)
    if pd.api.types.is_numeric_dtype(dtype) and dtype.kind in "iuf":
        if dtype.kind in "iu" and not series.hasnans:
            return series.to_numpy(dtype=np.int64)
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        kind = pd.api.types.infer_dtype(series, skipna=True)
        missing = series.isna().to_numpy()
        if kind == "boolean":
            return _logical(series)
        if kind in {"integer", "floating", "mixed-integer-float", "decimal", "empty"}:
            return series.to_numpy(dtype=np.float64, na_value=np.nan)
        try:
            codes, uniques = pd.factorize(series, sort=True)
        except TypeError:  # mixed types: compare as text
            codes, uniques = pd.factorize(series.where(missing, series.astype(str)), sort=True)
        labels = tuple(str(u) for u in uniques)
        return Factor(codes.astype(np.int64), _distinct(labels, name) if kind.startswith("mixed") else labels)
    raise DataError(f"column {name!r} has type {dtype}, which a model formula cannot use; "
                    "convert it to numbers, strings or a categorical")


# --------------------------------------------------------------------------- environment
_CONSTANTS: dict[str, float] = {"TRUE": 1.0, "FALSE": 0.0, "Inf": np.inf, "NaN": np.nan, "NA": np.nan}
_SHADOWABLE: dict[str, float] = {"T": 1.0, "F": 0.0, "pi": float(np.pi)}
_NOTHING_LEARNED = LearnedTransforms()


class DataEnv:
    """Where formula variables are looked up: the columns of a DataFrame.

    Parameters
    ----------
    data : pandas.DataFrame
        The data (never modified).
    rows : ndarray of int, optional
        Positions of the rows to use; all rows when omitted.
    factorize : bool
        Convert every column to a factor, as lme4 does for the variables of
        a grouping-factor expression.
    shared : DataEnv, optional
        An environment over the same data and rows whose column conversions
        this one reuses (a grouping factor's column is often a frame variable too).
    fitted : LearnedTransforms, optional
        What ``poly()``, ``scale()``, ``bs()``, ``ns()`` learned on the
        fitted data, used on these rows instead of learning anew (new data);
        calls it does not hold learn on these rows and are recorded.
    """

    def __init__(self, data: pd.DataFrame, rows: np.ndarray | None = None, factorize: bool = False,
                 shared: DataEnv | None = None, fitted: LearnedTransforms | None = None) -> None:
        self.data = data
        self.rows = rows
        self.factorize = factorize
        self.fitted = _NOTHING_LEARNED if fitted is None else fitted
        self.n = len(data) if rows is None else len(rows)
        self._cache: dict[str, Value] = {}
        self._columns: dict[str, Value] = {} if shared is None else shared._columns
        self._learned: dict[str, TransformParams] = {}

    @property
    def index(self) -> pd.Index:
        """Labels of the environment's rows."""
        return self.data.index if self.rows is None else self.data.index[self.rows]

    def transformed(self, call: TransformCall) -> np.ndarray:
        """A stateful call on these rows: with its fitted parameters if given, else learning (and noting) them."""
        fitted = self.fitted.get(call.label)
        value, params = call.apply(transform_argument(call, self), fitted, self.index)
        if fitted is None and params is not None:
            self._learned[call.label] = params
        return value

    def learned_transforms(self) -> LearnedTransforms:
        """What the stateful calls evaluated so far learned on these rows, by their deparsed text."""
        return LearnedTransforms(dict(self._learned)) if self._learned else _NOTHING_LEARNED

    def lookup(self, name: str) -> Value | float:
        """The value of a symbol: a column, or one of R's constants."""
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name in self._cache:
            return self._cache[name]
        value = self._columns.get(name)
        if value is None:
            try:
                column = column_array(self.data, name)
            except KeyError:
                if name in _SHADOWABLE:
                    return _SHADOWABLE[name]
                raise unknown_column(name, self.data.columns) from None
            value = self._columns[name] = column_value(column if self.rows is None else column[self.rows], name)
        if self.factorize:
            value = as_factor(value, name)
        self._cache[name] = value
        return value


# --------------------------------------------------------------------------- values
def is_missing(value: Value) -> np.ndarray:
    """Rows where R's ``is.na`` is true.

    Parameters
    ----------
    value : Value
        A factor, a numeric vector or a numeric matrix.

    Returns
    -------
    ndarray of bool
        True where the row is missing (in any column of a matrix).
    """
    if isinstance(value, Factor):
        return value.codes < 0
    if value.dtype.kind in "iu":
        return np.zeros(value.shape[0], dtype=bool)
    missing = np.isnan(value)
    return missing.any(axis=1) if missing.ndim == 2 else missing


def take(value: Value, rows: np.ndarray) -> Value:
    """The value restricted to some rows.

    Parameters
    ----------
    value : Value
        A factor or numeric array.
    rows : ndarray of int
        Row positions.

    Returns
    -------
    Value
        Same kind, same levels for a factor.
    """
    if isinstance(value, Factor):
        return replace(value, codes=value.codes[rows])
    return value[rows]


def as_column(value: Value | float | str, n: int, label: str) -> Value:
    """A variable's value as one entry per row.

    Parameters
    ----------
    value : Value, float or str
        Result of :func:`evaluate`.
    n : int
        Number of rows.
    label : str
        The variable, for the error message.

    Returns
    -------
    Value
        Arrays and factors unchanged; a number repeated n times.

    Raises
    ------
    FormulaError
        For a string constant.
    """
    if isinstance(value, Factor | np.ndarray):
        return value
    if isinstance(value, str):
        raise FormulaError(f"the variable {label} is a string constant, not data")
    return np.full(n, float(value))


def as_factor(value: Value | float, label: str) -> Factor:
    """R's ``as.factor``.

    Parameters
    ----------
    value : Value
        A factor, logical or numeric vector.
    label : str
        The expression, for the error message.

    Returns
    -------
    Factor
        Factors unchanged; logicals and numbers with their sorted present
        values as levels (labels as R's ``as.character``).
    """
    if isinstance(value, Factor):
        if value.logical:
            return replace(value, logical=False).drop_unused()
        return value
    if not isinstance(value, np.ndarray) or value.ndim != 1:
        raise FormulaError(f"{label} cannot be turned into a factor")
    missing = is_missing(value)
    return _factor_from_values(value, missing)


def _numeric(value: Value | float, op: str) -> np.ndarray | float:
    if isinstance(value, Factor):
        if not value.logical:
            raise DataError(f"'{op}' is not meaningful for factors; use as.numeric() for the level codes")
        return np.where(value.codes < 0, np.nan, value.codes.astype(np.float64))
    if isinstance(value, str):
        raise DataError(f"'{op}' is not meaningful for a string")
    if isinstance(value, np.ndarray):
        return value.astype(np.float64, copy=False)
    return float(value)


def _as_logical(result: np.ndarray | float, missing: np.ndarray | bool) -> Factor | float:
    if not isinstance(result, np.ndarray):
        return float(result)
    return Factor(np.where(missing, -1, result.astype(np.int64)), ("FALSE", "TRUE"), logical=True)


def _interaction(a: Value | float, b: Value | float, label: str) -> Factor:
    if not (isinstance(a, Factor) and isinstance(b, Factor)):
        raise FormulaError(f"':' in {label} needs factors on both sides")
    nb = len(b.levels)
    valid = (a.codes >= 0) & (b.codes >= 0)
    combined = a.codes * nb + b.codes
    inverse, uniq = pd.factorize(combined[valid], sort=True)
    codes = np.full(a.codes.shape[0], -1, dtype=np.int64)
    codes[valid] = inverse
    levels = tuple(f"{a.levels[u // nb]}:{b.levels[u % nb]}" for u in uniq.tolist())
    return Factor(codes, levels)


_ARITH = {
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "^": np.power,
    "%%": np.mod, "%/%": np.floor_divide,
}
_COMPARE = {"==": np.equal, "!=": np.not_equal, "<": np.less, ">": np.greater,
            "<=": np.less_equal, ">=": np.greater_equal}
_MATH = {
    "log2": np.log2, "log10": np.log10, "log1p": np.log1p, "exp": np.exp, "expm1": np.expm1,
    "sqrt": np.sqrt, "abs": np.abs, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "floor": np.floor, "ceiling": np.ceil, "sign": np.sign,
}
SUPPORTED_FUNCTIONS = sorted({"I", "offset", "log", "factor", "as.factor", "as.numeric", "cbind", *_MATH,
                              *STATEFUL_FUNCTIONS})


def _compare(op: str, a: Value | float | str, b: Value | float | str) -> Factor | float:
    # factor == "level": compare labels, as R does
    if isinstance(a, Factor) and isinstance(b, str):
        labels = np.array(a.levels + ("",), dtype=object)[a.codes]
        return _as_logical(np.asarray(_COMPARE[op](labels, b), dtype=bool), a.codes < 0)
    if isinstance(b, Factor) and isinstance(a, str):
        return _compare({"<": ">", ">": "<", "<=": ">=", ">=": "<="}.get(op, op), b, a)
    x, y = _numeric(a, op), _numeric(b, op)
    return _as_logical(_COMPARE[op](x, y), np.isnan(x) | np.isnan(y))


def _logic(op: str, a: Value | float, b: Value | float | None = None) -> Factor | float:
    x = _numeric(a, op)
    if b is None:
        return _as_logical(np.logical_not(x), np.isnan(x))
    y = _numeric(b, op)
    result = np.logical_and(x, y) if op in {"&", "&&"} else np.logical_or(x, y)
    return _as_logical(result, np.isnan(x) | np.isnan(y))


def transform_argument(call: TransformCall, env: DataEnv) -> np.ndarray:
    """The values a stateful call (``poly()``, ``scale()``, ``bs()``, ``ns()``) transforms, one per row of ``env``.

    Examples
    --------
    >>> from mixedfx.formula.syntax import parse_expr
    >>> transform_argument(transform_call(parse_expr("scale(2 * x)")), DataEnv(pd.DataFrame({"x": [1.0]}))).tolist()
    [2.0]
    """
    return _numeric(as_column(evaluate(call.x, env), env.n, call.label), call.fn)


def _call(node: Call, env: DataEnv) -> Value | float:
    fn = node.fn  # the call's text, deparse(node), costs more than most calls: written for messages only
    if fn in STATEFUL_FUNCTIONS:
        return env.transformed(transform_call(node))
    if any(name is not None for name in node.argnames) and fn != "log":
        raise FormulaError(f"named arguments are not supported in {deparse(node)}")
    args = [_evaluate(a, env) for a in node.args]
    if fn == "cbind":
        if not args:
            raise FormulaError("cbind() needs at least one argument")
        columns = np.empty((env.n, len(args)))
        for j, a in enumerate(args):
            columns[:, j] = _numeric(a, "cbind")  # a number fills its column
        return columns
    if fn == "log":
        if len(args) not in (1, 2) or (len(args) == 2 and node.argnames[1] not in (None, "base")):
            raise FormulaError(f"log() takes one value and an optional base: {deparse(node)}")
        x = _numeric(args[0], "log")
        return np.log(x) if len(args) == 1 else np.log(x) / np.log(_numeric(args[1], "log"))
    if len(args) != 1:
        if fn in SUPPORTED_FUNCTIONS:
            raise FormulaError(f"{fn}() takes exactly one argument here: {deparse(node)}")
        raise FormulaError(f"unsupported function {fn}() in {deparse(node)}; "
                           f"formulas can use {', '.join(SUPPORTED_FUNCTIONS)}")
    (x,) = args
    if fn == "I":
        return x
    if fn == "offset":
        return _numeric(x, "offset")
    if fn in ("factor", "as.factor"):
        label = deparse(node)
        f = as_factor(as_column(x, env.n, label), label)
        return f.drop_unused() if fn == "factor" else f
    if fn == "as.numeric":
        if isinstance(x, Factor) and not x.logical:
            return np.where(x.codes < 0, np.nan, x.codes + 1.0)
        return _numeric(x, fn)
    if fn in _MATH:
        return _MATH[fn](_numeric(x, fn))
    raise FormulaError(f"unsupported function {fn}() in {deparse(node)}; "
                       f"formulas can use {', '.join(SUPPORTED_FUNCTIONS)}")


def evaluate(node: Node, env: DataEnv) -> Value | float | str:
    """Evaluate a formula variable with R's semantics.

    Parameters
    ----------
    node : Node
        The variable's syntax tree (``I(x^2)``, ``log(w)``, ``g1:g2`` ...).
    env : DataEnv
        Where names are looked up.

    Returns
    -------
    Value or float or str
        A numeric array, a :class:`Factor`, or a scalar for constant
        expressions (see :func:`as_column`).

    Raises
    ------
    DataError
        Unknown columns, arithmetic on factors.
    FormulaError
        Unsupported functions or operators.
    """
    if isinstance(node, Name):  # most variables are plain names, which need no floating-point state
        return env.lookup(node.id)
    with np.errstate(all="ignore"):
        return _evaluate(node, env)


def _evaluate(node: Node, env: DataEnv) -> Value | float | str:
    """:func:`evaluate` within its floating-point state (set once for the whole expression)."""
    match node:
        case Paren(inner=inner):
            return _evaluate(inner, env)
        case Name(id=ident):
            return env.lookup(ident)
        case Num(value=value) | Str(value=value):
            return value
        case Unary(op="-", operand=operand):
            return -_numeric(_evaluate(operand, env), "-")
        case Unary(op="+", operand=operand):
            return _numeric(_evaluate(operand, env), "+")
        case Unary(op="!", operand=operand):
            return _logic("!", _evaluate(operand, env))
        case Binary(op=op, left=left, right=right) if op in _ARITH:
            return _ARITH[op](_numeric(_evaluate(left, env), op), _numeric(_evaluate(right, env), op))
        case Binary(op=op, left=left, right=right) if op in _COMPARE:
            return _compare(op, _evaluate(left, env), _evaluate(right, env))
        case Binary(op=op, left=left, right=right) if op in {"&", "&&", "|", "||"}:
            return _logic(op, _evaluate(left, env), _evaluate(right, env))
        case Binary(op=":", left=left, right=right):
            return _interaction(_evaluate(left, env), _evaluate(right, env), deparse(node))
        case Call():
            return _call(node, env)
    raise FormulaError(f"cannot evaluate {deparse(node)} in a model formula")
