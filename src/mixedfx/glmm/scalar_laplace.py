"""The Laplace fit of a model with one scalar random-effects term, by exact Newton steps in one compiled call.

With one scalar term ``(1 | g)`` (or ``(0 + x | g)``) each level's conditional
mode is its own one-dimensional problem: at theta and beta, level j's mode u_j
minimises ``F_j(u) = sum_i d_i(eta_i) + u^2`` over its rows i, with
``eta_i = offset_i + x_i beta + theta z_i u`` and ``d_i`` the row's -2 log-likelihood.
The Laplace deviance is ``sum_j F_j(u_j) + log h_j``, ``h_j = F_j''(u_j) / 2``,
plus the family's constant. For a canonical link (binomial logit, Poisson log)
``h_j`` is the diagonal of lme4's factor L squared, and the deviance's exact
gradient and Hessian in (theta, beta) are sums over the levels: implicit
differentiation of ``F_j'(u_j) = 0`` gives the modes' first and second
derivatives, and the rows' third and fourth derivatives of ``d_i`` are simple.

Newton steps with a line search on theta and beta together optimise one of two
deviances, until the Newton decrement (about twice the distance to the optimum
in deviance) is below :data:`DECREMENT_TOL` on a positive definite Hessian:

- lme4's (the default): after lme4's stage 1, its stage-2 deviance, which takes
  log|L|^2 at PIRLS's first iterate rather than at the modes
  (:mod:`mixedfx.glmm.scalar_lme4`); the Laplace deviance's Hessian steers the
  steps, and the Hessian reported is lme4's function's, by forward differences
  of its exact gradient. So the fit ends where lme4's does, at its tolerance.
- the exact Laplace deviance (glmmTMB's optimum), from lme4's starting theta and
  beta from least squares of the starting linear predictor (cbpp: 5 steps,
  7 evaluations); its logLik is as high as lme4's or higher.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import copy
import math
from typing import NamedTuple

import numba
import numpy as np

from mixedfx.glmm.family_kernels import (
    POISSON_LOG,
    LogLikelihoodTerms,
    dev_resid,
    mean,
    row_deviance_terms,
)
from mixedfx.glmm.scalar_lme4 import (
    STAGE1_CONVERGED,
    first_iterate_logdet,
    first_iterate_terms,
    linear_predictor,
    pirls_takes_two_iterations,
    stage1,
)
from mixedfx.linalg.layout import TermLayout
from mixedfx.linalg.small_solve import newton_direction, solve_shifted
from mixedfx.optim.newton import GRADIENT_DELTA

__all__ = ["ScalarLaplaceNewton", "ScalarLaplaceFit", "laplace_derivatives", "CONVERGED", "DECREMENT_TOL"]

CONVERGED = 0
"""The Newton decrement fell below its tolerance."""
_MODES_FAILED = 1
"""A level's mode did not settle (or left the finite numbers) at the start."""
_LINE_SEARCH_FAILED = 2
"""No step along the Newton direction lowered the deviance."""
_ITERATIONS_RAN_OUT = 3
"""The Newton steps ran out before the decrement fell below its tolerance."""
_STAGE1_FAILED = 4
"""lme4's stage 1 did not converge (:func:`mixedfx.glmm.scalar_lme4.stage1`)."""
_NOT_TWO_ITERATIONS = 5
"""At the optimum PIRLS would not stop clearly after two iterations (or would halve a step): lme4's deviance is
not, or may not be for long, the one optimised (:func:`mixedfx.glmm.scalar_lme4.pirls_takes_two_iterations`)."""

