"""Gradient of lme4's Laplace deviance through the PIRLS iterations that evaluate it (scalar terms).

glmer's stage-2 deviance at (theta, beta) runs PIRLS from a fixed linear predictor
and stops after a few iterations: its value is log|M|, at the weights of the last
iteration's start, plus the penalised deviance at the iterations' end. That is a
smooth function of (theta, beta) wherever the number of iterations does not
change, but it is not the Laplace approximation at the exact mode (on VerbAgg
the two optima differ by about 1e-3 in theta), so its derivative has to follow the
iterations.

In stage 2 iteration i solves ``M_i u_{i+1} = Lambda Z' g_i`` with
``M_i = Lambda Z' W_i Z Lambda + I`` and ``g_i = W_i z_i`` (working weights and
response at its start eta_i), then sets ``eta_{i+1} = X beta + offset + Z Lambda u_{i+1}``.
In stage 1 beta is solved for with u (the system's matrix is ``C' W_i C`` plus the
identity on u's block, ``C = [Z Lambda, X]``) and the gradient is over theta alone;
below, ``Z Lambda u`` then reads ``C (u, beta)``.
The gradient is taken backwards through the recorded iterations (reverse mode),
which costs one solve and two passes over the rows per iteration whatever the
number of parameters. With ``lam = M_i^-1 u_bar`` and canonical links (where
``d g_i / d eta_i = w_i' (eta_i - X beta - offset)``), iteration i passes back

* to theta_t: ``sum_r z_t (lam_t g - w (lam_t Z Lambda u + u_t Z Lambda lam))``,
  plus ``eta_bar' z_t u_t`` from eta_{i+1};
* to X beta (stage 2): ``eta_bar - w Z Lambda lam``;
* to eta_i: ``w_i' ((eta_i - X beta - offset) Z Lambda lam - Z Lambda lam Z Lambda u)``;

where ``u_t`` and ``lam_t`` are read at each row's level of term t. The last
iteration also passes back log|M|'s derivative, ``tr(M^-1 dM)``, from the entries
of ``M^-1`` that rows meet (see :func:`log_determinant_rows`), and the deviance
passes ``-2 d(a log mu + b g(mu)) / d eta`` to the end's eta (R's ``aic``). Rows
beyond R's clamps on the mean have constant means and weights.

The compiled PIRLS (:mod:`mixedfx.glmm.scalar_pirls`) records the iterations
(:class:`PirlsIteration`) and calls :func:`laplace_gradient` when asked for the
gradient (:class:`GradientTerms`). numba is imported here, so import this module
only where it is used. numba's on-disk cache of that kernel does not notice edits
to this module: after changing it, delete ``src/mixedfx/__pycache__`` before
timing or testing.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np

from mixedfx.glmm.family_kernels import BINOMIAL_LOGIT, LOGIT_THRESHOLD
from mixedfx.glmm.pirls_structure import FactorValues
from mixedfx.linalg.cholesky import lapack_dpotri
from mixedfx.rbase.rmath import DBL_EPSILON

__all__ = ["GradientTerms", "ITERATION_TYPE", "PirlsIteration", "deviance_adjoint", "first_block_inverse",
           "inverse_entries", "laplace_gradient", "log_determinant_rows", "pull_rows", "push_rows", "row_reach",
           "solve_factor", "tangent_sums"]


class GradientTerms(NamedTuple):
    """What a run needs to return the Laplace deviance's gradient (:meth:`mixedfx.glmm.scalar_pirls.ScalarPirls.run`).

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


class PirlsIteration(NamedTuple):
    """What the gradient needs of one PIRLS iteration (:func:`laplace_gradient` goes back through them).

    Attributes
    ----------
    eta, mu : ndarray, shape (n,)
        The linear predictor it starts from, and its means.
    w, wy : ndarray, shape (n,)
        The working weights and response there.
    factor : FactorValues
        The factor at those weights.
    u : ndarray, shape (q,)
        The random effects it solves for.
    """

    eta: np.ndarray
    mu: np.ndarray
    w: np.ndarray
    wy: np.ndarray
    factor: FactorValues
    u: np.ndarray


_EMPTY = np.zeros(0)
ITERATION_TYPE = numba.typeof(PirlsIteration(_EMPTY, _EMPTY, _EMPTY, _EMPTY, FactorValues(_EMPTY, _EMPTY, _EMPTY),
                                             _EMPTY))
"""numba's type of a :class:`PirlsIteration`, for the typed list a run records them in."""

