"""Compiled PIRLS for generalized models whose random-effects terms are all scalar.

Most generalized mixed models have only ``(1 | g)``-type terms. For them every
PIRLS iteration (working weights, the cross-products, the blocked Cholesky
factor, the solve and the new linear predictor) runs here as a few compiled
passes over the rows, with no Python between iterations. The passes sum over
the rows in row order, as the Python loop does, except the [X y] block's dot
products, which sum in SIMD lanes (results differ in the last bits).
The algorithm is the one of :meth:`mixedfx.glmm.model.GeneralizedLinearMixedModel.pirls`
(same convergence test, same step-halving, the factor at the previous
iteration's weights); that method uses this module when
:func:`mixedfx.glmm.family_kernels.compiled_family` knows the family.

The factor's block layout is that of :mod:`mixedfx.linalg.blocks`: a diagonal block for
the first term, a sparse coupling block, and the rest (other terms, fixed
effects, the working response) in dense storage. The rest is factored by a
Cholesky that visits only the entries its sparsity pattern (fill included,
worked out once per model) can make non-zero, so nested terms cost what their
few non-zeros cost. A rest that crossed terms fill is stored full: the Gram
product of the levels meeting many of its rows is one BLAS call, and above 100
rows LAPACK factors it.

Asked for the gradient, a run records each iteration (its start, working values,
factor and solution) and takes the Laplace deviance's gradient backwards through
them (:mod:`mixedfx.glmm.laplace_gradient`).

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numba
from numba.typed import List
import numpy as np
import scipy.sparse as sp

from mixedfx.glmm.family_kernels import derivatives, dev_resid, mean
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.layout import BlockLayout, TermLayout
from mixedfx.glmm.laplace_gradient import laplace_gradient
from mixedfx.glmm.pirls_status import HALVING_FAILED, NOT_CONVERGED, NOT_FINITE, OK
from mixedfx.linalg.cholesky import cholesky_in_place, pattern_cholesky_in_place
from mixedfx.linalg.sparse_gram import add_column_products, heavy_columns

__all__ = ["GradientTerms",
           "ScalarPirls", "ScalarPirlsResult"]

_VECTOR = numba.types.float64[::1]

# A rest block whose factor is at least this share filled is stored full; above this size LAPACK factors it
_DENSE_SHARE = 0.3
_DENSE_MIN_SIZE = 100


@numba.njit(cache=True, error_model="numpy")
def _means(code, eta, mu):
    """The means at eta, in place."""
    for r in range(eta.shape[0]):
        mu[r] = mean(code, eta[r])[0]


@numba.njit(cache=True, error_model="numpy")
def _penalised_deviance(code, y, wts, u, mu, resid):
    """Sum of the deviance residuals (filled in) plus ||u||^2.

    A pass of its own: with the exp of :func:`_means` in the same loop, each row's
    exp, division and log form one chain that the next row cannot overlap.
    """
    total = 0.0
    for r in range(mu.shape[0]):
        resid[r] = dev_resid(code, y[r], mu[r], wts[r])
        total += resid[r]
    for i in range(u.shape[0]):
        total += u[i] * u[i]
    return total


@numba.njit(cache=True, error_model="numpy")
def _linear_predictor(base, X_t, b, u, codes, zs, theta, u_offsets, eta):
    """eta = base + X b + Z Lambda u, in place, one column at a time (each pass vectorises); X_t is X transposed."""
    for r in range(eta.shape[0]):
        eta[r] = base[r]
    for j in range(X_t.shape[0]):
        x, bj = X_t[j], b[j]
        for r in range(eta.shape[0]):
            eta[r] += x[r] * bj
    for t in range(codes.shape[0]):
        level, z, th, ut = codes[t], zs[t], theta[t], u[u_offsets[t]:u_offsets[t + 1]]
        for r in range(eta.shape[0]):
            eta[r] += z[r] * th * ut[level[r]]


@numba.njit(cache=True, error_model="numpy")
def _update(code, base, X_t, b, u, codes, zs, theta, u_offsets, y, wts, eta, mu, resid):
    """The linear predictor, means and deviance residuals at (b, u) in place; returns the penalised deviance."""
    _linear_predictor(base, X_t, b, u, codes, zs, theta, u_offsets, eta)
    _means(code, eta, mu)
    return _penalised_deviance(code, y, wts, u, mu, resid)


@numba.njit(cache=True, error_model="numpy")
def _working_values(code, eta, mu, base, y, wts, w, wy):
    """Working weights (into ``w``) and response (into ``wy``) at eta, whose means are mu.

    Returns False where one is not finite. No exit inside the loop, so that it vectorises.
    """
    finite = True
    for r in range(eta.shape[0]):
        mu_eta, var = derivatives(code, eta[r], mu[r])
        wy[r] = eta[r] - base[r] + (y[r] - mu[r]) / mu_eta
        w[r] = wts[r] * mu_eta * mu_eta / var
        finite &= np.isfinite(wy[r]) & np.isfinite(w[r])
    return finite


@numba.njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _dot(a, b):
    """Dot product, summed in whatever order vectorises (partial sums in SIMD lanes; NaN and inf kept)."""
    total = 0.0
    for r in range(a.shape[0]):
        total += a[r] * b[r]
    return total


@numba.njit(cache=True, error_model="numpy")
def _accumulate(w, xy, codes, zs, rest_offsets, pos, dense_pos, a11, coupling, rest, weighted):
    """The cross-products that meet a random-effects entry: A11's diagonal, the coupling, the rest's pairs.

    ``xy`` holds [X y] transposed; ``weighted`` gets it times the weights, for the
    [X y] block's BLAS product in :func:`_factor`. Every entry sums its rows in row order.
    """
    n_terms, n = codes.shape
    p = xy.shape[0] - 1
    q_rest = rest.shape[0] - p - 1
    first, z_first = codes[0], zs[0]
    for r in range(n):
        wr = w[r]
        level = first[r]
        wz0 = wr * z_first[r]
        a11[level] += wz0 * z_first[r]
        start = dense_pos[level]
        for j in range(p + 1):
            v = xy[j, r]
            coupling[start + j] += wz0 * v
            weighted[j, r] = wr * v
        for t in range(1, n_terms):
            z = zs[t, r]
            col = rest_offsets[t] + codes[t, r]
            coupling[pos[t - 1, r]] += wz0 * z
            wz = wr * z
            for s in range(1, t):
                rest[col, rest_offsets[s] + codes[s, r]] += wz * zs[s, r]
            rest[col, col] += wz * z
            for j in range(p + 1):
                rest[q_rest + j, col] += weighted[j, r] * z


@numba.njit(cache=True, error_model="numpy")
def _factor(code, eta, mu, base, y, wts, codes, zs, theta, rest_offsets, pos, col_ptr, row_idx, dense_pos,
            row_scale_term, chol_row_ptr, chol_row_idx, chol_col_ptr, chol_col_idx, light, heavy, dense,
            a11, coupling, rest, w, xy, weighted):
    """Working weights and response at eta (whose means are mu), the cross-products, and the blocked factor in place.

    ``w`` (n) and ``weighted`` (p + 1, n) are workspace; ``xy`` holds X transposed in
    its first p rows, and gets the working response in its last.

    Returns 0, or the status that stops PIRLS.
    """
    p = xy.shape[0] - 1
    m = rest.shape[0]
    q_rest = m - p - 1
    if not _working_values(code, eta, mu, base, y, wts, w, xy[p]):
        return NOT_FINITE
    a11[:] = 0.0
    coupling[:] = 0.0
    if dense:  # a full lower triangle: row by row, in memory order
        for i in range(m):
            rest[i, : i + 1] = 0.0
    else:  # only the factor's pattern is ever written
        for j in range(m):
            rest[j, j] = 0.0
            for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
                rest[chol_col_idx[ii], j] = 0.0
    _accumulate(w, xy, codes, zs, rest_offsets, pos, dense_pos, a11, coupling, rest, weighted)
    # the [X y] block's lower triangle, a dot product per entry: less than BLAS's time for the
    # whole square, and no BLAS threads to compete with runs in threads
    for i in range(p + 1):
        for j in range(i + 1):
            rest[q_rest + i, q_rest + j] += _dot(weighted[i], xy[j])
    # L11, L_r1 = R A_r1 diag(theta1 / L11), rest = R A_rr R - L_r1 L_r1' + I
    scale = np.ones(m)  # R's diagonal
    for i in range(q_rest):
        scale[i] = theta[row_scale_term[i]]
    th0 = theta[0]
    for level in range(a11.shape[0]):
        d = math.sqrt(th0 * th0 * a11[level] + 1.0)
        a11[level] = d
        c = th0 / d
        for idx in range(col_ptr[level], col_ptr[level + 1]):
            coupling[idx] *= scale[row_idx[idx]] * c
    if dense:
        for i in range(m):
            for j in range(min(i + 1, q_rest)):
                rest[i, j] *= scale[i] * scale[j]
    else:
        for j in range(q_rest):
            rest[j, j] *= scale[j] * scale[j]
            for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
                i = chol_col_idx[ii]
                rest[i, j] *= scale[j] * scale[i]
    # each column's diagonal before the Schur update, for the pivot floor
    reference = np.empty(m)
    for i in range(m):
        reference[i] = rest[i, i] + (1.0 if i < q_rest else 0.0)
    order = a11.shape[0] + m
    add_column_products(col_ptr, row_idx, coupling, light, np.full(a11.shape[0], -1.0), rest)
    if heavy.shape[0]:
        # levels meeting many rows: one BLAS product instead of their pair loops
        block = np.zeros((m, heavy.shape[0]))
        for h in range(heavy.shape[0]):
            for idx in range(col_ptr[heavy[h]], col_ptr[heavy[h] + 1]):
                block[row_idx[idx], h] = coupling[idx]
        gram = np.dot(block, block.T)
        for i in range(m):
            for j in range(i + 1):
                rest[i, j] -= gram[i, j]
    for i in range(q_rest):
        rest[i, i] += 1.0
    if dense:
        return cholesky_in_place(rest, reference, order, True)[0]
    # only the factor's pattern: nested terms cost what their few non-zeros cost
    return pattern_cholesky_in_place(rest, reference, order, chol_row_ptr, chol_row_idx, chol_col_ptr,
                                     chol_col_idx)[0]


@numba.njit(cache=True, error_model="numpy")
def _solve(a11, coupling, rest, col_ptr, row_idx, chol_col_ptr, chol_col_idx, u, b):
    """Fixed effects (b) and spherical random effects (u) from the factor."""
    m = rest.shape[0]
    p = b.shape[0]
    q_rest = m - p - 1
    l0 = a11.shape[0]
    v = np.empty(m - 1)
    for j in range(m - 2, -1, -1):
        s = rest[m - 1, j]
        for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
            i = chol_col_idx[ii]
            if i < m - 1:
                s -= rest[i, j] * v[i]
        v[j] = s / rest[j, j]
    for i in range(q_rest):
        u[l0 + i] = v[i]
    for j in range(p):
        b[j] = v[q_rest + j]
    for level in range(l0):
        hi = col_ptr[level + 1] - 1  # the response's entry comes last in each column
        s = coupling[hi]
        for idx in range(col_ptr[level], hi):
            s -= coupling[idx] * v[row_idx[idx]]
        u[level] = s / a11[level]


@numba.njit(cache=True, error_model="numpy")
def _result(status, iterations, eta, mu, u, b, resid, l11, coupling, rest, chol_col_ptr, chol_col_idx, gradient):
    """What a run returns: its state, the factor's pattern values, log |L_Z|^2 and the gradient (if asked for)."""
    logdet = 0.0
    for level in range(l11.shape[0]):
        logdet += math.log(l11[level])
    for j in range(rest.shape[0] - b.shape[0] - 1):
        logdet += math.log(rest[j, j])
    return (status, iterations, eta, mu, u, b, resid, l11, coupling,
            _pattern_values(rest, chol_col_ptr, chol_col_idx), 2.0 * logdet, gradient)


