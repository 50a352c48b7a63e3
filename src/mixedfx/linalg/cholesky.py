"""The Cholesky factorisation of the penalised system: one compiled routine for every factor.

Each factor of ``[Lambda'Z' X' y']' W [Z Lambda X y] + diag(I, 0, 0)`` ends in
the same step: a dense block (the rest after the random effects' Schur update,
or one level's k x k block) whose last column may be the response, factored in
place on its lower triangle. The response's pivot is the penalised residual sum
of squares: it may be zero (the other columns fit the response exactly), so it
is taken by substitution after the leading block and clamped at zero; every
other pivot must clear :func:`mixedfx.linalg.pivots.pivot_floor`.

:func:`cholesky_in_place` does this for a dense block (a compiled loop for small
blocks, LAPACK's ``dpotrf`` above ``_LAPACK_MIN_ORDER``);
:func:`pattern_cholesky_in_place` for a block whose factor's sparsity pattern
is known (nested terms: only the pattern's entries are visited). LAPACK and BLAS
are scipy's, by symbol (:mod:`mixedfx.linalg.lapack`).

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mixedfx.linalg.lapack import dpotrf, dpotri, dsyrk
from mixedfx.linalg.pivots import NOT_POSITIVE_DEFINITE, OK, pivot_floor

__all__ = ["cholesky_in_place", "pattern_cholesky_in_place", "lapack_dpotri", "compiled_pivot_floor", "zero_upper",
           "subtract_gram_lower"]

compiled_pivot_floor = numba.njit(cache=True)(pivot_floor)

# Leading blocks above this order go to LAPACK's blocked factorisation; below it a compiled loop
# costs less than the call
_LAPACK_MIN_ORDER = 64

# Schur updates of fewer products than this are a compiled loop: below it the call into BLAS (and the small arrays
# that pass its arguments) costs more than the arithmetic (sleepstudy's, 216 products, took 1.3 us through BLAS)
_BLAS_MIN_PRODUCTS = 4096


@numba.njit(cache=True, error_model="numpy")
def cholesky_in_place(a, reference, order, response_last):
    """Lower Cholesky factor of a C-ordered block's lower triangle, in place.

    Parameters
    ----------
    a : ndarray, shape (m, m)
        C-ordered; its lower triangle is read and overwritten with the factor
        (the upper triangle is left as it was).
    reference : ndarray, shape (m,)
        Each column's diagonal before any elimination (before a Schur update,
        where ``a`` is one), for the pivot floor.
    order : int
        The order of the whole system ``a`` belongs to, for the pivot floor.
    response_last : bool
        The last column is the response: its pivot may be zero.

    Returns
    -------
    status : int
        ``OK``, or ``NOT_POSITIVE_DEFINITE`` when a pivot (the response's aside)
        is at or below the floor; the factor is then incomplete.
    last : float
        With ``response_last``, the response's pivot (the penalised residual sum
        of squares), clamped at zero; else 0.
    """
    m = a.shape[0]
    lead = m - 1 if response_last else m
    if lead > _LAPACK_MIN_ORDER:
        status = _lapack_leading(a, lead, reference, order)
    else:
        status = _loop_leading(a, lead, reference, order)
    if status != OK or not response_last:
        return status, 0.0
    # the response's row by substitution against the leading factor, then its pivot
    last = m - 1
    total = a[last, last]
    for j in range(last):
        v = a[last, j]
        for b in range(j):
            v -= a[j, b] * a[last, b]
        v /= a[j, j]
        a[last, j] = v
        total -= v * v
    total = max(total, 0.0)
    a[last, last] = math.sqrt(total)
    return OK, total


@numba.njit(cache=True, error_model="numpy")
def _loop_leading(a, lead, reference, order):
    """The leading ``lead`` columns of :func:`cholesky_in_place` by a column loop."""
    for j in range(lead):
        d = a[j, j]
        for b in range(j):
            d -= a[j, b] * a[j, b]
        if not d > compiled_pivot_floor(reference[j], order):
            return NOT_POSITIVE_DEFINITE
        pivot = math.sqrt(d)
        a[j, j] = pivot
        for i in range(j + 1, lead):
            v = a[i, j]
            for b in range(j):
                v -= a[i, b] * a[j, b]
            a[i, j] = v / pivot
    return OK


@numba.njit(cache=True, error_model="numpy")
def _lapack_leading(a, lead, reference, order):
    """The leading ``lead`` columns of :func:`cholesky_in_place` by LAPACK.

    A C-ordered lower triangle is the upper triangle of its Fortran view, so
    ``dpotrf('U')`` factors it without a copy.
    """
    uplo = np.array([ord("U")], dtype=np.uint8)
    size = np.array([lead], dtype=np.int32)
    stride = np.array([a.shape[0]], dtype=np.int32)
    info = np.zeros(1, dtype=np.int32)
    dpotrf(uplo.ctypes, size.ctypes, a.ctypes, stride.ctypes, info.ctypes)
    if info[0] != 0:
        return NOT_POSITIVE_DEFINITE
    for j in range(lead):
        if not a[j, j] * a[j, j] > compiled_pivot_floor(reference[j], order):
            return NOT_POSITIVE_DEFINITE
    return OK


@numba.njit(cache=True, error_model="numpy")
def pattern_cholesky_in_place(a, reference, order, row_ptr, row_idx, col_ptr, col_idx):
    """:func:`cholesky_in_place` (response last) visiting only the factor's known sparsity pattern.

    Parameters
    ----------
    a : ndarray, shape (m, m)
        C-ordered; only entries on the pattern are read or written.
    reference, order
        As for :func:`cholesky_in_place`.
    row_ptr, row_idx : ndarray of int
        The pattern's entries left of the diagonal, row by row (CSR, sorted).
    col_ptr, col_idx : ndarray of int
        The pattern's entries below the diagonal, column by column (CSC, sorted).

    Returns
    -------
    status, last
        As :func:`cholesky_in_place`.
    """
    m = a.shape[0]
    for j in range(m):
        s = a[j, j]
        for kk in range(row_ptr[j], row_ptr[j + 1]):
            k = row_idx[kk]
            s -= a[j, k] * a[j, k]
        if j == m - 1:
            s = max(s, 0.0)
            a[j, j] = math.sqrt(s)
            return OK, s
        if not s > compiled_pivot_floor(reference[j], order):
            return NOT_POSITIVE_DEFINITE, 0.0
        d = math.sqrt(s)
        a[j, j] = d
        for ii in range(col_ptr[j], col_ptr[j + 1]):
            i = col_idx[ii]
            s = a[i, j]
            for kk in range(row_ptr[j], row_ptr[j + 1]):
                k = row_idx[kk]
                s -= a[i, k] * a[j, k]
            a[i, j] = s / d
    return OK, 0.0


@numba.njit(cache=True, error_model="numpy")
def lapack_dpotri(a, size):
    """The inverse from a Cholesky factor (LAPACK's ``dpotri``) on the leading ``size`` block, in place.

    ``a`` is C-ordered with the factor in its lower triangle; the inverse's lower
    triangle replaces it. Returns LAPACK's info (0 on success).
    """
    uplo = np.array([ord("U")], dtype=np.uint8)  # C order's lower triangle is LAPACK's upper
    n = np.array([size], dtype=np.int32)
    stride = np.array([a.shape[0]], dtype=np.int32)
    info = np.zeros(1, dtype=np.int32)
    dpotri(uplo.ctypes, n.ctypes, a.ctypes, stride.ctypes, info.ctypes)
    return info[0]


@numba.njit(cache=True, error_model="numpy")
def zero_upper(a):
    """Zeros above the diagonal of a square array, in place (a factor formed in a full block)."""
    m = a.shape[0]
    for i in range(m - 1):
        a[i, i + 1:] = 0.0


@numba.njit(cache=True, error_model="numpy")
def subtract_gram_lower(a, out):
    """``out``'s lower triangle less that of ``a a'`` (a factor's Schur update), in place (BLAS's ``dsyrk``; a loop
    below ``_BLAS_MIN_PRODUCTS`` products).

    Parameters
    ----------
    a : ndarray, shape (m, k)
        C-ordered.
    out : ndarray, shape (m, m)
        C-ordered; above the diagonal it keeps what it held.
    """
    m, k = a.shape
    if m == 0 or k == 0:
        return
    if m * (m + 1) // 2 * k < _BLAS_MIN_PRODUCTS:
        for i in range(m):
            for j in range(i + 1):
                acc = 0.0
                for c in range(k):
                    acc += a[i, c] * a[j, c]
                out[i, j] -= acc
        return
    # the Fortran views are a' (k x m) and out' (whose upper triangle is out's lower): out' -= (a')' a'
    uplo = np.array([ord("U")], dtype=np.uint8)
    trans = np.array([ord("T")], dtype=np.uint8)
    n_rows = np.array([m], dtype=np.int32)
    inner = np.array([k], dtype=np.int32)
    alpha = np.array([-1.0])
    beta = np.array([1.0])
    lda = np.array([k], dtype=np.int32)
    ldc = np.array([m], dtype=np.int32)
    dsyrk(uplo.ctypes, trans.ctypes, n_rows.ctypes, inner.ctypes, alpha.ctypes, a.ctypes, lda.ctypes, beta.ctypes,
           out.ctypes, ldc.ctypes)