DECREMENT_TOL = 1e-12
"""Newton stops where g' H^-1 g, about twice the deviance above the optimum, is below this: the parameters are
then within about 1e-6 / sqrt(curvature) of it, far inside lme4's own tolerances."""
_MAX_NEWTON = 60
"""Newton steps per stage; a fit from lme4's start takes 5-10."""
_MAX_MODE_STEPS = 100
"""Newton steps per level's mode (lme4's ``maxit`` for PIRLS)."""
_MODE_STEP_TOL = 1e-7
"""A level's mode has settled when its Newton step is below this, relative to 1 + |u_j|: the step taken, the
mode is then within about its square, and its F_j and log h_j follow from their derivatives at the step's
start to that order."""
_MAX_HALVINGS = 40
"""Step-halvings of a level's mode step, and of the line search."""
_ARMIJO = 1e-4
"""The share of the predicted decrease a line-search step must achieve."""


class ScalarLaplaceFit(NamedTuple):
    """What :meth:`ScalarLaplaceNewton.fit` returns.

    Attributes
    ----------
    status : int
        :data:`CONVERGED` or a failure (the caller falls back to the general fit).
    start, pars : ndarray, shape (1 + p,)
        theta then beta at the start and at the end (theta >= 0).
    u : ndarray, shape (J,)
        The spherical conditional modes at ``pars``.
    eta, mu, dev_resids : ndarray, shape (n,)
        The linear predictor, means and deviance residuals there.
    logdet : float
        log|L|^2 there.
    start_deviance, deviance : float
        The deviance optimised (lme4's stage 2, or the Laplace deviance) at the start and at ``pars``, less the
        family's constant.
    laplace_deviance : float
        The Laplace deviance at ``pars`` (the modes settled there), less the family's constant.
    gradient : ndarray, shape (1 + p,)
        Its exact gradient at ``pars``.
    hessian : ndarray, shape (1 + p, 1 + p)
        The Hessian of lme4's deviance function there: by forward differences of its exact gradient after lme4's
        stages, as lme4's fit takes it, else :func:`laplace_derivatives`' lme4 form.
    standard_error_gap : float
        The largest relative difference of the standard errors from the exact Hessian and from lme4's (inf where
        either is not positive definite); 0 after lme4's stages, whose Hessian is lme4's function's own.
    steps, evaluations : int
        Newton steps, and deviance evaluations (the line searches' and the Hessian's included).
    stage1_theta, stage1_deviance : float
        Where lme4's stage 1 ended and its deviance there, less the family's constant (the starting theta and
        NaN without lme4's stages).
    stage1_evaluations : int
        Stage 1's evaluations.
    eta_start : ndarray, shape (n,)
        The linear predictor stage 2's PIRLS starts from: stage 1's end (the one given without lme4's stages).
    """

    status: int
    start: np.ndarray
    pars: np.ndarray
    u: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    dev_resids: np.ndarray
    logdet: float
    start_deviance: float
    deviance: float
    laplace_deviance: float
    gradient: np.ndarray
    hessian: np.ndarray
    standard_error_gap: float
    steps: int
    evaluations: int
    stage1_theta: float
    stage1_deviance: float
    stage1_evaluations: int
    eta_start: np.ndarray


@numba.njit(cache=True, error_model="numpy")
def _level_sums(code, a, b, z, codes, base, theta, u, value, slope, curvature, lean):
    """Per level: F_j(u_j) in ``value``, F_j'(u_j) / 2 in ``slope``, h_j = F_j''(u_j) / 2 in ``curvature`` and
    dh_j / du_j in ``lean``."""
    for j in range(u.shape[0]):
        value[j], slope[j], curvature[j], lean[j] = u[j] * u[j], u[j], 1.0, 0.0
    for i in range(codes.shape[0]):
        j = codes[i]
        tz = theta * z[i]
        d, d1, d2, d3, _ = row_deviance_terms(code, a[i], b[i], base[i] + tz * u[j])
        value[j] += d
        slope[j] += 0.5 * tz * d1
        curvature[j] += 0.5 * tz * tz * d2
        lean[j] += 0.5 * tz * tz * tz * d3


_MODE_WORK_ROWS = 11
"""Rows of :func:`_modes`' workspace, one value per level each (allocated once per fit: a small fit's evaluations
cost little more than their allocations otherwise)."""


