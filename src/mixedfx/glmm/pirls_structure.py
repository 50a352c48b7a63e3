"""The fixed structure of a scalar-term model's compiled PIRLS: its design and its factor's sparsity.

:func:`pirls_structure` works it out once per model; every kernel of
:mod:`mixedfx.glmm.scalar_pirls` and :mod:`mixedfx.glmm.laplace_gradient` takes
it as one typed value, :class:`PirlsStructure`, and a factor's values on its
patterns as another, :class:`FactorValues`.

The factor's block layout is that of :mod:`mixedfx.linalg.blocks`: a diagonal block for
the first term, a sparse coupling block, and the rest (other terms, fixed
effects, the working response) in dense storage. The rest is factored by a
Cholesky that visits only the entries its sparsity pattern (fill included,
worked out here) can make non-zero, so nested terms cost what their few
non-zeros cost. A rest that crossed terms fill is stored full: the Gram
product of the levels meeting many of its rows is one BLAS call, and above 100
rows LAPACK factors it.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

from itertools import accumulate
from typing import NamedTuple

import numba
import numpy as np

from mixedfx.linalg.layout import TermLayout
from mixedfx.linalg.sparse_gram import heavy_columns

__all__ = ["FactorValues", "PirlsStructure", "pirls_structure"]

# A rest block whose factor is at least this share filled is stored full; above this size LAPACK factors it
_DENSE_SHARE = 0.3
_DENSE_MIN_SIZE = 100


class PirlsStructure(NamedTuple):
    """A scalar-term model's design and the sparsity of its blocked factor, fixed when the model is built.

    With n rows, p columns of X, terms t = 0 .. T-1 with ``l_t`` levels each,
    ``q_rest = l_1 + ... + l_{T-1}`` and m = q_rest + p + 1. Every integer array is int64,
    every array C-ordered.

    Attributes
    ----------
    X_t : ndarray, shape (p, n)
        The columns PIRLS solves for with the random effects, transposed.
    codes : ndarray, shape (T, n)
        Each row's level of each term.
    zs : ndarray, shape (T, n)
        Each row's value of each term's column.
    u_offsets : ndarray, shape (T + 1,)
        Where each term's random effects start in u; the last entry is u's length.
    rest_offsets : ndarray, shape (T,)
        Where each term after the first starts among the rest block's rows (0 for terms 0 and 1).
    pos : ndarray, shape (T - 1, n)
        For each term after the first, the coupling entry of each row's (level of that term, first-term level).
    col_ptr, row_idx : ndarray, shapes (l_0 + 1,) and (nnz,)
        The coupling block's pattern by columns (first-term levels): each column's rest rows,
        the other terms' levels it meets (ascending), then the p + 1 dense rows.
    dense_pos : ndarray, shape (l_0,)
        Where each coupling column's dense rows start.
    row_scale_term : ndarray, shape (q_rest,)
        The term of each random-effects row of the rest (whose theta scales it).
    chol_row_ptr, chol_row_idx : ndarray
        The rest factor's pattern below the diagonal by rows: the columns k < j of each row j.
    chol_col_ptr, chol_col_idx : ndarray
        The same pattern by columns: the rows i > j of each column j.
    light, heavy : ndarray
        First-term levels whose coupling columns' outer products the rest takes pair by pair,
        and the levels meeting so many rows that one BLAS product takes theirs.
    m : int
        The rest block's order.
    dense : bool
        Whether the rest is stored full and factored by the dense Cholesky.
    """

    X_t: np.ndarray
    codes: np.ndarray
    zs: np.ndarray
    u_offsets: np.ndarray
    rest_offsets: np.ndarray
    pos: np.ndarray
    col_ptr: np.ndarray
    row_idx: np.ndarray
    dense_pos: np.ndarray
    row_scale_term: np.ndarray
    chol_row_ptr: np.ndarray
    chol_row_idx: np.ndarray
    chol_col_ptr: np.ndarray
    chol_col_idx: np.ndarray
    light: np.ndarray
    heavy: np.ndarray
    m: int
    dense: bool


class FactorValues(NamedTuple):
    """A blocked factor's values on a :class:`PirlsStructure`'s patterns.

    Attributes
    ----------
    l11 : ndarray, shape (l_0,)
        The first block's diagonal.
    coupling : ndarray, shape (nnz,)
        The coupling block, on ``col_ptr`` and ``row_idx``.
    pattern_values : ndarray, shape (m + len(chol_col_idx),)
        The rest's factor: its diagonal, then its pattern below the diagonal column by column.
    """

    l11: np.ndarray
    coupling: np.ndarray
    pattern_values: np.ndarray


def pirls_structure(layouts: list[TermLayout], X: np.ndarray) -> PirlsStructure:
    """The structure of PIRLS over scalar terms ``layouts`` (internal order) and the columns ``X`` (n, p)."""
    X_t = np.ascontiguousarray(np.asarray(X, dtype=float).T)
    p = X_t.shape[0]
    codes = np.ascontiguousarray(np.stack([t.codes for t in layouts]), dtype=np.int64)
    zs = np.ascontiguousarray(np.stack([t.z[:, 0] for t in layouts]), dtype=float)
    # a few terms: their sizes as Python ints, where numpy's calls would cost more than the sums
    n_levels = [int(t.n_levels) for t in layouts]
    u_offsets = np.array([0, *accumulate(n_levels)], dtype=np.int64)
    rest_offsets = np.maximum(u_offsets[:-1] - n_levels[0], 0)
    q_rest = int(u_offsets[-1]) - n_levels[0]
    m = q_rest + p + 1
    col_ptr, row_idx, dense_pos, pos = _coupling_pattern(codes, n_levels[0], rest_offsets, q_rest, p)
    nnz = col_ptr[1:] - col_ptr[:-1]
    met = nnz - p - 1  # the other terms' levels each first-term level meets (their pairs fill the rest)
    full = met @ (met + 1) >= _DENSE_SHARE * m * (m + 1)
    if not full:
        pattern = _pattern(codes, rest_offsets, col_ptr, row_idx, m, q_rest)
        full = pattern.sum() >= _DENSE_SHARE * m * (m + 1) / 2
    if full:
        pattern = np.ones((m, m), dtype=bool)
    # with a full pattern, levels meeting many rows take a BLAS product (a sparse one must not be filled)
    is_heavy = full & heavy_columns(nnz, m)
    chol_col_ptr, chol_col_idx, chol_row_ptr, chol_row_idx = _lower_entries(pattern)
    return PirlsStructure(
        X_t=X_t, codes=codes, zs=zs, u_offsets=u_offsets,
        rest_offsets=rest_offsets, pos=pos, col_ptr=col_ptr, row_idx=row_idx, dense_pos=dense_pos,
        row_scale_term=np.repeat(np.arange(1, len(layouts), dtype=np.int64), n_levels[1:]),
        chol_row_ptr=chol_row_ptr, chol_row_idx=chol_row_idx, chol_col_ptr=chol_col_ptr, chol_col_idx=chol_col_idx,
        light=np.flatnonzero(~is_heavy), heavy=np.flatnonzero(is_heavy),
        m=m, dense=bool(full and m > _DENSE_MIN_SIZE))


@numba.njit(cache=True, error_model="numpy")
def _coupling_pattern(codes, l0, rest_offsets, q_rest, p):
    """The coupling block's columns (first-term levels): the other terms' levels met, then the dense rows.

    Returns ``col_ptr``, ``row_idx``, ``dense_pos`` and ``pos`` (see :class:`PirlsStructure`). Compiled: as
    numpy calls, a small model's passes cost more in calls than in rows.
    """
    n_terms, n = codes.shape
    stride = q_rest + 1
    first = codes[0]
    # each row's (first-term level, rest row) pair for each later term, as one key
    pairs = np.empty((n_terms - 1) * n, dtype=np.int64)
    for t in range(1, n_terms):
        for r in range(n):
            pairs[(t - 1) * n + r] = first[r] * stride + rest_offsets[t] + codes[t, r]
    keys = _sorted_unique(pairs, l0 * stride)
    random_count = np.zeros(l0, dtype=np.int64)
    for key in keys:
        random_count[key // stride] += 1
    col_ptr = np.zeros(l0 + 1, dtype=np.int64)
    for level in range(l0):
        col_ptr[level + 1] = col_ptr[level] + random_count[level] + p + 1
    dense_pos = col_ptr[:l0] + random_count
    row_idx = np.empty(col_ptr[l0], dtype=np.int64)
    key_pos = np.empty(keys.shape[0], dtype=np.int64)
    filled = col_ptr[:l0].copy()
    for i in range(keys.shape[0]):  # the keys ascend by level, then row: each column fills in order
        level = keys[i] // stride
        key_pos[i] = filled[level]
        row_idx[filled[level]] = keys[i] % stride
        filled[level] += 1
    for level in range(l0):
        for j in range(p + 1):
            row_idx[dense_pos[level] + j] = q_rest + j
    pos = np.empty((n_terms - 1, n), dtype=np.int64)
    for t in range(1, n_terms):
        for r in range(n):
            pos[t - 1, r] = key_pos[np.searchsorted(keys, pairs[(t - 1) * n + r])]
    return col_ptr, row_idx, dense_pos, pos


@numba.njit(cache=True, error_model="numpy")
def _sorted_unique(keys, bound):
    """The distinct values of non-negative ``keys`` below ``bound``, sorted: by a table where that is small."""
    if bound > 4 * keys.shape[0] + 4096:
        return np.unique(keys)
    seen = np.zeros(bound, dtype=np.bool_)
    for key in keys:
        seen[key] = True
    return np.flatnonzero(seen)


@numba.njit(cache=True, error_model="numpy")
def _pattern(codes, rest_offsets, col_ptr, row_idx, m, q_rest):
    """Non-zero pattern of the rest's lower Cholesky factor (fill included), as a boolean matrix."""
    n_terms, n = codes.shape
    pattern = np.zeros((m, m), dtype=np.bool_)
    for i in range(m):
        pattern[i, i] = True
    for i in range(q_rest, m):
        pattern[i, : i + 1] = True
    ent = np.empty(n_terms, dtype=np.int64)
    for r in range(n):
        for t in range(1, n_terms):
            ent[t - 1] = rest_offsets[t] + codes[t, r]
        for a in range(n_terms - 1):
            for b in range(a + 1):
                pattern[ent[a], ent[b]] = True
    for level in range(col_ptr.shape[0] - 1):
        for a in range(col_ptr[level], col_ptr[level + 1]):
            for b in range(col_ptr[level], a + 1):
                pattern[row_idx[a], row_idx[b]] = True
    rows = np.empty(m, dtype=np.int64)
    for k in range(m):
        count = 0
        for i in range(k + 1, m):
            if pattern[i, k]:
                rows[count] = i
                count += 1
        for a in range(count):
            for b in range(a + 1):
                pattern[rows[a], rows[b]] = True
    return pattern


@numba.njit(cache=True, error_model="numpy")
def _lower_entries(pattern):
    """The pattern's entries below the diagonal, by columns and by rows, each list ascending.

    Returns ``col_ptr, col_idx`` (the rows i > j of each column j) and ``row_ptr, row_idx``
    (the columns k < i of each row i).
    """
    m = pattern.shape[0]
    col_ptr = np.zeros(m + 1, dtype=np.int64)
    row_ptr = np.zeros(m + 1, dtype=np.int64)
    for i in range(m):
        for j in range(i):
            if pattern[i, j]:
                col_ptr[j + 1] += 1
                row_ptr[i + 1] += 1
    for j in range(m):
        col_ptr[j + 1] += col_ptr[j]
        row_ptr[j + 1] += row_ptr[j]
    col_idx = np.empty(col_ptr[m], dtype=np.int64)
    row_idx = np.empty(row_ptr[m], dtype=np.int64)
    filled = col_ptr[:m].copy()
    for i in range(m):  # rows in order: each column's rows come out ascending
        at = row_ptr[i]
        for j in range(i):
            if pattern[i, j]:
                col_idx[filled[j]] = i
                filled[j] += 1
                row_idx[at] = j
                at += 1
    return col_ptr, col_idx, row_ptr, row_idx
