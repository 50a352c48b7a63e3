"""emmeans' reference grid: the predictors' values, every combination of them, and its linear functions.

As emmeans' ``ref_grid``: each factor at its levels, each numeric covariate at
its mean over the fitted rows (or at its two values when it has no more, as
emmeans' ``cov.keep = "2"``), any of them at the values ``at`` gives. The
predictors are the variables of the fixed part of the formula, read from the
fitted data (``log(x)`` and ``poly(x, 2)`` vary ``x``; a numeric ``x`` coded as
``factor(x)`` is a factor at its values). A model's offset is one more covariate,
``.offset.``, at its mean over the fitted rows (emmeans 1.8 does not evaluate the
``offset()`` terms at the grid). Each combination is coded by the
fit's own design for new data (:func:`mixedfx.design.newdata.new_data_matrices`),
so transforms, contrasts and interactions are those of ``predict``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.newdata import new_data_matrices
from mixedfx.formula.syntax import Binary, Call, Name, Node, Paren, Unary

__all__ = ["GRID_LIMIT", "OFFSET", "ReferenceGrid", "reference_grid", "value_label"]

GRID_LIMIT = 10_000
"""emmeans' ``rg.limit``: the most combinations a reference grid may have."""
OFFSET = ".offset."
"""The predictor that holds the model's offset, as emmeans names it."""
_KEPT_VALUES = 2  # emmeans' cov.keep = "2": a covariate with at most 2 distinct values keeps them
_ESTIMABLE_TOL = 1e-8  # estimability's tolerance (emmeans' estble.tol)
_RANK_TOL = 1e-7  # R's qr() tolerance for the fitted design's rank


@dataclass(frozen=True)
class ReferenceGrid:
    """A fit's reference grid.

    Attributes
    ----------
    levels : dict of str to list
        Each predictor's values in the grid, in the formula's order: level
        labels (str) for factors, floats for covariates.
    factors : tuple of str
        The predictors that are factors.
    cells : DataFrame
        One row per combination of the values, the first predictor varying fastest.
    linfct : ndarray, shape (len(cells), p)
        The rows of the fit's full fixed-effects design (before dependent
        columns were dropped) for each combination.
    offset : ndarray, shape (len(cells),)
        The offset at each combination (the ``.offset.`` predictor's value; zeros without one).
    kept : ndarray of int
        The positions of the fit's fixed effects among the design's columns.
    nonestimable : ndarray, shape (p, d) or None
        An orthonormal basis of the fitted design's null space (None when of
        full rank): a linear function is estimable when orthogonal to it.
    """

    levels: dict[str, list[Any]]
    factors: tuple[str, ...]
    cells: pd.DataFrame
    linfct: np.ndarray
    offset: np.ndarray
    kept: np.ndarray
    nonestimable: np.ndarray | None

    def estimable(self, linfct: np.ndarray) -> np.ndarray:
        """estimability's ``is.estble``: whether each row of ``linfct`` is orthogonal to the null space."""
        if self.nonestimable is None:
            return np.ones(linfct.shape[0], dtype=bool)
        residual = np.sum((linfct @ self.nonestimable) ** 2, axis=1)
        scale = np.sum(linfct**2, axis=1)
        return residual < _ESTIMABLE_TOL * np.where(scale < _ESTIMABLE_TOL, 1.0, scale)


def value_label(value: Any) -> str:
    """A grid value as R's ``as.character`` writes it: level labels as they are, numbers to 15 digits.

    Examples
    --------
    >>> value_label(4.5), value_label(175.0), value_label("A")
    ('4.5', '175', 'A')
    """
    if isinstance(value, str):
        return value
    if isinstance(value, (bool, np.bool_)):
        return "TRUE" if value else "FALSE"
    return f"{float(value):.15g}"


