"""Model matrices of a mixed model: X (fixed effects) and one ReTerm per bar term.

X follows R's ``model.matrix``: an ``(Intercept)`` column, then the columns of
each term in R's term order; within a term the first variable varies fastest;
factors are coded by contrasts (``contr.treatment``, ``contr.poly`` for
ordered factors) or by indicators where R's marginality rule says so; names as
R gives them (``recipeB:temperature.L``). Columns that are linearly dependent
on earlier ones are dropped as ``lme4``'s ``chkRank.drop.cols`` does (pivoted
QR with tolerance 1e-7). New data are coded with the fitted levels and
contrasts (:func:`new_data_matrices`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixedfx.formula.contrasts import contrasts
from mixedfx.errors import DataError, FormulaError
from mixedfx.formula.bars import MixedFormula, parse_formula
from mixedfx.design.frame import ModelFrame, grouping_factor, model_frame
from mixedfx.design.memory import check_fixed_matrix
from mixedfx.linalg.row_products import cross_product
from mixedfx.formula.evaluate import DataEnv, Factor, Value, as_column, as_factor, evaluate
from mixedfx.formula.terms import CONTRASTS, Terms, coding

__all__ = [
    "ReTerm", "ModelMatrices", "DesignSpec", "MatrixSpec", "NewReTerm", "NewDataMatrices",
    "build_model_matrices", "clearly_independent", "gram_clearly_independent", "new_data_matrices",
    "rank_keep",
]

RANK_TOL = 1e-7
# Gram-Cholesky pivot ratios above this pass any exact rank test with a threshold far below it
_GRAM_SCREEN = 1e-4


@dataclass(frozen=True)
class ReTerm:
    """One random-effects term after expansion.

    Attributes
    ----------
    group : str
        lme4's grouping-factor name (``"Subject"``, ``"cask:batch"``).
    codes : ndarray of int64, shape (n,)
        Each kept row's level, 0 .. len(levels) - 1.
    levels : list of str
        Level labels in R's order (unused levels dropped).
    z : ndarray of float64, shape (n, k)
        The term's model matrix (a column of ones for ``(1 | g)``).
    z_names : list of str
        R names of z's columns (``["(Intercept)", "Days"]``).
    text : str
        The term as lme4 prints it (``"0 + Days | Subject"``).
    """

    group: str
    codes: np.ndarray
    levels: list[str]
    z: np.ndarray
    z_names: list[str]
    text: str


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
    """

    terms: Terms
    codes: tuple[tuple[int, ...], ...]
    factors: dict[str, Factor]
    names: tuple[str, ...]


@dataclass(frozen=True)
class DesignSpec:
    """Everything needed to code new data like the fitted data.

    Attributes
    ----------
    fixed : MatrixSpec
        X before dropping dependent columns.
    keep : tuple of int
        Indices of X's kept columns.
    slopes : tuple of MatrixSpec
        Per random-effects term, its model matrix.
    formula : MixedFormula
        The parsed formula.
    """

    fixed: MatrixSpec
    keep: tuple[int, ...]
    slopes: tuple[MatrixSpec, ...]
    formula: MixedFormula