@numba.njit(cache=True, error_model="numpy")
def _clamped(code, eta):
    """Whether R clamps the mean at eta (then constant): |eta| > 30 (logit), exp(eta) < DBL_EPSILON (log)."""
    if code == BINOMIAL_LOGIT:
        return abs(eta) > LOGIT_THRESHOLD
    return math.exp(eta) < DBL_EPSILON


@numba.njit(cache=True, error_model="numpy")
def solve_factor(structure, factor, x):
    """Solve ``M v = x`` in place for the random effects, from a run's factor (:class:`FactorValues`).

    ``M = L L'`` with ``L = [[diag(l11), 0], [G, L_rr]]``: G is the coupling block
    (its rows of random effects) and ``L_rr`` the rest's leading block, given by its
    pattern values on ``structure`` (:class:`mixedfx.glmm.pirls_structure.PirlsStructure`).
    """
    l11, coupling, pattern_values = factor
    col_ptr, row_idx, chol_col_ptr, chol_col_idx = (structure.col_ptr, structure.row_idx, structure.chol_col_ptr,
                                                    structure.chol_col_idx)
    m = structure.m
    l0 = l11.shape[0]
    q_rest = x.shape[0] - l0
    for i in range(l0):
        x[i] /= l11[i]
        for idx in range(col_ptr[i], col_ptr[i + 1]):
            row = row_idx[idx]
            if row < q_rest:
                x[l0 + row] -= coupling[idx] * x[i]
    for j in range(q_rest):
        x[l0 + j] /= pattern_values[j]
        for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
            i = chol_col_idx[ii]
            if i < q_rest:
                x[l0 + i] -= pattern_values[m + ii] * x[l0 + j]
    for j in range(q_rest - 1, -1, -1):
        s = x[l0 + j]
        for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
            i = chol_col_idx[ii]
            if i < q_rest:
                s -= pattern_values[m + ii] * x[l0 + i]
        x[l0 + j] = s / pattern_values[j]
    for i in range(l0):
        s = x[i]
        for idx in range(col_ptr[i], col_ptr[i + 1]):
            row = row_idx[idx]
            if row < q_rest:
                s -= coupling[idx] * x[l0 + row]
        x[i] = s / l11[i]


@numba.njit(cache=True, error_model="numpy")
def _rest_inverse(structure, pattern_values):
    """``S^-1 = (L_rr L_rr')^-1`` from the rest's pattern values: full where the rest is dense, else on the pattern.

    A dense rest is inverted by LAPACK (the compiled PIRLS factors it there too,
    and runs single-threaded). A sparse one by the Takahashi recurrence on the
    factor's pattern, columns last to first: only entries on the pattern are
    formed (the others stay 0), at the cost of the factorisation; every pair of
    levels that meet in a row, or in a coupling column, lies on it.
    Returns the inverse and whether it was formed.
    """
    chol_col_ptr, chol_col_idx, m = structure.chol_col_ptr, structure.chol_col_idx, structure.m
    q_rest = structure.u_offsets[-1] - structure.u_offsets[1]
    inverse = np.zeros((q_rest, q_rest))
    if q_rest == 0:
        return inverse, True
    if structure.dense:
        for j in range(q_rest):
            inverse[j, j] = pattern_values[j]
            for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
                i = chol_col_idx[ii]
                if i < q_rest:
                    inverse[i, j] = pattern_values[m + ii]
        info = lapack_dpotri(inverse, q_rest)
        for j in range(q_rest):
            for i in range(j + 1, q_rest):
                inverse[j, i] = inverse[i, j]
        return inverse, info == 0
    for j in range(q_rest - 1, -1, -1):
        pivot = pattern_values[j]
        if not pivot > 0.0:
            return inverse, False
        for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
            i = chol_col_idx[ii]
            if i >= q_rest:
                continue
            s = 0.0
            for kk in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
                k = chol_col_idx[kk]
                if k < q_rest:
                    s += pattern_values[m + kk] * inverse[i, k]
            inverse[i, j] = inverse[j, i] = -s / pivot
        s = 0.0
        for kk in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
            k = chol_col_idx[kk]
            if k < q_rest:
                s += pattern_values[m + kk] * inverse[k, j]
        inverse[j, j] = (1.0 / pivot - s) / pivot
    return inverse, True