@numba.njit(cache=True, error_model="numpy")
def _modes(code, a, b, z, codes, base, theta, u, work):
    """The levels' modes at theta and the rows' ``base`` (in place in ``u``, from its values): Newton steps per
    level, halved where F_j rose (F_j is convex), one pass over the rows each. Returns the deviance (less the
    family's constant) at the modes, or inf where a mode does not settle. ``work``: shape
    (:data:`_MODE_WORK_ROWS`, J)."""
    value, slope, curvature, lean, kept, kept_log = work[0], work[1], work[2], work[3], work[4], work[5]
    start, step, at_start, share, halvings = work[6], work[7], work[8], work[9], work[10]
    n_levels = u.shape[0]
    for j in range(n_levels):
        start[j], step[j], at_start[j], share[j], halvings[j] = u[j], 0.0, np.inf, 1.0, 0.0
    for _ in range(_MAX_MODE_STEPS):
        _level_sums(code, a, b, z, codes, base, theta, u, value, slope, curvature, lean)
        settled = True
        for j in range(n_levels):
            if not value[j] <= at_start[j] + 1e-12 * abs(at_start[j]):  # rose, or left the finite numbers
                if not math.isfinite(at_start[j]) or halvings[j] == _MAX_HALVINGS:
                    return np.inf
                share[j] *= 0.5
                halvings[j] += 1.0
                u[j] = start[j] + share[j] * step[j]
                settled = False
                continue
            start[j], at_start[j] = u[j], value[j]
            step[j] = -slope[j] / curvature[j]
            share[j], halvings[j] = 1.0, 0.0
            if not math.isfinite(step[j]):
                return np.inf
            # F_j and log h_j at the step's end, to second order in it (exact at a settled mode's step)
            kept[j] = value[j] - curvature[j] * step[j] * step[j]
            kept_log[j] = math.log(curvature[j]) + lean[j] / curvature[j] * step[j]
            u[j] += step[j]
            if abs(step[j]) > _MODE_STEP_TOL * (1.0 + abs(start[j])):
                settled = False
        if settled:
            total = 0.0
            for j in range(n_levels):
                total += kept[j] + kept_log[j]
            return total
    return np.inf


@numba.njit(cache=True, error_model="numpy")
def _bases(X, offset, beta, base):
    """offset + X beta, in place."""
    for i in range(X.shape[0]):
        total = offset[i]
        for k in range(X.shape[1]):
            total += X[i, k] * beta[k]
        base[i] = total


