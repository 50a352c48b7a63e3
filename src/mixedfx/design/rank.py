"""Which columns of X are linearly independent, as R's ``qr(X, tol = 1e-7)`` (LINPACK dqrdc2) decides.

lme4's ``chkRank.drop.cols`` drops the rest. A cheap screen on the Gram
matrix's Cholesky factor settles the common case (columns independent by a
wide margin) before any QR.
"""

from __future__ import annotations

import math

import numpy as np

from mixedfx.linalg.row_products import cross_product

__all__ = ["RANK_TOL", "clearly_independent", "gram_clearly_independent", "rank_keep", "gram_rank_keep"]

RANK_TOL = 1e-7
# Gram-Cholesky pivot ratios above this pass any exact rank test with a threshold far below it
_GRAM_SCREEN = 1e-4


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
    """:func:`clearly_independent` for the columns whose Gram matrix ``M'M`` is given.

    LAPACK's ``dpotrf`` is called directly: numpy's ``cholesky`` costs five times
    as much on the small matrices every fit screens (twice).
    """
    squares = gram.diagonal().tolist()  # a model's few columns: Python compares them faster than numpy
    if not squares:
        return True
    if not all(0.0 < square < math.inf for square in squares):  # NaN fails too
        return False
    from mixedfx.linalg.lapack import lower_cholesky  # noqa: PLC0415 - numba's import, where a model is built

    factor, info = lower_cholesky(gram)
    return info == 0 and all(pivot >= _GRAM_SCREEN * math.sqrt(square)
                             for pivot, square in zip(factor.diagonal().tolist(), squares))


def rank_keep(X: np.ndarray, tol: float = RANK_TOL, gram: np.ndarray | None = None) -> list[int]:
    """Columns kept by R's ``qr(X, tol)`` (LINPACK dqrdc2) rank detection.

    Parameters
    ----------
    X : ndarray, shape (n, p)
        The matrix.
    tol : float
        A column is dependent when its norm after removing its projection on
        the kept earlier columns is below ``tol`` times its original norm.
    gram : ndarray, shape (p, p), optional
        ``X'X`` where it is already formed, for the screen before the exact test.

    Returns
    -------
    list of int
        Indices of the kept columns, in order (R's ``qr$pivot[1:rank]``).
    """
    n, p = X.shape
    if p == 1 and n:  # one column (an intercept alone): kept unless it is zero, as dqrdc2 decides
        return [0] if X.any() else []
    if p and n >= p and (clearly_independent(X) if gram is None else gram_clearly_independent(gram)):
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


def gram_rank_keep(gram: np.ndarray, tol: float = RANK_TOL) -> list[int]:
    """:func:`rank_keep` from the Gram matrix X'X alone (X's rows summed elsewhere, as a distributed fit has them).

    A column is kept when its squared norm after removing its projection on the
    kept earlier columns is at least ``tol**2`` times its squared norm, read off
    an incremental Cholesky factor of X'X. Exact dependencies (a dummy column
    that repeats others) are dropped as by the QR on X; a column within a few
    orders of magnitude of ``tol`` of dependence may be judged otherwise, as the
    Gram matrix squares X's condition number.

    Examples
    --------
    >>> X = np.column_stack([np.ones(4), [0.0, 1, 0, 1], [1.0, 0, 1, 0]])
    >>> gram_rank_keep(X.T @ X), rank_keep(X)
    ([0, 1], [0, 1])
    """
    p = gram.shape[0]
    factor = np.zeros((p, p))
    keep: list[int] = []
    for j in range(p):
        squared = float(gram[j, j])
        if not squared > 0:
            continue
        r = len(keep)
        c = np.linalg.solve(factor[:r, :r], gram[keep, j]) if r else np.zeros(0)
        residual = squared - float(c @ c)
        if residual > 0 and residual >= tol**2 * squared:
            factor[r, :r], factor[r, r] = c, np.sqrt(residual)
            keep.append(j)
    return keep
