"""The outcome of lme4's two-stage generalized fit (:class:`GlmmOptimum`)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from mixedfx.glmm.pirls import PirlsResult
from mixedfx.optim.optimize import OptSummary

__all__ = ["GlmmOptimum"]


@dataclass(frozen=True)
class GlmmOptimum:
    """The outcome of lme4's two-stage fit.

    Attributes
    ----------
    opt : OptSummary
        The last stage's optimisation (stage 1 when nAGQ = 0); ``x`` is theta, or
        theta then beta.
    stage1 : OptSummary
        The nAGQ = 0 stage.
    theta, beta : ndarray
        Estimates.
    state : PirlsResult
        PIRLS at the estimates.
    hessian : ndarray or None
        Hessian of the stage-2 deviance over (theta, beta): by finite differences,
        or the exact one of the Newton steps on one scalar term
        (:mod:`mixedfx.glmm.scalar_laplace`).
    gradient : ndarray or None
        Its gradient.
    eta_start : ndarray or None
        The linear predictor each PIRLS run of the last stage started from (what
        its deviance function, lme4's ``devfun``, restarts from).
    """

    opt: OptSummary
    stage1: OptSummary
    theta: np.ndarray
    beta: np.ndarray
    state: PirlsResult
    hessian: np.ndarray | None
    gradient: np.ndarray | None
    eta_start: np.ndarray | None = None

    def unscaled(self, scales: np.ndarray, x_scales: np.ndarray) -> GlmmOptimum:
        """This optimum of a model on rescaled columns of Z and X, in the original model's parameters.

        theta = theta' / scales and beta = beta' / x_scales; the penalised system
        and PIRLS's means are the same; the Hessian and gradient over
        (theta, beta) change with the parameters' scales.
        """
        full = np.concatenate([scales, x_scales])

        def back(summary: OptSummary) -> OptSummary:
            return replace(summary, x0=summary.x0 / full[: summary.x0.size], x=summary.x / full[: summary.x.size])

        hessian = None if self.hessian is None else self.hessian * np.outer(full, full)
        gradient = None if self.gradient is None else self.gradient * full
        return replace(self, opt=back(self.opt), stage1=back(self.stage1), theta=self.theta / scales,
                       beta=self.beta / x_scales, state=replace(self.state, beta=self.state.beta / x_scales),
                       hessian=hessian, gradient=gradient)