@numba.njit(cache=True, error_model="numpy")
def laplace_derivatives(code, a, b, z, codes, X, base, theta, u):
    """The exact gradient and Hessian of the Laplace deviance in (theta, beta) at the modes ``u``, the Hessian of
    lme4's deviance function there, and the modes' derivatives, shape (J, 1 + p).

    lme4's deviance function takes log|L|^2 at the weights of PIRLS's last iteration's
    start, one Newton step from where it started: there the modes' second derivatives
    lack the rows' third derivatives of d_i, whose share of the Hessian the exact Hessian
    has and lme4's lacks (``modes_third``). lme4's standard errors come from its Hessian
    (this one matches deriv12's to about 1e-3 relative); the optimum is the same.

    Parameter 0 is theta, 1 + k is beta_k. F = sum_i d_i + u^2 at the modes has Hessian
    F_pp - F_pu F_uu^-1 F_up, level by level. log h_j's derivatives follow from the rows'
    total derivatives of eta, E_i = de_i/dp + theta z_i du_j/dp, the modes' second
    derivatives (implicit differentiation of F_j'(u_j) = 0 twice) and the rows' third and
    fourth derivatives of d_i. The parts that are sums over rows of E_i E_i' go straight
    into the Hessian; F_pp's sum of d_i'' e_i e_i' over the partial derivatives e_i too,
    as sum d_i'' E_i E_i' less theta (du_j R_j' + R_j du_j') and plus 2 theta^2 S_j du_j du_j',
    which with F_pu F_uu^-1 F_up = 2 h_j du_j du_j' leaves -2 du_j du_j' per level.
    """
    n_rows, n_levels, m = codes.shape[0], u.shape[0], X.shape[1] + 1
    gradient, hessian, modes_third = np.zeros(m), np.zeros((m, m)), np.zeros((m, m))
    weight_sum = np.zeros(n_levels)      # S_j = sum z^2 d2/2
    cubic = np.zeros(n_levels)           # V_j = sum z^3 d3/2
    coupling = np.zeros((n_levels, m))   # C_jk = F_j,u p_k / 2
    second, third, fourth = np.empty(n_rows), np.empty(n_rows), np.empty(n_rows)
    e = np.empty(m)
    for i in range(n_rows):
        j, zi = codes[i], z[i]
        e[0] = zi * u[j]
        for k in range(1, m):
            e[k] = X[i, k - 1]
        _, d1, d2, d3, d4 = row_deviance_terms(code, a[i], b[i], base[i] + theta * zi * u[j])
        second[i], third[i], fourth[i] = d2, d3, d4
        weight_sum[j] += 0.5 * zi * zi * d2
        cubic[j] += 0.5 * zi * zi * zi * d3
        coupling[j, 0] += 0.5 * zi * d1
        for k in range(m):
            coupling[j, k] += 0.5 * theta * zi * d2 * e[k]
            gradient[k] += d1 * e[k]
    h = 1.0 + theta * theta * weight_sum
    mode_slope = np.empty((n_levels, m))  # du_j / dp_k
    for j in range(n_levels):
        for k in range(m):
            mode_slope[j, k] = -coupling[j, k] / h[j]
    tilt = np.zeros((n_levels, m))  # T_jk = sum z^2 d3/2 E_k
    bend = np.zeros((n_levels, m))  # R_jk = sum z d2 E_k
    for i in range(n_rows):
        j, zi = codes[i], z[i]
        e[0] = zi * u[j]
        for k in range(1, m):
            e[k] = X[i, k - 1]
        for k in range(m):
            e[k] += theta * zi * mode_slope[j, k]
        # log h_j's curvature through d4, and through the d3 part of the modes' second derivatives
        weight = second[i] + theta * theta / h[j] * 0.5 * zi * zi * fourth[i]
        weight_third = -0.5 * (theta * theta / h[j]) ** 2 * cubic[j] * zi * third[i]
        for k in range(m):
            tilt[j, k] += 0.5 * zi * zi * third[i] * e[k]
            bend[j, k] += zi * second[i] * e[k]
            for l in range(k + 1):
                hessian[k, l] += weight * e[k] * e[l]
                modes_third[k, l] += weight_third * e[k] * e[l]
    slope_h = np.empty(m)
    for j in range(n_levels):
        s, hj, up = weight_sum[j], h[j], mode_slope[j]
        for k in range(m):
            slope_h[k] = theta * theta * tilt[j, k]
        slope_h[0] += 2.0 * theta * s
        for k in range(m):
            gradient[k] += slope_h[k] / hj
            for l in range(k + 1):
                hessian[k, l] -= theta * (up[k] * bend[j, l] + bend[j, k] * up[l]) + 2.0 * up[k] * up[l]
                mixed = (up[l] if k == 0 else 0.0) + (up[k] if l == 0 else 0.0)
                mode_curve = -(2.0 * theta * s * mixed + (bend[j, k] if l == 0 else 0.0)
                               + (bend[j, l] if k == 0 else 0.0)) / (2.0 * hj)
                curve_h = theta * theta * (mixed + theta * mode_curve) * cubic[j]
                curve_h += (2.0 * theta * tilt[j, l] if k == 0 else 0.0) + (2.0 * theta * tilt[j, k] if l == 0 else 0.0)
                if k == 0 and l == 0:
                    curve_h += 2.0 * s
                hessian[k, l] += curve_h / hj - slope_h[k] * slope_h[l] / (hj * hj)
    for k in range(m):
        for l in range(k):
            hessian[l, k] = hessian[k, l]
            modes_third[l, k] = modes_third[k, l]
    return gradient, hessian + modes_third, hessian, mode_slope


