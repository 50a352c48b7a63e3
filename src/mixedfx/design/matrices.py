"""Model matrices of a mixed model, as lme4's ``lFormula`` builds them: y, X and one ReTerm per bar term.

Columns of X that are linearly dependent on earlier ones are dropped as lme4's
``chkRank.drop.cols`` does (:mod:`mixedfx.design.rank`); new data are coded
with the fitted levels and contrasts (:mod:`mixedfx.design.newdata`). Under
``na_action="exclude"``, :func:`pad_to_input` puts row-wise results back on
the input rows, as R's ``naresid`` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from mixedfx.dataframes.convert import as_pandas
from mixedfx.design.frame import model_frame
from mixedfx.design.memory import check_fixed_matrix
from mixedfx.design.model_matrix import MatrixSpec, check_finite_columns, matrix_spec, matrix_width, model_matrix
from mixedfx.design.rank import rank_keep
from mixedfx.design.reterms import ReTerm, build_re_term, lme4_term_order
from mixedfx.errors import FormulaError
from mixedfx.formula.bars import MixedFormula, parse_formula
from mixedfx.formula.contrasts import ContrastSpec, check_contrasts
from mixedfx.formula.evaluate import Factor
from mixedfx.formula.frozen import computed_once, quick_init
from mixedfx.formula.transforms import LearnedTransforms
from mixedfx.linalg.row_products import cross_product

__all__ = ["used_rows", "ModelMatrices", "DesignSpec", "build_model_matrices", "pad_to_input"]


@quick_init
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
        The parsed formula, a ``.`` in its fixed part replaced by the columns it stood for.
    transforms : LearnedTransforms
        What ``poly()``, ``scale()``, ``bs()``, ``ns()`` learned on the fitted data (R's predvars).
    """

    fixed: MatrixSpec
    keep: tuple[int, ...]
    slopes: tuple[MatrixSpec, ...]
    formula: MixedFormula
    transforms: LearnedTransforms = LearnedTransforms()


@quick_init
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
    data_name, weights_name, offset_name : str or None
        How lme4's summary names the data (the frame's ``attrs["name"]``), the
        weights (their column, or "weights") and the offset argument.
    term_order : list of int
        lme4's order of ``re_terms`` (:func:`~mixedfx.design.reterms.lme4_term_order`):
        the order of theta, ranef and VarCorr, computed once here.
    na_action : {"omit", "exclude", "fail"}
        The NA action, by its short name.
    input_rows : pandas.Index or None
        Index labels of the rows the NA action saw (the data's rows, or the
        ``subset``'s); None when built without them (then ``rows``).
    kept : ndarray of int or None
        Positions of ``rows`` in ``input_rows``: where :func:`pad_to_input`
        puts each kept row's value.
    remote_x_gram : ndarray or None
        X'X where the rows are held elsewhere (a fit from a Dask DataFrame,
        whose X is a :class:`~mixedfx.design.remote_rows.RemoteRows`); read
        through :attr:`x_gram`.
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
    data_name: str | None = None
    weights_name: str | None = None
    offset_name: str | None = None
    na_action: str = "omit"
    input_rows: pd.Index | None = None
    kept: np.ndarray | None = None
    remote_x_gram: np.ndarray | None = None

    @computed_once
    def x_gram(self) -> np.ndarray:
        """X'X (unweighted)."""
        if self.remote_x_gram is not None:
            return self.remote_x_gram
        X = np.asarray(self.X, dtype=float)
        return X.T @ X

    @computed_once
    def term_order(self) -> list[int]:
        """lme4's order of the random-effects terms (positions in ``re_terms``)."""
        return lme4_term_order([len(t.levels) for t in self.re_terms])

    @property
    def ordered_terms(self) -> list[ReTerm]:
        """The random-effects terms in lme4's order."""
        return [self.re_terms[i] for i in self.term_order]


