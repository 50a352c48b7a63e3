"""lme4's two stages for one scalar random-effects term, as closed forms over the levels.

lme4's deviance functions are not quite the Laplace approximation: PIRLS stops
at its tolerance, and the deviance takes log|L|^2 at the working weights of the
last iteration's start. For one scalar term ``(1 | g)`` (or ``(0 + x | g)``) on a
canonical link both stages have closed forms level by level, which
:mod:`mixedfx.glmm.scalar_laplace` optimises in one compiled call:

- Stage 1 (theta, with beta inside PIRLS): :func:`stage1` minimises over theta
  lme4's deviance by Brent's method, each evaluation PIRLS on (u, beta) from
  lme4's ``lp0`` as lme4 runs it: its iterations are Newton steps on F (IRLS on a
  canonical link), whose Hessian is diagonal in u bordered by beta's columns.
  Stage 2 depends on where stage 1 ended only through its linear predictor.
- Stage 2 (theta and beta, u inside PIRLS from stage 1's linear predictor
  ``eta_start``): from its end, PIRLS's first iteration solves u_j in closed form
  (its working weights and response are eta_start's, and u_j is linear in beta),
  and its second ends at the modes to PIRLS's tolerance. So lme4's deviance is
  ``F + sum_j log H_j``, F at the modes and H_j = h_j at the first iterate u1_j
  (:func:`first_iterate_logdet`), a smooth function with an exact gradient, while
  PIRLS takes two iterations; :func:`pirls_takes_two_iterations` checks that at
  the optimum.

F = sum_i d_i + sum_j u_j^2 with d_i the row's -2 log-likelihood in
``eta_i = offset_i + x_i beta + theta z_i u_j``, and h_j = 1 + theta^2 sum_i w_i z_i^2
with w_i = d_i'' / 2, the working weight of a canonical link.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from mixedfx.glmm.family_kernels import dev_resid, mean, row_deviance_terms
from mixedfx.linalg.small_solve import solve_shifted

__all__ = ["STAGE1_CONVERGED", "STOP_MARGIN", "first_iterate_logdet", "first_iterate_terms", "linear_predictor",
           "pirls_takes_two_iterations", "stage1"]

STAGE1_CONVERGED = 0
"""Brent's method ended within its tolerance, or after a parabolic step under :data:`_THETA_STOP`."""
_STAGE1_FAILED = 1
"""PIRLS failed at lme4's start, Brent's iterations ran out, or the bracket search did (or found the deviance
still falling towards theta = 0)."""
_THETA_TOL = 1e-5
"""Brent's relative tolerance in theta (its bracket's width)."""
_THETA_STOP = 1e-4
"""Brent's method also stops after a parabolic step of less than this relative change in theta: stage 2's optimum
moves by about 1e-2 of stage 1's error (cbpp), and lme4's BOBYQA stops stage 1 at about 1e-4."""
_FIRST_RATIO = 1.3
"""The bracket search's first step from the EM guess, as a ratio of theta; it doubles with each step."""
_LEAST_SHARE = 1e-3
"""Searching down, the deviance still falling below this share of where the search began: theta = 0 is
stage 1's optimum, a boundary the general fit settles."""
STOP_MARGIN = 0.1
"""The share of PIRLS's tolerance its second iteration's change must stay under at stage 2's optimum. Where
PIRLS takes three iterations, lme4's deviance jumps (to log|L|^2 nearer the modes), and may be lower there than
at the optimum of the two-iteration form: close to that edge (in random models, within a factor 1.4 of it),
lme4's own fit may end across it, 7% away in a standard error; inside a tenth of it, within 0.2%."""
_MAX_BRENT = 200
"""Brent's iterations."""
_MAX_DOUBLINGS = 40
"""Steps of the bracket search while the deviance still falls."""
_GOLDEN = 0.3819660112501051
"""The golden section's share, (3 - sqrt(5)) / 2."""


