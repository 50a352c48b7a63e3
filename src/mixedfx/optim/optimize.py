"""Bound-constrained optimisation of the profiled deviance (BOBYQA through nlopt)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import nlopt
import numpy as np

from mixedfx.optim.optimizers import nmkb, optim_gradient, port_quasi_newton

if TYPE_CHECKING:
    from scipy.optimize import OptimizeResult

__all__ = ["OptimizerSettings", "OptSummary", "first_steps_near", "bobyqa", "restart_from_edge", "restart_from",
           "snap_to_boundary", "finite_difference_derivatives", "evaluate_points", "axis_points", "axis_derivatives",
           "OPTIMIZERS", "nlopt_optimizer", "lbfgsb", "minqa_bobyqa", "lme4_nelder_mead", "nlminb_quasi_newton",
           "nmkbw", "optim_lbfgsb"]

# nlopt's return codes and lme4's wording for them
_NLOPT_RESULTS = {
    1: "NLOPT_SUCCESS",
    2: "NLOPT_STOPVAL_REACHED",
    3: "NLOPT_FTOL_REACHED",
    4: "NLOPT_XTOL_REACHED",
    5: "NLOPT_MAXEVAL_REACHED",
    6: "NLOPT_MAXTIME_REACHED",
}


@dataclass(frozen=True)
class OptimizerSettings:
    """The optimisers' stopping rules every control object shares (lme4's ``optCtrl``).

    Attributes
    ----------
    xtol_abs, ftol_abs : float
        BOBYQA's absolute tolerances on the parameters and the objective.
    maxeval : int
        Most objective evaluations.
    verbose : int
        Print each evaluation (lme4's ``verbose``; :func:`mixedfx.optim.trace.traced`).
    restart_edge : bool
        Restart where a variance parameter on its bound would gain by moving
        inward (lme4's ``restart_edge``; for glmer lme4 does not check, and
        mixedfx does by default, since a restart can only lower the deviance).
        For vector-valued terms the check also steps inward from the mirrored
        column (:func:`restart_from_edge`).
    inward_tol, inward_share : float
        With ``restart_edge``, a fit where a vector-valued term has a diagonal
        theta (other than its last) at most ``inward_tol`` times the term's
        largest is optimised again from the point where that variance is raised
        to ``inward_share`` of the largest
        (:func:`mixedfx.linalg.layout.theta_moved_inward`), from a small first
        trust region; the better end is kept. The optimiser can stall there at
        a point lme4's edge check does not see. A negative ``inward_tol`` turns
        this off.
    """

    xtol_abs: float = 1e-8
    ftol_abs: float = 1e-8
    maxeval: int = 100_000
    verbose: int = 0
    restart_edge: bool = True
    inward_tol: float = 0.01
    inward_share: float = 0.1

    @property
    def optimizer_options(self) -> dict[str, float]:
        """The stopping rules as keyword arguments of :func:`bobyqa` and the other nlopt optimisers."""
        return dict(xtol_abs=self.xtol_abs, ftol_abs=self.ftol_abs, maxeval=self.maxeval)


def first_steps_near(x: np.ndarray, share: float, least: float) -> np.ndarray:
    """BOBYQA's first step per parameter from a start near the optimum: ``share`` of each value, at least ``least``.

    Examples
    --------
    >>> first_steps_near(np.array([2.0, 0.0]), 0.1, 0.02).tolist()
    [0.2, 0.02]
    """
    return np.maximum(share * np.abs(np.asarray(x, dtype=float)), least)


@dataclass(frozen=True)
class OptSummary:
    """What the optimiser did: start, end, evaluations and return code.

    Attributes
    ----------
    optimizer : str
        lme4's name for it ("nloptwrap" for BOBYQA through nlopt).
    x0 : ndarray
        Starting point.
    x : ndarray
        Final point.
    fval : float
        Objective at ``x``.
    feval : int
        Objective evaluations, restarts included.
    return_code : int
        nlopt's return code (positive on success).
    messages : list of str
        Optimiser warnings (empty when it stopped on a tolerance).
    factorizer : str
        What evaluated the objective: the model's factoriser
        (:mod:`mixedfx.linalg.factorizer`) or PIRLS engine; empty where not recorded.
    """

    optimizer: str
    x0: np.ndarray
    x: np.ndarray
    fval: float
    feval: int
    return_code: int
    messages: list[str] = field(default_factory=list)
    factorizer: str = ""

    @property
    def convergence_code(self) -> int:
        """lme4's convergence code: 0 when the optimiser stopped on a tolerance."""
        return 0 if self.return_code in (1, 3, 4) else self.return_code

    @property
    def result_text(self) -> str:
        """nlopt's name for its return code."""
        return _NLOPT_RESULTS.get(self.return_code, f"NLOPT_FAILURE ({self.return_code})")


def bobyqa(objective: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray, *,
           xtol_abs: float = 1e-8, ftol_abs: float = 1e-8, maxeval: int = 100_000,
           initial_step: np.ndarray | None = None) -> OptSummary:
    """Minimise ``objective`` from ``x0`` subject to ``x >= lower`` with nlopt's BOBYQA.

    Parameters
    ----------
    objective : callable
        Maps a parameter vector to a float; ``inf`` marks an infeasible point.
    x0 : ndarray
        Starting point (moved inside the bounds if needed).
    lower : ndarray
        Lower bounds (``-inf`` for none).
    xtol_abs, ftol_abs : float
        lme4's defaults for ``nloptwrap``.
    maxeval : int
        Most objective evaluations.
    initial_step : ndarray, optional
        First trust-region step per coordinate; nlopt's default when omitted.

    Returns
    -------
    OptSummary
    """
    return _BOBYQA(objective, x0, lower, xtol_abs=xtol_abs, ftol_abs=ftol_abs, maxeval=maxeval,
                   initial_step=initial_step)


def lbfgsb(objective_and_gradient: Callable[[np.ndarray], tuple[float, np.ndarray]], x0: np.ndarray,
           lower: np.ndarray, *, first_step: float = 1.0, ftol_rel: float = 1e-12, gtol: float = 1e-3,
           maxeval: int = 100_000) -> OptSummary:
    """Minimise from ``x0`` subject to ``x >= lower`` with scipy's L-BFGS-B on an analytic gradient.

    Parameters
    ----------
    objective_and_gradient : callable
        Maps a parameter vector to its value and gradient; a non-finite value
        ends the run as a failure.
    x0 : ndarray
        Starting point (moved inside the bounds if needed).
    lower : ndarray
        Lower bounds (``-inf`` for none).
    first_step : float
        Length of the first step (L-BFGS-B's first step has unit length: it runs
        on the parameters divided by this).
    ftol_rel : float
        Stop when a step lowers the objective by less than this share of it.
    gtol : float
        Stop when no component of the projected gradient exceeds this, in the
        parameters' own units (less where ``first_step`` exceeds 1).
    maxeval : int
        Most evaluations.

    Returns
    -------
    OptSummary
        ``return_code`` 1 on convergence, negative when the run failed (the
        caller then falls back on a derivative-free optimiser).
    """
    from scipy.optimize import minimize  # noqa: PLC0415 - scipy.optimize costs import time

    x0 = np.maximum(np.asarray(x0, dtype=float), lower)
    evaluations = 0

    def scaled(z: np.ndarray) -> tuple[float, np.ndarray]:
        nonlocal evaluations
        evaluations += 1
        value, gradient = objective_and_gradient(np.asarray(z, dtype=float) * first_step)
        if not (np.isfinite(value) and np.all(np.isfinite(gradient))):
            raise _NonFinite
        return value, np.asarray(gradient) * first_step

    bounds = [(None if np.isinf(b) else float(b) / first_step, None) for b in lower]
    try:
        result = minimize(scaled, x0 / first_step, jac=True, method="L-BFGS-B", bounds=bounds,
                          options={"ftol": ftol_rel, "gtol": gtol * min(first_step, 1.0), "maxfun": maxeval})
    except _NonFinite:
        return OptSummary(optimizer="L-BFGS-B", x0=x0, x=x0, fval=np.inf, feval=evaluations, return_code=-1,
                          messages=["L-BFGS-B met a point where the criterion is not finite"])
    # on a bound the division and product can leave the last bit off it
    x = np.maximum(np.asarray(result.x) * first_step, lower)
    if not result.success:
        return OptSummary(optimizer="L-BFGS-B", x0=x0, x=x, fval=float(result.fun), feval=evaluations,
                          return_code=-1, messages=[f"L-BFGS-B: {result.message}"])
    return OptSummary(optimizer="L-BFGS-B", x0=x0, x=x, fval=float(result.fun), feval=evaluations, return_code=1)


class _NonFinite(Exception):
    """Raised inside :func:`lbfgsb` to stop scipy at a non-finite value."""


def nlopt_optimizer(algorithm: int, name: str) -> Callable[..., OptSummary]:
    """A bound-constrained minimiser with :func:`bobyqa`'s signature for one of nlopt's algorithms.

    Parameters
    ----------
    algorithm : int
        nlopt's algorithm constant (e.g. ``nlopt.LN_NELDERMEAD``).
    name : str
        The name the fit reports as its optimiser.

    Returns
    -------
    callable
    """
    def minimise(objective: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray, *,
                 xtol_abs: float = 1e-8, ftol_abs: float = 1e-8, maxeval: int = 100_000,
                 initial_step: np.ndarray | None = None) -> OptSummary:
        x0 = np.maximum(np.asarray(x0, dtype=float), lower)
        opt = nlopt.opt(algorithm, len(x0))
        opt.set_lower_bounds(lower.tolist())
        opt.set_xtol_abs(xtol_abs)
        opt.set_ftol_abs(ftol_abs)
        opt.set_maxeval(maxeval)
        if initial_step is not None:
            opt.set_initial_step(np.asarray(initial_step, dtype=float).tolist())
        best = {"x": x0.copy(), "f": np.inf}

        def wrapped(x: np.ndarray, grad: np.ndarray) -> float:
            value = float(objective(np.asarray(x)))
            if value < best["f"]:
                best["x"], best["f"] = np.array(x, dtype=float), value
            return value

        opt.set_min_objective(wrapped)
        messages = []
        try:
            x = np.asarray(opt.optimize(x0.tolist()))
            code = opt.last_optimize_result()
        except nlopt.RoundoffLimited:
            x, code = best["x"], -4
            messages.append("nlopt stopped: roundoff errors limited progress")
        fval = float(objective(x))
        if best["f"] < fval:
            x, fval = best["x"], best["f"]
        if code == 5:
            messages.append(f"maximum number of function evaluations ({maxeval}) reached")
        return OptSummary(optimizer=name, x0=x0, x=x, fval=fval, feval=opt.get_numevals(), return_code=code,
                          messages=messages)

    return minimise


_BOBYQA = nlopt_optimizer(nlopt.LN_BOBYQA, "nloptwrap")
_NELDER_MEAD = nlopt_optimizer(nlopt.LN_NELDERMEAD, "nloptwrap.NLOPT_LN_NELDERMEAD")
# lme4's Nelder_Mead: first steps 0.02 (xst), stops once the simplex lies within 5e-4 of them (xt) of its centroid
_NM_FIRST_STEP, _NM_XT_SHARE = 0.02, 5e-4
# minqa's bobyqa: rhobeg = min(0.95, 0.2 max|x0|), rhoend = 1e-6 rhobeg; lme4's optwrap starts 0 at 0.001
_MINQA_RHOBEG_SHARE, _MINQA_RHOBEG_MAX, _MINQA_RHOEND_SHARE, _MINQA_ZERO_START = 0.2, 0.95, 1e-6, 0.001
# R's optim L-BFGS-B: factr = 1e7 times the machine epsilon, pgtol = 0
_OPTIM_FACTR = 1e7 * float(np.finfo(float).eps)


def minqa_bobyqa(objective: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray, *,
                 maxeval: int = 100_000, initial_step: np.ndarray | None = None, **_nloptwrap: float) -> OptSummary:
    """lme4's ``bobyqa`` (minqa's, Powell's code): nlopt's BOBYQA from minqa's first trust radius to its last.

    nlopt's BOBYQA is Powell's algorithm; minqa stops only on the trust radius
    (``rhoend``), so no tolerance on the objective applies. The control's nloptwrap
    tolerances (``xtol_abs``, ``ftol_abs``) are not minqa's and are ignored, as
    lme4's ``allFit`` runs minqa at its own defaults. ``initial_step`` is rhobeg
    (lme4's second glmer stage passes small ones).

    Examples
    --------
    >>> f = lambda x: float((x[0] - 1.0) ** 2 + (x[1] - 2.0) ** 2)
    >>> np.round(minqa_bobyqa(f, np.array([0.0, 0.0]), np.array([0.0, -np.inf])).x, 6).tolist()
    [1.0, 2.0]
    """
    x0 = np.maximum(np.asarray(x0, dtype=float), lower)
    if not x0.any():
        x0 = np.full(len(x0), _MINQA_ZERO_START)
    rhobeg = (np.full(len(x0), min(_MINQA_RHOBEG_MAX, _MINQA_RHOBEG_SHARE * float(np.abs(x0).max())))
              if initial_step is None else np.asarray(initial_step, dtype=float))
    summary = _BOBYQA(objective, x0, lower, xtol_abs=_MINQA_RHOEND_SHARE * float(rhobeg.min()), ftol_abs=0.0,
                      maxeval=maxeval, initial_step=rhobeg)
    return replace(summary, optimizer="bobyqa")


def lme4_nelder_mead(objective: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray, *,
                     maxeval: int = 100_000, initial_step: np.ndarray | None = None,
                     **_nloptwrap: float) -> OptSummary:
    """lme4's ``Nelder_Mead`` (its port of nlopt's Nelder-Mead): nlopt's, at lme4's ``Nelder_Mead`` defaults.

    First steps ``xst`` (0.02, or ``initial_step``), stopping once every vertex
    lies within ``xt = 5e-4 xst`` of the centroid: lme4's port tests only that
    (its ``FtolAbs`` is set but never tested), so no tolerance on the objective
    applies. The control's nloptwrap tolerances are ignored, as ``allFit`` runs
    it at its defaults.

    Examples
    --------
    >>> f = lambda x: float((x[0] - 1.0) ** 2 + (x[1] - 2.0) ** 2)
    >>> np.round(lme4_nelder_mead(f, np.array([0.5, 1.5]), np.array([0.0, -np.inf])).x, 2).tolist()
    [1.0, 2.0]
    """
    xst = np.full(len(x0), _NM_FIRST_STEP) if initial_step is None else np.asarray(initial_step, dtype=float)
    summary = _NELDER_MEAD(objective, x0, lower, xtol_abs=(_NM_XT_SHARE * xst).tolist(), ftol_abs=0.0,
                           maxeval=maxeval, initial_step=xst)
    return replace(summary, optimizer="Nelder_Mead")


def nlminb_quasi_newton(objective: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray, *,
                        maxeval: int = 100_000, **_settings: object) -> OptSummary:
    """lme4's ``nlminbwrap`` (PORT), by scipy's SLSQP (:func:`mixedfx.optim.optimizers.port_quasi_newton`)."""
    return _from_scipy("nlminbwrap", x0, lower, port_quasi_newton(objective, x0, lower, maxeval=maxeval))


def nmkbw(objective: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray, *,
          maxeval: int = 100_000, **_settings: object) -> OptSummary:
    """lme4's ``nmkbw`` (dfoptim's ``nmkb``; Brent for one parameter), by :func:`mixedfx.optim.optimizers.nmkb`."""
    return _from_scipy("nmkbw", x0, lower, nmkb(objective, x0, lower, maxfeval=maxeval))


def optim_lbfgsb(objective: Callable[[np.ndarray], float], x0: np.ndarray, lower: np.ndarray, *,
                 maxeval: int = 100_000, **_settings: object) -> OptSummary:
    """optimx's ``L-BFGS-B`` (R's ``optim``): :func:`lbfgsb` on R's finite differences, at optim's tolerances.

    ``feval`` counts every evaluation, those of the differences included.
    """
    summary = lbfgsb(optim_gradient(objective, lower), x0, lower, ftol_rel=_OPTIM_FACTR, gtol=0.0,
                     maxeval=maxeval)
    return replace(summary, optimizer="optimx.L-BFGS-B", feval=summary.feval * (2 * len(summary.x) + 1))


def _from_scipy(name: str, x0: np.ndarray, lower: np.ndarray, result: OptimizeResult) -> OptSummary:
    """A scipy result as an ``OptSummary``: return code 1 on success, -1 (and scipy's message) otherwise."""
    x = np.maximum(np.asarray(result.x, dtype=float), lower)
    messages = [] if result.success else [f"{name}: {result.message}"]
    return OptSummary(optimizer=name, x0=np.asarray(x0, dtype=float), x=x, fval=float(result.fun),
                      feval=int(result.nfev), return_code=1 if result.success else -1, messages=messages)


# every optimiser by lme4's name: allFit's seven (mixedfx.inference.allfit), then more of nlopt's
OPTIMIZERS: dict[str, Callable[..., OptSummary]] = {
    "bobyqa": minqa_bobyqa,
    "Nelder_Mead": lme4_nelder_mead,
    "nlminbwrap": nlminb_quasi_newton,
    "nmkbw": nmkbw,
    "optimx.L-BFGS-B": optim_lbfgsb,
    "nloptwrap.NLOPT_LN_NELDERMEAD": _NELDER_MEAD,
    "nloptwrap.NLOPT_LN_BOBYQA": bobyqa,
    "nloptwrap.NLOPT_LN_SBPLX": nlopt_optimizer(nlopt.LN_SBPLX, "nloptwrap.NLOPT_LN_SBPLX"),
    "nloptwrap.NLOPT_LN_COBYLA": nlopt_optimizer(nlopt.LN_COBYLA, "nloptwrap.NLOPT_LN_COBYLA"),
}


def restart_from_edge(summary: OptSummary, objective: Callable[[np.ndarray], float], lower: np.ndarray,
                      step: float = 1e-5, optimizer: Callable[..., OptSummary] = bobyqa,
                      columns: Sequence[np.ndarray] = (), max_restarts: int = 5,
                      first_step: tuple[float, float] | None = None, **options) -> OptSummary:
    """Restart the optimiser where a parameter on its bound would gain by stepping inward.

    lme4 (``optimizeLmer``'s ``restart_edge``) takes a forward difference of size
    ``step`` from each parameter sitting on its lower bound; if any is negative it
    optimises again from the current point. A covariance's Cholesky factor has
    a second way inward that lme4 misses: with a diagonal entry at 0, its column
    below may change sign without changing the objective, and stepping the
    diagonal inward can gain from the mirrored column where it loses from this
    one (a spurious stationary point of the parametrisation). So each parameter
    heading one of ``columns`` is also tried from the mirrored point, and the
    optimiser restarts from whichever start falls fastest inward. A restart that
    ends on a bound again is checked again, at most ``max_restarts`` times.

    Parameters
    ----------
    summary : OptSummary
        The optimiser's result.
    objective : callable
    lower : ndarray
        Lower bounds.
    step : float
        The forward difference's step.
    optimizer : callable
        Minimiser with :func:`bobyqa`'s signature for the restart.
    columns : sequence of ndarray
        Parameter positions, each headed by one bounded below by 0 that, at 0,
        leaves the objective unchanged when the others change sign
        (:func:`mixedfx.linalg.layout.theta_columns`).
    max_restarts : int
    first_step : (float, float), optional
        The restart's first steps: this share of each value, at least the second
        number (:func:`first_steps_near`); the optimiser's own when omitted.
    **options
        The optimiser's stopping rules.

    Returns
    -------
    OptSummary
        The last restart's result (the evaluations of the checks before it
        included, as lme4 counts them), or ``summary`` itself.

    Examples
    --------
    At ``x = (0, -2)`` this function rises along x[0] but falls along it from the
    mirrored ``(0, 2)``:

    >>> f = lambda x: float((x[0] * x[1] - 1.0) ** 2 + x[0] ** 2 + (x[1] ** 2 - 4.0) ** 2)
    >>> lower = np.array([0.0, -np.inf])
    >>> stuck = bobyqa(f, np.array([0.0, -2.0]), lower)
    >>> round(restart_from_edge(stuck, f, lower).fval, 3)
    1.0
    >>> round(restart_from_edge(stuck, f, lower, columns=[np.array([0, 1])]).fval, 3)
    0.2
    """
    heads = {int(column[0]): column[1:] for column in columns}
    for _ in range(max_restarts):
        start, spent = _edge_descent(summary.x, objective, lower, step, heads)
        if start is None:
            break
        steps = {} if first_step is None else {"initial_step": first_steps_near(start, *first_step)}
        again = optimizer(objective, start, lower, **steps, **options)
        summary = replace(again, x0=summary.x0, feval=summary.feval + spent + again.feval)
    return summary


def restart_from(summary: OptSummary, objective: Callable[[np.ndarray], float], start: np.ndarray | None,
                 lower: np.ndarray, optimizer: Callable[..., OptSummary] = bobyqa, **options) -> OptSummary:
    """Optimise again from ``start`` (no restart for None) and keep the better end, counting both runs' evaluations.

    Examples
    --------
    >>> f = lambda x: float(min((x[0] - 1.0) ** 2, (x[0] + 2.0) ** 2 - 1.0))
    >>> near = bobyqa(f, np.array([0.9]), np.array([-np.inf]), initial_step=np.array([0.05]))
    >>> round(near.fval, 3), round(restart_from(near, f, np.array([-1.5]), np.array([-np.inf])).fval, 3)
    (0.0, -1.0)
    """
    if start is None:
        return summary
    again = optimizer(objective, start, lower, **options)
    spent = summary.feval + again.feval
    if again.fval < summary.fval:
        return replace(again, x0=summary.x0, feval=spent)
    return replace(summary, feval=spent)


def _edge_descent(x: np.ndarray, objective: Callable[[np.ndarray], float], lower: np.ndarray, step: float,
                  heads: dict[int, np.ndarray]) -> tuple[np.ndarray | None, int]:
    """The start (x, or x with a column mirrored) from which a bounded parameter falls fastest inward, or None.

    Also returns the objective evaluations spent.
    """
    on_bound = np.flatnonzero(x == lower)
    if not len(on_bound):
        return None, 0
    f0 = objective(x)
    spent, best_slope, best_start = 1, 0.0, None
    for i in on_bound:
        starts = [x]
        below = heads.get(int(i))
        if below is not None and np.any(x[below] != 0.0):
            mirrored = x.copy()
            mirrored[below] = -x[below]
            starts.append(mirrored)
        for start in starts:
            moved = start.copy()
            moved[i] = lower[i] + step
            slope = (objective(moved) - f0) / step
            spent += 1
            if slope < best_slope:
                best_slope, best_start = slope, start
    return best_start, spent


def snap_to_boundary(summary: OptSummary, objective: Callable[[np.ndarray], float], lower: np.ndarray,
                     tol: float = 1e-5) -> OptSummary:
    """Set parameters within ``tol`` of their bound onto it when that does not raise the objective.

    lme4's ``check.boundary`` does the same after ``optimizeLmer``.
    """
    # a few parameters: Python floats decide faster than numpy's calls
    if not any(x - bound < tol and x != bound for x, bound in zip(summary.x.tolist(), lower.tolist())):
        return summary
    near = (summary.x - lower < tol) & (summary.x != lower)
    x = np.where(near, lower, summary.x)
    fval = float(objective(x))
    if fval > summary.fval:
        return summary
    return replace(summary, x=x, fval=fval, feval=summary.feval + 1)


def evaluate_points(objective: Callable[[np.ndarray], float], points: list[np.ndarray],
                    workers: int = 1) -> list[float]:
    """The objective at each point, in order, on ``workers`` threads (see :func:`finite_difference_derivatives`).

    Each thread takes one interleaved share of the points: a task per point would
    cost about as much to hand over as a small model's evaluation.
    """
    if workers > 1 and len(points) > 1:
        shares = [points[i::workers] for i in range(workers)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            parts = list(pool.map(lambda share: [objective(point) for point in share], shares))
        values: list[float] = [0.0] * len(points)
        for i, part in enumerate(parts):
            values[i::workers] = part
        return values
    return [objective(point) for point in points]


def finite_difference_derivatives(objective: Callable[[np.ndarray], float], x: np.ndarray, fx: float,
                                  delta: float = 1e-4, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Central-difference gradient and Hessian, as lme4's ``deriv12`` (no bounds).

    Parameters
    ----------
    objective : callable
        The function differentiated.
    x : ndarray
        The point.
    fx : float
        ``objective(x)``.
    delta : float
        Step in every coordinate.
    workers : int
        Threads evaluating the 2 k^2 points; more than 1 only for an objective
        that is thread-safe and releases the GIL (the compiled PIRLS). The
        values do not depend on it.

    Returns
    -------
    gradient : ndarray, shape (k,)
    hessian : ndarray, shape (k, k)
    """
    x = np.asarray(x, dtype=float)
    k = len(x)
    steps = np.eye(k) * delta
    pairs = [(i, j) for j in range(k) for i in range(j)]
    corners = []
    for i, j in pairs:
        corners += [x + steps[i] + steps[j], x + steps[i] - steps[j], x - steps[i] + steps[j], x - steps[i] - steps[j]]
    values = evaluate_points(objective, axis_points(x, delta) + corners, workers)
    grad, hess = axis_derivatives(values[: 2 * k], fx, delta)
    hess = np.diag(hess)
    corner_values = iter(values[2 * k:])
    for i, j in pairs:
        pp, pm, mp, mm = next(corner_values), next(corner_values), next(corner_values), next(corner_values)
        hess[i, j] = hess[j, i] = (pp - pm - mp + mm) / (4.0 * delta**2)
    return grad, hess


def axis_points(x: np.ndarray, delta: float) -> list[np.ndarray]:
    """x plus and minus delta along each axis, axis by axis.

    Every finite difference here takes its axis points from this one place, so
    that the same point is the same bytes (:class:`mixedfx.optim.newton.CachedObjective`).
    """
    steps = np.eye(len(x)) * delta
    points = []
    for j in range(len(x)):
        points += [x + steps[j], x - steps[j]]
    return points


def axis_derivatives(values: list[float], fx: float, delta: float) -> tuple[np.ndarray, np.ndarray]:
    """Central gradient and the Hessian's diagonal from the objective at :func:`axis_points` (and fx at x).

    Where the objective failed (inf), the differences are NaN, without numpy's warning.
    """
    plus, minus = np.asarray(values[0::2], dtype=float), np.asarray(values[1::2], dtype=float)
    with np.errstate(invalid="ignore"):
        return (plus - minus) / (2.0 * delta), (plus - 2.0 * fx + minus) / delta**2
