"""Sums of per-row products within the levels of a grouping factor, in one compiled pass over the rows.

numpy does this with one ``bincount`` per pair of columns, each a pass over
the rows; for Z1' W Z1 and [X y]' W Z1 that is (p + 1) k + k (k + 1) / 2
passes over every row.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["level_products"]


@numba.njit(cache=True, error_model="numpy")
def _level_products(codes, weighted_z, z, values, n_levels):
    n, k = weighted_z.shape
    m = values.shape[1]
    blocks = np.zeros((n_levels, k, k))
    out = np.zeros((m, n_levels * k))
    for i in range(n):
        level = codes[i]
        base = level * k
        for r in range(k):
            zr = weighted_z[i, r]
            for s in range(r + 1):
                blocks[level, r, s] += zr * z[i, s]
            for j in range(m):
                out[j, base + r] += values[i, j] * zr
    for level in range(n_levels):
        for r in range(k):
            for s in range(r):
                blocks[level, s, r] = blocks[level, r, s]
    return blocks, out


def level_products(codes: np.ndarray, weighted_z: np.ndarray, z: np.ndarray, values: np.ndarray,
                   n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """Z1' W Z1's diagonal blocks and ``values' W Z1``, summed by level in one pass over the rows.

    Parameters
    ----------
    codes : ndarray of int, shape (n,)
        Level of each row.
    weighted_z : ndarray, shape (n, k)
        The term's model matrix, each row times its weight.
    z : ndarray, shape (n, k)
        The term's model matrix.
    values : ndarray, shape (n, m)
        The other columns ([X y]).
    n_levels : int
        Levels of the grouping factor.

    Returns
    -------
    blocks : ndarray, shape (n_levels, k, k)
        Each level's block of Z1' W Z1 (symmetric).
    products : ndarray, shape (m, n_levels * k)
        Level-major columns: level l's k columns at ``l * k .. l * k + k - 1``.
    """
    return _level_products(np.asarray(codes, dtype=np.int64), np.ascontiguousarray(weighted_z, dtype=float),
                           np.ascontiguousarray(z, dtype=float), np.ascontiguousarray(values, dtype=float),
                           int(n_levels))