@numba.njit(cache=True, error_model="numpy")
def _coupling_products(col_ptr, row_idx, coupling, inverse):
    """``(S^-1 g_i)_k`` for every entry (k, i) of the coupling's random rows (0 elsewhere).

    The coupling's columns ``g_i`` (first-term levels) are given by ``col_ptr`` and
    ``row_idx``, each listing its random rows first (ascending), then any others
    (the fixed effects' and the response's: :class:`mixedfx.glmm.pirls_structure.PirlsStructure`).

    Each column g_i is either spread over all of ``S^-1``'s columns (a row of S^-1
    per entry; the cheaper way where columns have many entries) or dotted with
    S^-1's rows at its own entries only (where they have few). Plain loops, not
    BLAS: this runs in threads, where BLAS's own threads would compete with them.
    """
    q_rest = inverse.shape[0]
    n_columns = col_ptr.shape[0] - 1
    out = np.zeros(coupling.shape[0])
    stops = np.empty(n_columns, dtype=np.int64)  # each column's random rows come first, [col_ptr[i], stops[i])
    spread_cost = 0
    pattern_cost = 0
    for i in range(n_columns):
        stop = col_ptr[i]
        while stop < col_ptr[i + 1] and row_idx[stop] < q_rest:
            stop += 1
        stops[i] = stop
        spread_cost += (stop - col_ptr[i]) * q_rest
        pattern_cost += (stop - col_ptr[i]) ** 2
    spread = np.empty(q_rest)
    for i in range(n_columns):
        start, stop = col_ptr[i], stops[i]
        if spread_cost <= 2 * pattern_cost:
            spread[:] = 0.0
            for a in range(start, stop):
                g, row = coupling[a], inverse[row_idx[a]]
                for k in range(q_rest):
                    spread[k] += g * row[k]
            for a in range(start, stop):
                out[a] = spread[row_idx[a]]
        else:
            for a in range(start, stop):
                row = inverse[row_idx[a]]
                s = 0.0
                for b in range(start, stop):
                    s += row[row_idx[b]] * coupling[b]
                out[a] = s
    return out


@numba.njit(cache=True, error_model="numpy")
def first_block_inverse(col_ptr, row_idx, l11, coupling, inverse):
    """``M^-1``'s first block's diagonal and its coupling block on the coupling's pattern, from ``S^-1``.

    ``M = L L'`` with ``L = [[diag(l11), 0], [G, L_rr]]`` (G: ``coupling`` on
    ``col_ptr``, ``row_idx``, as :func:`_coupling_products` reads it) and
    ``S = L_rr L_rr'`` (its inverse ``inverse``, over the random rows). ``M^-1``'s
    first block's diagonal is ``(1 + g_i' S^-1 g_i) / l_i^2`` and its coupling block
    ``-(S^-1 g_i)_k / l_i``. Returns the two, the second on the pattern (0 off the random rows).
    """
    l0 = l11.shape[0]
    across = _coupling_products(col_ptr, row_idx, coupling, inverse)
    first = np.empty(l0)
    for i in range(l0):
        total = 0.0
        for idx in range(col_ptr[i], col_ptr[i + 1]):
            total += coupling[idx] * across[idx]
            across[idx] = -across[idx] / l11[i]
        first[i] = (1.0 + total) / (l11[i] * l11[i])
    return first, across


@numba.njit(cache=True, error_model="numpy")
def log_determinant_rows(theta, codes, zs, rest_offsets, pos, first, across, inverse, w, w_bar, theta_bar):
    """Add log|M|'s derivatives over some rows: ``h_r`` to ``w_bar`` and ``2 sum_r w z_t (M^-1 z~_r)_t`` to ``theta_bar``.

    ``z~_r`` is row r of ``Z Lambda``, ``h_r = z~_r' M^-1 z~_r`` and ``w`` the working
    weights. ``M^-1`` is given where rows meet it (:func:`first_block_inverse`):
    ``first`` (the first block's diagonal), ``across`` (the coupling block, each
    row's entry for term t at ``pos[t - 1, r]``) and ``inverse`` (the rest's
    random block, term t's levels from ``rest_offsets[t]``). The rows are any
    block of the model's (all of them in memory, a partition's on a worker).
    """
    n_terms, n = codes.shape
    # inner[t, r] = (M^-1 z~_r) at row r's level of term t, summed a pair of terms at a time
    inner = np.zeros((n_terms, n))
    for t in range(n_terms):
        for s in range(n_terms):
            out, th, z = inner[t], theta[s], zs[s]
            if s == 0 and t == 0:
                level = codes[0]
                for r in range(n):
                    out[r] += th * z[r] * first[level[r]]
            elif s == 0 or t == 0:
                where = pos[max(s, t) - 1]
                for r in range(n):
                    out[r] += th * z[r] * across[where[r]]
            else:
                row_t, row_s, off_t, off_s = codes[t], codes[s], rest_offsets[t], rest_offsets[s]
                for r in range(n):
                    out[r] += th * z[r] * inverse[off_t + row_t[r], off_s + row_s[r]]
    for t in range(n_terms):
        out, th, z = inner[t], theta[t], zs[t]
        total = 0.0
        for r in range(n):
            w_bar[r] += th * z[r] * out[r]
            total += w[r] * z[r] * out[r]
        theta_bar[t] += 2.0 * total