def build_model_matrices(formula: str, data: pd.DataFrame, *, weights: object = None, offset: object = None,
                         na_action: str = "omit", contrasts: Mapping[str, ContrastSpec] | None = None,
                         subset: object = None, transforms: LearnedTransforms | None = None) -> ModelMatrices:
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
    na_action : {"omit", "exclude", "fail"}
        Drop rows with a missing value in any variable the model uses (and
        count them), or raise naming those variables. ``"exclude"`` (R's
        ``na.exclude``) drops them too and records where they were, for
        :func:`pad_to_input`.
    contrasts : dict of str to ContrastSpec, optional
        Codings of the fixed part's factors other than R's defaults
        (:mod:`mixedfx.formula.contrasts`); the random part keeps the defaults, as in lme4.
    subset : array-like or str, optional
        The rows to use, taken before the NA action as R's model.frame does: a
        boolean mask, 0-based row positions or a pandas query string
        (:func:`mixedfx.design.frame.model_frame`).
    transforms : LearnedTransforms, optional
        What the formula's ``poly()``, ``scale()``, ``bs()`` and ``ns()`` learned
        on other rows, used instead of learning on ``data`` (a Dask frame's
        partitions: :mod:`mixedfx.partitioned.transforms`).

    Returns
    -------
    ModelMatrices
        With X of full column rank (dependent columns dropped, with lme4's
        message) and the random-effects terms in formula order.

    Raises
    ------
    TypeError
        ``formula`` not a string, ``data`` not a DataFrame, a ``subset`` of another kind.
    ValueError
        A subset mask of the wrong length, positions outside the data.
    FormulaError
        Syntax errors, no random-effects term, malformed terms.
    DataError
        Unknown columns, empty data, a failing subset query or one that keeps
        no row, missing values under ``"fail"``, infinite values, bad weights
        or offset.
    MixedFxError
        A fixed-effects matrix too large for the memory available.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> mm = build_model_matrices("Reaction ~ . + (1 | Subject)", mfx.datasets.load("sleepstudy"),
    ...                           subset="Days > 2")
    >>> mm.x_names[:3], mm.X.shape
    (['(Intercept)', 'Days', 'Subject309'], (126, 19))
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string, not {type(formula).__name__}")
    data = as_pandas(data, "data")
    contrasts = check_contrasts(contrasts)
    parsed = parse_formula(formula)
    if not parsed.bars:
        raise FormulaError("No random effects terms specified in formula")
    frame = model_frame(parsed, data, weights=weights, offset=offset, na_action=na_action, subset=subset,
                        transforms=transforms)
    n = frame.y.shape[0]
    width, largest = matrix_width(frame.fixed, frame.values)
    check_fixed_matrix(n, width, largest_factor=largest)  # before the contrasts and X are formed
    fixed_spec = matrix_spec(frame.fixed, frame.values, contrasts)
    X_full = model_matrix(fixed_spec, frame.values, n)
    with np.errstate(over="ignore", invalid="ignore"):  # overflowing columns are refused by name next
        gram = cross_product(X_full)  # one pass over the rows: its diagonal checks the columns, its factor the rank
    check_finite_columns(X_full, fixed_spec.names, frame.rows, "fixed-effects", squares=gram.diagonal())
    keep = rank_keep(X_full, gram=gram)
    dropped = [fixed_spec.names[j] for j in sorted(set(range(len(fixed_spec.names))) - set(keep))]
    messages = []
    if dropped:
        k = len(dropped)
        plural = ("column / coefficient", "columns / coefficients")[k > 1]
        messages.append(f"fixed-effect model matrix is rank deficient so dropping {k} {plural}")
    re_terms, slopes = zip(*[build_re_term(frame, i, fixed=(X_full, fixed_spec)) for i in range(len(parsed.bars))])
    response = frame.values[frame.fixed.labels[0]]
    return ModelMatrices(
        y=frame.y, X=X_full[:, keep] if dropped else X_full,
        x_names=[fixed_spec.names[j] for j in keep] if dropped else list(fixed_spec.names),
        dropped=dropped, offset=frame.offset, weights=frame.weights, re_terms=list(re_terms),
        response_name=str(parsed.response_name), formula_text=parsed.text, n_dropped_na=frame.n_dropped_na,
        rows=frame.rows, messages=messages,
        spec=DesignSpec(fixed=fixed_spec, keep=tuple(keep), slopes=slopes, formula=frame.formula,
                        transforms=frame.transforms),
        response_levels=tuple(response.levels) if isinstance(response, Factor) and not response.logical else None,
        data_name=data.attrs.get("name"),
        weights_name=weights if isinstance(weights, str) else (None if weights is None else "weights"),
        offset_name=None if offset is None else "offset",
        na_action=frame.na_action, input_rows=frame.input_rows, kept=frame.kept,
    )


def pad_to_input(values: np.ndarray, matrices: ModelMatrices) -> np.ndarray:
    """Row-wise results back on the input rows, NaN where rows were excluded (R's ``naresid``).

    Under ``na_action="exclude"`` (R's ``na.exclude``) fitted values,
    residuals and predictions without new data have one entry per input row
    (every row of the data, or of the ``subset``), NaN at the rows dropped for
    missing values; under ``"omit"`` and ``"fail"`` they keep one per kept row.

    Parameters
    ----------
    values : ndarray
        One value (or row of values) per kept row, in the order of ``matrices.rows``.
    matrices : ModelMatrices
        The fit's matrices.

    Returns
    -------
    ndarray
        ``values`` itself unless the NA action is ``"exclude"``; then floats of
        shape ``(len(matrices.input_rows), ...)`` with ``values`` at
        ``matrices.kept`` and NaN elsewhere.

    Raises
    ------
    ValueError
        ``values`` without one entry per kept row.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"y": [1.0, None, 3, 4], "g": list("aabb")})
    >>> mm = build_model_matrices("y ~ 1 + (1 | g)", d, na_action="exclude")
    >>> pad_to_input(mm.y * 10, mm).tolist()
    [10.0, nan, 30.0, 40.0]
    """
    if matrices.na_action != "exclude" or matrices.kept is None or matrices.input_rows is None:
        return values
    arr = np.asarray(values)
    if arr.ndim == 0 or arr.shape[0] != len(matrices.rows):
        raise ValueError(f"values need one entry per kept row ({len(matrices.rows)}), not shape {arr.shape}")
    out = np.full((len(matrices.input_rows), *arr.shape[1:]), np.nan, dtype=np.result_type(arr.dtype, np.float64))
    out[matrices.kept] = arr
    return out


def used_rows(values: np.ndarray, matrices: ModelMatrices) -> np.ndarray:
    """The inverse of :func:`pad_to_input`: row-wise results on the kept rows only.

    Examples
    --------
    >>> import pandas as pd
    >>> d = pd.DataFrame({"y": [1.0, None, 3, 4], "g": list("aabb")})
    >>> mm = build_model_matrices("y ~ 1 + (1 | g)", d, na_action="exclude")
    >>> used_rows(pad_to_input(mm.y, mm), mm).tolist()
    [1.0, 3.0, 4.0]
    """
    if matrices.na_action != "exclude" or matrices.kept is None:
        return values
    return np.asarray(values)[matrices.kept]
