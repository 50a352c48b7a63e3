"""Newton steps on the average information, for lmer's large models (crossed scalar terms, vector-valued rest terms).

REML programs (ASReml, WOMBAT) step on the variance components ``psi``
(:mod:`mixedfx.lmm.variance_parameters`: each term's covariance
``sigma^2 T T'``, then ``sigma^2``) with the average of the observed and
expected information as the Hessian: ``AI_ab = y'P V_a P V_b P y / 2``,
``V_a = dV / d psi_a``. It costs a few solves with the factor already formed,
none of the traces the exact Hessian needs, and is close to the Hessian near the
optimum: from lme4's start, ratings_200k takes 6 evaluations and InstEval 5
(L-BFGS-B: 8 and 12); InstEval with ``(service | d)`` 8 where L-BFGS-B takes 21.

Every quantity comes from the cross-products (no pass over the rows): with
``r`` the residual at the conditional modes, ``P y = W r / sigma^2``, so
``V_a P y = Z_j (E_a x I) Z_j' W r / sigma^2`` (``E_a`` the covariance entry's
symmetric unit), ``X' W r = 0``, and ``P`` applied to these reduces to blocks of
``[Z X]' W [Z X]`` and one forward solve with L. The criterion here is the
profiled one, a function of theta; its gradient over theta gives the score over
psi by the chain rule (the profiled sigma^2 makes the criterion stationary in sigma^2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from mixedfx.linalg.cross import CrossProducts
from mixedfx.linalg.derivatives import random_effects_residual
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.layout import lambda_transposed_times, templates, theta_lower_bounds
from mixedfx.lmm.variance_parameters import covariance_entries, covariance_score, newton_step, theta_of_covariances
from mixedfx.optim.optimize import OptSummary

__all__ = ["CriterionPoint", "average_information", "information_minimise", "DECREASE_TOL", "LAST_STEP_DECREASE",
           "MAX_STEPS", "HALVINGS", "SMALLEST_THETA", "CONVERGED"]

# a point whose step is predicted to lower the criterion by less than this is the optimum (lme4's ftol_abs)
DECREASE_TOL = 1e-8
# a step predicted to gain less than this is the last, taken without a gradient at its end: the steps
# converge superlinearly there (ratings_200k: a predicted 8.9e-3 left 1.6e-7), so it lands within
# lme4's ftol_abs of the optimum
LAST_STEP_DECREASE = 1e-5
MAX_STEPS = 20
# step halvings tried where a full step leaves the bounds or raises the criterion
HALVINGS = 4
# below this a template's diagonal is too near its bound for steps on the covariances (at 0 their derivatives
# over theta vanish)
SMALLEST_THETA = 1e-4
CONVERGED = 3


@dataclass(frozen=True)
class CriterionPoint:
    """The criterion at one theta, with what a step from there needs.

    Attributes
    ----------
    theta : ndarray
        One value per scalar term, internal order.
    value : float
        The criterion (REML criterion or deviance).
    factor : BlockedFactor
        The factorisation at theta.
    gradient : ndarray or None
        The criterion's gradient over theta (None where not asked for).
    u : ndarray or None
        Spherical random effects at theta, internal order (with the gradient).
    """

    theta: np.ndarray
    value: float
    factor: BlockedFactor
    gradient: np.ndarray | None = None
    u: np.ndarray | None = None


def average_information(cp: CrossProducts, point: CriterionPoint, sigma2: float) -> np.ndarray:
    """2 AI over psi (:mod:`mixedfx.lmm.variance_parameters`): the Hessian approximation of -2 log-likelihood.

    Parameters
    ----------
    cp : CrossProducts
        The model's blocks (any terms; the coupling dense or sparse).
    point : CriterionPoint
        The state at theta.
    sigma2 : float
        The profiled residual variance at theta.

    Returns
    -------
    ndarray, shape (n_theta + 1, n_theta + 1)
    """
    layout, factor = cp.layout, point.factor
    tmpls = templates(point.theta, layout.ks)
    beta, u = factor.solve_coefficients()
    rho = random_effects_residual(cp, tmpls, beta, u)
    q, n_cov = len(u), len(point.theta)
    # Q's columns: V_a P y = Z c_a, c_a = (E_a x I) Z_j' W r / sigma^2 on term j's rows, and W^-1 P y = r / sigma^2
    c = _covariance_directions(rho, layout.ks, layout.n_levels) / sigma2
    products = cp.times(np.vstack([c, np.zeros((layout.p, n_cov))]))          # [Z X]' W Z c
    gram = np.empty((n_cov + 1, n_cov + 1))
    gram[:n_cov, :n_cov] = c.T @ products[:q]
    gram[:n_cov, n_cov] = gram[n_cov, :n_cov] = c.T @ rho / sigma2
    gram[n_cov, n_cov] = (factor.pwrss - u @ u) / sigma2**2
    # T = [Lambda' Z' W Q; X' W Q] and Q' W P W Q sigma^2 = Q' W Q - T' C^-1 T with C = L L' (REML's system,
    # X included, for either criterion: only the step's metric); Lambda' Z' W r = u at the conditional modes
    t = np.zeros((q + layout.p, n_cov + 1))
    t[:, :n_cov] = lambda_transposed_times(products, tmpls, layout.n_levels)
    t[:q, n_cov] = u / sigma2
    z = factor.solve_lower(t)
    information = (gram - z.T @ z) / sigma2
    return 0.5 * (information + information.T)


def _covariance_directions(rho: np.ndarray, ks: list[int], n_levels: list[int]) -> np.ndarray:
    """Per covariance entry (r, c) of term j, ``(E_rc x I) rho_j`` on term j's rows: (q, n_theta)."""
    columns, start = [], 0
    for k, n in zip(ks, n_levels):
        block = rho[start: start + k * n].reshape(n, k)
        for col in range(k):
            for row in range(col, k):
                direction = np.zeros((n, k))
                direction[:, row] += block[:, col]
                if row != col:
                    direction[:, col] += block[:, row]
                column = np.zeros(len(rho))
                column[start: start + k * n] = direction.ravel()
                columns.append(column)
        start += k * n
    return np.column_stack(columns)