@dataclass(frozen=True)
class ModelMatrices:
    """Response, fixed- and random-effects matrices of a mixed model.

    Attributes
    ----------
    y : ndarray
        Response, shape (n,), or (n, 2) for ``cbind(successes, failures)``.
    X : ndarray, shape (n, p)
        Fixed-effects matrix of full column rank.
    x_names : list of str
        R's names of X's columns, in R's order.
    dropped : list of str
        Columns dropped as linearly dependent on earlier ones.
    offset : ndarray, shape (n,)
        Formula ``offset()`` terms plus the ``offset`` argument (zeros if none).
    weights : ndarray or None
        Prior weights, None when not given.
    re_terms : list of ReTerm
        Random-effects terms in formula order after expansion.
    response_name : str
        The response as R deparses it.
    formula_text : str
        The formula as lme4 prints it after ``Formula:``.
    n_dropped_na : int
        Rows dropped for missing values.
    rows : pandas.Index
        Index labels of the kept rows.
    messages : list of str
        lme4's messages (rank deficiency).
    spec : DesignSpec
        What :func:`new_data_matrices` needs.
    response_levels : tuple of str or None
        The levels of a factor (or text) response, None for a numeric or
        logical one (``y`` then holds 0 for the first level, 1 for the others).
    """

    y: np.ndarray
    X: np.ndarray
    x_names: list[str]
    dropped: list[str]
    offset: np.ndarray
    weights: np.ndarray | None
    re_terms: list[ReTerm]
    response_name: str
    formula_text: str
    n_dropped_na: int
    rows: pd.Index
    messages: list[str]
    spec: DesignSpec
    response_levels: tuple[str, ...] | None = None


@dataclass(frozen=True)
class NewReTerm:
    """A fitted random-effects term evaluated on new data.

    Attributes
    ----------
    index : int
        Position of the term in the fit's ``re_terms``.
    group : str
        Grouping-factor name.
    codes : ndarray of int64
        Codes into the fitted term's levels; -1 for a level the fit has not seen.
    z : ndarray of float64, shape (n_new, k)
        The term's model matrix.
    z_names : list of str
        Column names of z.
    """

    index: int
    group: str
    codes: np.ndarray
    z: np.ndarray
    z_names: list[str]


@dataclass(frozen=True)
class NewDataMatrices:
    """Fixed-effects matrix, offset and random-effects terms for new data.

    Attributes
    ----------
    X : ndarray, shape (n_new, p)
        Same columns as the fit's X (NaN rows where a variable is missing).
    offset : ndarray, shape (n_new,)
        The formula's ``offset()`` terms on the new data (zeros if none).
    re_terms : list of NewReTerm
        The terms ``re_form`` selects, in the fit's order (all by default).
    rows : pandas.Index
        Index of the new data.
    """

    X: np.ndarray
    offset: np.ndarray
    re_terms: list[NewReTerm]
    rows: pd.Index


# --------------------------------------------------------------------------- model.matrix
def _matrix_spec(terms: Terms, values: dict[str, Value]) -> MatrixSpec:
    """Coding and column names R gives a set of terms over the fitted values."""
    nlevels = [len(v.levels) if isinstance(v := values.get(label), Factor) else 0 for label in terms.labels]
    codes = coding(terms, nlevels)
    factors = {label: v for label in terms.labels if isinstance(v := values.get(label), Factor)}
    names = ["(Intercept)"] if terms.intercept else []
    for term, term_codes in zip(terms.terms, codes):
        block = [""]
        for v, code in zip(term, term_codes):
            label = terms.labels[v]
            value = values[label]
            if isinstance(value, Factor):
                suffixes = contrasts(value, label)[1] if code == CONTRASTS else list(value.levels)
            elif value.ndim == 2:
                suffixes = [str(j + 1) for j in range(value.shape[1])]
            else:
                suffixes = [""]
            parts = [label + s for s in suffixes]
            block = [f"{b}:{p}" if b else p for p in parts for b in block]
        names.extend(block)
    return MatrixSpec(terms, codes, factors, tuple(names))


def _factor_block(value: Factor, fitted: Factor, code: int, label: str) -> np.ndarray:
    matrix = contrasts(fitted, label)[0] if code == CONTRASTS else np.eye(len(fitted.levels))
    with_na = np.vstack([matrix, np.full((1, matrix.shape[1]), np.nan)])
    return np.take(with_na, value.codes, axis=0)  # code -1 picks the NaN row; take is 10x faster than indexing