def _variable_names(node: Node) -> list[str]:
    """R's ``all.vars``: the symbols of an expression, outside function names, in order."""
    match node:
        case Name(id=name):
            return [name]
        case Call(args=args):
            return [name for arg in args for name in _variable_names(arg)]
        case Binary(left=left, right=right):
            return _variable_names(left) + _variable_names(right)
        case Unary(operand=inner) | Paren(inner=inner):
            return _variable_names(inner)
    return []


def _fitted_rows(fit: Any, data: pd.DataFrame | None) -> pd.DataFrame:
    """The fitted data's rows the fit used (emmeans' ``recover_data``)."""
    if data is None:
        call = getattr(fit, "call", None)
        data = None if call is None else call.data
    if data is None:
        raise ValueError("emmeans needs the fitted data, and this fit has none (built stage by stage or "
                         "unpickled): pass data=")
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    rows = fit.matrices.rows
    missing = rows.difference(data.index)
    if len(missing):
        raise ValueError(f"data lacks {len(missing)} of the fitted rows (first: {missing[0]!r}); pass the data "
                         "the model was fitted to")
    return data.loc[rows]


def _predictors(mm: ModelMatrices, data: pd.DataFrame) -> list[str]:
    """The data's columns the fixed part uses, in the formula's order (emmeans' predictors)."""
    terms = mm.spec.fixed.terms
    nodes = terms.variables[1:] if terms.has_response else terms.variables
    names = dict.fromkeys(name for node in nodes for name in _variable_names(node))
    return [name for name in names if name in data.columns]


def _coerced_factors(mm: ModelMatrices) -> set[str]:
    """Variables a factor of the design is made from by a call (``factor(x)``): emmeans' coerced factors."""
    terms = mm.spec.fixed.terms
    return {name for label, node in zip(terms.labels, terms.variables)
            if label in mm.spec.fixed.factors and not isinstance(node, Name)
            for name in _variable_names(node)}


def _natural_levels(name: str, column: pd.Series, mm: ModelMatrices) -> tuple[list[Any], bool]:
    """A predictor's values before ``at``: (values, whether it is a factor)."""
    fitted = mm.spec.fixed.factors.get(name)
    if fitted is not None:
        return list(fitted.levels), True
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [str(c) for c in column.cat.remove_unused_categories().cat.categories], True
    if pd.api.types.is_bool_dtype(column):
        return sorted(set(column.dropna())), True
    if not pd.api.types.is_numeric_dtype(column):
        return sorted({str(v) for v in column.dropna()}), True
    values = np.unique(column.dropna().to_numpy(dtype=float))
    if name in _coerced_factors(mm):
        return values.tolist(), True
    if values.size <= _KEPT_VALUES:
        return values.tolist(), False
    return [float(np.mean(column.to_numpy(dtype=float)))], False


def _at_values(name: str, values: Any, natural: list[Any], is_factor: bool) -> list[Any]:
    """The ``at`` values of one predictor, checked against what it can take."""
    wanted = list(values) if isinstance(values, (list, tuple, np.ndarray, pd.Series, pd.Index)) else [values]
    if not wanted:
        raise ValueError(f"at[{name!r}] is empty")
    if is_factor:
        labels = [value_label(v) for v in natural]
        unknown = [v for v in wanted if value_label(v) not in labels]
        if unknown:
            raise ValueError(f"at[{name!r}] has value(s) {', '.join(map(repr, unknown[:5]))} that are not among "
                             f"its levels: {', '.join(labels[:20])}")
        return [natural[labels.index(value_label(v))] for v in wanted]
    try:
        return [float(v) for v in wanted]
    except (TypeError, ValueError):
        raise ValueError(f"at[{name!r}] must be numbers: {name} is a numeric covariate") from None


def _design_with_every_column(mm: ModelMatrices) -> ModelMatrices:
    """The fit's matrices with their new-data coding keeping every column (the dropped ones too)."""
    every = tuple(range(len(mm.spec.fixed.names)))
    return dataclasses.replace(mm, spec=dataclasses.replace(mm.spec, keep=every))


