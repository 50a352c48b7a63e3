"""Sums of per-row products within the levels of a grouping factor, in one compiled pass over the rows.

numpy does this with one ``bincount`` per pair of columns, each a pass over
the rows; for Z1' W Z1 and [X y]' W Z1 that is (p + 1) k + k (k + 1) / 2
passes over every row.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["level_products", "slot_products"]


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


@numba.njit(cache=True, error_model="numpy")
def _slot_products(columns, values, weights, m, n_term_rows, codes, weighted_z1, n_levels):
    n, n_slots = columns.shape
    k1 = weighted_z1.shape[1]
    rest = np.zeros((m, m))
    coupling = np.zeros((n_term_rows, n_levels * k1))
    for i in range(n):
        level = codes[i]
        for a in range(n_slots):
            column = columns[i, a]
            weighted = weights[i] * values[i, a]
            for b in range(n_slots):
                rest[column, columns[i, b]] += weighted * values[i, b]
            if column < n_term_rows:
                for r in range(k1):
                    coupling[column, level * k1 + r] += values[i, a] * weighted_z1[i, r]
    return rest, coupling


def slot_products(columns: np.ndarray, values: np.ndarray, weights: np.ndarray, n_term_rows: int, codes: np.ndarray,
                  weighted_z1: np.ndarray, n_levels: int) -> tuple[np.ndarray, np.ndarray]:
    """The rest's Gram ``R' W R`` and the other terms' coupling with the first, in one compiled pass over the rows.

    Each row has an entry in a few of the rest's columns (one per slot: each
    other term's k columns at the row's level, then X and y), so its share of
    the Gram is the outer product of its slots' values.

    Parameters
    ----------
    columns : ndarray of int, shape (n, s)
        Each row's column in the rest for each slot; the terms' slots give columns
        below ``n_term_rows``.
    values : ndarray, shape (n, s)
        The row's value in that column.
    weights : ndarray, shape (n,)
        Prior (or working) weights.
    n_term_rows : int
        Columns of the rest that belong to random-effects terms.
    codes : ndarray of int, shape (n,)
        The first term's level of each row.
    weighted_z1 : ndarray, shape (n, k1)
        The first term's model matrix, each row times its weight.
    n_levels : int
        Levels of the first term.

    Returns
    -------
    rest : ndarray, shape (m, m)
        ``R' W R`` (symmetric), m the largest column plus one.
    coupling : ndarray, shape (n_term_rows, n_levels * k1)
        The terms' rows of ``R' W Z1``, level-major.

    Examples
    --------
    >>> rest, coupling = slot_products(np.array([[0, 1], [0, 1]]), np.array([[1.0, 2.0], [1.0, 3.0]]), np.ones(2),
    ...                                1, np.array([0, 1]), np.ones((2, 1)), 2)
    >>> rest.tolist(), coupling.tolist()
    ([[2.0, 5.0], [5.0, 13.0]], [[1.0, 1.0]])
    """
    columns = np.ascontiguousarray(columns, dtype=np.int64)
    m = int(columns.max()) + 1 if columns.size else 0
    return _slot_products(columns, np.ascontiguousarray(values, dtype=float), np.ascontiguousarray(weights, dtype=float),
                          m, int(n_term_rows), np.asarray(codes, dtype=np.int64),
                          np.ascontiguousarray(weighted_z1, dtype=float), int(n_levels))
