"""lme4's convergence checks on the gradient and Hessian at the optimum (checkConv, checkHess)."""

from __future__ import annotations

import numpy as np

from mixedfx.optim.checks import CheckSettings

__all__ = ["convergence_checks", "check_hessian"]


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


def convergence_checks(gradient: np.ndarray, hessian: np.ndarray, n_theta: int,
                       checks: CheckSettings | None = None) -> dict[str, list[str]]:
    """lme4's checkConv for a fit that is not singular, its gradient and Hessian checks apart.

    Parameters
    ----------
    gradient, hessian : ndarray
        Finite-difference derivatives of the deviance at the optimum, over theta
        (first ``n_theta`` parameters) and, for glmer, beta.
    n_theta : int
        Number of covariance parameters.
    checks : CheckSettings, optional
        The checks' actions and tolerances (lme4's defaults without); an
        ``"ignore"``d check says nothing.

    Returns
    -------
    dict of str to list of str
        ``"convergence"``: the gradient check's message; ``"hessian"``: the Hessian
        checks' (the fixed-effect block's for glmer, then the whole's), each
        message once. Empty lists where the checks pass.

    Examples
    --------
    >>> parts = convergence_checks(np.zeros(2), np.diag([1.0, 1e7]), 1)
    >>> parts["convergence"], [m.split(":")[1].split()[:3] for m in parts["hessian"]]
    ([], [['very', 'large', 'eigenvalue'], ['large', 'eigenvalue', 'ratio']])
    """
    checks = checks or CheckSettings()
    gradient_on, hessian_on = checks.check_conv_grad != "ignore", checks.check_conv_hess != "ignore"
    if np.any(np.isnan(gradient)):
        return {"convergence": ["Gradient contains NAs"] if gradient_on else [], "hessian": []}
    return {"convergence": _gradient_messages(gradient, hessian, checks.check_conv_grad_tol) if gradient_on else [],
            "hessian": _hessian_messages(hessian, n_theta, checks.check_conv_hess_tol) if hessian_on else []}


def _gradient_messages(gradient: np.ndarray, hessian: np.ndarray, tol: float) -> list[str]:
    """lme4's scaled-gradient check: the smaller of the raw and Hessian-scaled gradient within ``tol``."""
    try:
        upper = np.linalg.cholesky(hessian).T
        scaled = np.linalg.solve(upper, gradient)
    except np.linalg.LinAlgError:
        return ["unable to evaluate scaled gradient"]
    worst = float(np.max(np.minimum(np.abs(scaled), np.abs(gradient))))
    if worst > tol:
        return [f"Model failed to converge with max|grad| = {worst:g} (tol = {tol:g}, component 1)"]
    return []


def _hessian_messages(hessian: np.ndarray, n_theta: int, tol: float) -> list[str]:
    """lme4's Hessian checks: the fixed-effect block's (glmer), then the whole's, each message once."""
    messages = check_hessian(hessian[n_theta:, n_theta:], tol, "fixed-effect") if hessian.shape[0] > n_theta else []
    # the fixed-effect block and the whole Hessian can fail alike: each message once
    return list(dict.fromkeys(messages + check_hessian(hessian, tol)))
