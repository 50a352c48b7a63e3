"""Newton steps on exact or finite-difference derivatives, for an optimisation that starts near its minimum.

glmer's second stage starts at the first stage's estimates, close to its optimum.
There the deviance is nearly quadratic: Newton steps with a Hessian taken once at
the start and refined by BFGS updates converge in a few gradients, where BOBYQA
spends hundreds of evaluations on 8 parameters (VerbAgg: 273). A gradient costs
2k evaluations by finite differences (VerbAgg: 96 evaluations in all), or one
where the deviance has an exact gradient (:mod:`mixedfx.glmm.laplace_gradient`;
VerbAgg: 12). The steps apply only where that Hessian is positive definite, each
step stays inside the bounds and lowers the objective; otherwise
:func:`newton_minimise` gives up and the caller runs its optimiser as before.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy.linalg import lapack

from mixedfx.optim.optimize import OptSummary, axis_derivatives, axis_points, evaluate_points

__all__ = ["CachedObjective", "ValueAndGradient", "GRADIENT_DELTA", "gradient_hessian", "hessian_columns",
           "newton_minimise", "projected_bfgs"]

ValueAndGradient = Callable[[np.ndarray], tuple[float, np.ndarray]]

# lme4's deriv12 step: the final derivatives then reuse the last gradient's points
_DELTA = 1e-4
GRADIENT_DELTA = 1e-7
"""The step of forward differences of an exact gradient (:func:`gradient_hessian`). They err by O(delta) times
third derivatives, which are large along unscaled covariates (grouseticks with HEIGHT uncentred: 4% in an SE at
1e-4, 1e-4 at 1e-7); the gradient's rounding error over delta stays far below that."""
# a step predicted to lower the deviance by less than this ends the iteration
_DECREASE_TOL = 1e-8
_MAX_STEPS = 12
# nlopt's "FTOL_REACHED": the stopping rule is on the predicted decrease
_CONVERGED = 3
# projected_bfgs: Armijo's sufficient share of the predicted decrease, and the step halvings tried per iteration
_ARMIJO = 1e-4
_MAX_BACKTRACKS = 30


class CachedObjective:
    """An objective that remembers its values by point, so repeated points cost nothing.

    Finite-difference derivatives at the end of an optimisation revisit the points
    of its last gradient. Safe to call from several threads (a point computed twice
    at once is only computed twice).
    """

    def __init__(self, objective: Callable[[np.ndarray], float]) -> None:
        self.objective = objective
        self._values: dict[bytes, float] = {}

    @property
    def evaluations(self) -> int:
        """Distinct points evaluated so far."""
        return len(self._values)

    def __call__(self, x: np.ndarray) -> float:
        point = np.asarray(x, dtype=float)
        key = point.tobytes()
        value = self._values.get(key)
        if value is None:
            value = self._values[key] = float(self.objective(point))
        return value