@numba.njit(cache=True, error_model="numpy")
def _pass(code, a, b, z, codes, X, offset, theta, u, beta, slope_u, curve_u, border, slope_b, curve_b):
    """F at (u, beta), and its gradient and Hessian in place: diagonal in u (``slope_u``, ``curve_u``), bordered
    by beta's columns (``border``; ``slope_b``, ``curve_b``'s lower triangle)."""
    n_levels, p = u.shape[0], beta.shape[0]
    value = 0.0
    for j in range(n_levels):
        value += u[j] * u[j]
        slope_u[j], curve_u[j] = 2.0 * u[j], 2.0
        border[j, :] = 0.0
    slope_b[:] = 0.0
    curve_b[:, :] = 0.0
    for i in range(codes.shape[0]):
        j, tz = codes[i], theta * z[i]
        eta = offset[i] + tz * u[j]
        for k in range(p):
            eta += X[i, k] * beta[k]
        d, d1, d2, _, _ = row_deviance_terms(code, a[i], b[i], eta)
        value += d
        _add_row(j, tz, X[i], d1, d2, slope_u, curve_u, border, slope_b, curve_b)
    return value


@numba.njit(cache=True, error_model="numpy", inline="always")
def _add_row(j, tz, x, first, second, slope_u, curve_u, border, slope_b, curve_b):
    """A row's share of :func:`_pass`' gradient and Hessian: the row of level j (``tz`` = theta z) and fixed
    covariates ``x`` whose term has first and second derivatives ``first`` and ``second`` in eta."""
    slope_u[j] += tz * first
    curve_u[j] += tz * tz * second
    for k in range(x.shape[0]):
        slope_b[k] += x[k] * first
        border[j, k] += tz * x[k] * second
        for m in range(k + 1):
            curve_b[k, m] += x[k] * x[m] * second


@numba.njit(cache=True, error_model="numpy")
def _arrow_step(slope_u, curve_u, border, slope_b, curve_b, step_u, step_b):
    """-H^-1 g for :func:`_pass`' gradient and Hessian, into ``step_u`` and ``step_b``, by the Schur complement of
    the diagonal (``curve_b`` is overwritten); False where that is not positive definite."""
    n_levels, p = curve_u.shape[0], slope_b.shape[0]
    rhs = slope_b.copy()
    for k in range(p):
        for m in range(k + 1):
            for j in range(n_levels):
                curve_b[k, m] -= border[j, k] * border[j, m] / curve_u[j]
            curve_b[m, k] = curve_b[k, m]
        for j in range(n_levels):
            rhs[k] -= border[j, k] * slope_u[j] / curve_u[j]
    solved = solve_shifted(curve_b, -rhs, 0.0)
    if solved is None:
        return False
    step_b[:] = solved
    for j in range(n_levels):
        shift = slope_u[j]
        for k in range(p):
            shift += border[j, k] * solved[k]
        step_u[j] = -shift / curve_u[j]
    return True


@numba.njit(cache=True, error_model="numpy")
def linear_predictor(X, offset, beta, theta, z, codes, u, out):
    """offset + X beta + theta z u_j, per row, into ``out``."""
    for i in range(codes.shape[0]):
        total = offset[i] + theta * z[i] * u[codes[i]]
        for k in range(beta.shape[0]):
            total += X[i, k] * beta[k]
        out[i] = total


@numba.njit(cache=True, error_model="numpy")
def _penalised(code, a, b, z, codes, X, offset, theta, u, beta):
    """F at (u, beta)."""
    value = 0.0
    for j in range(u.shape[0]):
        value += u[j] * u[j]
    for i in range(codes.shape[0]):
        total = offset[i] + theta * z[i] * u[codes[i]]
        for k in range(beta.shape[0]):
            total += X[i, k] * beta[k]
        value += row_deviance_terms(code, a[i], b[i], total)[0]
    return value if math.isfinite(value) else np.inf


@numba.njit(cache=True, error_model="numpy")
def _start_terms(code, y, weights, a, b, offset, eta_start):
    """What PIRLS takes from its starting linear predictor: d_i'' there (twice the working weights), the working
    response less the offset, and the penalised deviance less F (the deviance residuals' constant)."""
    n_rows = eta_start.shape[0]
    curvature, response = np.empty(n_rows), np.empty(n_rows)
    shift = 0.0
    for i in range(n_rows):
        d, d1, d2, _, _ = row_deviance_terms(code, a[i], b[i], eta_start[i])
        curvature[i], response[i] = d2, eta_start[i] - offset[i] - d1 / d2
        shift += dev_resid(code, y[i], mean(code, eta_start[i])[0], weights[i]) - d
    return curvature, response, shift


