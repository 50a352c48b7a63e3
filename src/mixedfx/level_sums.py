"""Sums of per-row products within the levels of a grouping factor, in one compiled pass over the rows.

numpy does this with one ``bincount`` per pair of columns, each a pass over
the rows; for [X y]' W Z1 that is (p + 1) k passes over every row.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["level_products"]


@numba.njit(cache=True, error_model="numpy")
def _level_products(codes, weighted_z, values, n_levels):
    n, k = weighted_z.shape
    m = values.shape[1]
    out = np.zeros((m, n_levels * k))
    for i in range(n):
        base = codes[i] * k
        for r in range(k):
            zr = weighted_z[i, r]
            for j in range(m):
                out[j, base + r] += values[i, j] * zr
    return out


def level_products(codes: np.ndarray, weighted_z: np.ndarray, values: np.ndarray, n_levels: int) -> np.ndarray:
    """``values' W Z1``: for each column of ``values``, its products with the term's columns summed by level.

    Parameters
    ----------
    codes : ndarray of int, shape (n,)
        Level of each row.
    weighted_z : ndarray, shape (n, k)
        The term's model matrix, each row times its weight.
    values : ndarray, shape (n, m)
        The other columns ([X y]).
    n_levels : int
        Levels of the grouping factor.

    Returns
    -------
    ndarray, shape (m, n_levels * k)
        Level-major columns: level l's k columns at ``l * k .. l * k + k - 1``.
    """
    return _level_products(np.asarray(codes, dtype=np.int64), np.ascontiguousarray(weighted_z, dtype=float),
                           np.ascontiguousarray(values, dtype=float), int(n_levels))
