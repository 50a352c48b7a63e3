"""R's model.matrix: the coding of a set of terms over the data, kept to code new data alike.

Columns follow R: an ``(Intercept)`` column, then the columns of each term in
R's term order; within a term the first variable varies fastest; factors are
coded by contrasts (``contr.treatment``, ``contr.poly`` for ordered factors, or
the coding the ``contrasts`` argument names) or by indicators where R's
marginality rule says so; names as R gives them (``recipeB:temperature.L``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mixedfx.errors import DataError
from mixedfx.formula.contrasts import ContrastSpec, contrasts
from mixedfx.formula.evaluate import Factor, Value
from mixedfx.formula.frozen import quick_init
from mixedfx.formula.terms import CONTRASTS, Terms, coding

__all__ = ["MatrixSpec", "matrix_spec", "model_matrix", "check_finite_columns", "matrix_width"]


@quick_init
@dataclass(frozen=True)
class MatrixSpec:
    """How R's model.matrix built a set of columns, to rebuild them for new data.

    Attributes
    ----------
    terms : Terms
        The expanded terms.
    codes : tuple of tuple of int
        Per term and variable: 1 contrasts, 2 indicators.
    factors : dict of str to Factor
        Factor variables by label, as fitted (levels, ordered); codes unused.
    names : tuple of str
        Column names.
    contrast_matrices : dict of str to ndarray
        The contrasts of each factor some term codes by contrasts, by label.
    contrasts_arg : dict of str to ContrastSpec
        The codings asked for (R's ``contrasts.arg``), to code other values alike.
    """

    terms: Terms
    codes: tuple[tuple[int, ...], ...]
    factors: dict[str, Factor]
    names: tuple[str, ...]
    contrast_matrices: dict[str, np.ndarray]
    contrasts_arg: dict[str, ContrastSpec]


def matrix_width(terms: Terms, values: dict[str, Value]) -> tuple[int, int]:
    """How many columns R's model.matrix gives these terms, and the most levels of a factor among them.

    Counted from the factors' levels before any contrast matrix is formed, so
    that the memory they need can be checked first.

    Examples
    --------
    >>> import pandas as pd
    >>> from mixedfx.formula.bars import parse_formula
    >>> from mixedfx.design.frame import model_frame
    >>> d = pd.DataFrame({"y": [1.0, 2, 3, 4], "x": [0.5, 1, 2, 3], "f": list("abca")})
    >>> frame = model_frame(parse_formula("y ~ x * f + (1 | f)"), d)
    >>> matrix_width(frame.fixed, frame.values)
    (6, 3)
    """
    numeric = _numeric_spec(terms, values)
    if numeric is not None:
        return len(numeric.names), 0
    nlevels = [len(v.levels) if isinstance(v := values.get(label), Factor) else 0 for label in terms.labels]
    width = 1 if terms.intercept else 0
    for term, term_codes in zip(terms.terms, coding(terms, nlevels)):
        columns = 1
        for v, code in zip(term, term_codes):
            value = values[terms.labels[v]]
            if isinstance(value, Factor):
                columns *= len(value.levels) - (code == CONTRASTS)
            elif value.ndim == 2:
                columns *= value.shape[1]
        width += columns
    return width, max(nlevels, default=0)


def matrix_spec(terms: Terms, values: dict[str, Value],
                contrasts_arg: Mapping[str, ContrastSpec] | None = None) -> MatrixSpec:
    """Coding and column names R gives a set of terms over the fitted values.

    Parameters
    ----------
    terms : Terms
        Expanded terms (:func:`mixedfx.formula.terms.expand_terms`).
    values : dict of str to Value
        The variables' values, by label.
    contrasts_arg : dict of str to ContrastSpec, optional
        Codings other than R's defaults, by factor label (R's ``contrasts.arg``).

    Returns
    -------
    MatrixSpec

    Raises
    ------
    DataError
        ``contrasts_arg`` names a variable these terms do not have, or one that is not a factor.
    """
    numeric = None if contrasts_arg else _numeric_spec(terms, values)
    return numeric if numeric is not None else _coded_spec(terms, values, contrasts_arg or {})


def _coded_spec(terms: Terms, values: dict[str, Value], contrasts_arg: Mapping[str, ContrastSpec]) -> MatrixSpec:
    """:func:`matrix_spec`, formed."""
    for label in contrasts_arg:
        if label not in terms.labels:
            raise DataError(f"contrasts were given for {label!r}, which is not a variable of the fixed effects; "
                            f"they are: {', '.join(terms.labels) or 'none'}")
        if not isinstance(values.get(label), Factor):
            raise DataError(f"contrasts apply only to factors, and {label!r} is not one")
    factors = {label: v for label in terms.labels if isinstance(v := values.get(label), Factor)}
    codes = coding(terms, [len(factors[label].levels) if label in factors else 0 for label in terms.labels])
    codings: dict[str, tuple[np.ndarray, list[str]]] = {}  # by label, in order of first use
    names = ["(Intercept)"] if terms.intercept else []
    for term, term_codes in zip(terms.terms, codes):
        block = [""]
        for v, code in zip(term, term_codes):
            label = terms.labels[v]
            value = values[label]
            if isinstance(value, Factor) and code == CONTRASTS:
                if label not in codings:
                    codings[label] = contrasts(value, label, contrasts_arg.get(label))
                suffixes = codings[label][1]
            elif isinstance(value, Factor):
                suffixes = value.levels
            else:
                suffixes = [str(j + 1) for j in range(value.shape[1])] if value.ndim == 2 else [""]
            block = [f"{b}:{label}{s}" if b else label + s for s in suffixes for b in block]
        names.extend(block)
    return MatrixSpec(terms, codes, factors, tuple(names), {label: c[0] for label, c in codings.items()},
                      dict(contrasts_arg))


_NUMERIC_SPECS: dict[tuple[int, tuple[int, ...]], tuple[Terms, MatrixSpec]] = {}
"""Specs of terms without factors, by the terms' identity and their variables' widths (see :func:`_numeric_spec`)."""
_NUMERIC_SPECS_KEPT = 64


def _numeric_spec(terms: Terms, values: dict[str, Value]) -> MatrixSpec | None:
    """The spec of terms whose variables are all numeric (R's default coding), None where one is a factor.

    Such a spec depends only on the terms and how many columns each variable
    has, not on the rows: it is formed once and kept (a formula's terms are
    one object for as long as its parse is cached; the entry holds them, so
    their identity is not reused). Its dictionaries are empty.
    """
    widths = []
    for label in terms.labels:
        value = values.get(label)
        if isinstance(value, Factor):
            return None
        widths.append(1 if value is None or value.ndim == 1 else value.shape[1])
    key = (id(terms), tuple(widths))
    kept = _NUMERIC_SPECS.get(key)
    if kept is not None and kept[0] is terms:
        return kept[1]
    spec = _coded_spec(terms, values, {})
    if len(_NUMERIC_SPECS) >= _NUMERIC_SPECS_KEPT:
        _NUMERIC_SPECS.clear()
    _NUMERIC_SPECS[key] = (terms, spec)
    return spec


def _factor_block(value: Factor, spec: MatrixSpec, code: int, label: str) -> np.ndarray:
    matrix = spec.contrast_matrices[label] if code == CONTRASTS else np.eye(len(spec.factors[label].levels))
    with_na = np.empty((matrix.shape[0] + 1, matrix.shape[1]))
    with_na[:-1] = matrix
    with_na[-1] = np.nan
    return np.take(with_na, value.codes, axis=0)  # code -1 picks the NaN row; take is 10x faster than indexing


def _product(part: np.ndarray, block: np.ndarray, n: int) -> np.ndarray:
    """The columns of an interaction: each of ``part``'s columns times each of ``block``'s (block's fastest)."""
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is refused by name after
        return (part[:, :, None] * block[:, None, :]).reshape(n, -1)


def model_matrix(spec: MatrixSpec, values: dict[str, Value], n: int) -> np.ndarray:
    """Evaluate the columns described by ``spec`` (R's model.matrix) on values of n rows.

    Parameters
    ----------
    spec : MatrixSpec
        From :func:`matrix_spec` on the fitted values.
    values : dict of str to Value
        Each variable's values on the rows (factors coded with the fitted levels).
    n : int
        Rows.

    Returns
    -------
    ndarray, shape (n, len(spec.names))
        C-ordered float64 columns, in R's order.

    Examples
    --------
    >>> import pandas as pd
    >>> from mixedfx.formula.bars import parse_formula
    >>> from mixedfx.design.frame import model_frame
    >>> frame = model_frame(parse_formula("y ~ x + (1 | g)"), pd.DataFrame({"y": [1.0, 2, 3], "x": [0.5, 1, 2], "g": list("aab")}))
    >>> model_matrix(matrix_spec(frame.fixed, frame.values), frame.values, 3)[:, 1].tolist()
    [0.5, 1.0, 2.0]
    """
    blocks = []
    for term, term_codes in zip(spec.terms.terms, spec.codes):
        block = None
        for v, code in zip(term, term_codes):
            label = spec.terms.labels[v]
            value = values[label]
            part = _factor_block(value, spec, code, label) if isinstance(value, Factor) else value.reshape(n, -1)
            block = part if block is None else _product(part, block, n)
        blocks.append(block)
    start = 1 if spec.terms.intercept else 0
    out = np.empty((n, start + sum(block.shape[1] for block in blocks)))  # the blocks are copied into their place
    if start:
        out[:, 0] = 1.0
    for block in blocks:
        out[:, start:start + block.shape[1]] = block
        start += block.shape[1]
    return out


def check_finite_columns(matrix: np.ndarray, names: list[str] | tuple[str, ...], rows: object, what: str,
                         squares: np.ndarray | None = None) -> None:
    """Refuse a model-matrix column with infinite or undefined values (a product of large values overflowed).

    Parameters
    ----------
    matrix : ndarray, shape (n, k)
    names : sequence of str
        Its column names.
    rows : pandas.Index
        The rows' labels, for the message.
    what : str
        Which matrix (``"fixed-effects"``, or the random-effects term).
    squares : ndarray, shape (k,), optional
        The columns' sums of squares where they are already formed (the diagonal
        of ``matrix' matrix``); formed here otherwise (``np.einsum`` costs more
        than the check's other steps on a small matrix).

    Columns whose values overflow or underflow double precision when multiplied
    (beyond 1e150, or all below 1e-150) are refused too.

    Raises
    ------
    DataError
        Naming the first such column, how many rows and the first one.

    Examples
    --------
    >>> import pandas as pd
    >>> check_finite_columns(np.array([[1.0, np.inf]]), ["x", "x:z"], pd.RangeIndex(1), "fixed-effects")
    Traceback (most recent call last):
    ...
    mixedfx.errors.DataError: the fixed-effects column 'x:z' is not finite in 1 row (inf in row 0): a product or power of large values overflowed; rescale its variables
    """
    if not matrix.size:
        return
    if squares is None:
        squares = np.einsum("ij,ij->j", matrix, matrix)  # one pass: NaN, inf and overflow all show here
    if EXTREME_VALUE**-2 <= squares[squares.argmin()] and squares[squares.argmax()] <= EXTREME_VALUE**2:  # NaN fails
        return  # the common case, decided by two reductions
    tiny = squares < EXTREME_VALUE**-2  # all zero, or underflowing
    if (np.isfinite(squares).all() and squares.max() <= EXTREME_VALUE**2
            and not (tiny.any() and matrix[:, tiny].any())):
        return
    if np.isfinite(matrix).all():
        _check_column_scales(np.abs(matrix).max(axis=0), names, what)
        return
    bad = ~np.isfinite(matrix)
    column = int(np.flatnonzero(bad.any(axis=0))[0])
    where = np.flatnonzero(bad[:, column])
    raise DataError(f"the {what} column {names[column]!r} is not finite in {where.size} "
                    f"row{'s' if where.size > 1 else ''} ({matrix[where[0], column]:g} in row "
                    f"{list(rows)[where[0]]}): a product or power of large values overflowed; rescale its variables")


EXTREME_VALUE = 1e150
"""Values beyond this (or all below its inverse) have squares and products that overflow (underflow) double
precision (about 1.8e308); a column's sum of squares, beyond its square (or below its inverse's), singles it out."""


def _check_column_scales(largest: np.ndarray, names: list[str] | tuple[str, ...], what: str) -> None:
    """Refuse columns (by their largest absolute values) whose products overflow or underflow, naming the fix."""
    if largest.max() <= EXTREME_VALUE and largest.min(initial=np.inf, where=largest > 0) >= 1.0 / EXTREME_VALUE:
        return
    huge = np.flatnonzero(largest > EXTREME_VALUE)
    tiny = np.flatnonzero((largest > 0) & (largest < 1.0 / EXTREME_VALUE))
    for columns, how, fix in ((huge, "reaches", "overflow"), (tiny, "is at most", "underflow")):
        if columns.size:
            shown = "; ".join(f"{names[j]!r} {how} {largest[j]:.3g}" for j in columns[:3])
            raise DataError(f"in the {what} matrix, {shown}: products of such values {fix} double precision; "
                            f"rescale {'it' if columns.size == 1 else 'them'} (by a power of 10)")