def _forward_hessian(objective: Callable[[np.ndarray], float], x: np.ndarray, fx: float, delta: float,
                     workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Central gradient and a Hessian with forward differences off the diagonal: 2k + k(k-1)/2 evaluations.

    Accurate to O(delta) rather than deriv12's O(delta^2), which is enough to
    steer Newton steps; the reported derivatives come from deriv12 at the end.
    """
    k = len(x)
    steps = np.eye(k) * delta
    pairs = [(i, j) for j in range(k) for i in range(j)]
    values = evaluate_points(objective, axis_points(x, delta) + [x + steps[i] + steps[j] for i, j in pairs], workers)
    gradient, curvature = axis_derivatives(values[: 2 * k], fx, delta)
    plus = values[0:2 * k:2]
    hessian = np.diag(curvature)
    with np.errstate(invalid="ignore"):  # a failed objective (inf) gives NaN, which stops the steps
        for (i, j), both in zip(pairs, values[2 * k:]):
            hessian[i, j] = hessian[j, i] = (both - plus[i] - plus[j] + fx) / delta**2
    return gradient, hessian


def newton_minimise(objective: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray, *,
                    workers: int = 1, gradient: ValueAndGradient | None = None,
                    hessian: np.ndarray | None = None) -> OptSummary | None:
    """Minimise by Newton steps from a start near the minimum, or None where they do not apply.

    Parameters
    ----------
    objective : callable
        The function minimised (wrap it in :class:`CachedObjective` to let later
        finite differences at the result reuse its last gradient).
    x0 : ndarray
        Start, inside the bounds.
    lower : ndarray
        Lower bounds (``-inf`` for none).
    workers : int
        Threads for the finite-difference points (see
        :func:`~mixedfx.optim.optimize.finite_difference_derivatives`).
    gradient : callable, optional
        The objective's value and exact gradient at a point, in one evaluation
        (non-finite where it has none). With it the start's Hessian comes from
        forward differences of gradients (:func:`gradient_hessian`) and each step
        costs one evaluation; without it, from finite differences of values.
    hessian : ndarray, optional
        With ``gradient``: a start Hessian the caller has at hand, which the
        BFGS updates refine, in place of the k evaluations of forward
        differences (these are taken where it is not positive definite).

    Returns
    -------
    OptSummary or None
        None when the Hessian at ``x0`` is not positive definite, a step would
        leave the bounds or not lower the objective, or the steps have not
        converged after a few; the caller then optimises otherwise.
    """
    x = np.asarray(x0, dtype=float)
    k = len(x)
    if gradient is None:
        fx = float(objective(x))
        slope, hessian = _forward_hessian(objective, x, fx, _DELTA, workers)
        evaluations = 1 + 2 * k + k * (k - 1) // 2
    else:
        fx, slope = gradient(x)
        evaluations = 1
        if hessian is None or _newton_step(hessian, slope) is None:
            hessian = gradient_hessian(gradient, x, slope, workers=workers)
            evaluations += k
    for _ in range(_MAX_STEPS):
        # numpy's Cholesky passes NaN and inf through without an error
        step = _newton_step(hessian, slope)
        if step is None:
            return None
        if -0.5 * (slope @ step) < _DECREASE_TOL:  # the predicted decrease
            return OptSummary(optimizer="newton", x0=np.asarray(x0, dtype=float), x=x, fval=fx,
                              feval=evaluations, return_code=_CONVERGED)
        candidate = x + step
        if np.any(candidate < lower):
            return None
        if gradient is None:
            f_candidate, new_slope = float(objective(candidate)), None
        else:
            f_candidate, new_slope = gradient(candidate)
        evaluations += 1
        if not f_candidate <= fx:
            return None
        if new_slope is None:  # a gradient of values only once the step is taken
            new_slope = _gradient(objective, candidate, f_candidate, workers)
            evaluations += 2 * k
        hessian = _bfgs_update(hessian, step, new_slope - slope)
        x, fx, slope = candidate, f_candidate, new_slope
    return None


def gradient_hessian(value_and_gradient: ValueAndGradient, x: np.ndarray, slope: np.ndarray, *,
                     delta: float = GRADIENT_DELTA, workers: int = 1,
                     gradients: Callable[[list[np.ndarray]], np.ndarray] | None = None) -> np.ndarray:
    """Hessian by forward differences of an exact gradient (k evaluations), made symmetric.

    Parameters
    ----------
    value_and_gradient : callable
        Value and gradient at a point.
    x : ndarray
        The point.
    slope : ndarray
        The gradient at ``x``.
    delta : float
        Step in every coordinate.
    workers : int
        Threads evaluating the k points (see
        :func:`~mixedfx.optim.optimize.evaluate_points`).
    gradients : callable, optional
        The gradients at a list of points in one call (:func:`hessian_columns`).

    Returns
    -------
    ndarray, shape (k, k)
    """
    differences = hessian_columns(value_and_gradient, x, slope, np.arange(len(x)), delta=delta, workers=workers,
                                  gradients=gradients)
    return 0.5 * (differences + differences.T)


def hessian_columns(value_and_gradient: ValueAndGradient, x: np.ndarray, slope: np.ndarray, columns: np.ndarray, *,
                    delta: float = GRADIENT_DELTA, workers: int = 1,
                    gradients: Callable[[list[np.ndarray]], np.ndarray] | None = None) -> np.ndarray:
    """Some of the Hessian's columns by forward differences of an exact gradient (an evaluation each).

    Parameters
    ----------
    value_and_gradient, x, slope, delta, workers
        As :func:`gradient_hessian`.
    columns : ndarray of int
        The coordinates stepped along.
    gradients : callable, optional
        The gradients at a list of points, one per row, in one call; used in
        place of ``value_and_gradient`` (and ``workers``) where given.

    Returns
    -------
    ndarray, shape (k, len(columns))
        Not symmetrised: column j holds the gradient's change along ``columns[j]``.

    Examples
    --------
    >>> quadratic = lambda x: (float(x @ x + x[0] * x[1]), 2 * x + x[::-1])
    >>> x = np.array([1.0, 2.0])
    >>> hessian_columns(quadratic, x, quadratic(x)[1], np.array([1])).round(6).tolist()
    [[1.0], [2.0]]
    """
    x = np.asarray(x, dtype=float)
    steps = np.eye(len(x))[columns] * delta
    points = [x + step for step in steps]
    if gradients is not None:
        slopes = gradients(points)
    else:
        slopes = evaluate_points(lambda point: value_and_gradient(point)[1], points, workers)
    with np.errstate(invalid="ignore"):
        return ((np.array(slopes).reshape(len(steps), len(x)) - slope) / delta).T


def _newton_step(hessian: np.ndarray, slope: np.ndarray) -> np.ndarray | None:
    """-H^-1 g by H's Cholesky factor, or None where H or g is not finite or H not positive definite.

    LAPACK's dpotrf and dpotrs themselves: numpy's cholesky and solve check and
    convert their arguments for longer than a few parameters' factor takes.
    """
    if not (np.isfinite(hessian).all() and np.isfinite(slope).all()):
        return None
    factor, info = lapack.dpotrf(hessian, lower=1)
    if info != 0:
        return None
    solution, _ = lapack.dpotrs(factor, slope, lower=1)
    return -solution


def _gradient(objective: Callable[[np.ndarray], float], x: np.ndarray, fx: float, workers: int) -> np.ndarray:
    """Central-difference gradient at x, where the objective is fx (2k evaluations)."""
    return axis_derivatives(evaluate_points(objective, axis_points(x, _DELTA), workers), fx, _DELTA)[0]


def _bfgs_update(hessian: np.ndarray, step: np.ndarray, change: np.ndarray) -> np.ndarray:
    """The BFGS update of a Hessian approximation by a step and its change of gradient.

    The Hessian from the start point steers the first step; the updates make
    the later ones converge superlinearly where that Hessian is off (grouseticks'
    stage-1 start). Skipped where the curvature along the step is not positive.
    """
    curvature = _curvature(step, change)
    if curvature is None:
        return hessian
    along = hessian @ step
    return hessian - np.outer(along, along) / (step @ along) + np.outer(change, change) / curvature


def _curvature(step: np.ndarray, change: np.ndarray) -> float | None:
    """The curvature along a step (its product with the gradient's change), or None where it is not clearly
    positive: the BFGS updates skip such a step."""
    curvature = float(step @ change)
    return curvature if curvature > 1e-12 * math.sqrt((step @ step) * (change @ change)) else None


def projected_bfgs(value_and_gradient: ValueAndGradient, x0: np.ndarray, lower: np.ndarray, *,
                   first_step: float = 1.0, gtol: float = 1e-3, ftol_rel: float = 1e-12,
                   maxeval: int = 100) -> OptSummary:
    """Minimise subject to ``x >= lower`` by BFGS steps on an exact gradient, projected onto the bounds.

    :func:`~mixedfx.optim.optimize.lbfgsb`'s rules (a first step of length
    ``first_step``, the stops on the projected gradient and on the relative
    decrease) for a few parameters, without scipy's setup around every run and
    evaluation, most of a small model's time outside its evaluations. The
    inverse Hessian is kept whole (k by k) and updated by BFGS; variables on
    their bound with a gradient pushing outward stay there; each step is
    halved until the objective falls by Armijo's share of the predicted decrease.

    Parameters
    ----------
    value_and_gradient : callable
        Value and gradient at a point; non-finite where it has none (such a
        point is stepped back from).
    x0 : ndarray
        Start (moved inside the bounds if needed).
    lower : ndarray
        Lower bounds (``-inf`` for none).
    first_step : float
        Length of the first step.
    gtol : float
        Stop when no component of the projected gradient exceeds this.
    ftol_rel : float
        Stop when a step lowers the objective by less than this share of it.
    maxeval : int
        Most evaluations.

    Returns
    -------
    OptSummary
        ``return_code`` 1 on convergence, -1 where the start has no finite
        value and gradient, a step could not lower the objective, or the
        evaluations ran out.

    Examples
    --------
    >>> opt = projected_bfgs(lambda x: (float((x - 2) @ (x - 2)), 2 * (x - 2)), np.array([0.0, 5.0]),
    ...                      np.array([0.0, 3.0]))
    >>> opt.x.round(6).tolist(), opt.return_code
    ([2.0, 3.0], 1)
    """
    lower = np.asarray(lower, dtype=float)
    start = np.maximum(np.asarray(x0, dtype=float), lower)
    x = start
    fx, slope = value_and_gradient(x)
    evaluations = 1

    def summary(code: int, message: str | None = None) -> OptSummary:
        return OptSummary(optimizer="BFGS", x0=start, x=x, fval=float(fx), feval=evaluations, return_code=code,
                          messages=[] if message is None else [message])

    if not (np.isfinite(fx) and np.isfinite(slope).all()):
        return summary(-1, "BFGS met a start where the criterion or its gradient is not finite")
    identity = np.eye(len(x))
    inverse: np.ndarray | None = None  # the first step follows the gradient; BFGS scales the identity after it
    while evaluations < maxeval:
        free = (x > lower) | (slope < 0.0)  # not held by a bound the gradient pushes against
        projected = slope * free
        if np.abs(projected).max(initial=0.0) <= gtol:
            return summary(1)
        if inverse is None:
            direction = projected * (-first_step / math.sqrt(projected @ projected))
        else:
            direction = -(inverse @ projected) * free
            if not slope @ direction < 0.0:  # the update lost descent: start again from the gradient
                inverse = None
                continue
        length = 1.0
        for _ in range(_MAX_BACKTRACKS):
            candidate = np.maximum(x + length * direction, lower)
            f_candidate, new_slope = value_and_gradient(candidate)
            evaluations += 1
            if (np.isfinite(f_candidate) and np.isfinite(new_slope).all()
                    and f_candidate <= fx + _ARMIJO * (slope @ (candidate - x))):
                break
            length *= 0.5
        else:
            return summary(-1, "BFGS could not lower the criterion along its step")
        step, change = candidate - x, new_slope - slope
        settled = fx - f_candidate <= ftol_rel * max(abs(fx), abs(f_candidate), 1.0)
        x, fx, slope = candidate, f_candidate, new_slope
        if settled:
            return summary(1)
        curvature = _curvature(step, change)
        if curvature is not None:
            if inverse is None:
                inverse = identity * (curvature / (change @ change))
            rho = 1.0 / curvature
            left = identity - rho * np.outer(step, change)
            inverse = left @ inverse @ left.T + rho * np.outer(step, step)
    return summary(-1, "BFGS ran out of evaluations")