def information_minimise(evaluate: Callable[[np.ndarray, bool], CriterionPoint | None],
                         information: Callable[[CriterionPoint, float], np.ndarray], x0: np.ndarray,
                         dof: int, ks: list[int]) -> tuple[OptSummary | None, int]:
    """Minimise the profiled criterion by Newton steps on psi with the average information.

    Parameters
    ----------
    evaluate : callable
        (theta, with_gradient) -> :class:`CriterionPoint`, or None where the
        factorisation fails.
    information : callable
        (point, sigma^2) -> :func:`average_information` at that point.
    x0 : ndarray
        Starting theta (every template's diagonal positive).
    dof : int
        The criterion's residual degrees of freedom (sigma^2 = pwrss / dof).
    ks : list of int
        Columns per term (theta's layout).

    Returns
    -------
    summary : OptSummary or None
        None where the steps do not apply: a template's diagonal near zero, an
        information that is not positive definite, a step that no halving makes
        feasible and lower, or no convergence in a few steps; the caller then
        optimises otherwise.
    evaluations : int
        Criterion evaluations spent.
    """
    diagonal = theta_lower_bounds(ks) == 0.0
    point = evaluate(np.asarray(x0, dtype=float), True)
    evaluations = 1
    for _ in range(MAX_STEPS):
        if point is None or np.any(point.theta[diagonal] < SMALLEST_THETA):
            return None, evaluations
        sigma2 = point.factor.pwrss / dof
        # the criterion is stationary in sigma^2 at its profiled value: the chain rule through
        # theta = chol(Sigma / sigma^2) gives the score over psi from the gradient over theta
        psi = np.empty(len(point.theta) + 1)
        covariance_entries(point.theta, ks, sigma2, psi)
        psi[-1] = sigma2
        score = np.empty(len(psi))
        if not covariance_score(point.theta, point.gradient, ks, sigma2, psi, score):
            return None, evaluations
        step = np.empty(len(score))
        decrease = newton_step(score, information(point, sigma2), step)
        if decrease < 0.0:
            return None, evaluations
        last = decrease < LAST_STEP_DECREASE
        if decrease >= DECREASE_TOL:
            trial, spent = _step(evaluate, point, psi, step, ks, with_gradient=not last)
            evaluations += spent
            # the last step stands where it lowers the criterion; the point it left is converged too
            point = trial if trial is not None or not last else point
        if decrease < DECREASE_TOL or last:
            summary = OptSummary(optimizer="ai-newton", x0=np.asarray(x0, dtype=float), x=point.theta,
                                 fval=point.value, feval=evaluations, return_code=CONVERGED)
            return summary, evaluations
    return None, evaluations


def _step(evaluate: Callable[[np.ndarray, bool], CriterionPoint | None], point: CriterionPoint, psi: np.ndarray,
          step: np.ndarray, ks: list[int], with_gradient: bool) -> tuple[CriterionPoint | None, int]:
    """The first of the full step and its halvings that keeps every covariance positive definite and lowers the
    criterion."""
    evaluations = 0
    theta = np.empty(len(psi) - 1)
    for halving in range(HALVINGS + 1):
        if not theta_of_covariances(psi + step / 2.0**halving, ks, theta):
            continue
        trial = evaluate(theta.copy(), with_gradient)
        evaluations += 1
        if trial is not None and trial.value <= point.value:
            return trial, evaluations
    return None, evaluations
