"""The Schur complement of the first term's block when that term is scalar and the coupling sparse.

With a scalar first term its factor is diagonal, and the rest block of the
penalised system is ``R (A_rr - A_r1 diag(w) A_r1') R + I`` (``w`` one weight
per level of the first term): R diagonal when every term is scalar
(:class:`ScalarSchur`), block diagonal with each vector-valued rest term's
template on its levels' blocks otherwise (:class:`BlockSchur`). Its Gram part costs, per
level, the square of the number of rest rows that level meets. Crossed data
(ratings: users by items) have a few levels meeting many rows: those columns
of ``A_r1`` are kept dense and go through one BLAS rank-k update; the many
light columns go through a compiled loop over their non-zeros. Everything is
formed in the lower triangle of one C-ordered array, which
:func:`mixedfx.linalg.cholesky.cholesky_in_place` then factors in place.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from mixedfx.linalg.layout import BlockLayout

__all__ = ["ScalarSchur", "BlockSchur", "RestBlocks", "rest_blocks", "add_column_products",
           "column_quadratic_forms", "heavy_columns"]

# A column is "heavy" (dense BLAS update) when its non-zeros exceed this share of the rows:
# a sparse pair update costs about one nanosecond, a dense rank-one update m^2/2 flops at BLAS speed
_HEAVY_SHARE = 0.15


def heavy_columns(nnz: np.ndarray, n_rows: int) -> np.ndarray:
    """Which columns (by their non-zero counts) go through BLAS rather than :func:`add_column_products`."""
    return nnz > _HEAVY_SHARE * n_rows


@numba.njit(cache=True, error_model="numpy")
def add_column_products(ptr, idx, values, cols, col_weights, out):
    """out[i, j] += sum over ``cols`` of w_c a_ic a_jc, lower triangle (CSC, indices sorted per column)."""
    for col in cols:
        lo, hi = ptr[col], ptr[col + 1]
        for a in range(lo, hi):
            va = col_weights[col] * values[a]
            ia = idx[a]
            for b in range(lo, a + 1):
                out[ia, idx[b]] += va * values[b]


@numba.njit(cache=True, error_model="numpy")
def column_quadratic_forms(ptr, idx, values, cols, col_weights, rows, inverse, size):
    """sum over ``cols`` of w_c x_c' M x_c, x_c = rows * (column c) on the rows below ``size``.

    M is symmetric, read from the lower triangle of ``inverse`` (CSC, indices sorted per column).
    """
    total = 0.0
    for col in cols:
        lo, hi = ptr[col], ptr[col + 1]
        form = 0.0
        for a in range(lo, hi):
            ia = idx[a]
            if ia >= size:
                break
            xa = values[a] * rows[ia]
            off = 0.0
            for b in range(lo, a):
                off += inverse[ia, idx[b]] * values[b] * rows[idx[b]]
            form += xa * (2.0 * off + inverse[ia, ia] * xa)
        total += col_weights[col] * form
    return total


@numba.njit(cache=True, error_model="numpy")
def _scale_lower(out, a_rr, rows, q_rest):
    """out <- diag(rows) (a_rr - out) diag(rows) + I on the first q_rest diagonal elements, lower triangle."""
    m = out.shape[0]
    for i in range(m):
        ri = rows[i]
        for j in range(i + 1):
            out[i, j] = ri * rows[j] * (a_rr[i, j] - out[i, j])
        if i < q_rest:
            out[i, i] += 1.0


class RestBlocks(NamedTuple):
    """The rest's rows as the blocks of a block-diagonal Lambda: each level of each rest term, then [X y] one by one.

    Attributes
    ----------
    starts : ndarray of int, shape (blocks + 1,)
        Each block's first row, then the rest's order.
    template_of_block : ndarray of int, shape (blocks,)
        Which template each block holds: the rest term's index, or the number of rest terms for [X y]'s rows.
    """

    starts: np.ndarray
    template_of_block: np.ndarray


def rest_blocks(layout: BlockLayout) -> RestBlocks:
    """The :class:`RestBlocks` of a model's rest (its terms after the first, X and y).

    Examples
    --------
    >>> blocks = rest_blocks(BlockLayout(ks=[1, 2], n_levels=[5, 2], p=1))
    >>> blocks.starts.tolist(), blocks.template_of_block.tolist()
    ([0, 2, 4, 5, 6], [0, 0, 1, 1])
    """
    sizes = np.concatenate([np.repeat(layout.ks[1:], layout.n_levels[1:]), np.ones(layout.p + 1, dtype=int)])
    which = np.concatenate([np.repeat(np.arange(len(layout.ks) - 1), layout.n_levels[1:]),
                            np.full(layout.p + 1, len(layout.ks) - 1)])
    return RestBlocks(starts=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
                      template_of_block=which.astype(np.int64))


def _gram_lower(dense: np.ndarray, heavy: np.ndarray, ptr: np.ndarray, idx: np.ndarray, data: np.ndarray,
                light: np.ndarray, col_weights: np.ndarray, out: np.ndarray, sign: float) -> np.ndarray:
    """``sign * A diag(w) A'`` into the lower triangle of ``out``: the heavy columns (``dense``) by BLAS, the light
    ones (CSC ``ptr, idx, data``) compiled."""
    if len(heavy):
        scaled = dense * np.sqrt(col_weights[heavy])
        # BLAS on the Fortran views (h, m) and (m, m): the upper triangle of A'A is our lower triangle
        sla.blas.dsyrk(sign, scaled.T, trans=1, lower=0, c=out.T, overwrite_c=1)
    else:
        out.fill(0.0)
    add_column_products(ptr, idx, data, light, sign * np.ascontiguousarray(col_weights), out)
    return out


@numba.njit(cache=True, error_model="numpy")
def _scale_coupling(ptr, idx, data, block_of_row, starts, template_of_block, tmpls, out):
    """out = Lambda' A on A's pattern (CSC, every block a column meets complete and in order)."""
    for col in range(ptr.shape[0] - 1):
        for e in range(ptr[col], ptr[col + 1]):
            row = idx[e]
            block = block_of_row[row]
            first = starts[block]
            size = starts[block + 1] - first
            i = row - first
            t = tmpls[template_of_block[block]]
            acc = 0.0
            for a in range(i, size):
                acc += t[a, i] * data[e - i + a]
            out[e] = acc


@numba.njit(cache=True, error_model="numpy")
def _add_scaled_blocks(out, a_rr, pair_rows, pair_cols, starts, template_of_block, tmpls, q_rest, reference):
    """out += Lambda' a_rr Lambda on a_rr's non-zero block pairs (lower triangle), I on the first q_rest rows.

    ``reference`` receives the diagonal of ``Lambda' a_rr Lambda + I``; every
    diagonal block is among the pairs.
    """
    kmax = tmpls.shape[1]
    right = np.empty((kmax, kmax))
    for pair in range(pair_rows.shape[0]):
        bi, bj = pair_rows[pair], pair_cols[pair]
        si, ki = starts[bi], starts[bi + 1] - starts[bi]
        sj, kj = starts[bj], starts[bj + 1] - starts[bj]
        ti, tj = tmpls[template_of_block[bi]], tmpls[template_of_block[bj]]
        for a in range(ki):
            for c in range(kj):
                acc = 0.0
                for b in range(c, kj):
                    acc += a_rr[si + a, sj + b] * tj[b, c]
                right[a, c] = acc
        for i in range(ki):
            for c in range(kj if bi != bj else i + 1):
                acc = 0.0
                for a in range(i, ki):
                    acc += ti[a, i] * right[a, c]
                out[si + i, sj + c] += acc
                if bi == bj and c == i:
                    reference[si + i] = acc
    for row in range(q_rest):
        out[row, row] += 1.0
        reference[row] += 1.0


def _split_columns(holder: ScalarSchur | BlockSchur, csc: sp.csc_matrix) -> None:
    """Set on ``holder`` a coupling's columns split into heavy (dense) and light (CSC) ones.

    Attributes set: ``heavy``, ``light`` (column indices), ``dense`` (the heavy
    columns, C-ordered (m, h): its transpose is the Fortran array BLAS reads
    without a copy), ``ptr``, ``idx``, ``data`` (CSC, indices sorted per column), ``m``.
    """
    csc.sort_indices()
    holder.m = csc.shape[0]
    is_heavy = heavy_columns(np.diff(csc.indptr), holder.m)
    holder.heavy = np.flatnonzero(is_heavy)
    holder.light = np.flatnonzero(~is_heavy)
    holder.dense = np.ascontiguousarray(csc[:, holder.heavy].toarray())
    holder.ptr = csc.indptr.astype(np.int64)
    holder.idx = csc.indices.astype(np.int64)
    holder.data = csc.data.astype(float)


class ScalarSchur:
    """``A_r1`` split into dense heavy columns and sparse light ones, ready for :meth:`lower`.

    Parameters
    ----------
    a_r1 : scipy sparse matrix, shape (m, q1)
        The coupling of the rest with the first term's levels.
    """

    def __init__(self, a_r1: sp.spmatrix) -> None:
        _split_columns(self, sp.csc_matrix(a_r1))

    def lower(self, a_rr: np.ndarray, col_weights: np.ndarray, rows: np.ndarray, q_rest: int,
              out: np.ndarray | None = None) -> np.ndarray:
        """The rest block ``R (a_rr - A_r1 diag(w) A_r1') R + I`` in the lower triangle of a C-ordered array.

        Parameters
        ----------
        a_rr : ndarray, shape (m, m)
            The rest's cross-products (symmetric).
        col_weights : ndarray, shape (q1,)
            ``w``, one per column of ``A_r1``.
        rows : ndarray, shape (m,)
            The diagonal of R.
        q_rest : int
            The random-effects rows (they get the identity added).
        out : ndarray, shape (m, m), optional
            A C-ordered array to form it in; a new one when omitted.

        Returns
        -------
        ndarray, shape (m, m)
            Only the lower triangle is meaningful.
        """
        out = self._gram_lower(col_weights, out)
        _scale_lower(out, a_rr, rows, q_rest)
        return out

    def _gram_lower(self, col_weights: np.ndarray, out: np.ndarray | None) -> np.ndarray:
        """``A_r1 diag(w) A_r1'`` in the lower triangle of ``out`` (a new array when None)."""
        return _gram_lower(self.dense, self.heavy, self.ptr, self.idx, self.data, self.light, col_weights,
                           np.empty((self.m, self.m)) if out is None else out, 1.0)

    def weighted_trace(self, upper_inverse: np.ndarray, col_weights: np.ndarray, rows: np.ndarray) -> float:
        """``tr(M R A_r1 diag(w) A_r1' R)`` over M's rows: M symmetric, the first rows of the rest.

        Parameters
        ----------
        upper_inverse : ndarray, shape (size, size)
            M, Fortran-ordered, its upper triangle meaningful (LAPACK's ``potri`` output).
        col_weights : ndarray, shape (q1,)
            ``w``, one per column of ``A_r1``.
        rows : ndarray, shape (m,)
            The diagonal of R.

        Returns
        -------
        float
        """
        size = upper_inverse.shape[0]
        total = column_quadratic_forms(self.ptr, self.idx, self.data, self.light, np.ascontiguousarray(col_weights),
                                       np.ascontiguousarray(rows), upper_inverse.T, size)
        if len(self.heavy):
            # BLAS on the dense columns: sum over them of w_c x_c' M x_c
            x = np.asfortranarray(self.dense[:size] * rows[:size, None], dtype=upper_inverse.dtype)
            symm = sla.blas.ssymm if upper_inverse.dtype == np.float32 else sla.blas.dsymm
            mx = symm(1.0, upper_inverse, x, side=0, lower=0)
            total += float(np.einsum("ic,ic,c->", x, mx, col_weights[self.heavy], dtype=float))
        return total


class BlockSchur:
    """The rest block ``Lambda_r' (A_rr - A_r1 diag(w) A_r1') Lambda_r + I`` for vector-valued rest terms.

    Lambda_r' is applied to the coupling's non-zeros first (each column's entries in
    a block of rows combined by the block's template), so the Gram of the scaled
    coupling is ``Lambda_r' A_r1 diag(w) A_r1' Lambda_r`` directly; ``A_rr``'s part
    is added on its non-zero blocks only (crossed terms: the level blocks and the
    [X y] rows). Nothing passes over the whole rest but the Gram and the Cholesky.

    Parameters
    ----------
    a_r1 : scipy sparse matrix, shape (m, q1)
        The coupling of the rest with the first (scalar) term's levels.
    a_rr : ndarray, shape (m, m)
        The rest's cross-products.
    blocks : RestBlocks
        Where Lambda_r's blocks sit.
    """

    def __init__(self, a_r1: sp.spmatrix, a_rr: np.ndarray, blocks: RestBlocks) -> None:
        starts = blocks.starts
        self.blocks = blocks
        self.block_of_row = np.repeat(np.arange(len(starts) - 1), np.diff(starts)).astype(np.int64)
        coo = sp.coo_matrix(a_r1)
        # every row of a block that a column meets, as an entry (zero where A has none): the pattern Lambda' A keeps
        block = self.block_of_row[coo.row]
        sizes = starts[block + 1] - starts[block]
        offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
        rows = np.concatenate([coo.row, np.repeat(starts[block], sizes) + offsets])
        cols = np.concatenate([coo.col, np.repeat(coo.col, sizes)])
        values = np.concatenate([coo.data, np.zeros(sizes.sum())])
        _split_columns(self, sp.csc_matrix((values, (rows, cols)), shape=a_r1.shape))
        # a_rr's non-zero block pairs (lower), every diagonal block among them
        nonzero = np.abs(np.tril(a_rr)) > 0
        pair_rows, pair_cols = np.nonzero(nonzero)
        pairs = np.unique(np.concatenate([
            np.column_stack([self.block_of_row[pair_rows], self.block_of_row[pair_cols]]),
            np.column_stack([np.arange(len(starts) - 1)] * 2)]), axis=0)
        self.pair_rows = np.ascontiguousarray(pairs[:, 0], dtype=np.int64)
        self.pair_cols = np.ascontiguousarray(pairs[:, 1], dtype=np.int64)

    def lower(self, a_rr: np.ndarray, col_weights: np.ndarray, tmpls: np.ndarray, q_rest: int,
              out: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The rest block in the lower triangle of a C-ordered array, and its diagonal before the Schur update.

        Parameters
        ----------
        a_rr : ndarray, shape (m, m)
            The rest's cross-products (zero outside the block pairs given at construction).
        col_weights : ndarray, shape (q1,)
            ``w``, one per column of ``A_r1``.
        tmpls : ndarray, shape (t, kmax, kmax)
            The rest terms' templates (zero-padded), then a 1 x 1 identity for [X y].
        q_rest : int
            The random-effects rows (they get the identity added).
        out : ndarray, shape (m, m), optional
            A C-ordered array to form it in; a new one when omitted.

        Returns
        -------
        rest : ndarray, shape (m, m)
            Only the lower triangle is meaningful.
        reference : ndarray, shape (m,)
            The diagonal of ``Lambda' a_rr Lambda + I``.
        """
        blocks = self.blocks
        scaled = self.scaled_coupling(tmpls)
        dense = self.dense
        if len(self.heavy):
            dense = np.ascontiguousarray(_scaled_rows(dense, self.block_of_row, blocks, tmpls))
        out = _gram_lower(dense, self.heavy, self.ptr, self.idx, scaled, self.light, col_weights,
                          np.empty((self.m, self.m)) if out is None else out, -1.0)
        reference = np.empty(self.m)
        _add_scaled_blocks(out, a_rr, self.pair_rows, self.pair_cols, blocks.starts, blocks.template_of_block, tmpls,
                           q_rest, reference)
        return out, reference


    def stacked_templates(self, tmpls: list[np.ndarray]) -> np.ndarray:
        """The rest terms' templates as :meth:`lower` reads them: zero-padded to the widest, then a 1 x 1 identity
        for [X y]'s rows."""
        kmax = max(t.shape[0] for t in tmpls)
        stacked = np.zeros((len(tmpls) + 1, kmax, kmax))
        for i, template in enumerate(tmpls):
            stacked[i, : template.shape[0], : template.shape[0]] = template
        stacked[-1, 0, 0] = 1.0
        return stacked

    def scaled_coupling(self, tmpls: np.ndarray) -> np.ndarray:
        """``Lambda_r' A_r1`` on the completed pattern's entries (``tmpls`` as :meth:`stacked_templates` gives)."""
        scaled = np.empty_like(self.data)
        _scale_coupling(self.ptr, self.idx, self.data, self.block_of_row, self.blocks.starts,
                        self.blocks.template_of_block, tmpls, scaled)
        return scaled


def _scaled_rows(dense: np.ndarray, block_of_row: np.ndarray, blocks: RestBlocks, tmpls: np.ndarray) -> np.ndarray:
    """Lambda' applied to the rows of a dense (m, h) array, block by block."""
    out = np.empty_like(dense)
    for block in range(len(blocks.starts) - 1):
        first, stop = blocks.starts[block], blocks.starts[block + 1]
        t = tmpls[blocks.template_of_block[block]][: stop - first, : stop - first]
        out[first:stop] = t.T @ dense[first:stop]
    return out
