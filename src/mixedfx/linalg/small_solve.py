"""Small dense symmetric systems solved in compiled loops: a Newton step's direction from a gradient and Hessian.

The Hessians here have a few rows (theta and beta of a small model): loops beat
LAPACK's call overhead, and no BLAS threads are started. numba is imported here,
so import this module only where it is used.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["newton_direction", "solve_shifted"]


@numba.njit(cache=True, error_model="numpy")
def solve_shifted(matrix, rhs, shift):
    """(matrix + shift I)^-1 rhs by Cholesky, or None where that is not positive definite (m is small: loops beat
    LAPACK's call overhead)."""
    m = rhs.shape[0]
    factor = np.zeros((m, m))
    for k in range(m):
        for l in range(k + 1):
            total = matrix[k, l] + (shift if k == l else 0.0)
            for r in range(l):
                total -= factor[k, r] * factor[l, r]
            if k == l:
                if not total > 0.0:
                    return None
                factor[k, k] = math.sqrt(total)
            else:
                factor[k, l] = total / factor[l, l]
    x = rhs.copy()
    for k in range(m):
        for r in range(k):
            x[k] -= factor[k, r] * x[r]
        x[k] /= factor[k, k]
    for k in range(m - 1, -1, -1):
        for r in range(k + 1, m):
            x[k] -= factor[r, k] * x[r]
        x[k] /= factor[k, k]
    return x


@numba.njit(cache=True, error_model="numpy")
def newton_direction(hessian, gradient):
    """-H^-1 g, and whether H had to be shifted towards its diagonal's scale to be positive definite (a step
    that still descends)."""
    m = gradient.shape[0]
    scale = np.max(np.abs(np.diag(hessian)))
    shift = 0.0
    for _ in range(80):
        x = solve_shifted(hessian, -gradient, shift)
        if x is not None:
            return x, shift > 0.0
        shift = max(2.0 * shift, 1e-8 * scale)
    return np.zeros(m), True