@numba.njit(cache=True, error_model="numpy")
def _stage1_deviance(code, a, b, z, codes, X, offset, start, theta, settings, u, beta):
    """lme4's stage-1 deviance at theta (less the family's constant), as PIRLS takes it on (u, beta) from
    ``start`` (:func:`_start_terms`): the weighted least squares at the start's working weights and response,
    then Newton steps (IRLS on a canonical link), halved where the penalised deviance rose, until it changes by
    less than ``tol`` relative; F at the end plus log|L|^2 at the weights the last iteration started from.
    (u, beta) end in place; inf where PIRLS fails. ``settings``: tol, max_iter, max_halvings."""
    curvature, response, shift = start
    tol, max_iter, max_halvings = settings
    n_levels, p = u.shape[0], beta.shape[0]
    slope_u, curve_u, border = np.zeros(n_levels), np.full(n_levels, 2.0), np.zeros((n_levels, p))
    slope_b, curve_b = np.zeros(p), np.zeros((p, p))
    old_u, old_beta, step_u, step_b = np.empty(n_levels), np.empty(p), np.empty(n_levels), np.empty(p)
    for i in range(codes.shape[0]):  # the first iteration's system: -g is its right-hand side, the step its solution
        _add_row(codes[i], theta * z[i], X[i], -curvature[i] * response[i], curvature[i], slope_u, curve_u, border,
                 slope_b, curve_b)
    if not _arrow_step(slope_u, curve_u, border, slope_b, curve_b, u, beta):
        return np.inf
    logdet = np.sum(np.log(0.5 * curve_u))
    old, halved = np.inf, False
    for _ in range(max_iter):
        value = _pass(code, a, b, z, codes, X, offset, theta, u, beta, slope_u, curve_u, border, slope_b, curve_b)
        if not math.isfinite(value):
            return np.inf
        pdev = value + shift
        if not halved:
            if abs(old - pdev) < tol * pdev:
                return value + logdet
            if pdev > old:  # halfway back, until it no longer rose; the next iteration starts there
                for _halving in range(max_halvings):
                    u += old_u
                    u *= 0.5
                    beta += old_beta
                    beta *= 0.5
                    pdev = _penalised(code, a, b, z, codes, X, offset, theta, u, beta) + shift
                    if pdev <= old:
                        break
                if pdev - old > tol:
                    return np.inf
                halved = True
            old = pdev
            old_u[:], old_beta[:] = u, beta
            if halved:
                continue
        halved = False
        if not _arrow_step(slope_u, curve_u, border, slope_b, curve_b, step_u, step_b):
            return np.inf
        logdet = np.sum(np.log(0.5 * curve_u))
        u += step_u
        beta += step_b
    return np.inf


@numba.njit(cache=True, error_model="numpy")
def _em_guess(code, a, b, z, codes, eta, theta, u):
    """One EM step for theta from PIRLS's end at theta (modes ``u``, linear predictor ``eta``): the mean over the
    levels of b_j^2 + var(b_j), b_j = theta u_j and var(b_j) = theta^2 / h_j, as theta^2. Where stage 1's
    bracket search starts: nearer its optimum than theta (cbpp: 0.76 from 1, the optimum 0.64)."""
    curvature = np.ones(u.shape[0])
    for i in range(codes.shape[0]):
        curvature[codes[i]] += 0.5 * (theta * z[i]) ** 2 * row_deviance_terms(code, a[i], b[i], eta[i])[2]
    return theta * math.sqrt((np.sum(u * u) + np.sum(1.0 / curvature)) / u.shape[0])