@numba.njit(cache=True, error_model="numpy")
def _pattern_values(rest, chol_col_ptr, chol_col_idx):
    """The factor's diagonal, then its pattern below the diagonal column by column (the workspace is reused)."""
    m = rest.shape[0]
    out = np.empty(m + chol_col_idx.shape[0])
    for j in range(m):
        out[j] = rest[j, j]
        for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
            out[m + ii] = rest[chol_col_idx[ii], j]
    return out


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _pirls(code, y, wts, X_t, base, eta_start, mu_start, codes, zs, theta, rest_offsets, u_offsets, pos, col_ptr,
           row_idx, dense_pos, row_scale_term, chol_row_ptr, chol_row_idx, chol_col_ptr, chol_col_idx, light, heavy,
           dense, tol, max_iter, max_halvings, rest, with_gradient, tangent_t, ll_a, ll_b):
    """PIRLS from eta_start; ``with_gradient``, also the Laplace deviance's gradient.

    The gradient (see :mod:`mixedfx.glmm.laplace_gradient`) is over theta then the
    coefficients of ``tangent_t``'s rows (stage 2's X transposed, whose product
    with beta is in ``base``), for the log-likelihood's coefficients ``ll_a`` and
    ``ll_b``; it is NaN where step-halving broke the iterations' smooth path, and
    empty without ``with_gradient``.
    """
    p, n = X_t.shape[0], y.shape[0]
    q = u_offsets[-1]
    l0 = u_offsets[1]
    a11 = np.empty(l0)
    coupling = np.empty(row_idx.shape[0])
    w = np.empty(n)
    xy = np.empty((p + 1, n))
    for j in range(p):
        for r in range(n):
            xy[j, r] = X_t[j, r]
    weighted = np.empty((p + 1, n))
    eta = eta_start.copy()
    mu = mu_start.copy()
    resid = np.empty(n)
    u = np.zeros(q)
    b = np.zeros(p)
    old_u = np.zeros(q)
    old_b = np.zeros(p)
    old_pdev = np.inf
    tracking = with_gradient
    gradient = np.zeros(codes.shape[0] + tangent_t.shape[0] if with_gradient else 0)
    # each iteration's start, working values, factor and solution, for the gradient
    etas, mus, ws = List.empty_list(_VECTOR), List.empty_list(_VECTOR), List.empty_list(_VECTOR)
    wys, l11s, couplings = List.empty_list(_VECTOR), List.empty_list(_VECTOR), List.empty_list(_VECTOR)
    rests, us = List.empty_list(_VECTOR), List.empty_list(_VECTOR)
    for it in range(max_iter):
        status = _factor(code, eta, mu, base, y, wts, codes, zs, theta, rest_offsets, pos, col_ptr, row_idx,
                         dense_pos, row_scale_term, chol_row_ptr, chol_row_idx, chol_col_ptr, chol_col_idx,
                         light, heavy, dense, a11, coupling, rest, w, xy, weighted)
        if status != OK:
            return _result(status, it, eta, mu, u, b, resid, a11, coupling, rest, chol_col_ptr, chol_col_idx,
                           gradient)
        _solve(a11, coupling, rest, col_ptr, row_idx, chol_col_ptr, chol_col_idx, u, b)
        if tracking:
            etas.append(eta.copy())
            mus.append(mu.copy())
            ws.append(w.copy())
            wys.append(xy[p].copy())
            l11s.append(a11.copy())
            couplings.append(coupling.copy())
            rests.append(_pattern_values(rest, chol_col_ptr, chol_col_idx))
            us.append(u.copy())
        pdev = _update(code, base, X_t, b, u, codes, zs, theta, u_offsets, y, wts, eta, mu, resid)
        if abs(old_pdev - pdev) < tol * pdev:
            if tracking:
                laplace_gradient(code, wts, ll_a, ll_b, base, X_t, tangent_t, codes, zs, theta, rest_offsets,
                                 u_offsets, pos, col_ptr, row_idx, chol_col_ptr, chol_col_idx, rest.shape[0], dense,
                                 etas, mus, ws, wys, l11s, couplings, rests, us, eta, mu, gradient)
            return _result(OK, it + 1, eta, mu, u, b, resid, a11, coupling, rest, chol_col_ptr, chol_col_idx,
                           gradient)
        if pdev > old_pdev:
            gradient[:] = np.nan
            tracking = False
            for _ in range(max_halvings):
                for i in range(q):
                    u[i] = (old_u[i] + u[i]) / 2.0
                for j in range(p):
                    b[j] = (old_b[j] + b[j]) / 2.0
                pdev = _update(code, base, X_t, b, u, codes, zs, theta, u_offsets, y, wts, eta, mu, resid)
                if pdev <= old_pdev:
                    break
            if pdev - old_pdev > tol:
                return _result(HALVING_FAILED, it + 1, eta, mu, u, b, resid, a11, coupling, rest, chol_col_ptr,
                               chol_col_idx, gradient)
        old_pdev = pdev
        for i in range(q):
            old_u[i] = u[i]
        for j in range(p):
            old_b[j] = b[j]
    return _result(NOT_CONVERGED, max_iter, eta, mu, u, b, resid, a11, coupling, rest, chol_col_ptr, chol_col_idx,
                   gradient)


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


