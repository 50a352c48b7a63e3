"""The minimisers behind lme4's ``allFit`` optimisers that nlopt does not offer, on scipy.

Each takes (objective, start, lower bounds) and returns scipy's ``OptimizeResult``;
:mod:`mixedfx.optim.optimize` turns it into an ``OptSummary`` and lists it in
``OPTIMIZERS`` under lme4's name. What stands in for what, and why:

- ``nmkbw`` (dfoptim's ``nmkb``, Kelley's Nelder-Mead, bounds by a change of
  variables; one parameter: R's ``optim(method = "Brent")`` on
  ``[lower, 100 * start]``): :func:`nmkb` runs scipy's Nelder-Mead with nmkb's
  coefficients on nmkb's coordinates (``log(x - lower)`` where bounded), from
  nmkb's regular simplex, to nmkb's tolerance on the simplex's values; one
  parameter, scipy's bounded ``minimize_scalar``, which is Brent's ``fmin``
  as R's ``optimize`` is, with R's tolerance.
- ``nlminbwrap`` (R's ``nlminb``: PORT's bounded quasi-Newton, a dense secant
  (BFGS) Hessian, forward-difference gradients, bounds held exactly):
  :func:`port_quasi_newton` runs scipy's SLSQP, which with only bounds is a
  quasi-Newton method with a dense BFGS Hessian, forward differences, and
  bounds held by an active set. It steps by line search where PORT keeps a
  trust region; L-BFGS-B (limited memory) already stands in for optimx's.
- ``optimx.L-BFGS-B`` (R's ``optim(method = "L-BFGS-B")`` without a gradient):
  scipy's L-BFGS-B (the same Fortran code) on :func:`optim_gradient`, R's
  central differences of step ``ndeps = 1e-3`` cut at the bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from scipy.optimize import OptimizeResult

__all__ = ["nmkb", "port_quasi_newton", "optim_gradient"]

# R's optim(method = "Brent") stops at optimize()'s tol = reltol, sqrt(.Machine$double.eps)
_BRENT_TOL = float(np.sqrt(np.finfo(float).eps))
# nmkbw's one-parameter interval is [lower, 100 * start]
_BRENT_UPPER_MULTIPLE = 100.0
# a start on a bound has no log(x - lower): nmkb refuses it, here it starts this far inside
_OFF_BOUND = 1e-4
# PORT's defaults in R's nlminb: relative function convergence
_PORT_REL_TOL = 1e-10
# optim's default finite-difference step (control ndeps)
_OPTIM_NDEPS = 1e-3


def nmkb(objective: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray, *, tol: float = 1e-6,
         maxfeval: int = 100_000) -> OptimizeResult:
    """Kelley's Nelder-Mead on dfoptim ``nmkb``'s coordinates (Brent's search for one parameter), as lme4's ``nmkbw``.

    Parameters
    ----------
    objective : callable
    x0 : ndarray
        Start (a value on its bound starts slightly inside).
    lower : ndarray
        Lower bounds (``-inf`` for none).
    tol : float
        Stop once the simplex's values lie within this of each other (nmkb's ``tol``).
    maxfeval : int
        Most evaluations.

    Returns
    -------
    OptimizeResult

    Examples
    --------
    >>> f = lambda x: float((x[0] - 2.0) ** 2 + (x[1] + 1.0) ** 2)
    >>> np.round(nmkb(f, np.array([1.0, 0.0]), np.array([0.0, -np.inf])).x, 2).tolist()
    [2.0, -1.0]
    """
    from scipy.optimize import minimize  # noqa: PLC0415 - scipy.optimize costs import time

    x0, lower = np.asarray(x0, dtype=float), np.asarray(lower, dtype=float)
    if len(x0) == 1:
        return _brent(objective, float(x0[0]), float(lower[0]), maxfeval)
    bounded = np.isfinite(lower)
    start = np.where(bounded & (x0 <= lower), lower + _OFF_BOUND, x0)

    def inside(y: np.ndarray) -> np.ndarray:
        return np.where(bounded, lower + np.exp(np.where(bounded, y, 0.0)), y)

    y0 = np.where(bounded, np.log(np.where(bounded, start - lower, 1.0)), start)
    result = minimize(lambda y: objective(inside(y)), y0, method="Nelder-Mead",
                      options={"initial_simplex": _regular_simplex(y0), "fatol": tol, "xatol": np.inf,
                               "maxfev": maxfeval, "adaptive": False})
    result.x = inside(result.x)
    return result


def _regular_simplex(y0: np.ndarray) -> np.ndarray:
    """nmkb's first simplex (``regsimp``): regular, edges scaled by ``max(1, |y0|)``; shape (n + 1, n)."""
    n = len(y0)
    scale = max(1.0, float(np.sqrt(np.sum(y0**2))))
    along, across = scale / (n * np.sqrt(2.0)) * np.array([np.sqrt(n + 1) + n - 1, np.sqrt(n + 1) - 1])
    vertices = y0 + across + np.eye(n) * (along - across)
    return np.vstack([y0, vertices])


