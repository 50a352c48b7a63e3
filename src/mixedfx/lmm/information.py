"""Newton steps on the average information, for lmer's crossed scalar-term models.

REML programs (ASReml, WOMBAT) step on the variance components
``psi = (tau_1 .. tau_k, sigma^2)``, ``tau_j = sigma^2 theta_j^2``, with the
average of the observed and expected information as the Hessian:
``AI_ab = y'P V_a P V_b P y / 2``, ``V_a = dV / d psi_a``. It costs a few
solves with the factor already formed, none of the traces the exact Hessian
needs, and is close to the Hessian near the optimum: from lme4's start,
ratings_200k takes 6 evaluations and InstEval 5 (L-BFGS-B: 8 and 12).

Every quantity comes from the cross-products (no pass over the rows): with
``r`` the residual, ``Z_j' W r = u_j / theta_j`` and ``X' W r = 0`` at the
conditional modes, so ``P`` applied to ``V_a P y`` reduces to blocks of ``Z'WZ``
and one forward solve with L. The criterion here is the profiled one, a
function of theta; its gradient over theta gives the score over psi by the
chain rule (the profiled sigma^2 makes the criterion stationary in sigma^2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg as sla

from mixedfx.linalg.cross import CrossProducts
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.layout import scalar_row_scales
from mixedfx.optim.optimize import OptSummary

__all__ = ["CriterionPoint", "average_information", "information_minimise"]

# a point whose step is predicted to lower the criterion by less than this is the optimum (lme4's ftol_abs)
_DECREASE_TOL = 1e-8
# a step predicted to gain less than this is the last, taken without a gradient at its end: the steps
# converge superlinearly there (ratings_200k: a predicted 8.9e-3 left 1.6e-7), so it lands within
# lme4's ftol_abs of the optimum
_LAST_STEP_DECREASE = 1e-5
_MAX_STEPS = 20
# step halvings tried where a full step leaves the bounds or raises the criterion
_HALVINGS = 4
# below this a theta is too near its bound for steps in tau = sigma^2 theta^2
_SMALLEST_THETA = 1e-4
_CONVERGED = 3


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
    """2 AI over ``psi = (tau_1 .. tau_k, sigma^2)``: the Hessian approximation of -2 log-likelihood.

    Parameters
    ----------
    cp : CrossProducts
        Blocks of a model whose terms are all scalar, with a sparse coupling block.
    point : CriterionPoint
        The state at theta (every theta positive).
    sigma2 : float
        The profiled residual variance at theta.

    Returns
    -------
    ndarray, shape (k + 1, k + 1)
    """
    layout, theta, u = cp.layout, point.theta, point.u
    k, q1, q_rest = len(theta), layout.n_levels[0], layout.q_rest
    starts = np.cumsum([0] + layout.n_levels)
    # c_j = Z_j' W r / sigma^2; the columns of Q are V_tau_j P y = Z_j c_j and V_sigma2 P y = r / sigma^2
    c = [u[a:b] / (t * sigma2) for a, b, t in zip(starts[:-1], starts[1:], theta)]
    # Z' W Z_j c_j over the first term's rows and the rest's rows (X and y included); the rest
    # terms' c_j sit in their own rows of one (m, k - 1) array, so each block is one product
    placed = np.zeros((cp.a_rr.shape[0], k - 1))
    for j in range(1, k):
        placed[starts[j] - q1: starts[j + 1] - q1, j - 1] = c[j]
    firsts = np.column_stack([cp.a11[:, 0, 0] * c[0], np.asarray(cp.a_r1.T @ placed)])
    # scipy's BLAS, as the factorisation's: numpy's own OpenBLAS threads would then spin against LAPACK's
    rests = np.column_stack([np.asarray(cp.a_r1 @ c[0]).ravel(), sla.blas.dgemm(1.0, cp.a_rr.T, placed)])
    products = list(zip(firsts.T, rests.T))
    gram = np.empty((k + 1, k + 1))
    for j, (first, rest) in enumerate(products):
        gram[0, j] = c[0] @ first
        for i in range(1, k):
            gram[i, j] = c[i] @ rest[starts[i] - q1: starts[i + 1] - q1]
        gram[k, j] = gram[j, k] = c[j] @ c[j]
    gram[k, k] = (point.factor.pwrss - u @ u) / sigma2**2
    # T = [Lambda' Z' W Q; X' W Q] and Q' W P W Q sigma^2 = Q'Q - T' C^-1 T with C = L L'
    rows = scalar_row_scales(theta, layout)
    t1 = np.column_stack([theta[0] * first for first, _ in products] + [u[:q1] / sigma2])
    t_rest = np.column_stack([rows * rest for _, rest in products] + [np.zeros(len(rows))])
    t_rest[:q_rest, -1] = u[q1:] / sigma2
    z1, z_rest = _forward_solve(cp, point.factor, theta, t1, t_rest)
    return (gram - z1.T @ z1 - z_rest.T @ z_rest) / sigma2


def _forward_solve(cp: CrossProducts, factor: BlockedFactor, theta: np.ndarray, t1: np.ndarray,
                   t_rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L^-1 [t1; t_rest] by blocks, without the response's row (whatever t_rest holds there).

    ``L_r1 = R A_r1 diag(theta_1 / l11)`` is applied without forming it; C is
    REML's system (X included) for either criterion: only the step's metric.
    """
    l11 = factor.l11[:, 0, 0]
    z1 = t1 / l11[:, None]
    coupled = scalar_row_scales(theta, cp.layout)[:, None] * np.asarray(cp.a_r1 @ ((theta[0] / l11)[:, None] * z1))
    # the Fortran view of the C-ordered L_rr is its transpose: solve L_rr z = b as L_rr'' without a copy
    z_rest = sla.solve_triangular(factor.l_rr.T, t_rest - coupled, lower=False, trans="T", check_finite=False)
    return z1, z_rest[:-1]