@numba.njit(cache=True, error_model="numpy")
def _deviance(code, a, b, z, codes, X, base, pars, u, work, first_iterate):
    """The deviance optimised at ``pars`` (less the family's constant; ``base`` = offset + X beta), its modes in
    place in ``u`` from their values: the Laplace deviance, or where ``first_iterate`` holds stage 2's terms
    (:func:`mixedfx.glmm.scalar_lme4.first_iterate_terms`, J > 0) lme4's, log|L|^2 at PIRLS's first iterate."""
    value = _modes(code, a, b, z, codes, base, pars[0], u, work)
    a0, sums, border = first_iterate
    if a0.shape[0] == 0 or not math.isfinite(value):
        return value
    for j in range(u.shape[0]):
        value -= work[5, j]  # log h_j at the modes, as _modes kept it
    return value + first_iterate_logdet(code, a, b, z, codes, X, base, pars[0], pars[1:], a0, sums, border,
                                        np.zeros(pars.shape[0]))


@numba.njit(cache=True, error_model="numpy")
def _derivatives(code, a, b, z, codes, X, base, pars, u, first_iterate):
    """At ``pars`` (modes ``u``): the gradient of :func:`_deviance`'s deviance, the Newton steps' Hessian, lme4's
    form of it and the modes' derivatives. For lme4's deviance the Hessian is the Laplace deviance's: the two
    differ only by where log h_j is taken, which changes the Newton steps' speed, not where they end."""
    gradient, hessian, lme4_hessian, mode_slope = laplace_derivatives(code, a, b, z, codes, X, base, pars[0], u)
    if first_iterate[0].shape[0]:
        gradient = _lme4_gradient(code, a, b, z, codes, X, base, pars, u, first_iterate)
    return gradient, hessian, lme4_hessian, mode_slope


@numba.njit(cache=True, error_model="numpy")
def _lme4_gradient(code, a, b, z, codes, X, base, pars, u, first_iterate):
    """The gradient of lme4's stage-2 deviance at ``pars`` (modes ``u``; ``first_iterate`` as for
    :func:`_deviance`): F's partial derivatives (the modes minimise F in u, so their own moves add nothing) and
    :func:`first_iterate_logdet`'s."""
    theta, m = pars[0], pars.shape[0]
    gradient = np.zeros(m)
    for i in range(codes.shape[0]):
        j = codes[i]
        first = row_deviance_terms(code, a[i], b[i], base[i] + theta * z[i] * u[j])[1]
        gradient[0] += first * z[i] * u[j]
        for k in range(1, m):
            gradient[k] += first * X[i, k - 1]
    a0, sums, border = first_iterate
    first_iterate_logdet(code, a, b, z, codes, X, base, theta, pars[1:], a0, sums, border, gradient)
    return gradient


