"""Newton steps on the average information for one random-effects term, the whole run in one compiled call.

:func:`mixedfx.lmm.information.information_minimise` with
:func:`~mixedfx.lmm.information.average_information`, for a model of one term
(``(Days + I(Days^2) | Subject)``), whose evaluations cost microseconds: each
point's factor and gradient (:func:`mixedfx.linalg.one_term_gradient.one_term_derivatives`),
its average information level by level (:func:`one_term_information`), the step
and its halvings run with no Python in between. The same constants, the same
maps between theta and the variance components
(:mod:`mixedfx.lmm.variance_parameters`) and the same criterion
(:mod:`mixedfx.lmm.criterion`) as the Python loop. sleepstudy's quadratic
slopes take 5 evaluations where L-BFGS-B took 19. Terms of one or two columns
keep BOBYQA (:class:`mixedfx.linalg.factorizer.OneTermFactorizer`), though the
steps apply to them as well.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import numba
import numpy as np

from mixedfx.linalg.layout import lambda_template
from mixedfx.linalg.one_term import criterion_parts, factor_parts
from mixedfx.linalg.one_term_gradient import back_substitute, level_effects, level_residual, one_term_derivatives
from mixedfx.linalg.pivots import OK
from mixedfx.lmm.criterion import profiled_criterion, template_gradient_entries
from mixedfx.lmm.information import CONVERGED, DECREASE_TOL, HALVINGS, LAST_STEP_DECREASE, MAX_STEPS
from mixedfx.lmm.variance_parameters import covariance_entries, covariance_score, newton_step, theta_of_covariances

__all__ = ["one_term_steps", "one_term_information", "NOT_CONVERGED"]

# the steps did not apply (a variance near zero, an information not positive definite, no lower point
# along the step, no convergence within MAX_STEPS): the caller optimises otherwise
NOT_CONVERGED = -1

_template = numba.njit(cache=True)(lambda_template)
_criterion = numba.njit(cache=True, inline="always")(profiled_criterion)
_gradient_entries = numba.njit(cache=True, inline="always")(template_gradient_entries)
_covariances = numba.njit(cache=True, inline="always")(covariance_entries)
_score = numba.njit(cache=True, inline="always")(covariance_score)
_theta_of = numba.njit(cache=True, inline="always")(theta_of_covariances)
_newton_step = numba.njit(cache=True, inline="always")(newton_step)


@numba.njit(cache=True, error_model="numpy")
def one_term_information(a11, a_r1, l11, l_r1, l_rr, theta, pwrss, sigma2):
    """2 AI over psi (the term's covariance entries, then sigma^2) from one term's factor at theta.

    :func:`mixedfx.lmm.information.average_information`'s quantities level by
    level: with ``rho_l`` the level's ``Z' W r``, the column of covariance entry
    ``(r, c)`` is ``c_l = E_rc rho_l / sigma^2``, its products with the blocks
    ``A11_l c_l`` and ``A_X1,l c_l``, and the forward solve with L runs through
    each level's ``L11_l`` and the coupling into the fixed effects' block.

    Parameters
    ----------
    a11, a_r1 : ndarray
        The blocks (:func:`mixedfx.linalg.one_term.factor_one_term`'s).
    l11, l_r1, l_rr : ndarray
        Their factor at theta.
    theta : ndarray
    pwrss, sigma2 : float
        The factor's penalised residual sum of squares and the profiled residual variance.

    Returns
    -------
    ndarray, shape (n_theta + 1, n_theta + 1)
    """
    n_levels, k, _ = a11.shape
    p = l_rr.shape[0] - 1
    n_cov = k * (k + 1) // 2
    t = _template(theta, k)
    beta = back_substitute(l_rr, l_rr[p, :p].copy(), p)
    gram = np.zeros((n_cov + 1, n_cov + 1))
    solved = np.zeros((n_cov + 1, n_cov + 1))
    x_products = np.zeros((n_cov + 1, p))      # X' W Z c_a (0 for sigma^2), less the coupling's share of the solve
    u = np.empty(k)
    rho = np.empty(k)
    # covariance entry a is (row[a], col[a]): its column c_a holds rho[col] at row and rho[row] at col (off the
    # diagonal), so its products with the blocks take two of their columns, not k
    row = np.empty(n_cov, dtype=np.int64)
    col = np.empty(n_cov, dtype=np.int64)
    a = 0
    for c in range(k):
        for r in range(c, k):
            row[a], col[a] = r, c
            a += 1
    products = np.empty((n_cov, k))
    first = np.empty((n_cov + 1, k))
    uu = 0.0
    for lev in range(n_levels):
        base = lev * k
        level_effects(l11[lev], l_r1, beta, base, p, u)
        level_residual(t, a11[lev], a_r1, beta, u, base, p, rho)
        for e in range(k):
            uu += u[e] * u[e]
        for a in range(n_cov):
            r, c = row[a], col[a]
            for e in range(k):
                products[a, e] = a11[lev, e, r] * rho[c] / sigma2
            for i in range(p):
                x_products[a, i] += a_r1[i, base + r] * rho[c] / sigma2
            if r != c:
                for e in range(k):
                    products[a, e] += a11[lev, e, c] * rho[r] / sigma2
                for i in range(p):
                    x_products[a, i] += a_r1[i, base + c] * rho[r] / sigma2
        for a in range(n_cov):
            r, c = row[a], col[a]
            for b in range(n_cov):
                acc = rho[c] * products[b, r]
                if r != c:
                    acc += rho[r] * products[b, c]
                gram[a, b] += acc / sigma2
            acc = rho[c] * rho[r] if r == c else 2.0 * rho[c] * rho[r]
            gram[a, n_cov] += acc / sigma2**2
            # T's first rows: Lambda' A11 c_a, solved against L11_l
            for e in range(k):
                acc = 0.0
                for f in range(e, k):
                    acc += t[f, e] * products[a, f]
                first[a, e] = acc
        for e in range(k):
            first[n_cov, e] = u[e] / sigma2
        _solve_rows_lower(l11[lev], first)
        for a in range(n_cov + 1):
            for i in range(p):
                acc = 0.0
                for e in range(k):
                    acc += l_r1[i, base + e] * first[a, e]
                x_products[a, i] -= acc
        _add_gram_lower(first, solved)
    # the fixed effects' rows: L_XX^-1 (X' W Z c - L_X1 z_1)
    _solve_rows_lower(l_rr, x_products)
    _add_gram_lower(x_products, solved)
    for a in range(n_cov):
        gram[n_cov, a] = gram[a, n_cov]
    gram[n_cov, n_cov] = (pwrss - uu) / sigma2**2
    out = np.empty((n_cov + 1, n_cov + 1))
    for a in range(n_cov + 1):
        for b in range(a + 1):
            value = (0.5 * (gram[a, b] + gram[b, a]) - solved[a, b]) / sigma2
            out[a, b] = value
            out[b, a] = value
    return out


@numba.njit(cache=True, error_model="numpy")
def _solve_rows_lower(low, rows):
    """Each row x of ``rows`` replaced by ``L^-1 x``, L the leading block of the lower-triangular ``low`` (as wide as
    ``rows``)."""
    for a in range(rows.shape[0]):
        for e in range(rows.shape[1]):
            acc = rows[a, e]
            for f in range(e):
                acc -= low[e, f] * rows[a, f]
            rows[a, e] = acc / low[e, e]


@numba.njit(cache=True, error_model="numpy")
def _add_gram_lower(rows, out):
    """``out``'s lower triangle plus that of ``rows rows'``."""
    for a in range(rows.shape[0]):
        for b in range(a + 1):
            acc = 0.0
            for e in range(rows.shape[1]):
                acc += rows[a, e] * rows[b, e]
            out[a, b] += acc


@numba.njit(cache=True, error_model="numpy", inline="always")
def _point(a11, a_r1, a_rr, theta, size, dof, log_det_weights, reml, gradient):
    """The criterion at theta and its gradient into ``gradient``; the factor. Status first."""
    status, l11, l_r1, l_rr, logdet, spread = one_term_derivatives(a11, a_r1, a_rr, theta, size)
    if status != OK:
        return status, np.inf, l11, l_r1, l_rr
    _, logdet_re, logdet_x, pwrss = factor_parts(l11, l_rr)
    _gradient_entries(logdet, spread, pwrss, dof, gradient, 0)
    return status, _criterion(logdet_re, logdet_x, pwrss, dof, log_det_weights, reml), l11, l_r1, l_rr


@numba.njit(cache=True, error_model="numpy")
def one_term_steps(a11, a_r1, a_rr, theta0, smallest, size, dof, log_det_weights, reml):
    """Minimise lmer's criterion for one term from ``theta0`` by Newton steps on the average information.

    Parameters
    ----------
    a11, a_r1, a_rr : ndarray
        The blocks (:func:`mixedfx.linalg.one_term.factor_one_term`'s).
    theta0 : ndarray
        The start (the template's diagonal positive).
    smallest : ndarray, shape (k,)
        Per diagonal entry of the template, the value below which the steps stop (a variance too near
        zero): :data:`~mixedfx.lmm.information.SMALLEST_THETA` on columns of one scale, divided by a
        column's scale where Z's columns are not rescaled (the steps themselves do not see the scales).
    size : int
        Rows of the rest inside C: the fixed effects' count for REML, 0 for the deviance.
    dof : int
        The criterion's residual degrees of freedom.
    log_det_weights : float
        log |W| of the prior weights.
    reml : bool

    Returns
    -------
    code : int
        ``CONVERGED`` (:mod:`mixedfx.lmm.information`'s) or :data:`NOT_CONVERGED`.
    theta : ndarray
        Where the steps ended (converged), or the lowest point they met.
    value : float
        The criterion there.
    evaluations : int
    """
    k = a11.shape[1]
    n = len(theta0)
    ks = np.array([k])
    theta = theta0.copy()
    gradient = np.empty(n)
    status, value, l11, l_r1, l_rr = _point(a11, a_r1, a_rr, theta, size, dof, log_det_weights, reml, gradient)
    evaluations = 1
    score = np.empty(n + 1)
    step = np.empty(n + 1)
    psi = np.empty(n + 1)
    candidate = np.empty(n + 1)
    trial = np.empty(n)
    trial_gradient = np.empty(n)
    for _ in range(MAX_STEPS):
        if status != OK:
            return NOT_CONVERGED, theta, value, evaluations
        for j in range(k):
            if not theta[j * k - j * (j - 1) // 2] >= smallest[j]:
                return NOT_CONVERGED, theta, value, evaluations
        pwrss = l_rr[l_rr.shape[0] - 1, l_rr.shape[0] - 1] ** 2
        sigma2 = pwrss / dof
        _covariances(theta, ks, sigma2, psi)
        psi[n] = sigma2
        if not _score(theta, gradient, ks, sigma2, psi, score):
            return NOT_CONVERGED, theta, value, evaluations
        decrease = _newton_step(score, one_term_information(a11, a_r1, l11, l_r1, l_rr, theta, pwrss, sigma2), step)
        if decrease < 0.0:
            return NOT_CONVERGED, theta, value, evaluations
        last = decrease < LAST_STEP_DECREASE
        if decrease >= DECREASE_TOL:
            moved = False
            t11, t_r1, t_rr = l11, l_r1, l_rr
            for halving in range(HALVINGS + 1):
                for j in range(n + 1):  # loops, not array expressions: numba compiles those at length
                    candidate[j] = psi[j] + step[j] / 2.0**halving
                if not _theta_of(candidate, ks, trial):
                    continue
                evaluations += 1
                if last:
                    # the last step is taken without a gradient at its end (its value alone decides)
                    trial_status, logdet_re, logdet_x, pwrss = criterion_parts(a11, a_r1, a_rr, trial)
                    trial_value = (_criterion(logdet_re, logdet_x, pwrss, dof, log_det_weights, reml)
                                   if trial_status == OK else np.inf)
                else:
                    trial_status, trial_value, t11, t_r1, t_rr = _point(a11, a_r1, a_rr, trial, size, dof,
                                                                        log_det_weights, reml, trial_gradient)
                if trial_status == OK and trial_value <= value:
                    theta, value, moved = trial.copy(), trial_value, True
                    if not last:
                        status, l11, l_r1, l_rr = trial_status, t11, t_r1, t_rr
                        for j in range(n):  # by a loop: a slice assignment compiles numba's shape message
                            gradient[j] = trial_gradient[j]
                    break
            if not moved and not last:
                return NOT_CONVERGED, theta, value, evaluations
        if decrease < DECREASE_TOL or last:
            return CONVERGED, theta, value, evaluations
    return NOT_CONVERGED, theta, value, evaluations