@numba.njit(cache=True, error_model="numpy")
def row_reach(theta, codes, zs, u_offsets):
    """``theta_t z_t`` (d eta / d u at each row's level of term t) and each row's index into u, per term."""
    n_terms, n = codes.shape
    reach = np.empty((n_terms, n))
    levels = np.empty((n_terms, n), dtype=np.int64)
    for t in range(n_terms):
        for r in range(n):
            reach[t, r] = theta[t] * zs[t, r]
            levels[t, r] = u_offsets[t] + codes[t, r]
    return reach, levels


@numba.njit(cache=True, error_model="numpy")
def deviance_adjoint(code, ll_a, ll_b, eta_end, mu, eta_bar):
    """``d/d eta`` of the deviance's ``-2 (a log mu + b g(mu))`` at the end, into ``eta_bar`` (g: log(1 - mu), -mu)."""
    for r in range(eta_end.shape[0]):
        if _clamped(code, eta_end[r]):
            eta_bar[r] = 0.0
        elif code == BINOMIAL_LOGIT:
            eta_bar[r] = -2.0 * (ll_a[r] * (1.0 - mu[r]) - ll_b[r] * mu[r])
        else:
            eta_bar[r] = -2.0 * (ll_a[r] - ll_b[r] * mu[r])


@numba.njit(cache=True, error_model="numpy")
def pull_rows(X_t, zs, levels, reach, eta_bar, u_next, xi_bar, theta_bar, lanes):
    """``eta_{i+1} = base + C (u, b)_{i+1}``'s adjoint over some rows: into ``xi_bar`` (u then b) and ``theta_bar``.

    ``levels`` and ``reach`` are :func:`row_reach`'s; ``lanes``, shape (4, q), is
    scratch: rows come grouped by level, so four partial sums keep consecutive
    rows' additions from waiting on each other.
    """
    n_terms, n = levels.shape
    p = X_t.shape[0]
    q = xi_bar.shape[0] - p
    lanes[:, :] = 0.0
    for t in range(n_terms):
        level, scale, z = levels[t], reach[t], zs[t]
        total = 0.0
        for r in range(n):
            lanes[r & 3, level[r]] += scale[r] * eta_bar[r]
            total += eta_bar[r] * z[r] * u_next[level[r]]
        theta_bar[t] += total
    for k in range(q):
        xi_bar[k] += (lanes[0, k] + lanes[1, k]) + (lanes[2, k] + lanes[3, k])
    for j in range(p):
        x = X_t[j]
        total = 0.0
        for r in range(n):
            total += x[r] * eta_bar[r]
        xi_bar[q + j] += total


@numba.njit(cache=True, error_model="numpy")
def push_rows(response, X_t, zs, levels, reach, lam, u_next, step_rows, eta_next, base, w_bar, eta_bar, base_bar,
              theta_bar, zl):
    """An iteration's system (right side ``C' W z``, matrix ``C' W C``) passed back over some rows, given ``lam``.

    Adds to ``theta_bar`` and ``base_bar`` and moves ``eta_bar`` from eta_{i+1} to
    eta_i. ``step_rows`` is the iteration's ``(eta, mu, w, wy)`` at these rows,
    ``w_bar`` log|M|'s adjoint of the working weights (the last iteration's;
    zeros otherwise) and ``zl`` scratch for ``C lam``.
    """
    code, wts = response.family_code, response.weights
    eta, mu_i, w, wy = step_rows
    n_terms, n = levels.shape
    p = X_t.shape[0]
    zl[:] = 0.0
    for j in range(p):
        x, coefficient = X_t[j], lam[lam.shape[0] - p + j]
        for r in range(n):
            zl[r] += x[r] * coefficient
    for t in range(n_terms):
        level, scale = levels[t], reach[t]
        for r in range(n):
            zl[r] += scale[r] * lam[level[r]]
    for t in range(n_terms):
        level, z = levels[t], zs[t]
        total = 0.0
        for r in range(n):
            total += z[r] * w[r] * (lam[level[r]] * (wy[r] - eta_next[r] + base[r]) - zl[r] * u_next[level[r]])
        theta_bar[t] += total
    for r in range(n):
        base_bar[r] += eta_bar[r] - zl[r] * w[r]
        if _clamped(code, eta[r]):  # mu, mu' and w are constant: d g / d eta is w
            eta_bar[r] = zl[r] * w[r]
            continue
        if code == BINOMIAL_LOGIT:  # d w / d eta
            slope = wts[r] * mu_i[r] * (1.0 - mu_i[r]) * (1.0 - 2.0 * mu_i[r])
        else:
            slope = wts[r] * mu_i[r]
        eta_bar[r] = slope * ((eta[r] - eta_next[r]) * zl[r] + w_bar[r])