def information_minimise(evaluate: Callable[[np.ndarray, bool], CriterionPoint | None],
                         information: Callable[[CriterionPoint, float], np.ndarray], x0: np.ndarray,
                         dof: int) -> tuple[OptSummary | None, int]:
    """Minimise the profiled criterion by Newton steps on psi with the average information.

    Parameters
    ----------
    evaluate : callable
        (theta, with_gradient) -> :class:`CriterionPoint`, or None where the
        factorisation fails.
    information : callable
        (point, sigma^2) -> :func:`average_information` at that point.
    x0 : ndarray
        Starting theta (all positive).
    dof : int
        The criterion's residual degrees of freedom (sigma^2 = pwrss / dof).

    Returns
    -------
    summary : OptSummary or None
        None where the steps do not apply: a theta near zero, an information
        that is not positive definite, a step that no halving makes feasible and
        lower, or no convergence in a few steps; the caller then optimises
        otherwise.
    evaluations : int
        Criterion evaluations spent.
    """
    k = len(x0)
    point = evaluate(np.asarray(x0, dtype=float), True)
    evaluations = 1
    for _ in range(_MAX_STEPS):
        if point is None or np.any(point.theta < _SMALLEST_THETA):
            return None, evaluations
        sigma2 = point.factor.pwrss / dof
        # the criterion is stationary in sigma^2 at its profiled value: the chain rule through
        # theta_j = sqrt(tau_j / sigma^2) gives the score over psi from the gradient over theta
        score = np.append(point.gradient / (2.0 * sigma2 * point.theta),
                          -np.sum(point.gradient * point.theta) / (2.0 * sigma2))
        hessian = information(point, sigma2)
        try:
            lower = np.linalg.cholesky(hessian)
        except np.linalg.LinAlgError:
            return None, evaluations
        scaled = sla.solve_triangular(lower, score, lower=True)
        if not np.all(np.isfinite(scaled)):
            return None, evaluations
        decrease = 0.5 * scaled @ scaled
        last = decrease < _LAST_STEP_DECREASE
        if decrease >= _DECREASE_TOL:
            step = -sla.solve_triangular(lower.T, scaled, lower=False)
            psi = np.append(sigma2 * point.theta**2, sigma2)
            trial, spent = _step(evaluate, point, psi, step, k, with_gradient=not last)
            evaluations += spent
            # the last step stands where it lowers the criterion; the point it left is converged too
            point = trial if trial is not None or not last else point
        if decrease < _DECREASE_TOL or last:
            summary = OptSummary(optimizer="ai-newton", x0=np.asarray(x0, dtype=float), x=point.theta,
                                 fval=point.value, feval=evaluations, return_code=_CONVERGED)
            return summary, evaluations
    return None, evaluations


def _step(evaluate: Callable[[np.ndarray, bool], CriterionPoint | None], point: CriterionPoint, psi: np.ndarray,
          step: np.ndarray, k: int, with_gradient: bool) -> tuple[CriterionPoint | None, int]:
    """The first of the full step and its halvings that keeps psi positive and lowers the criterion."""
    evaluations = 0
    for halving in range(_HALVINGS + 1):
        candidate = psi + step / 2.0**halving
        if np.any(candidate <= 0.0):
            continue
        trial = evaluate(np.sqrt(candidate[:k] / candidate[k]), with_gradient)
        evaluations += 1
        if trial is not None and trial.value <= point.value:
            return trial, evaluations
    return None, evaluations
