"""Sums of per-row products within the levels of a grouping factor, in one compiled pass over the rows.

numpy does this with one ``bincount`` per pair of columns, each a pass over
the rows; for Z1' W Z1 and [X y]' W Z1 that is (p + 1) k + k (k + 1) / 2
passes over every row. With :func:`slot_products` two passes form every
block of a model whose coupling is small enough to be dense (:func:`dense_blocks`);
:func:`mixedfx.linalg.cross.cross_products` calls it once, the compiled PIRLS of
vector-valued terms (:mod:`mixedfx.glmm.vector_pirls`) at each iteration. All
are compiled kernels: call them with C-ordered float arrays and int64 codes.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["level_products", "slot_products", "dense_blocks"]


@numba.njit(cache=True, error_model="numpy")
def level_products(codes, weighted_z, z, values, n_levels):
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
    n, k = weighted_z.shape
    m = values.shape[1]
    blocks = np.zeros((n_levels, k, k))
    transposed = np.zeros((n_levels * k, m))  # a row's values add to k contiguous rows
    for i in range(n):
        level = codes[i]
        base = level * k
        row = values[i]
        for r in range(k):
            zr = weighted_z[i, r]
            for s in range(r + 1):
                blocks[level, r, s] += zr * z[i, s]
            target = transposed[base + r]
            for j in range(m):
                target[j] += row[j] * zr
    for level in range(n_levels):
        for r in range(k):
            for s in range(r):
                blocks[level, s, r] = blocks[level, r, s]
    return blocks, np.ascontiguousarray(transposed.T)


@numba.njit(cache=True, error_model="numpy")
def slot_products(columns, values, xy, weights, q_rest, codes, weighted_z1, n_levels):
    """The rest's Gram ``R' W R`` and the other terms' coupling with the first, in one compiled pass over the rows.

    The rest R is the other terms' columns (``q_rest`` of them), then [X y]. Each
    row has an entry in a few of the terms' columns (one per slot: each other
    term's k columns at the row's level), so its share of the terms' block is the
    outer product of its slots' values, and of their block with [X y] its slots'
    values times its [X y] row. The slots' columns increase along each row, so
    the pairs of slots visit the lower triangle. [X y]' W [X y] is one BLAS
    product.

    Parameters
    ----------
    columns : ndarray of int, shape (n, s)
        Each row's column in the rest for each slot, below ``q_rest``, increasing along the row.
    values : ndarray, shape (n, s)
        The row's value in that column.
    xy : ndarray, shape (n, c)
        The rest's last c columns, [X y].
    weights : ndarray, shape (n,)
        Prior (or working) weights.
    q_rest : int
        Columns of the other terms.
    codes : ndarray of int, shape (n,)
        The first term's level of each row.
    weighted_z1 : ndarray, shape (n, k1)
        The first term's model matrix, each row times its weight.
    n_levels : int
        Levels of the first term.

    Returns
    -------
    rest : ndarray, shape (q_rest + c, q_rest + c)
        ``R' W R`` (symmetric).
    coupling : ndarray, shape (q_rest, n_levels * k1)
        The terms' rows of ``R' W Z1``, level-major.

    Examples
    --------
    >>> rest, coupling = slot_products(np.array([[0], [0]]), np.ones((2, 1)), np.array([[2.0], [3.0]]), np.ones(2),
    ...                                1, np.array([0, 1]), np.ones((2, 1)), 2)
    >>> rest.tolist(), coupling.tolist()
    ([[2.0, 5.0], [5.0, 13.0]], [[1.0, 1.0]])
    """
    n, n_slots = columns.shape
    c = xy.shape[1]
    k1 = weighted_z1.shape[1]
    m = q_rest + c
    rest = np.zeros((m, m))
    coupling = np.zeros((q_rest, n_levels * k1))
    weighted_xy = np.empty((n, c))
    for i in range(n):
        wi = weights[i]
        base = codes[i] * k1
        xy_row = xy[i]
        for j in range(c):
            weighted_xy[i, j] = wi * xy_row[j]
        for a in range(n_slots):
            column = columns[i, a]
            value = values[i, a]
            weighted = wi * value
            row = rest[column]
            for b in range(a + 1):
                row[columns[i, b]] += weighted * values[i, b]
            for j in range(c):  # above the diagonal, mirrored below
                row[q_rest + j] += weighted * xy_row[j]
            target = coupling[column]
            for r in range(k1):
                target[base + r] += value * weighted_z1[i, r]
    gram = np.dot(weighted_xy.T, xy)
    for i in range(q_rest):
        for j in range(i):
            rest[j, i] = rest[i, j]
        for j in range(c):
            rest[q_rest + j, i] = rest[i, q_rest + j]
    for a in range(c):
        for b in range(a + 1):
            rest[q_rest + a, q_rest + b] = gram[a, b]
            rest[q_rest + b, q_rest + a] = gram[a, b]
    return rest, coupling


@numba.njit(cache=True, error_model="numpy")
def dense_blocks(codes, z1, weighted_z1, columns, values, xy, weights, q_rest, n_levels):
    """Every block of ``[Z1 R]' W [Z1 R]`` where the coupling is dense: :func:`level_products`, then
    :func:`slot_products`, the coupling's rows stacked.

    Parameters
    ----------
    codes, z1, weighted_z1, n_levels
        The first term, as :func:`level_products` takes it.
    columns, values, xy, weights, q_rest
        The rest, as :func:`slot_products` takes it.

    Returns
    -------
    a11 : ndarray, shape (n_levels, k1, k1)
    a_r1 : ndarray, shape (q_rest + c, n_levels * k1)
    a_rr : ndarray, shape (q_rest + c, q_rest + c)
        As :class:`mixedfx.linalg.cross.CrossProducts` holds them.
    """
    a11, xy_z1 = level_products(codes, weighted_z1, z1, xy, n_levels)
    a_rr, terms_z1 = slot_products(columns, values, xy, weights, q_rest, codes, weighted_z1, n_levels)
    a_r1 = np.empty((a_rr.shape[0], xy_z1.shape[1]))
    width = a_r1.shape[1]
    for i in range(q_rest):  # by loops: an array assigned to a slice costs seconds of compiling
        for j in range(width):
            a_r1[i, j] = terms_z1[i, j]
    for i in range(xy_z1.shape[0]):
        for j in range(width):
            a_r1[q_rest + i, j] = xy_z1[i, j]
    return a11, a_r1, a_rr
