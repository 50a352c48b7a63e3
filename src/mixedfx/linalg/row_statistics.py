"""What a linear mixed model reads of its rows besides the cross-product blocks: a few sums over the rows.

lme4's start (per-level means of the response), the columns' scales the
optimiser works on (root mean squares of Z's columns) and the prior weights'
log-determinant are all sums over rows. :func:`row_statistics` forms them in the same pass as
:func:`mixedfx.linalg.cross.cross_products`; sums over parts of the rows add
up (``+``), which is how a distributed fit forms them partition by partition.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixedfx.linalg.layout import TermLayout, root_mean_squares_of_sums

__all__ = ["RowStatistics", "row_statistics"]


@dataclass(frozen=True)
class RowStatistics:
    """Sums over a model's rows (terms in internal order).

    Attributes
    ----------
    n : int
        Rows.
    response_sum, response_squares : float
        Sum of the response and of its squares (no offset taken off, no weights).
    level_sums, level_counts : list of ndarray, shape (levels,)
        Per term, the response summed by level, and the rows per level.
    z_squares : list of ndarray, shape (k,)
        Per term, each column of its model matrix squared and summed.
    log_weights : float
        Sum of the logs of the prior weights (0 without weights; ``-inf`` with a zero weight).
    """

    n: int
    response_sum: float
    response_squares: float
    level_sums: list[np.ndarray]
    level_counts: list[np.ndarray]
    z_squares: list[np.ndarray]
    log_weights: float

    def __add__(self, other: RowStatistics) -> RowStatistics:
        """The statistics of both sets of rows."""
        return RowStatistics(
            n=self.n + other.n, response_sum=self.response_sum + other.response_sum,
            response_squares=self.response_squares + other.response_squares,
            level_sums=[a + b for a, b in zip(self.level_sums, other.level_sums)],
            level_counts=[a + b for a, b in zip(self.level_counts, other.level_counts)],
            z_squares=[a + b for a, b in zip(self.z_squares, other.z_squares)],
            log_weights=self.log_weights + other.log_weights)

    def column_scales(self) -> list[np.ndarray]:
        """Per term, each column's root mean square (1 for a column of zeros)."""
        return [root_mean_squares_of_sums(s, self.n) for s in self.z_squares]


def row_statistics(terms: list[TermLayout], y: np.ndarray, weights: np.ndarray | None = None) -> RowStatistics:
    """The sums of :class:`RowStatistics` over the given rows.

    Parameters
    ----------
    terms : list of TermLayout
        Random-effects terms (internal order), unmerged.
    y : ndarray, shape (n,)
        Response (no offset taken off).
    weights : ndarray, shape (n,), optional
        Prior weights.

    Returns
    -------
    RowStatistics

    Examples
    --------
    >>> import numpy as np
    >>> term = TermLayout(codes=np.array([0, 0, 1]), z=np.ones((3, 1)), n_levels=2)
    >>> stats = row_statistics([term], np.array([1.0, 3.0, 5.0]))
    >>> stats.level_sums[0].tolist(), stats.level_counts[0].tolist(), stats.n
    ([4.0, 5.0], [2.0, 1.0], 3)
    """
    y = np.asarray(y, dtype=float)
    log_weights = 0.0
    if weights is not None:
        with np.errstate(divide="ignore"):  # a zero weight makes the criterion infinite, as in lme4
            log_weights = float(np.log(weights).sum())
    return RowStatistics(
        n=len(y), response_sum=float(y.sum()), response_squares=float(y @ y),
        level_sums=[np.bincount(t.codes, weights=y, minlength=t.n_levels) for t in terms],
        level_counts=[np.bincount(t.codes, minlength=t.n_levels).astype(float) for t in terms],
        z_squares=[np.einsum("ij,ij->j", t.z, t.z) for t in terms], log_weights=log_weights)
