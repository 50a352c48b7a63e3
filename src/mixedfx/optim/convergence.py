"""lme4's convergence checks on the gradient and Hessian at the optimum (checkConv, checkHess)."""

from __future__ import annotations

import numpy as np

__all__ = ["check_convergence", "check_hessian"]


def check_hessian(hessian: np.ndarray, tol: float = 1e-6, kind: str = "") -> list[str]:
    """lme4's checkHess: messages about a degenerate or ill-conditioned Hessian.

    Parameters
    ----------
    hessian : ndarray
        Symmetric matrix of second derivatives of the deviance.
    tol : float
        lme4's ``check.conv.hess`` tolerance.
    kind : str
        "" for the whole Hessian, "fixed-effect" for its fixed-effects block.

    Returns
    -------
    list of str
        Empty when the Hessian passes.
    """
    if not np.all(np.isfinite(hessian)):
        return ["Problem with Hessian check (infinite or missing values?)"]
    ev = np.linalg.eigvalsh(hessian)
    negative = int(np.sum(ev < -tol))
    if negative:
        return [f"Model failed to converge: degenerate {kind} Hessian with {negative} negative eigenvalues"]
    if np.any(np.abs(ev) < tol) or ev.min() <= 0:
        return [f"{kind} Hessian is numerically singular: parameters are not uniquely determined"]
    messages = []
    if ev.max() * tol > 1:
        messages.append("Model is nearly unidentifiable: very large eigenvalue\n - Rescale variables?")
    if ev.min() / ev.max() < tol:
        messages.append("Model is nearly unidentifiable: large eigenvalue ratio\n - Rescale variables?")
    return messages


def check_convergence(gradient: np.ndarray, hessian: np.ndarray, n_theta: int, *, grad_tol: float = 0.002,
                      hess_tol: float = 1e-6) -> list[str]:
    """lme4's checkConv for a fit that is not singular.

    Parameters
    ----------
    gradient, hessian : ndarray
        Finite-difference derivatives of the deviance at the optimum, over theta
        (first ``n_theta`` parameters) and, for glmer, beta.
    n_theta : int
        Number of covariance parameters.
    grad_tol, hess_tol : float
        lme4's ``check.conv.grad`` and ``check.conv.hess`` tolerances.

    Returns
    -------
    list of str
        lme4's warnings, each once, empty when the checks pass.

    Examples
    --------
    >>> len(check_convergence(np.zeros(2), np.diag([1.0, 1e7]), 1))  # very large eigenvalue, large ratio
    2
    """
    if np.any(np.isnan(gradient)):
        return ["Gradient contains NAs"]
    messages = []
    try:
        upper = np.linalg.cholesky(hessian).T
        scaled = np.linalg.solve(upper, gradient)
    except np.linalg.LinAlgError:
        messages.append("unable to evaluate scaled gradient")
    else:
        worst = float(np.max(np.minimum(np.abs(scaled), np.abs(gradient))))
        if worst > grad_tol:
            messages.append(f"Model failed to converge with max|grad| = {worst:g} (tol = {grad_tol:g}, component 1)")
    if len(gradient) > n_theta:
        messages += check_hessian(hessian[n_theta:, n_theta:], hess_tol, "fixed-effect")
    # the fixed-effect block and the whole Hessian can fail alike: each message once
    return list(dict.fromkeys(messages + check_hessian(hessian, hess_tol)))
