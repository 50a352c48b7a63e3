"""A generalized model's rows, one partition at a time: coded once, kept on the workers for PIRLS's passes.

:func:`partition_glmer_rows` codes a partition's kept rows with the model's
levels and columns (:func:`~mixedfx.partitioned.passes.coded_partition`), checks
its response against the family row by row, and applies the family's
initialize (:func:`~mixedfx.glmm.model.family_response`): the
:class:`GlmerRows` every PIRLS iteration then reads where they were made.
:class:`RowsSummary` holds what the model's checks and rank read of all
rows together (X'X, X's sums, the response's distinct values), summed by
:func:`add_summaries`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from mixedfx.design.checks import check_counts_response
from mixedfx.design.matrices import ModelMatrices
from mixedfx.errors import DataError
from mixedfx.formula.evaluate import Factor
from mixedfx.glmm.families import Family
from mixedfx.glmm.family_kernels import LogLikelihoodTerms, log_likelihood_terms
from mixedfx.glmm.model import family_response
from mixedfx.linalg.layout import TermLayout, root_mean_squares_of_sums
from mixedfx.linalg.row_products import cross_product
from mixedfx.partitioned.passes import coded_partition
from mixedfx.partitioned.request import PassRequest

__all__ = ["GlmerRows", "RowsSummary", "partition_glmer_rows", "rows_summary", "add_summaries", "keep_columns",
           "rescaled_rows", "check_varying_response"]


@dataclass(frozen=True)
class GlmerRows:
    """One partition's model rows, as a generalized model's PIRLS reads them.

    Attributes
    ----------
    X : ndarray, shape (n, p)
        The fixed-effects matrix.
    layouts : list of TermLayout
        The random-effects terms, lme4's order.
    y, weights, n_trials : ndarray, shape (n,)
        The response, prior weights and binomial trials as the family's initialize leaves them.
    offset : ndarray, shape (n,)
        The offset (the formula's ``offset()`` terms and the ``offset`` column).
    eta_start : ndarray, shape (n,)
        The link of the family's starting means: where lme4's first PIRLS run starts.
    n_dropped_na : int
        Rows the NA action dropped.
    kept : ndarray of int
        The kept rows' positions in the partition.
    log_likelihood : LogLikelihoodTerms or None
        The family's AIC term split into per-row terms and a constant, for the binomial-logit
        and Poisson-log families (:func:`~mixedfx.glmm.family_kernels.log_likelihood_terms`;
        what the Laplace deviance's gradient reads); None for the others.
    """

    X: np.ndarray
    layouts: list[TermLayout]
    y: np.ndarray
    weights: np.ndarray
    n_trials: np.ndarray
    offset: np.ndarray
    eta_start: np.ndarray
    n_dropped_na: int
    kept: np.ndarray
    log_likelihood: LogLikelihoodTerms | None = None

    @property
    def aic_shift(self) -> float | None:
        """The family's AIC term less the deviance where that is a constant; None where the AIC term is computed
        from the means each time."""
        return None if self.log_likelihood is None else self.log_likelihood.deviance_shift


def _coded_response(frame_y: np.ndarray, response: object, prototype: ModelMatrices) -> np.ndarray:
    """The response; a factor's coded by the model's levels (a partition may see only one of them)."""
    levels = prototype.response_levels
    if levels is None or not isinstance(response, Factor):
        return np.asarray(frame_y, dtype=float)
    labels = np.asarray(response.levels, dtype=object)[response.codes]
    return (labels != levels[0]).astype(float)


def partition_glmer_rows(part: pd.DataFrame, request: PassRequest, prototype: ModelMatrices,
                         family: Family) -> GlmerRows:
    """A partition's rows coded for a generalized model, its response checked as lme4 checks it.

    Parameters
    ----------
    part : pandas.DataFrame
        One partition.
    request : PassRequest
    prototype : ModelMatrices
        The model's coding without rows (:func:`~mixedfx.partitioned.design.prototype_matrices`).
    family : Family

    Returns
    -------
    GlmerRows

    Raises
    ------
    DataError, MixedFxError
        A response the family refuses, naming the value and its row.
    """
    coded = coded_partition(part, request, prototype)
    frame, X, layouts = coded.frame, coded.X, coded.layouts
    y = _coded_response(frame.y, frame.values.get(frame.fixed.labels[0]), prototype)
    rows = part.index[frame.kept]
    if y.ndim == 2:
        check_counts_response(replace(prototype, y=y, rows=rows), family)
    else:
        family.check_response(y, prototype.response_name, frame.weights, rows)
    y_adjusted, weights, n_trials, mustart = family_response(family, y, frame.weights)
    terms = log_likelihood_terms(family, y_adjusted, n_trials, weights)
    return GlmerRows(X=X, layouts=layouts, y=y_adjusted, weights=weights, n_trials=n_trials,
                     offset=np.asarray(frame.offset, dtype=float), eta_start=family.link.linkfun(mustart) + 0.0,
                     n_dropped_na=frame.n_dropped_na, kept=np.asarray(frame.kept, dtype=np.int64),
                     log_likelihood=terms)


@dataclass(frozen=True)
class RowsSummary:
    """What the model's rank and checks read of all rows together, summed over partitions.

    Attributes
    ----------
    n : int
        Rows kept.
    n_dropped_na : int
        Rows dropped for missing values.
    x_sums : ndarray, shape (p,)
        X's columns summed.
    x_gram : ndarray, shape (p, p)
        X'X.
    x_binary : ndarray of bool, shape (p,)
        Whether a column holds only 0 and 1.
    first_y : ndarray or None
        The first kept row's response and trials (None without rows).
    constant : bool
        Whether every kept row's response equals ``first_y``.
    per_row_log_likelihood : bool
        Whether every partition's AIC term splits into per-row terms (:attr:`GlmerRows.log_likelihood`).
    z_squares : list of ndarray, shape (k,)
        Per term (lme4's order), each column of its model matrix squared and summed.
    """

    n: int
    n_dropped_na: int
    x_sums: np.ndarray
    x_gram: np.ndarray
    x_binary: np.ndarray
    first_y: np.ndarray | None
    constant: bool
    per_row_log_likelihood: bool
    z_squares: list[np.ndarray]

    def column_scales(self) -> tuple[list[np.ndarray], np.ndarray]:
        """The root mean squares of Z's columns per term and of X's columns, all of them (1 for a column of
        zeros), as :meth:`~mixedfx.glmm.model.GeneralizedLinearMixedModel.column_scales` takes them of the rows."""
        return ([root_mean_squares_of_sums(s, self.n) for s in self.z_squares],
                root_mean_squares_of_sums(np.diag(self.x_gram), self.n))

    def rescaled(self, z_scales: list[np.ndarray], x_scales: np.ndarray) -> RowsSummary:
        """The summary of the rows with Z's columns divided by ``z_scales`` and X's (all of them) by ``x_scales``
        (:func:`rescaled_rows`); X's 0/1 columns are those of the rows as they were."""
        return replace(self, x_sums=self.x_sums / x_scales, x_gram=self.x_gram / np.outer(x_scales, x_scales),
                       z_squares=[z / s**2 for z, s in zip(self.z_squares, z_scales)])


def rows_summary(rows: GlmerRows) -> RowsSummary:
    """One partition's :class:`RowsSummary`."""
    X = rows.X
    n, p = X.shape
    # (proportion, trials) of a cbind response: (successes, failures) once more
    first = np.array([rows.y[0], rows.n_trials[0]]) if n else None
    constant = bool(n == 0 or (np.all(rows.y == rows.y[0]) and np.all(rows.n_trials == rows.n_trials[0])))
    return RowsSummary(n=n, n_dropped_na=rows.n_dropped_na, x_sums=X.sum(axis=0),
                       x_gram=np.asarray(cross_product(X)).reshape(p, p),
                       x_binary=np.all((X == 0.0) | (X == 1.0), axis=0), first_y=first, constant=constant,
                       per_row_log_likelihood=rows.log_likelihood is not None,
                       z_squares=[np.einsum("ij,ij->j", t.z, t.z) for t in rows.layouts])


def add_summaries(a: RowsSummary, b: RowsSummary) -> RowsSummary:
    """Two partitions' summaries added."""
    first = a.first_y if a.first_y is not None else b.first_y
    constant = a.constant and b.constant and (a.first_y is None or b.first_y is None
                                               or bool(np.all(a.first_y == b.first_y)))
    return RowsSummary(n=a.n + b.n, n_dropped_na=a.n_dropped_na + b.n_dropped_na, x_sums=a.x_sums + b.x_sums,
                       x_gram=a.x_gram + b.x_gram, x_binary=a.x_binary & b.x_binary, first_y=first,
                       constant=constant, per_row_log_likelihood=a.per_row_log_likelihood and b.per_row_log_likelihood,
                       z_squares=[x + y for x, y in zip(a.z_squares, b.z_squares)])


def rescaled_rows(rows: GlmerRows, z_scales: list[np.ndarray], x_scales: np.ndarray) -> GlmerRows:
    """The rows with each term's columns of Z divided by ``z_scales`` (per term, lme4's order) and X's by
    ``x_scales`` (what :meth:`~mixedfx.glmm.model.GeneralizedLinearMixedModel.rescaled` does to a model's rows)."""
    layouts = [replace(t, z=t.z / s) for t, s in zip(rows.layouts, z_scales)]
    return replace(rows, X=rows.X / x_scales, layouts=layouts)


def keep_columns(rows: GlmerRows, keep: list[int]) -> GlmerRows:
    """The rows with only X's columns ``keep`` (those the rank check kept)."""
    return replace(rows, X=np.ascontiguousarray(rows.X[:, keep]))


def check_varying_response(summary: RowsSummary, name: str) -> None:
    """lme4's refusal of a constant response, judged on the summed partitions.

    Raises
    ------
    DataError
    """
    if summary.constant:
        raise DataError(f"Response is constant (lme4's message): every value of {name} is the same in the rows used; "
                        "a generalized model needs a response that varies")