def _null_space(x: np.ndarray) -> np.ndarray | None:
    """An orthonormal basis of the null space of x (None if x has full column rank)."""
    r = np.linalg.qr(x, mode="r")
    _, s, vt = np.linalg.svd(r)
    rank = int(np.sum(s > _RANK_TOL * s[0])) if s.size and s[0] > 0 else 0
    return None if rank == x.shape[1] else vt[rank:].T


def _grid_frame(levels: dict[str, list[Any]], columns: dict[str, pd.Series]) -> pd.DataFrame:
    """R's ``expand.grid`` of the values (first fastest), typed as the fitted data's columns."""
    sizes = [len(v) for v in levels.values()]
    total = int(np.prod(sizes))
    if total > GRID_LIMIT:
        raise ValueError(f"the reference grid would have {total} rows, more than emmeans' limit of {GRID_LIMIT}; "
                         "give fewer values in at=")
    codes = np.indices(sizes[::-1]).reshape(len(sizes), -1)[::-1] if sizes else np.zeros((0, 1), dtype=int)
    frame = {}
    for (name, values), code in zip(levels.items(), codes):
        picked = [values[i] for i in code]
        column = columns[name]
        if isinstance(column.dtype, pd.CategoricalDtype):
            frame[name] = pd.Categorical(picked, categories=column.cat.categories, ordered=column.cat.ordered)
        else:
            frame[name] = picked
    return pd.DataFrame(frame, index=pd.RangeIndex(max(total, 1)))


def reference_grid(fit: Any, at: Mapping[str, Any] | None = None, data: pd.DataFrame | None = None) -> ReferenceGrid:
    """emmeans' ``ref_grid(fit, at = at)``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        The fitted model.
    at : dict, optional
        Values of predictors: covariates at these numbers, factors at these levels only.
    data : DataFrame, optional
        The fitted data, for a fit that does not hold it (built stage by stage, or unpickled).

    Returns
    -------
    ReferenceGrid

    Raises
    ------
    ValueError
        ``at`` naming a variable that is no predictor, or a level a factor does
        not have; a grid over :data:`GRID_LIMIT` rows; no fitted data.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> grid = reference_grid(fit)
    >>> grid.levels, grid.linfct.tolist()
    ({'Days': [4.5]}, [[1.0, 4.5]])
    """
    mm = fit.matrices
    rows = _fitted_rows(fit, data)
    names = _predictors(mm, rows)
    columns = {name: rows[name] for name in names}
    if np.any(mm.offset != 0):
        names.append(OFFSET)
        columns[OFFSET] = pd.Series(np.asarray(mm.offset, dtype=float), index=rows.index)
    at = dict(at or {})
    if not isinstance(at, dict) or any(not isinstance(k, str) for k in at):
        raise ValueError("at must map predictor names to values")
    unknown = sorted(set(at) - set(names))
    if unknown:
        raise ValueError(f"at names {', '.join(map(repr, unknown))}, which the fixed effects do not use; "
                         f"the predictors are: {', '.join(names) or 'none'}")
    levels: dict[str, list[Any]] = {}
    factors = []
    for name in names:
        natural, is_factor = _natural_levels(name, columns[name], mm)
        levels[name] = _at_values(name, at[name], natural, is_factor) if name in at else natural
        if is_factor:
            factors.append(name)
    cells = _grid_frame(levels, columns)
    every = _design_with_every_column(mm)
    coded = new_data_matrices(every, cells, re_form="~0")
    offset = cells[OFFSET].to_numpy(dtype=float) if OFFSET in cells else np.zeros(len(cells))
    nonestimable = None
    if mm.dropped:
        nonestimable = _null_space(new_data_matrices(every, rows, re_form="~0").X)
    labelled = cells.copy()
    for name in factors:
        labelled[name] = [value_label(v) for v in cells[name]]
    return ReferenceGrid(levels={k: [value_label(v) if k in factors else v for v in vals] for k, vals in levels.items()},
                         factors=tuple(factors), cells=labelled, linfct=coded.X, offset=offset,
                         kept=np.asarray(mm.spec.keep, dtype=int), nonestimable=nonestimable)
