"""The checks of a fit that ends on the boundary of its variance parameters, for lmer and glmer alike.

lme4's edge check (:func:`mixedfx.optim.optimize.restart_from_edge`), with the
mirrored columns of vector-valued terms, then a restart from any variance that
stalled near zero raised (:func:`mixedfx.linalg.layout.theta_moved_inward`).
Both keep the better end, so they can only lower the criterion.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mixedfx.linalg.layout import theta_columns, theta_moved_inward
from mixedfx.optim.optimize import (OptimizerSettings, OptSummary, bobyqa, first_steps_near, restart_from,
                                    restart_from_edge)

__all__ = ["leave_boundary"]


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
    summary = restart_from_edge(summary, objective, lower, optimizer=optimizer, columns=theta_columns(ks),
                                first_step=first_step, **options)
    n_theta = sum(k * (k + 1) // 2 for k in ks)
    moved = theta_moved_inward(summary.x[:n_theta], ks, settings.inward_tol, settings.inward_share, collinear)
    if moved is None:
        return summary
    start = np.concatenate([moved, summary.x[n_theta:]])
    return restart_from(summary, objective, start, lower, optimizer=optimizer,
                        initial_step=first_steps_near(start, *first_step), **options)