@numba.njit(cache=True, error_model="numpy")
def stage1(code, y, weights, a, b, z, codes, X, offset, eta_start, theta0, settings, u, beta):
    """lme4's stage 1 from ``theta0``: PIRLS at theta0 from ``eta_start`` (lme4's ``lp0``), then theta
    minimising :func:`_stage1_deviance` from there (> 0), by Brent's method on a bracket searched outwards from
    an EM step (:func:`_em_guess`). ``u`` and ``beta`` end at PIRLS's end at that theta. Returns the status,
    theta, the deviance there (less the family's constant) and the evaluations."""
    lp0 = np.empty(codes.shape[0])
    if not math.isfinite(_stage1_deviance(code, a, b, z, codes, X, offset,
                                          _start_terms(code, y, weights, a, b, offset, eta_start), theta0, settings,
                                          u, beta)):
        return _STAGE1_FAILED, theta0, np.inf, 0
    linear_predictor(X, offset, beta, theta0, z, codes, u, lp0)
    start = _start_terms(code, y, weights, a, b, offset, lp0)
    x = guess = _em_guess(code, a, b, z, codes, lp0, theta0, u)
    fx = _stage1_deviance(code, a, b, z, codes, X, offset, start, x, settings, u, beta)
    evaluations = 1
    best_u, best_beta = u.copy(), beta.copy()
    if not math.isfinite(fx):
        return _STAGE1_FAILED, x, fx, evaluations
    # the bracket (lower, upper) around x with f(x) below both ends' f: up by doubling steps while f falls there,
    # else down by doubling shares; where f still falls next to 0 the optimum is theta = 0 (the general fit's)
    ratio, moving_up = _FIRST_RATIO, True
    near, f_near = x, fx  # the bracket's other end: the point x was reached from (or the first step up)
    for _ in range(_MAX_DOUBLINGS):
        trial = x * ratio if moving_up else x / ratio
        value = _stage1_deviance(code, a, b, z, codes, X, offset, start, trial, settings, u, beta)
        evaluations += 1
        if value < fx:
            near, f_near, x, fx = x, fx, trial, value
            best_u[:], best_beta[:] = u, beta
        elif moving_up and near == x:  # the first step up rose: go down from x instead
            near, f_near, moving_up = trial, value, False
            continue
        else:
            break
        if not moving_up and x < _LEAST_SHARE * guess:
            return _STAGE1_FAILED, x, fx, evaluations
        ratio *= 2.0
    else:
        return _STAGE1_FAILED, x, fx, evaluations
    lower, upper = min(near, trial), max(near, trial)
    # Brent's method (parabolic steps, golden sections where they fail) on [lower, upper] from x; it stops where
    # a parabolic step moved theta by less than _THETA_STOP relative
    w, fw, v, fv = (trial, value, near, f_near) if value < f_near else (near, f_near, trial, value)
    step = last = upper - lower
    for _ in range(_MAX_BRENT):
        middle = 0.5 * (lower + upper)
        tol = _THETA_TOL * abs(x) + 1e-12
        if abs(x - middle) <= 2.0 * tol - 0.5 * (upper - lower):
            u[:], beta[:] = best_u, best_beta
            return STAGE1_CONVERGED, x, fx, evaluations
        golden = True
        if abs(last) > tol:
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            pp = (x - v) * q - (x - w) * r
            q = 2.0 * (q - r)
            if q > 0.0:
                pp = -pp
            q = abs(q)
            if abs(pp) < abs(0.5 * q * last) and q * (lower - x) < pp < q * (upper - x):
                last, step = step, pp / q
                golden = False
                if (x + step) - lower < 2.0 * tol or upper - (x + step) < 2.0 * tol:
                    step = tol if middle >= x else -tol
        if golden:
            last = (lower - x) if x >= middle else (upper - x)
            step = _GOLDEN * last
        trial = x + (step if abs(step) >= tol else (tol if step > 0.0 else -tol))
        value = _stage1_deviance(code, a, b, z, codes, X, offset, start, trial, settings, u, beta)
        evaluations += 1
        settled = not golden and abs(trial - x) < _THETA_STOP * abs(x)
        if value <= fx:
            if trial >= x:
                lower = x
            else:
                upper = x
            v, w, x = w, x, trial
            fv, fw, fx = fw, fx, value
            best_u[:], best_beta[:] = u, beta
        else:
            if trial < x:
                lower = trial
            else:
                upper = trial
            if value <= fw or w == x:
                v, w, fv, fw = w, trial, fw, value
            elif value <= fv or v == x or v == w:
                v, fv = trial, value
        if settled:
            u[:], beta[:] = best_u, best_beta
            return STAGE1_CONVERGED, x, fx, evaluations
    u[:], beta[:] = best_u, best_beta
    return _STAGE1_FAILED, x, fx, evaluations


@numba.njit(cache=True, error_model="numpy")
def first_iterate_terms(code, a, b, z, codes, X, offset, eta_start, n_levels):
    """What stage 2's first PIRLS iteration takes from ``eta_start``, per level j: a0_j = sum w0_i z_i^2 and the
    parts of u1_j = theta (R_j - C_j beta) / (1 + theta^2 a0_j), with w0_i the working weights at eta_start and
    the working response's sums R_j = sum w0_i z_i (eta_start_i - offset_i - d_i' / d_i'') and
    C_jk = sum w0_i z_i x_ik."""
    p = X.shape[1]
    a0, sums, border = np.zeros(n_levels), np.zeros(n_levels), np.zeros((n_levels, p))
    for i in range(codes.shape[0]):
        j = codes[i]
        _, d1, d2, _, _ = row_deviance_terms(code, a[i], b[i], eta_start[i])
        wz = 0.5 * d2 * z[i]
        a0[j] += wz * z[i]
        sums[j] += wz * (eta_start[i] - offset[i] - d1 / d2)
        for k in range(p):
            border[j, k] += wz * X[i, k]
    return a0, sums, border