@numba.njit(cache=True, error_model="numpy")
def _newton(code, a, b, z, codes, X, offset, pars, u, tol, first_iterate):
    """Newton steps with a backtracking line search on :func:`_deviance`, in place in ``pars`` and ``u``.

    Each trial's modes start from their first-order prediction along the step. The deviance is even in theta
    (u_j flips with it), so a step through 0 is taken to |theta|. Converged where the decrement is below ``tol``
    on a positive definite Hessian. Returns the status, deviance at the start and at the end, gradient,
    exact and lme4's Hessian, the modes' derivatives (J, m), steps and evaluations."""
    m = pars.shape[0]
    base, trial_base = np.empty(codes.shape[0]), np.empty(codes.shape[0])
    work = np.empty((_MODE_WORK_ROWS, u.shape[0]))
    _bases(X, offset, pars[1:], base)
    deviance = _deviance(code, a, b, z, codes, X, base, pars, u, work, first_iterate)
    evaluations = 1
    if not math.isfinite(deviance):
        return (_MODES_FAILED, deviance, deviance, np.zeros(m), np.zeros((m, m)), np.zeros((m, m)),
                np.zeros((u.shape[0], m)), 0, evaluations)
    start_deviance = deviance
    trial, trial_u = np.empty(m), np.empty(u.shape[0])
    for steps in range(_MAX_NEWTON):
        gradient, hessian, lme4_hessian, mode_slope = _derivatives(code, a, b, z, codes, X, base, pars, u,
                                                                   first_iterate)
        direction, shifted = newton_direction(hessian, gradient)
        decrement = -np.dot(gradient, direction)
        if decrement < tol and not shifted:
            return (CONVERGED, start_deviance, deviance, gradient, hessian, lme4_hessian, mode_slope, steps,
                    evaluations)
        mode_step = mode_slope @ direction
        share = 1.0
        for _ in range(_MAX_HALVINGS):
            trial[:] = pars + share * direction
            trial_u[:] = u + share * mode_step
            if trial[0] < 0.0:
                trial[0], trial_u[:] = -trial[0], -trial_u
            _bases(X, offset, trial[1:], trial_base)
            value = _deviance(code, a, b, z, codes, X, trial_base, trial, trial_u, work, first_iterate)
            evaluations += 1
            if value <= deviance - _ARMIJO * share * decrement:
                break
            share *= 0.5
        else:
            return (_LINE_SEARCH_FAILED, start_deviance, deviance, gradient, hessian, lme4_hessian, mode_slope,
                    steps, evaluations)
        pars[:], u[:], base[:], deviance = trial, trial_u, trial_base, value
    return (_ITERATIONS_RAN_OUT, start_deviance, deviance, gradient, hessian, lme4_hessian, mode_slope, _MAX_NEWTON,
            evaluations)


@numba.njit(cache=True, error_model="numpy")
def _gradient_differences(code, a, b, z, codes, X, offset, pars, u, gradient, mode_slope, first_iterate, delta):
    """The Hessian of lme4's stage-2 deviance at ``pars`` by forward differences of :func:`_lme4_gradient`
    (``gradient`` there, the modes ``u`` and their derivatives ``mode_slope``, from which each step's modes
    start), made symmetric: as :func:`mixedfx.optim.newton.gradient_hessian` takes lme4's."""
    m = pars.shape[0]
    columns = np.empty((m, m))
    base, work = np.empty(codes.shape[0]), np.empty((_MODE_WORK_ROWS, u.shape[0]))
    point, modes = np.empty(m), np.empty(u.shape[0])
    for k in range(m):
        point[:], modes[:] = pars, u + delta * mode_slope[:, k]
        point[k] += delta
        _bases(X, offset, point[1:], base)
        _deviance(code, a, b, z, codes, X, base, point, modes, work, first_iterate)
        columns[:, k] = (_lme4_gradient(code, a, b, z, codes, X, base, point, modes, first_iterate) - gradient) / delta
    return 0.5 * (columns + columns.T)


@numba.njit(cache=True, error_model="numpy")
def _standard_error_gap(hessian, other):
    """The largest relative difference of the standard errors (the square roots of the inverses' diagonals) the
    two Hessians give; inf where either is not positive definite."""
    m = hessian.shape[0]
    gap = 0.0
    for k in range(m):
        unit = np.zeros(m)
        unit[k] = 1.0
        first, second = solve_shifted(hessian, unit, 0.0), solve_shifted(other, unit, 0.0)
        if first is None or second is None:
            return np.inf
        gap = max(gap, abs(math.sqrt(second[k] / first[k]) - 1.0))
    return gap


