"""The factor of vector-valued terms with a dense coupling (crossed maximal models), compiled.

The first term's levels are factored one k x k block at a time
(:func:`mixedfx.linalg.one_term.factor_levels`), the other terms' templates act
on the rest's rows level by level (:func:`apply_templates`), the rest's Schur
update is one Gram product (BLAS) and the rest is factored in place
(:func:`mixedfx.linalg.cholesky.cholesky_in_place`):

``L_r1 = Lambda_r' A_r1 blockdiag(T1 L11_i^-T)``,
``L_rr L_rr' = Lambda_r' A_rr Lambda_r + I - L_r1 L_r1'``.

:class:`mixedfx.linalg.factorizer.VectorDenseFactorizer` factors with it at each
theta, and the compiled PIRLS of such models
(:mod:`mixedfx.glmm.vector_pirls`) at each iteration's weights, with no
Python in between. :func:`solve_dense` solves the factor for the fixed and
spherical random effects.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import numba
import numpy as np

from mixedfx.linalg.cholesky import cholesky_in_place, subtract_gram_lower, zero_upper
from mixedfx.linalg.layout import lambda_template
from mixedfx.linalg.one_term import factor_levels
from mixedfx.linalg.pivots import OK

__all__ = ["stacked_templates", "apply_templates", "apply_rest_templates", "factor_dense_coupling", "solve_dense"]

_template = numba.njit(cache=True)(lambda_template)


@numba.njit(cache=True, error_model="numpy")
def stacked_templates(theta, ks):
    """Each term's template from theta, stacked and padded with zeros to the widest term.

    Parameters
    ----------
    theta : ndarray
        Lower triangles, column-major, term by term (internal order).
    ks : ndarray of int
        Columns per term.

    Returns
    -------
    ndarray, shape (len(ks), kmax, kmax)
    """
    kmax = 1
    for k in ks:
        kmax = max(kmax, k)
    out = np.zeros((ks.shape[0], kmax, kmax))
    start = 0
    for t in range(ks.shape[0]):
        k = ks[t]
        size = k * (k + 1) // 2
        out[t, :k, :k] = _template(theta[start: start + size], k)
        start += size
    return out


@numba.njit(cache=True, error_model="numpy")
def apply_templates(a, tmpls, ks, n_levels, transpose, out):
    """``Lambda' a`` (``transpose``) or ``Lambda a`` into ``out``, for a C-ordered ``a`` whose rows are the terms'.

    Each term's rows (level-major, k per level) are multiplied level by level by
    its template (or the template transposed); the rows after the terms' (X and
    y) are copied.

    Parameters
    ----------
    a : ndarray, shape (m, c)
    tmpls : ndarray, shape (terms, kmax, kmax)
        :func:`stacked_templates` of the terms whose rows ``a`` starts with.
    ks, n_levels : ndarray of int
        Columns and levels per term.
    transpose : bool
    out : ndarray, shape (m, c)
        Written in full; not ``a``.
    """
    m, c = a.shape
    start = 0
    for t in range(ks.shape[0]):
        k = ks[t]
        tmpl = tmpls[t]
        for lev in range(n_levels[t]):
            base = start + lev * k
            for r in range(k):
                row = out[base + r]
                row[:] = 0.0
                # lower-triangular: T'[r, b] = T[b, r] is 0 for b < r, T[r, b] for b > r
                lo, hi = (r, k) if transpose else (0, r + 1)
                for b in range(lo, hi):
                    coef = tmpl[b, r] if transpose else tmpl[r, b]
                    source = a[base + b]
                    for j in range(c):
                        row[j] += coef * source[j]
        start += k * n_levels[t]
    for i in range(start, m):
        out[i] = a[i]


def apply_rest_templates(a: np.ndarray, tmpls: list[np.ndarray], n_levels: list[int], transpose: bool) -> np.ndarray:
    """``Lambda_r' a`` (``transpose``) or ``Lambda_r a`` for a dense ``a`` whose rows are the rest's.

    Each term's rows are multiplied level by level by its template (or the
    template transposed); any rows after the terms' (X and y) are copied as they
    are (:func:`apply_templates`).

    Parameters
    ----------
    a : ndarray, shape (m, c)
        Rows: the rest's terms level-major, then any others.
    tmpls : list of ndarray
        The rest's templates (k x k each).
    n_levels : list of int
        Levels per rest term.
    transpose : bool
        Apply each template transposed.

    Returns
    -------
    ndarray, shape (m, c)

    Examples
    --------
    >>> apply_rest_templates(np.ones((3, 1)), [np.array([[2.0, 0.0], [1.0, 3.0]])], [1], transpose=True).ravel()
    array([3., 3., 1.])
    """
    ks = np.array([t.shape[0] for t in tmpls], dtype=np.int64)
    stacked = np.zeros((len(tmpls), max(ks, default=1), max(ks, default=1)))
    for i, template in enumerate(tmpls):
        stacked[i, : ks[i], : ks[i]] = template
    source = np.ascontiguousarray(a, dtype=float)
    out = np.empty_like(source)
    apply_templates(source, stacked, ks, np.asarray(n_levels, dtype=np.int64), transpose, out)
    return out


@numba.njit(cache=True, error_model="numpy")
def factor_dense_coupling(a11, a_r1, a_rr, theta, ks, n_levels, l11, l_r1, l_rr):
    """The blocked factor of vector-valued terms with a dense coupling, into ``l11``, ``l_r1``, ``l_rr``.

    Parameters
    ----------
    a11 : ndarray, shape (l1, k1, k1)
        The first term's level blocks of Z1' W Z1.
    a_r1 : ndarray, shape (m, l1 * k1)
        [Z2 .. Zk X y]' W Z1, C-ordered.
    a_rr : ndarray, shape (m, m)
        [Z2 .. Zk X y]' W [Z2 .. Zk X y], symmetric, C-ordered.
    theta : ndarray
        Internal term order.
    ks, n_levels : ndarray of int
        Columns and levels per term, the first term's first.
    l11, l_r1, l_rr : ndarray
        Shaped as ``a11``, ``a_r1``, ``a_rr``: the factor's blocks (``l_rr`` lower
        triangular, zeros above).

    Returns
    -------
    int
        ``OK``, or ``NOT_POSITIVE_DEFINITE`` when a pivot (the response's aside)
        is at or below :func:`mixedfx.linalg.pivots.pivot_floor`; the factor is
        then incomplete.
    """
    tmpls = stacked_templates(theta, ks)
    k1 = ks[0]
    status, levels, coupling, _ = factor_levels(np.ascontiguousarray(tmpls[0, :k1, :k1]), a11, a_r1)
    if status != OK:
        return status
    l11[:] = levels
    rest_tmpls, rest_ks, rest_levels = tmpls[1:], ks[1:], n_levels[1:]
    apply_templates(coupling, rest_tmpls, rest_ks, rest_levels, True, l_r1)
    # Lambda_r' A_rr Lambda_r = Lambda_r' (Lambda_r' A_rr)' (A_rr symmetric)
    half = np.empty_like(a_rr)
    apply_templates(a_rr, rest_tmpls, rest_ks, rest_levels, True, half)
    apply_templates(np.ascontiguousarray(half.T), rest_tmpls, rest_ks, rest_levels, True, l_rr)
    m = a_rr.shape[0]
    q_rest = 0
    for t in range(rest_ks.shape[0]):
        q_rest += rest_ks[t] * rest_levels[t]
    reference = np.empty(m)  # each column's diagonal before the Schur update, identity included
    for i in range(m):
        reference[i] = l_rr[i, i] + (1.0 if i < q_rest else 0.0)
    subtract_gram_lower(l_r1, l_rr)  # the Schur update: one BLAS product over all levels
    for i in range(q_rest):
        l_rr[i, i] += 1.0
    status = cholesky_in_place(l_rr, reference, a11.shape[0] * k1 + m, True)[0]
    zero_upper(l_rr)
    return status


@numba.njit(cache=True, error_model="numpy")
def solve_dense(l11, l_r1, l_rr, u, b):
    """Fixed effects (into ``b``) and spherical random effects (into ``u``) from a factor with a dense coupling.

    The rest's random effects and the fixed effects solve ``L_rr'`` against its
    last row; the first term's solve each level's ``L11_i'`` against the
    coupling's last row less what the rest explains.

    Parameters
    ----------
    l11, l_r1, l_rr : ndarray
        :func:`factor_dense_coupling`'s blocks.
    u : ndarray, shape (q,)
        Internal column order: the first term's level-major, then the rest's.
    b : ndarray, shape (p,)
    """
    m = l_rr.shape[0]
    n1, k1 = l11.shape[0], l11.shape[1]
    q1 = n1 * k1
    q_rest = m - b.shape[0] - 1
    v = np.empty(m - 1)
    for j in range(m - 2, -1, -1):
        s = l_rr[m - 1, j]
        for i in range(j + 1, m - 1):
            s -= l_rr[i, j] * v[i]
        v[j] = s / l_rr[j, j]
    for i in range(q_rest):
        u[q1 + i] = v[i]
    for j in range(b.shape[0]):
        b[j] = v[q_rest + j]
    rhs = l_r1[m - 1].copy()
    for i in range(m - 1):
        vi = v[i]
        row = l_r1[i]
        for c in range(q1):
            rhs[c] -= row[c] * vi
    for lev in range(n1):
        low = l11[lev]
        base = lev * k1
        for r in range(k1 - 1, -1, -1):
            s = rhs[base + r]
            for c in range(r + 1, k1):
                s -= low[c, r] * u[base + c]
            u[base + r] = s / low[r, r]