def _sorted_unique(keys: np.ndarray, bound: int) -> np.ndarray:
    """The distinct values of non-negative ``keys`` below ``bound``, sorted: by a table where that is small."""
    if bound > 4 * len(keys) + 4096:
        return np.unique(keys)
    seen = np.zeros(bound, dtype=bool)
    seen[keys] = True
    return np.flatnonzero(seen)


class GradientTerms(NamedTuple):
    """What a run needs to return the Laplace deviance's gradient (see :meth:`ScalarPirls.run`).

    Attributes
    ----------
    tangent_t : ndarray, shape (k, n)
        Rows whose coefficients are parameters held in ``base``, C-ordered: X
        transposed in stage 2, none in stage 1. The gradient is over theta, then
        these coefficients.
    a, b : ndarray
        The log-likelihood's coefficients
        (:class:`mixedfx.glmm.family_kernels.LogLikelihoodTerms`).
    """

    tangent_t: np.ndarray
    a: np.ndarray
    b: np.ndarray


class ScalarPirlsResult(NamedTuple):
    """What one compiled PIRLS run ends with (see :meth:`ScalarPirls.run`); a tuple, built at every evaluation."""

    status: int
    iterations: int
    eta: np.ndarray
    mu: np.ndarray
    u: np.ndarray
    beta: np.ndarray
    dev_resids: np.ndarray
    l11: np.ndarray
    coupling: np.ndarray
    rest_values: np.ndarray
    logdet_re: float
    gradient: np.ndarray