@numba.njit(cache=True, error_model="numpy")
def _fit(code, a, b, y, weights, z, codes, X, offset, eta_start, pars, u, lme4_stages, pirls_settings, delta):
    """Newton steps from ``pars`` (theta, and beta or NaN for stage 1's) and ``u``, in place; with ``lme4_stages``
    on lme4's deviance after lme4's stage 1 from theta, else on the Laplace deviance.
    ``pirls_settings``: PIRLS's tol, max_iter and max_halvings. Returns :class:`ScalarLaplaceFit`'s fields."""
    m, p, n_rows, n_levels = pars.shape[0], X.shape[1], codes.shape[0], u.shape[0]
    given_beta = p == 0 or not np.isnan(pars[1])
    beta = pars[1:].copy()
    status = CONVERGED
    stage1_theta, stage1_deviance, stage1_evaluations = pars[0], np.nan, 0
    start_eta = eta_start.copy()
    first_iterate = (np.zeros(0), np.zeros(0), np.zeros((0, p)))
    if lme4_stages:
        stage1_status, stage1_theta, stage1_deviance, stage1_evaluations = stage1(
            code, y, weights, a, b, z, codes, X, offset, eta_start, pars[0], pirls_settings, u, beta)
        if stage1_status != STAGE1_CONVERGED:
            status = _STAGE1_FAILED
        pars[0] = stage1_theta
        linear_predictor(X, offset, beta, stage1_theta, z, codes, u, start_eta)
        first_iterate = first_iterate_terms(code, a, b, z, codes, X, offset, start_eta, n_levels)
    if not given_beta:
        pars[1:] = beta
    start = pars.copy()
    start_deviance = deviance = np.nan
    gradient, hessian, exact_hessian = np.zeros(m), np.zeros((m, m)), np.zeros((m, m))
    mode_slope = np.zeros((n_levels, m))
    steps = evaluations = 0
    if status == CONVERGED:
        status, start_deviance, deviance, gradient, exact_hessian, hessian, mode_slope, steps, evaluations = _newton(
            code, a, b, z, codes, X, offset, pars, u, DECREMENT_TOL, first_iterate)
    # lme4's stages report lme4's own Hessian: no other form's standard errors to compare
    gap = 0.0 if lme4_stages else _standard_error_gap(exact_hessian, hessian)
    eta = np.empty(n_rows)
    _bases(X, offset, pars[1:], eta)
    if lme4_stages and status == CONVERGED:  # lme4's Hessian as lme4's fit takes it; and whether PIRLS agrees
        hessian = _gradient_differences(code, a, b, z, codes, X, offset, pars, u, gradient, mode_slope, first_iterate,
                                        delta)
        evaluations += m
        if not pirls_takes_two_iterations(code, y, weights, a, b, z, codes, eta, pars[0], pars[1:], first_iterate[0],
                                          first_iterate[1], first_iterate[2], pirls_settings[0]):
            status = _NOT_TWO_ITERATIONS
    mu, dev_resids = np.empty(n_rows), np.empty(n_rows)
    curvature = np.ones(n_levels)
    laplace = np.sum(u * u)
    for i in range(n_rows):
        j = codes[i]
        eta[i] += pars[0] * z[i] * u[j]
        mu[i] = mean(code, eta[i])[0]
        dev_resids[i] = dev_resid(code, y[i], mu[i], weights[i])
        row = row_deviance_terms(code, a[i], b[i], eta[i])
        laplace += row[0]
        curvature[j] += 0.5 * (pars[0] * z[i]) ** 2 * row[2]
    logdet = np.sum(np.log(curvature))
    return (status, start, pars, u, eta, mu, dev_resids, logdet, start_deviance, deviance, laplace + logdet,
            gradient, hessian, gap, steps, evaluations, stage1_theta, stage1_deviance, stage1_evaluations, start_eta)


