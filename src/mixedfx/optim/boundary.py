"""The checks of a fit that ends on the boundary of its variance parameters, for lmer and glmer alike.

lme4's edge check (:func:`mixedfx.optim.optimize.restart_from_edge`), with the
mirrored columns of vector-valued terms, then a restart from any variance that
stalled near zero raised (:func:`mixedfx.linalg.layout.theta_moved_inward`).
Both keep the better end, so they can only lower the criterion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np

from mixedfx.linalg.layout import theta_columns, theta_moved_inward
from mixedfx.optim.optimize import (OptimizerSettings, OptSummary, bobyqa, first_steps_near, restart_from,
                                    restart_from_edge, snap_to_boundary)

__all__ = ["leave_boundary", "settle_on_boundary"]


def leave_boundary(summary: OptSummary, objective: Callable[[np.ndarray], float], lower: np.ndarray, ks: list[int],
                   settings: OptimizerSettings, first_step: tuple[float, float],
                   optimizer: Callable[..., OptSummary] = bobyqa, collinear: bool = False) -> OptSummary:
    """Restart where a fit on the boundary would gain inward (``settings.restart_edge``; else ``summary``).

    Parameters
    ----------
    summary : OptSummary
        The optimiser's result; its ``x`` starts with theta (then any other parameters, as glmer's beta).
    objective : callable
    lower : ndarray
        Bounds of all of ``x``.
    ks : list of int
        Columns per random-effects term (theta's layout).
    settings : OptimizerSettings
        ``restart_edge``, ``inward_tol``, ``inward_share`` and the stopping rules.
    first_step : (float, float)
        The restart from raised variances starts near the fit: its first steps are
        this share of each value, at least the second number
        (:func:`mixedfx.optim.optimize.first_steps_near`).
    optimizer : callable
        The restarts' optimiser (lme4: BOBYQA).
    collinear : bool
        Also restart from near-collinear templates (correlations within about
        5e-5 of +-1): where ``summary`` comes from a gradient method, which
        creeps near such points (:func:`mixedfx.linalg.layout.theta_moved_inward`).

    Returns
    -------
    OptSummary

    Examples
    --------
    >>> import mixedfx as mfx
    >>> model = mfx.lmer_model(mfx.lmer_design("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy")))
    >>> stuck = bobyqa(model.objective, np.array([0.0, -0.034, 0.248]), model.lower, maxeval=1)
    >>> fit = leave_boundary(stuck, model.objective, model.lower, model.ks, mfx.LmerControl(), (0.1, 0.02))
    >>> round(stuck.fval, 1), round(fit.fval, 1)
    (1766.5, 1743.6)
    """
    if not settings.restart_edge:
        return summary
    options = settings.optimizer_options
    # a few parameters: Python floats decide faster than numpy's calls
    if any(x == bound for x, bound in zip(summary.x.tolist(), lower.tolist())):
        # the edge check steps inward from the parameters on their bounds
        summary = restart_from_edge(summary, objective, lower, optimizer=optimizer, columns=theta_columns(ks),
                                    first_step=first_step, **options)
    n_theta = sum(k * (k + 1) // 2 for k in ks)
    moved = theta_moved_inward(summary.x[:n_theta], ks, settings.inward_tol, settings.inward_share, collinear)
    if moved is None:
        return summary
    start = np.concatenate([moved, summary.x[n_theta:]])
    return restart_from(summary, objective, start, lower, optimizer=optimizer,
                        initial_step=first_steps_near(start, *first_step), **options)


def settle_on_boundary(summary: OptSummary, objective: Callable[[np.ndarray], float], lower: np.ndarray,
                       ks: list[int], tol: float, share: float) -> OptSummary:
    """Set variance parameters that ended next to zero onto it, one at a time, where that does not raise the criterion.

    First those within ``tol`` of their bound together (lme4's ``check.boundary``),
    then each diagonal theta below ``share`` of its term's largest diagonal. The
    criterion is even in a diagonal theta, so a gradient method approaches a
    zero there only slowly and stops short of it (a correlation of -1 or +1 found
    at 0.999); lme4's BOBYQA steps onto the bound and reports the fit singular.

    Parameters
    ----------
    summary : OptSummary
        The optimiser's result; its ``x`` starts with theta.
    objective : callable
        The criterion over ``summary.x``.
    lower : ndarray
        The bounds of ``summary.x``.
    ks : list of int
        The terms' widths (theta's layout).
    tol, share : float
        The absolute and the relative distance from zero checked (0 turns either off).

    Returns
    -------
    OptSummary
        ``summary``, or the better point with parameters on their bound.

    Examples
    --------
    >>> import numpy as np
    >>> from mixedfx.optim.optimize import OptSummary
    >>> start = OptSummary("L-BFGS-B", np.ones(3), np.array([1.0, -0.9, 0.002]), 1.0, 40, 1)
    >>> settle_on_boundary(start, lambda x: 1.0 + x[2] ** 2 - 1e-9, np.array([0.0, -np.inf, 0.0]), [2], 1e-5, 0.01).x
    array([ 1. , -0.9,  0. ])
    """
    if tol > 0:
        summary = snap_to_boundary(summary, objective, lower, tol)
    if share <= 0 or all(k == 1 for k in ks):  # a scalar term's diagonal is its own largest
        return summary
    start = 0
    values = summary.x.tolist()  # the template's diagonal, column-major: a few entries, compared as Python floats
    for k in ks:
        diagonal = [start + c * k - c * (c - 1) // 2 for c in range(k)]
        start += k * (k + 1) // 2
        largest = max(abs(values[j]) for j in diagonal)
        for j in diagonal:
            if 0.0 < values[j] < share * largest:
                x = summary.x.copy()
                x[j] = 0.0
                fval = float(objective(x))
                if fval <= summary.fval:
                    summary = replace(summary, x=x, fval=fval, feval=summary.feval + 1)
    return summary
