"""Products over the data rows through scipy's BLAS rather than numpy's.

numpy and scipy wheels each bundle their own OpenBLAS. After a threaded call
numpy's threads keep spinning for a while, and on a machine with few cores
they slow the scipy LAPACK calls that follow (the Cholesky factorisations of a
fit): ratings_200k's first factorisation took twice as long after the model's
row-sized products, a whole fit a quarter longer. The products over rows that
every fit forms go through scipy's BLAS, whose threads the factorisations then
reuse. They are called through :mod:`mixedfx.linalg.lapack`, without
importing ``scipy.linalg``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["cross_product"]


def cross_product(a: np.ndarray, b: np.ndarray | None = None) -> np.ndarray | float:
    """``a' b`` (``a' a`` when ``b`` is None) for row-major arrays of many rows.

    Parameters
    ----------
    a : ndarray, shape (n, p) or (n,)
    b : ndarray, shape (n, q) or (n,), optional

    Returns
    -------
    ndarray, shape (p, q) or (p,), or float
        A float when both are vectors.
    """
    from mixedfx.linalg.lapack import dot, gram, matrix_product, matrix_vector  # noqa: PLC0415 - numba's import

    a = np.ascontiguousarray(a, dtype=float)
    if a.ndim == 1:
        return dot(a, a if b is None else np.ascontiguousarray(b, dtype=float))
    if a.size == 0 or (b is not None and np.size(b) == 0):
        return a.T @ (a if b is None else np.asarray(b, dtype=float))  # BLAS refuses empty operands
    if b is None:
        # the Fortran view a' (p, n): its a' a upper triangle (zeros below), mirrored; the diagonal,
        # doubled by the sum, halved exactly (np.triu costs more than the product on small matrices)
        upper = gram(a)
        full = upper + upper.T
        full.flat[:: full.shape[0] + 1] *= 0.5
        return full
    b = np.ascontiguousarray(b, dtype=float)
    if b.ndim == 1:
        return matrix_vector(a, b)
    return matrix_product(a, b)
