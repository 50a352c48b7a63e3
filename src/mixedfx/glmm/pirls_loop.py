"""lme4's pwrssUpdate loop, written once for both PIRLS engines.

Each iteration factors the penalised system at the working weights of the
current linear predictor and solves it (``solve``), moves to the new linear
predictor and its penalised deviance (``update``), and stops when the penalised
deviance changes by less than ``tol`` relative. Where the deviance rose, the
step to (u, beta) is halved until it no longer does.

The loop does not know how the system is factored: :func:`pirls_loop` builds it
over one engine's steps, which share a context ``ctx`` (the state beyond u and
beta: linear predictor, means, factor). The compiled engine
(:mod:`mixedfx.glmm.scalar_pirls`) compiles the loop over its compiled steps;
the Python engine (:class:`mixedfx.glmm.pirls.PythonPirls`) runs it as Python
over steps through :mod:`mixedfx.linalg`. The steps are bound when the loop is
built, not passed at each call, so the compiled loop calls them directly and
numba can cache it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from mixedfx.glmm.pirls_status import HALVING_FAILED, NOT_CONVERGED, OK

__all__ = ["PirlsSettings", "pirls_loop"]


class PirlsSettings(NamedTuple):
    """When a run stops: :class:`mixedfx.glmm.control.GlmerControl`'s ``tol_pwrss``, ``max_pirls``, ``max_halvings``."""

    tol: float
    max_iter: int
    max_halvings: int


def pirls_loop(solve: Callable, update: Callable, record: Callable) -> Callable:
    """PIRLS's loop over one engine's steps.

    Parameters
    ----------
    solve : callable
        ``solve(ctx, u, b) -> status``: the factor at ``ctx``'s linear predictor
        (kept in ``ctx``) and the new (u, b), written into the arrays; ``OK`` or the
        :mod:`mixedfx.glmm.pirls_status` code that stops the run.
    update : callable
        ``update(ctx, u, b) -> float``: the linear predictor, means and deviance
        residuals at (u, b), in ``ctx``; returns the penalised deviance.
    record : callable
        ``record(ctx, u)``: keeps an iteration, for a gradient through them.

    Returns
    -------
    callable
        ``iterations(ctx, u, b, tol, max_iter, max_halvings, track) -> (status, iterations, smooth)``:
        runs PIRLS on the spherical random effects ``u`` and the coefficients
        solved for ``b`` in place, until the penalised deviance changes by less
        than ``tol`` relative, with at most ``max_iter`` iterations of at most
        ``max_halvings`` step-halvings each, recording the iterations while
        ``track`` holds and no step was halved. ``status`` is ``OK``,
        ``HALVING_FAILED``, ``NOT_CONVERGED`` or ``solve``'s code, and ``smooth``
        whether no step was halved (the iterations' path is smooth in the
        parameters). Wrap it in ``numba.njit`` where the steps are compiled.

    Examples
    --------
    One Newton step solves a quadratic, and the second iteration confirms it:

    >>> def solve(ctx, u, b):
    ...     u[:] = ctx
    ...     return 0
    >>> def update(ctx, u, b):
    ...     return 1.0 + float(((u - ctx) ** 2).sum())
    >>> iterations = pirls_loop(solve, update, lambda ctx, u: None)
    >>> iterations(np.ones(2), np.zeros(2), np.zeros(0), 1e-10, 5, 10, False)
    (0, 2, True)
    """

    def iterations(ctx, u, b, tol, max_iter, max_halvings, track):
        old_u = u.copy()
        old_b = b.copy()
        old_pdev = np.inf
        smooth = True
        for it in range(max_iter):
            status = solve(ctx, u, b)
            if status != OK:
                return status, it, smooth
            if track and smooth:
                record(ctx, u)
            pdev = update(ctx, u, b)
            if abs(old_pdev - pdev) < tol * pdev:
                return OK, it + 1, smooth
            if pdev > old_pdev:
                smooth = False
                for _ in range(max_halvings):
                    # halfway back, in place by ufuncs: numba compiles an array assigned to a slice
                    # with its shape-mismatch message, seconds of compiling
                    u += old_u
                    u *= 0.5
                    b += old_b
                    b *= 0.5
                    pdev = update(ctx, u, b)
                    if pdev <= old_pdev:
                        break
                if pdev - old_pdev > tol:
                    return HALVING_FAILED, it + 1, smooth
            old_pdev = pdev
            old_u = u.copy()
            old_b = b.copy()
        return NOT_CONVERGED, max_iter, smooth

    return iterations