@numba.njit(cache=True, error_model="numpy")
def _working_sums(beta, sums, border):
    """Per level, r_j = R_j - C_j beta: u1_j = theta r_j / (1 + theta^2 a0_j)."""
    out = sums.copy()
    for j in range(sums.shape[0]):
        for k in range(beta.shape[0]):
            out[j] -= border[j, k] * beta[k]
    return out


@numba.njit(cache=True, error_model="numpy")
def first_iterate_logdet(code, a, b, z, codes, X, base, theta, beta, a0, sums, border, gradient):
    """sum_j log H_j, H_j = 1 + theta^2 sum_i w_i z_i^2 at PIRLS's first iterate u1 (see
    :func:`first_iterate_terms`; ``base`` is offset + X beta); its gradient in (theta, beta) added to
    ``gradient``.

    eta1_i = base_i + z_i phi_j r_j with phi_j = theta^2 / (1 + theta^2 a0_j), so
    d eta1_i / d theta = z_i phi_j' r_j (phi_j' = 2 theta / (1 + theta^2 a0_j)^2) and
    d eta1_i / d beta_k = x_ik - z_i phi_j C_jk; w_i' = d_i''' / 2 carries them into H_j."""
    n_levels, p = a0.shape[0], beta.shape[0]
    r = _working_sums(beta, sums, border)
    theta2 = theta * theta
    weight_sum, tilt, lean = np.zeros(n_levels), np.zeros(n_levels), np.zeros((n_levels, p))
    for i in range(codes.shape[0]):
        j, zi = codes[i], z[i]
        _, _, d2, d3, _ = row_deviance_terms(code, a[i], b[i], base[i] + zi * theta2 * r[j] / (1.0 + theta2 * a0[j]))
        weight_sum[j] += 0.5 * d2 * zi * zi
        tilt[j] += 0.5 * d3 * zi * zi * zi
        for k in range(p):
            lean[j, k] += 0.5 * d3 * zi * zi * X[i, k]
    value = 0.0
    for j in range(n_levels):
        h = 1.0 + theta2 * weight_sum[j]
        value += math.log(h)
        phi, slope_phi = theta2 / (1.0 + theta2 * a0[j]), 2.0 * theta / (1.0 + theta2 * a0[j]) ** 2
        gradient[0] += (2.0 * theta * weight_sum[j] + theta2 * tilt[j] * slope_phi * r[j]) / h
        for k in range(p):
            gradient[1 + k] += theta2 * (lean[j, k] - phi * border[j, k] * tilt[j]) / h
    return value


@numba.njit(cache=True, error_model="numpy")
def pirls_takes_two_iterations(code, y, weights, a, b, z, codes, base, theta, beta, a0, sums, border, tol):
    """Whether PIRLS from stage 1's end clearly stops after two iterations at (theta, beta) without halving a
    step, as :func:`first_iterate_logdet` takes it: its penalised deviance at the first iterate u1 and at the
    second (a Newton step on each F_j from u1) differ by less than :data:`STOP_MARGIN` times ``tol`` relative,
    and did not rise."""
    n_levels = a0.shape[0]
    u1 = _working_sums(beta, sums, border)
    for j in range(n_levels):
        u1[j] *= theta / (1.0 + theta * theta * a0[j])
    slope, curve = u1.copy(), np.ones(n_levels)  # F_j' / 2 and F_j'' / 2 at u1
    first = 0.0
    for j in range(n_levels):
        first += u1[j] * u1[j]
    for i in range(codes.shape[0]):
        j, tz = codes[i], theta * z[i]
        eta = base[i] + tz * u1[j]
        _, d1, d2, _, _ = row_deviance_terms(code, a[i], b[i], eta)
        slope[j] += 0.5 * tz * d1
        curve[j] += 0.5 * tz * tz * d2
        first += dev_resid(code, y[i], mean(code, eta)[0], weights[i])
    second = 0.0
    for j in range(n_levels):
        u1[j] -= slope[j] / curve[j]
        second += u1[j] * u1[j]
    for i in range(codes.shape[0]):
        second += dev_resid(code, y[i], mean(code, base[i] + theta * z[i] * u1[codes[i]])[0], weights[i])
    return second <= first and first - second < STOP_MARGIN * tol * second