def _columns(spec: MatrixSpec, values: dict[str, Value], n: int) -> np.ndarray:
    """Evaluate the columns described by ``spec`` (R's model.matrix) on values of n rows."""
    blocks = [np.ones((n, 1))] if spec.terms.intercept else []
    for term, term_codes in zip(spec.terms.terms, spec.codes):
        block = None
        for v, code in zip(term, term_codes):
            label = spec.terms.labels[v]
            value = values[label]
            if isinstance(value, Factor):
                part = _factor_block(value, spec.factors[label], code, label)
            else:
                part = value.reshape(n, -1).astype(np.float64, copy=False)
            block = part if block is None else (part[:, :, None] * block[:, None, :]).reshape(n, -1)
        blocks.append(block)
    if not blocks:
        return np.zeros((n, 0))
    return np.ascontiguousarray(np.hstack(blocks), dtype=np.float64)


def clearly_independent(M: np.ndarray) -> bool:
    """Whether M's columns are independent by a wide margin: a cheap screen before an exact rank test.

    Each column must keep more than ``_GRAM_SCREEN`` of its norm after removing
    its projection on the earlier columns, judged from the Cholesky factor of
    ``M'M`` (one BLAS pass over the rows instead of a QR). That factor gives
    each ratio to within about sqrt(n eps), far below the screen, so True is
    certain; False only means the exact test must decide.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: the exact test decides
        return gram_clearly_independent(cross_product(M))


def gram_clearly_independent(gram: np.ndarray) -> bool:
    """:func:`clearly_independent` for the columns whose Gram matrix ``M'M`` is given."""
    norms = np.sqrt(np.diag(gram))
    if not (np.all(norms > 0) and np.all(np.isfinite(norms))):
        return False
    try:
        pivots = np.diag(np.linalg.cholesky(gram))
    except np.linalg.LinAlgError:
        return False
    return bool(np.all(pivots >= _GRAM_SCREEN * norms))


def rank_keep(X: np.ndarray, tol: float = RANK_TOL) -> list[int]:
    """Columns kept by R's ``qr(X, tol)`` (LINPACK dqrdc2) rank detection.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        The matrix.
    tol : float
        A column is dependent when its norm after removing its projection on
        the kept earlier columns is below ``tol`` times its original norm.

    Returns
    -------
    list of int
        Indices of the kept columns, in order (R's ``qr$pivot[1:rank]``).
    """
    n, p = X.shape
    if p and n >= p and clearly_independent(X):
        return list(range(p))
    norms = np.linalg.norm(X, axis=0)
    scale = np.where(norms > 0, norms, 1.0)
    if p and n >= p:
        # without dependent columns, |R_jj| of an unpivoted QR is exactly dqrdc2's test quantity
        diag = np.abs(np.diag(np.linalg.qr(X, mode="r")))
        if np.all((diag >= tol * scale) & (diag > 0)):
            return list(range(p))
    basis = np.empty((n, p))
    keep: list[int] = []
    for j in range(p):
        residual = X[:, j].astype(np.float64, copy=True)
        q = basis[:, : len(keep)]
        for _ in range(2):  # classical Gram-Schmidt, reorthogonalised
            residual -= q @ (q.T @ residual)
        rnorm = np.linalg.norm(residual)
        if rnorm > 0 and rnorm >= tol * scale[j]:
            basis[:, len(keep)] = residual / rnorm
            keep.append(j)
    return keep


# --------------------------------------------------------------------------- fit
def _re_term(frame: ModelFrame, i: int) -> tuple[ReTerm, MatrixSpec]:
    bar = frame.formula.bars[i]
    spec = _matrix_spec(frame.slopes[i], frame.values)
    if not spec.names:
        raise FormulaError(f"random-effects term ({bar.text}) has no columns: it needs an intercept or a variable")
    n = frame.y.shape[0]
    group = frame.groups[i]
    term = ReTerm(
        group=bar.group_name, codes=group.codes, levels=list(group.levels),
        z=_columns(spec, frame.values, n), z_names=list(spec.names), text=bar.text,
    )
    return term, spec