class ScalarLaplaceNewton:
    """The Newton fit of one model with one scalar term on a canonical link (see the module).

    Parameters
    ----------
    code : int
        :func:`mixedfx.glmm.family_kernels.compiled_family`'s code.
    log_likelihood : LogLikelihoodTerms
        The response's split of ``family$aic`` (its ``a`` and ``b``).
    y, weights : ndarray, shape (n,)
        The response and prior weights as the family's initialize left them.
    layout : TermLayout
        The one term.
    X : ndarray, shape (n, p)
    offset : ndarray, shape (n,)
    lme4_stages : bool
        lme4's stage 1, then Newton steps on lme4's stage-2 deviance
        (:mod:`mixedfx.glmm.scalar_lme4`); False: Newton steps on the exact Laplace deviance.
    pirls_settings : tuple of (float, int, int)
        PIRLS's ``tol_pwrss``, ``max_pirls`` and ``max_halvings``, as lme4's stages run it.

    Examples
    --------
    >>> from mixedfx.glmm.family_kernels import log_likelihood_terms
    >>> from mixedfx.glmm.families import poisson
    >>> from mixedfx.linalg.layout import TermLayout
    >>> levels = np.arange(60) % 6
    >>> y = np.array([0.0, 1, 3, 2, 6, 9] * 10)
    >>> newton = ScalarLaplaceNewton(POISSON_LOG, log_likelihood_terms(poisson(), y, np.ones(60), np.ones(60)),
    ...                              y, np.ones(60), TermLayout(levels, np.ones((60, 1)), 6), np.ones((60, 1)),
    ...                              np.zeros(60))
    >>> fit = newton.fit(np.log(y + 0.1), 1.0)
    >>> fit.status == CONVERGED, round(float(fit.pars[0]), 2)
    (True, 1.54)
    """

    def __init__(self, code: int, log_likelihood: LogLikelihoodTerms, y: np.ndarray, weights: np.ndarray,
                 layout: TermLayout, X: np.ndarray, offset: np.ndarray, lme4_stages: bool = True,
                 pirls_settings: tuple[float, int, int] = (1e-7, 100, 10)) -> None:
        self.code, self.a, self.b, self.y, self.weights = code, log_likelihood.a, log_likelihood.b, y, weights
        self.z, self.codes, self.n_levels = np.ascontiguousarray(layout.z[:, 0]), layout.codes, layout.n_levels
        self.X, self.offset = np.ascontiguousarray(X, dtype=float), np.ascontiguousarray(offset, dtype=float)
        self.lme4_stages, self.pirls_settings = lme4_stages, pirls_settings

    def on_exact_laplace(self) -> ScalarLaplaceNewton:
        """This fit on the exact Laplace deviance (``lme4_stages`` False), sharing the model's arrays."""
        exact = copy.copy(self)
        exact.lme4_stages = False
        return exact

    @property
    def name(self) -> str:
        """What the fit optimises, for the optimiser's record."""
        target = "lme4's deviance after its stage 1" if self.lme4_stages else "the exact Laplace deviance"
        return f"Newton steps on {target} (one scalar term)"

    def fit(self, eta_start: np.ndarray, theta0: float, beta0: np.ndarray | None = None) -> ScalarLaplaceFit:
        """Newton steps from theta0 and beta0: after lme4's stage 1 from theta0 (beta0 by default stage 1's), or
        on the Laplace deviance (beta0 by default least squares of ``eta_start`` less the offset on X).

        Returns
        -------
        ScalarLaplaceFit
        """
        pars = np.full(self.X.shape[1] + 1, np.nan)
        pars[0] = theta0
        if beta0 is not None:
            pars[1:] = beta0
        elif not self.lme4_stages:  # here, not compiled: numba's lstsq takes seconds to compile
            pars[1:] = np.linalg.lstsq(self.X, eta_start - self.offset)[0]
        return ScalarLaplaceFit(*_fit(self.code, self.a, self.b, self.y, self.weights, self.z, self.codes, self.X,
                                      self.offset, np.ascontiguousarray(eta_start, dtype=float), pars,
                                      np.zeros(self.n_levels), self.lme4_stages, self.pirls_settings, GRADIENT_DELTA))