def _brent(objective: Callable[[np.ndarray], float], x0: float, lower: float, maxfeval: int) -> OptimizeResult:
    """R's ``optim(method = "Brent")`` on ``[lower, 100 * x0]``, as nmkbw runs a single parameter."""
    from scipy.optimize import minimize_scalar  # noqa: PLC0415 - scipy.optimize costs import time

    if not np.isfinite(lower):
        raise ValueError("nmkbw's one-parameter search (Brent) needs a finite lower bound")
    result = minimize_scalar(lambda x: objective(np.array([x])), bounds=(lower, _BRENT_UPPER_MULTIPLE * x0),
                             method="bounded", options={"xatol": _BRENT_TOL, "maxiter": maxfeval})
    result.x = np.array([result.x])
    return result


def port_quasi_newton(objective: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray, *,
                      rel_tol: float = _PORT_REL_TOL, maxeval: int = 100_000) -> OptimizeResult:
    """A bounded dense-BFGS quasi-Newton on forward differences (scipy's SLSQP), standing in for R's ``nlminb``.

    Parameters
    ----------
    objective : callable
    x0 : ndarray
        Start (moved inside the bounds if needed).
    lower : ndarray
        Lower bounds (``-inf`` for none).
    rel_tol : float
        nlminb's relative function convergence tolerance, applied to the
        objective's size at the start (SLSQP's tolerance is absolute).
    maxeval : int
        Most iterations.

    Returns
    -------
    OptimizeResult

    Examples
    --------
    >>> f = lambda x: float((x[0] + 1.0) ** 2 + (x[1] - 3.0) ** 2)
    >>> np.round(port_quasi_newton(f, np.array([1.0, 0.0]), np.array([0.0, -np.inf])).x, 4).tolist()
    [0.0, 3.0]
    """
    from scipy.optimize import Bounds, minimize  # noqa: PLC0415 - scipy.optimize costs import time

    x0 = np.maximum(np.asarray(x0, dtype=float), lower)
    size = max(abs(float(objective(x0))), 1.0)
    return minimize(objective, x0, method="SLSQP", bounds=Bounds(lower, np.inf),
                    options={"ftol": rel_tol * size, "maxiter": maxeval})


def optim_gradient(objective: Callable[[np.ndarray], float], lower: np.ndarray,
                   ndeps: float = _OPTIM_NDEPS) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """The objective with R ``optim``'s numerical gradient: central differences of step ``ndeps``, cut at the bounds.

    Each call costs ``2 k + 1`` evaluations.

    Examples
    --------
    >>> value_and_gradient = optim_gradient(lambda x: float(x[0] ** 2 + 3.0 * x[1]), np.array([0.0, -np.inf]))
    >>> value, gradient = value_and_gradient(np.array([0.0, 1.0]))
    >>> value, np.round(gradient, 6).tolist()
    (3.0, [0.001, 3.0])
    """
    def value_and_gradient(x: np.ndarray) -> tuple[float, np.ndarray]:
        x = np.asarray(x, dtype=float)
        gradient = np.empty(len(x))
        for i in range(len(x)):
            up, down = x.copy(), x.copy()
            up[i] += ndeps
            down[i] = max(x[i] - ndeps, lower[i])
            gradient[i] = (objective(up) - objective(down)) / (up[i] - down[i])
        return float(objective(x)), gradient

    return value_and_gradient
