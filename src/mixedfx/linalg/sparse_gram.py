"""The Schur complement of the first term's block when every random-effects term is scalar.

With scalar terms the first term's factor is diagonal, and the rest block of
the penalised system is ``R (A_rr - A_r1 diag(w) A_r1') R + I`` (R diagonal,
``w`` one weight per level of the first term). Its Gram part costs, per
level, the square of the number of rest rows that level meets. Crossed data
(ratings: users by items) have a few levels meeting many rows: those columns
of ``A_r1`` are kept dense and go through one BLAS rank-k update; the many
light columns go through a compiled loop over their non-zeros. Everything is
formed in the lower triangle of one C-ordered array, which
:func:`mixedfx.linalg.cholesky.cholesky_in_place` then factors in place.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import numba
import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

__all__ = ["ScalarSchur", "add_column_products", "column_quadratic_forms", "heavy_columns"]

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


class ScalarSchur:
    """``A_r1`` split into dense heavy columns and sparse light ones, ready for :meth:`lower`.

    Parameters
    ----------
    a_r1 : scipy sparse matrix, shape (m, q1)
        The coupling of the rest with the first term's levels.
    """

    def __init__(self, a_r1: sp.spmatrix) -> None:
        csc = sp.csc_matrix(a_r1)
        csc.sort_indices()
        m = csc.shape[0]
        nnz = np.diff(csc.indptr)
        is_heavy = heavy_columns(nnz, m)
        self.heavy = np.flatnonzero(is_heavy)
        self.light = np.flatnonzero(~is_heavy)
        # C-ordered (m, h): its transpose is the Fortran array BLAS reads without a copy
        self.dense = np.ascontiguousarray(csc[:, self.heavy].toarray())
        self.ptr = csc.indptr.astype(np.int64)
        self.idx = csc.indices.astype(np.int64)
        self.data = csc.data.astype(float)
        self.m = m

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
        if out is None:
            out = np.empty((self.m, self.m))
        if len(self.heavy):
            scaled = self.dense * np.sqrt(col_weights[self.heavy])
            # BLAS on the Fortran views (h, m) and (m, m): the upper triangle of A'A is our lower triangle
            sla.blas.dsyrk(1.0, scaled.T, trans=1, lower=0, c=out.T, overwrite_c=1)
        else:
            out.fill(0.0)
        add_column_products(self.ptr, self.idx, self.data, self.light, np.ascontiguousarray(col_weights), out)
        _scale_lower(out, a_rr, rows, q_rest)
        return out

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