@numba.njit(cache=True, error_model="numpy")
def tangent_sums(tangent_t, base_bar, out):
    """``tangent_t base_bar`` into ``out``: the gradient over the coefficients whose product is in the base."""
    for j in range(tangent_t.shape[0]):
        total = 0.0
        x = tangent_t[j]
        for r in range(base_bar.shape[0]):
            total += x[r] * base_bar[r]
        out[j] = total


@numba.njit(cache=True, error_model="numpy")
def laplace_gradient(response, terms, structure, theta, base, iterations, eta_end, mu, gradient):
    """The Laplace deviance's gradient over theta, then over the rows of ``terms.tangent_t``, into ``gradient``.

    ``response`` is the run's :class:`mixedfx.glmm.scalar_pirls.PirlsResponse`,
    ``terms`` its :class:`GradientTerms` and ``structure`` its
    :class:`mixedfx.glmm.pirls_structure.PirlsStructure`, whose ``X_t`` holds the
    columns PIRLS solves for with the random effects (stage 1's X; none in stage 2).
    ``terms.tangent_t`` holds those whose coefficients are parameters held in
    ``base`` (stage 2's X; none in stage 1), and the deviance's log-likelihood part
    is ``-2 sum(a log mu + b g(mu))`` (``terms.a``, ``terms.b``). ``iterations`` lists
    each iteration's :class:`PirlsIteration`; ``eta_end`` and ``mu`` are the linear
    predictor and means at the end. NaN where the inverse could not be formed.

    The passes over the rows are the row functions a partitioned fit runs on each
    partition (:mod:`mixedfx.partitioned.glmer_gradient`); the solves between them are this one's.
    """
    tangent_t, ll_a, ll_b = terms
    X_t, codes, zs, u_offsets = structure.X_t, structure.codes, structure.zs, structure.u_offsets
    n_terms, n = codes.shape
    p = X_t.shape[0]
    q = u_offsets[-1]
    last = len(iterations) - 1
    eta_bar = np.empty(n)
    deviance_adjoint(response.family_code, ll_a, ll_b, eta_end, mu, eta_bar)
    xi_bar = np.zeros(q + p)  # adjoint of the solution (u, b)
    u_last = iterations[last].u
    for j in range(q):  # by a loop: an array assigned to a slice costs seconds of compiling
        xi_bar[j] = 2.0 * u_last[j]
    base_bar = np.zeros(n)
    theta_bar = np.zeros(n_terms)
    w_bar = np.zeros(n)
    first, across, inverse, ok = inverse_entries(structure, iterations[last].factor)
    if not ok:
        gradient[:] = np.nan
        return
    log_determinant_rows(theta, codes, zs, structure.rest_offsets, structure.pos, first, across, inverse,
                         iterations[last].w, w_bar, theta_bar)
    reach, levels = row_reach(theta, codes, zs, u_offsets)
    zl = np.empty(n)
    lanes = np.empty((4, q))
    no_w_bar = np.zeros(n)
    for i in range(last, -1, -1):
        step = iterations[i]
        eta_next = iterations[i + 1].eta if i < last else eta_end
        pull_rows(X_t, zs, levels, reach, eta_bar, step.u, xi_bar, theta_bar, lanes)
        solve_factor(structure, step.factor, xi_bar)
        push_rows(response, X_t, zs, levels, reach, xi_bar, step.u, (step.eta, step.mu, step.w, step.wy), eta_next,
                  base, w_bar if i == last else no_w_bar, eta_bar, base_bar, theta_bar, zl)
        xi_bar = np.zeros(q + p)
    for t in range(n_terms):
        gradient[t] = theta_bar[t]
    tangent_sums(tangent_t, base_bar, gradient[n_terms:])


@numba.njit(cache=True, error_model="numpy")
def inverse_entries(structure, factor):
    """``M^-1`` where rows meet it, from a run's factor: :func:`first_block_inverse`'s two, ``S^-1``, and whether
    ``S^-1`` could be formed."""
    inverse, ok = _rest_inverse(structure, factor.pattern_values)
    if not ok:
        return np.zeros(0), np.zeros(0), inverse, False
    first, across = first_block_inverse(structure.col_ptr, structure.row_idx, factor.l11, factor.coupling, inverse)
    return first, across, inverse, True
