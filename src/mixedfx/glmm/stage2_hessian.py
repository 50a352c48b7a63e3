"""Stage 2's Hessians: the one its Newton steps start from, and the one at its optimum for the standard errors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mixedfx.optim.newton import ValueAndGradient, gradient_hessian, hessian_columns
from mixedfx.optim.optimize import OptSummary, finite_difference_derivatives

__all__ = ["optimum_derivatives", "start_hessian"]


def start_hessian(exact: ValueAndGradient, x0: np.ndarray, k: int, r_x: np.ndarray, workers: int = 1,
                  batched: Callable[[list[np.ndarray]], np.ndarray] | None = None) -> np.ndarray:
    """The stage-2 Newton steps' start Hessian over (theta, beta), saving p evaluations.

    theta's columns come from forward differences of the exact gradient, beta's block
    is 2 R_X R_X' from stage 1's factor: the penalised deviance's curvature in beta.
    The Laplace deviance adds log|L|^2's, small against it (cbpp: 1-5%), which the
    BFGS updates take up.

    Parameters
    ----------
    exact : callable
        The deviance's value and exact gradient at a point.
    x0 : ndarray, shape (k + p,)
        Stage 2's start, theta then beta.
    k : int
        The number of theta's entries.
    r_x : ndarray, shape (p, p)
        The fixed effects' block of stage 1's factor.
    workers, batched
        As :func:`mixedfx.optim.newton.hessian_columns`'s ``workers`` and ``gradients``.

    Returns
    -------
    ndarray, shape (k + p, k + p)

    Examples
    --------
    >>> def bowl(x):
    ...     return float(x @ x), 2.0 * x
    >>> start_hessian(bowl, np.array([1.0, 2.0]), 1, np.eye(1)).round(3).tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    """
    columns = hessian_columns(exact, x0, exact(x0)[1], np.arange(k), workers=workers, gradients=batched)
    hessian = np.empty((len(x0), len(x0)))
    hessian[k:, k:] = 2.0 * (r_x @ r_x.T)
    hessian[:, :k], hessian[:k, :] = columns, columns.T
    hessian[:k, :k] = 0.5 * (columns[:k] + columns[:k].T)
    return hessian


def optimum_derivatives(objective: Callable[[np.ndarray], float], exact: ValueAndGradient | None, opt: OptSummary,
                        workers: int = 1, batched: Callable | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian at the optimum: from the exact gradient where there is one, else lme4's deriv12.

    Forward differences of the exact gradient need k runs where deriv12 needs
    2 k^2; both approximate the same function's Hessian (to about 1e-4 relative
    at lme4's step), so the standard errors agree.

    Parameters
    ----------
    objective : callable
        The deviance.
    exact : callable or None
        Its value and exact gradient, where it has one.
    opt : OptSummary
        The optimum (its ``x`` and ``fval``).
    workers, batched
        As :func:`mixedfx.optim.newton.gradient_hessian`'s ``workers`` and ``gradients``.

    Returns
    -------
    gradient : ndarray, shape (m,)
    hessian : ndarray, shape (m, m)

    Examples
    --------
    >>> def bowl(x):
    ...     return float(x @ x)
    >>> opt = OptSummary("newton", np.zeros(2), np.zeros(2), 0.0, 1, 3)
    >>> gradient, hessian = optimum_derivatives(bowl, None, opt)
    >>> hessian.round(3).tolist()
    [[2.0, 0.0], [0.0, 2.0]]
    """
    if exact is not None:
        slope = exact(opt.x)[1]
        if np.all(np.isfinite(slope)):
            hessian = gradient_hessian(exact, opt.x, slope, workers=workers, gradients=batched)
            if np.all(np.isfinite(hessian)):
                return slope, hessian
    return finite_difference_derivatives(objective, opt.x, opt.fval, workers=workers)
