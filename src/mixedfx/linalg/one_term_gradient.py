"""One term's factor and what the criterion's gradient needs from it, in one compiled call.

The same quantities as :func:`mixedfx.linalg.derivatives.dense_derivatives`
(see there for the formulas), for one vector-valued term (``(Days + I(Days^2) |
Subject)``), whose rest is only the fixed effects and the response: each
level's share of ``d log|C|`` and of ``sum rho u'`` is a few k x k products, so
a loop over the levels costs microseconds where numpy's calls cost more than
the arithmetic.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import numba
import numpy as np

from mixedfx.linalg.cholesky import lapack_dpotri
from mixedfx.linalg.layout import lambda_template
from mixedfx.linalg.one_term import factor_one_term
from mixedfx.linalg.pivots import NOT_POSITIVE_DEFINITE, OK

__all__ = ["one_term_derivatives", "back_substitute", "level_effects", "level_residual"]

_template = numba.njit(cache=True)(lambda_template)


@numba.njit(cache=True, error_model="numpy")
def one_term_derivatives(a11, a_r1, a_rr, theta, size):
    """:func:`mixedfx.linalg.one_term.factor_one_term` and the term's two derivative matrices.

    Parameters
    ----------
    a11, a_r1, a_rr : ndarray
        As :func:`~mixedfx.linalg.one_term.factor_one_term`.
    theta : ndarray
        The term's template, lower triangle column-major.
    size : int
        Rows of the rest inside C: the fixed effects' count for REML, 0 for the deviance.

    Returns
    -------
    status, l11, l_r1, l_rr
        As :func:`~mixedfx.linalg.one_term.factor_one_term`.
    logdet, spread : ndarray, shape (k, k)
        :class:`mixedfx.linalg.derivatives.TemplateDerivatives`' matrices (zeros
        where the status is not ``OK``).
    """
    n_levels, k, _ = a11.shape
    p = a_rr.shape[0] - 1
    status, l11, l_r1, l_rr = factor_one_term(a11, a_r1, a_rr, theta)
    logdet = np.zeros((k, k))
    spread = np.zeros((k, k))
    if status != OK:
        return status, l11, l_r1, l_rr, logdet, spread
    t = _template(theta, k)
    beta = back_substitute(l_rr, l_rr[p, :p].copy(), p)
    # (L_ss L_ss')^-1 in the lower triangle of a copy (LAPACK's potri)
    g_ss = l_rr[:size, :size].copy()
    if size and lapack_dpotri(g_ss, size) != 0:
        return NOT_POSITIVE_DEFINITE, l11, l_r1, l_rr, logdet, spread
    inverse = np.zeros((k, k))
    u = np.empty(k)
    rho = np.empty(k)
    v = np.empty((size, k))
    g_s1 = np.empty((size, k))
    g11 = np.empty((k, k))
    first = np.zeros((k, k))
    for lev in range(n_levels):
        low = l11[lev]
        base = lev * k
        level_effects(low, l_r1, beta, base, p, u)
        level_residual(t, a11[lev], a_r1, beta, u, base, p, rho)
        for r in range(k):
            for c in range(k):
                spread[r, c] += rho[r] * u[c]
        _lower_inverse(low, inverse)
        # V = L_s1 L11^-1, G_s1 = -G_ss V, G11 = L11^-T L11^-1 - V' G_s1
        for s in range(size):
            for c in range(k):
                acc = 0.0
                for a in range(c, k):
                    acc += l_r1[s, base + a] * inverse[a, c]
                v[s, c] = acc
        for s in range(size):
            for c in range(k):
                acc = 0.0
                for s2 in range(size):
                    acc -= (g_ss[s, s2] if s >= s2 else g_ss[s2, s]) * v[s2, c]
                g_s1[s, c] = acc
        for a in range(k):
            for c in range(k):
                acc = 0.0
                for e in range(k):
                    acc += inverse[e, a] * inverse[e, c]
                for s in range(size):
                    acc -= v[s, a] * g_s1[s, c]
                g11[a, c] = acc
        # (F' A) on the level's block, F = Lt G: (T G11)' A11 + G_s1' A_s1
        for b in range(k):
            for c in range(k):
                acc = 0.0
                for a in range(k):
                    tg = 0.0
                    for e in range(a + 1):
                        tg += t[a, e] * g11[e, b]
                    acc += tg * a11[lev, a, c]
                for s in range(size):
                    acc += g_s1[s, b] * a_r1[s, base + c]
                first[b, c] += acc
    for r in range(k):
        for c in range(k):
            logdet[r, c] = 2.0 * first[c, r]
    return status, l11, l_r1, l_rr, logdet, spread


@numba.njit(cache=True, error_model="numpy")
def back_substitute(low, rhs, size):
    """Solve ``low[:size, :size]' x = rhs`` (low lower triangular)."""
    x = np.empty(size)
    for i in range(size - 1, -1, -1):
        acc = rhs[i]
        for j in range(i + 1, size):
            acc -= low[j, i] * x[j]
        x[i] = acc / low[i, i]
    return x


@numba.njit(cache=True, error_model="numpy")
def _lower_inverse(low, out):
    """The inverse of a lower triangular k x k ``low`` into ``out`` (zeros above the diagonal)."""
    k = low.shape[0]
    for j in range(k):
        for i in range(j):
            out[i, j] = 0.0
        out[j, j] = 1.0 / low[j, j]
        for i in range(j + 1, k):
            acc = 0.0
            for c in range(j, i):
                acc -= low[i, c] * out[c, j]
            out[i, j] = acc / low[i, i]


@numba.njit(cache=True, error_model="numpy")
def level_effects(low, l_r1, beta, base, p, u):
    """One level's spherical effects: ``low' u = L_y1 - L_X1' beta`` on the level's columns."""
    k = low.shape[0]
    for a in range(k):
        acc = l_r1[p, base + a]
        for i in range(p):
            acc -= l_r1[i, base + a] * beta[i]
        u[a] = acc
    for a in range(k - 1, -1, -1):
        acc = u[a]
        for c in range(a + 1, k):
            acc -= low[c, a] * u[c]
        u[a] = acc / low[a, a]


@numba.njit(cache=True, error_model="numpy")
def level_residual(t, a11, a_r1, beta, u, base, p, rho):
    """One level's ``rho = Z' W (y - X beta) - A11 T u`` on its columns, into ``rho``: ``Z' W r`` at the conditional
    modes (``a11`` the level's block)."""
    k = t.shape[0]
    for r in range(k):
        acc = a_r1[p, base + r]
        for i in range(p):
            acc -= a_r1[i, base + r] * beta[i]
        for c in range(k):
            b = 0.0
            for e in range(c + 1):
                b += t[c, e] * u[e]
            acc -= a11[r, c] * b
        rho[r] = acc