def build_model_matrices(formula: str, data: pd.DataFrame, *, weights: object = None, offset: object = None,
                         na_action: str = "omit") -> ModelMatrices:
    """Build response, fixed-effects and random-effects matrices as lme4's ``lFormula``.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : pandas.DataFrame
        The data; never modified.
    weights : str or array-like, optional
        Prior weights: a column name or one value per row.
    offset : array-like, optional
        One value per row, added to the formula's ``offset()`` terms.
    na_action : {"omit", "fail"}
        Drop rows with a missing value in any variable the model uses (and
        count them), or raise naming those variables.

    Returns
    -------
    ModelMatrices
        With X of full column rank (dependent columns dropped, with lme4's
        message) and the random-effects terms in formula order.

    Raises
    ------
    TypeError
        ``formula`` not a string or ``data`` not a DataFrame.
    FormulaError
        Syntax errors, no random-effects term, malformed terms.
    DataError
        Unknown columns, empty data, missing values under ``"fail"``,
        infinite values, bad weights or offset.
    MixedFxError
        A fixed-effects matrix too large for the memory available.
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string, not {type(formula).__name__}")
    if not isinstance(data, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
    parsed = parse_formula(formula)
    if not parsed.bars:
        raise FormulaError("No random effects terms specified in formula")
    frame = model_frame(parsed, data, weights=weights, offset=offset, na_action=na_action)
    n = frame.y.shape[0]
    fixed_spec = _matrix_spec(frame.fixed, frame.values)
    check_fixed_matrix(n, fixed_spec.names)
    X_full = _columns(fixed_spec, frame.values, n)
    keep = rank_keep(X_full)
    kept = set(keep)
    dropped = [name for j, name in enumerate(fixed_spec.names) if j not in kept]
    messages = []
    if dropped:
        k = len(dropped)
        plural = ("column / coefficient", "columns / coefficients")[k > 1]
        messages.append(f"fixed-effect model matrix is rank deficient so dropping {k} {plural}")
    re = [_re_term(frame, i) for i in range(len(parsed.bars))]
    response = frame.values[frame.fixed.labels[0]]
    return ModelMatrices(
        y=frame.y, X=X_full[:, keep] if dropped else X_full, x_names=[fixed_spec.names[j] for j in keep],
        dropped=dropped, offset=frame.offset, weights=frame.weights, re_terms=[t for t, _ in re],
        response_name=str(parsed.response_name), formula_text=parsed.text, n_dropped_na=frame.n_dropped_na,
        rows=frame.rows, messages=messages,
        spec=DesignSpec(fixed=fixed_spec, keep=tuple(keep), slopes=tuple(s for _, s in re), formula=parsed),
        response_levels=tuple(response.levels) if isinstance(response, Factor) and not response.logical else None,
    )


# --------------------------------------------------------------------------- new data
_POPULATION = {"", "NA", "~0", "0", "~-1", "-1", "~NULL", "NULL"}


def selected_terms(mm: ModelMatrices, re_form: str | None) -> list[int]:
    """Positions in ``mm.re_terms`` of the terms ``re_form`` keeps.

    Parameters
    ----------
    mm : ModelMatrices
        The fitted model's matrices.
    re_form : str or None
        None for every term; ``"~0"`` or ``"NA"`` for none; a formula of bar
        terms (``"~(1 | g)"``) for those terms.

    Returns
    -------
    list of int
    """
    if re_form is None:
        return list(range(len(mm.re_terms)))
    if not isinstance(re_form, str):
        raise TypeError(f"re_form must be None or a formula string, not {type(re_form).__name__}")
    text = re_form.strip()
    if text.replace(" ", "") in _POPULATION:
        return []
    wanted = [bar.text for bar in parse_formula(text if "~" in text else "~" + text).bars]
    fitted = [t.text for t in mm.re_terms]
    unknown = [w for w in wanted if w not in fitted]
    if unknown:
        raise FormulaError(f"re_form names random-effects terms the model does not have: {', '.join(unknown)}; "
                           f"the model's terms are: {', '.join(fitted)}")
    return [i for i, t in enumerate(fitted) if t in wanted]


def _new_values(specs: list[MatrixSpec], newdata: pd.DataFrame) -> dict[str, Value]:
    env = DataEnv(newdata)
    values: dict[str, Value] = {}
    for spec in specs:
        terms = spec.terms
        used = {v for term in terms.terms for v in term} | set(terms.offsets)  # the response only where a term uses it
        for i, (label, node) in enumerate(zip(terms.labels, terms.variables)):
            if i not in used or label in values:
                continue
            value = as_column(evaluate(node, env), env.n, label)
            if label in spec.factors:
                value, unseen = as_factor(value, label).recode(spec.factors[label].levels)
                if unseen:
                    raise DataError(f"factor {label} has new level(s) {', '.join(unseen)} not seen in the fit; "
                                    f"its levels are: {', '.join(spec.factors[label].levels)}")
            elif isinstance(value, Factor):
                raise DataError(f"{label} was numeric in the fit but is a factor in the new data")
            values[label] = value
    return values


def new_data_matrices(mm: ModelMatrices, newdata: pd.DataFrame, *, re_form: str | None = None,
                      allow_new_levels: bool = False) -> NewDataMatrices:
    """Code new data with the fitted model's columns, levels and contrasts.

    Parameters
    ----------
    mm : ModelMatrices
        The fitted model's matrices.
    newdata : pandas.DataFrame
        New rows; the response is not needed.
    re_form : str, optional
        None for every random-effects term; ``"~0"`` or ``"NA"`` for none
        (population level); a formula of bar terms for a subset.
    allow_new_levels : bool
        Give grouping levels the fit has not seen (and missing ones) the
        code -1 instead of raising.

    Returns
    -------
    NewDataMatrices

    Raises
    ------
    TypeError
        ``newdata`` not a DataFrame.
    DataError
        Missing columns, new levels of a fixed-effect factor, or new grouping
        levels without ``allow_new_levels=True``.
    FormulaError
        A ``re_form`` naming terms the model does not have.
    """
    if not isinstance(newdata, pd.DataFrame):
        raise TypeError(f"newdata must be a pandas DataFrame, not {type(newdata).__name__}")
    spec = mm.spec
    chosen = selected_terms(mm, re_form)
    values = _new_values([spec.fixed, *(spec.slopes[i] for i in chosen)], newdata)
    n = len(newdata)
    X = _columns(spec.fixed, values, n)[:, list(spec.keep)]
    fixed_terms = spec.fixed.terms
    offset = np.zeros(n)
    for i in fixed_terms.offsets:
        offset = offset + np.asarray(values[fixed_terms.labels[i]], dtype=np.float64)
    group_env = DataEnv(newdata, factorize=True)
    terms = []
    for i in chosen:
        fitted, bar = mm.re_terms[i], spec.formula.bars[i]
        group, unseen = grouping_factor(bar.group, group_env, fitted.group).recode(tuple(fitted.levels))
        missing = bool((group.codes < 0).any()) and not unseen
        if (unseen or missing) and not allow_new_levels:
            what = f"new level(s) {', '.join(unseen)}" if unseen else "missing values"
            raise DataError(f"grouping factor {fitted.group} of term ({fitted.text}) has {what} in the new data; "
                             "pass allow_new_levels=True to predict them at the population level")
        z = _columns(spec.slopes[i], values, n)
        terms.append(NewReTerm(index=i, group=fitted.group, codes=group.codes, z=z, z_names=list(fitted.z_names)))
    return NewDataMatrices(X=X, offset=offset, re_terms=terms, rows=newdata.index)