class ScalarPirls:
    """The sparsity structure of one scalar-term model, and its compiled PIRLS.

    Parameters
    ----------
    layouts : list of TermLayout
        Random-effects terms in internal order, each with one column.
    X : ndarray, shape (n, p)
        The columns PIRLS updates with the random effects (none in stage 2).
    code : int
        :func:`mixedfx.glmm.family_kernels.compiled_family`'s code.
    """

    def __init__(self, layouts: list[TermLayout], X: np.ndarray, code: int) -> None:
        if any(t.k != 1 for t in layouts) or code == 0:
            raise ValueError("the compiled PIRLS needs scalar terms and a compiled family")
        self.code = code
        self.X_t = np.ascontiguousarray(np.asarray(X, dtype=float).T)
        p = self.X_t.shape[0]
        # a run without the gradient still passes arrays of the gradient's types
        self._no_gradient = GradientTerms(np.zeros((1, 0)), np.zeros(0), np.zeros(0))
        self.codes = np.ascontiguousarray(np.stack([t.codes for t in layouts]), dtype=np.int64)
        self.zs = np.ascontiguousarray(np.stack([t.z[:, 0] for t in layouts]), dtype=float)
        n_levels = np.array([t.n_levels for t in layouts], dtype=np.int64)
        self.n_levels = n_levels
        self.rest_offsets = np.concatenate([[0, 0], np.cumsum(n_levels[1:])])[: len(layouts)].astype(np.int64)
        self.u_offsets = np.concatenate([[0], np.cumsum(n_levels)]).astype(np.int64)
        q_rest = int(n_levels[1:].sum())
        self.m = q_rest + p + 1
        self.row_scale_term = np.repeat(np.arange(1, len(layouts)), n_levels[1:]).astype(np.int64)
        self._coupling_pattern(q_rest, p)
        nnz = np.diff(self.col_ptr)
        met = nnz - p - 1  # the other terms' levels each first-term level meets (their pairs fill the rest)
        full = (met * (met + 1)).sum() >= _DENSE_SHARE * self.m * (self.m + 1)
        if not full:
            pattern = _pattern(self.codes, self.rest_offsets, self.col_ptr, self.row_idx, self.m, q_rest)
            full = pattern.sum() >= _DENSE_SHARE * self.m * (self.m + 1) / 2
        if full:
            pattern = np.ones((self.m, self.m), dtype=bool)
        self.dense = full and self.m > _DENSE_MIN_SIZE
        # with a full pattern, levels meeting many rows take a BLAS product (a sparse one must not be filled)
        is_heavy = full & heavy_columns(nnz, self.m)
        self.heavy = np.flatnonzero(is_heavy).astype(np.int64)
        self.light = np.flatnonzero(~is_heavy).astype(np.int64)
        lower = np.tril(pattern, -1)
        cols, rows = np.nonzero(lower.T)  # column-major: for each column j, rows i > j
        self.chol_col_ptr = np.searchsorted(cols, np.arange(self.m + 1)).astype(np.int64)
        self.chol_col_idx = rows.astype(np.int64)
        rr, cc = np.nonzero(lower)  # row-major: for each row j, columns k < j
        self.chol_row_ptr = np.searchsorted(rr, np.arange(self.m + 1)).astype(np.int64)
        self.chol_row_idx = cc.astype(np.int64)
        self.layout = BlockLayout(ks=[1] * len(layouts), n_levels=[int(v) for v in n_levels], p=p)
        # the rest block's storage, reused by every run of a thread: entries outside the pattern stay 0
        self._local = threading.local()

    def _coupling_pattern(self, q_rest: int, p: int) -> None:
        """The coupling block's columns (first-term levels): the other terms' levels met, then the dense rows."""
        l0 = int(self.n_levels[0])
        n_terms = len(self.n_levels)
        first = self.codes[0]
        pairs = [first * (q_rest + 1) + (self.rest_offsets[t] + self.codes[t]) for t in range(1, n_terms)]
        keys = _sorted_unique(np.concatenate(pairs), l0 * (q_rest + 1)) if pairs else np.zeros(0, dtype=np.int64)
        key_level, key_row = keys // (q_rest + 1), keys % (q_rest + 1)
        random_count = np.bincount(key_level, minlength=l0)
        counts = random_count + p + 1
        self.col_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self.dense_pos = (self.col_ptr[:-1] + random_count).astype(np.int64)
        row_idx = np.empty(int(self.col_ptr[-1]), dtype=np.int64)
        within = np.arange(len(keys)) - np.concatenate([[0], np.cumsum(random_count)])[key_level]
        key_pos = self.col_ptr[key_level] + within
        row_idx[key_pos] = key_row
        dense_rows = q_rest + np.arange(p + 1)
        row_idx[(self.dense_pos[:, None] + np.arange(p + 1)).ravel()] = np.tile(dense_rows, l0)
        self.row_idx = row_idx
        self.pos = np.ascontiguousarray(
            np.stack([key_pos[np.searchsorted(keys, pr)] for pr in pairs]) if pairs
            else np.zeros((0, len(first)), dtype=np.int64), dtype=np.int64)

    def means(self, eta: np.ndarray) -> np.ndarray:
        """The means at ``eta`` as a run computes them (R's clamps included)."""
        mu = np.empty(len(eta))
        _means(self.code, np.ascontiguousarray(eta, dtype=float), mu)
        return mu

    def run(self, theta: np.ndarray, y: np.ndarray, weights: np.ndarray, base: np.ndarray, eta_start: np.ndarray,
            tol: float, max_iter: int, mu_start: np.ndarray | None = None,
            gradient: GradientTerms | None = None, max_halvings: int = 10) -> ScalarPirlsResult:
        """PIRLS at ``theta`` from ``eta_start``; ``base`` holds the offset (and X beta in stage 2).

        ``mu_start``, :meth:`means` at ``eta_start``, saves a pass over the rows where
        many runs share their start (every evaluation of an objective). With
        ``gradient`` the run also returns the gradient of its Laplace deviance
        (:mod:`mixedfx.glmm.laplace_gradient`); NaN where step-halving was needed.
        """
        mu_start = self.means(eta_start) if mu_start is None else mu_start
        terms = gradient or self._no_gradient
        out = _pirls(self.code, y, weights, self.X_t, base, eta_start, mu_start, self.codes, self.zs,
                     np.ascontiguousarray(theta, dtype=float), self.rest_offsets, self.u_offsets, self.pos,
                     self.col_ptr, self.row_idx, self.dense_pos, self.row_scale_term, self.chol_row_ptr,
                     self.chol_row_idx, self.chol_col_ptr, self.chol_col_idx, self.light, self.heavy, self.dense,
                     tol, max_iter, max_halvings, self._workspace(), gradient is not None, *terms)
        return ScalarPirlsResult._make(out)

    def _workspace(self) -> np.ndarray:
        """This thread's rest-block storage (runs may go on in several threads at once)."""
        rest = getattr(self._local, "rest", None)
        if rest is None:
            rest = self._local.rest = np.zeros((self.m, self.m))
        return rest

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_local"]  # thread-local storage is not picklable; a copy makes its own
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def blocked_factor(self, result: ScalarPirlsResult) -> BlockedFactor:
        """A run's factor in :mod:`mixedfx.linalg.blocks`'s form."""
        l0 = len(result.l11)

        def coupling() -> sp.csr_matrix:
            return sp.csc_matrix((result.coupling, self.row_idx, self.col_ptr), shape=(self.m, l0)).tocsr()
        l_rr = np.zeros((self.m, self.m))
        l_rr[np.arange(self.m), np.arange(self.m)] = result.rest_values[: self.m]
        columns = np.repeat(np.arange(self.m), np.diff(self.chol_col_ptr))
        l_rr[self.chol_col_idx, columns] = result.rest_values[self.m:]
        return BlockedFactor(l11=result.l11.reshape(-1, 1, 1), l_rr=l_rr, layout=self.layout, coupling=coupling)
