"""Generalized linear mixed models: the Laplace and adaptive Gauss-Hermite deviance and lme4's two-stage fit.

lme4 fits in two stages: theta with beta inside PIRLS (nAGQ = 0), then theta and
beta together with the Laplace (nAGQ = 1) or adaptive Gauss-Hermite deviance. Each
evaluation restarts PIRLS from a fixed linear predictor, so the objective is a
function of its parameters alone.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Callable
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.reterms import ReTerm
from mixedfx.errors import MixedFxError
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.families import Family, family_response
from mixedfx.glmm.laplace import LaplaceRuns, agq_deviance
from mixedfx.glmm.optimum import GlmmOptimum
from mixedfx.glmm.pirls import (CompiledPirls, PirlsError, PirlsResult, PythonPirls, pirls_engines,
                               working_response)
from mixedfx.glmm.stage2_hessian import optimum_derivatives, start_hessian
from mixedfx.linalg.layout import (BlockLayout, TermLayout, column_scales, rescaled_terms, root_mean_squares,
                                   term_layouts, theta_entry_scales, theta_lower_bounds, theta_scales)
from mixedfx.linalg.threads import blas_threads, limited_blas
from mixedfx.optim.newton import CachedObjective, newton_minimise, projected_bfgs
from mixedfx.optim.boundary import leave_boundary, settle_on_boundary
from mixedfx.optim.choice import optimizer_named
from mixedfx.optim.trace import traced
from mixedfx.optim.optimize import OptSummary, bobyqa, first_steps_near

if TYPE_CHECKING:
    from mixedfx.glmm.scalar_laplace import ScalarLaplaceNewton

__all__ = ["GeneralizedLinearMixedModel", "GlmmOptimum", "family_response"]

# a batch of derivative runs longer than this goes to threads (starting them costs about a millisecond)
_THREADED_BATCH_SECONDS = 1e-2


def _log_likelihood_terms(family: Family, y: np.ndarray, n_trials: np.ndarray, weights: np.ndarray):
    """:func:`mixedfx.glmm.family_kernels.log_likelihood_terms`, imported on first use (it loads numba)."""
    from mixedfx.glmm.family_kernels import log_likelihood_terms  # noqa: PLC0415

    return log_likelihood_terms(family, y, n_trials, weights)


SCALAR_NEWTON_MAX_WORK = 25_000
"""The largest rows x (p + 1)^2 that the one-compiled-call fit (:attr:`scalar_newton`) takes: its passes over the
rows cost about (p + 1)^2 each, and it makes two to three times as many as the two stages' compiled PIRLS, which
vectorises them (random one-term models, 4 fixed effects: faster up to about 1,000 rows, level there, 1.5x slower
at 4,000)."""

HESSIAN_FORMS_AGREE = 0.015
"""lme4's Hessian over (theta, beta) takes log|L|^2 at the weights PIRLS started its last iteration from. Where
PIRLS from stage 1's end stops after two iterations, that is one Newton step from stage 1's modes, and its
Hessian is :func:`~mixedfx.glmm.scalar_laplace.laplace_derivatives`' lme4 form (cbpp); where it takes more, it
is nearly the exact one. Where their standard errors differ by more than this share, which lme4 reports depends
on where its stage 1 ended, and the fit takes lme4's two stages (in random models, mostly where theta is above
about 1; cbpp's differ by 1.3%)."""


EXACT_SLACK = 1e-4
"""Where lme4's stage-2 deviance (PIRLS from stage 1's end, stopped at its tolerance) changes form, as PIRLS's
iterations change in number, a local optimum of one form can lie above the exact Laplace deviance's optimum by
more than lme4's own landing point does (a random Poisson model: 7.8e-3 against lme4's 5e-5). Stage 2's end
moves to the exact optimum where its exact Laplace deviance is above it by more than this."""

RESCALE_RATIO = 1e3
"""A generalized model is optimised on rescaled columns where their scales differ by more than this (lme4's
``check.scaleX`` tolerance): rebuilding it costs 10-15% of a small fit, worth it only on such scales."""


class GeneralizedLinearMixedModel:
    """A generalized linear mixed model ready to evaluate its Laplace/AGQ deviance.

    Parameters
    ----------
    matrices : ModelMatrices
        The model's matrices (a two-column ``y`` for ``cbind(successes, failures)``).
    family : Family
        Response distribution and link.
    n_agq : int
        0 (PIRLS deviance with beta profiled), 1 (Laplace) or more (adaptive
        Gauss-Hermite, one scalar random-effects term only).
    control : GlmerControl
    """

    def __init__(self, matrices: ModelMatrices, family: Family, n_agq: int = 1,
                 control: GlmerControl | None = None) -> None:
        self._take_structure(matrices, family, n_agq, control, term_layouts(matrices.ordered_terms))
        if n_agq > 1 and (len(self.terms) != 1 or self.ks[0] != 1):
            raise MixedFxError("nAGQ > 1 is only available for models with a single, scalar random-effects term")
        self.y, self.weights, self.n_trials, mustart = self._response(matrices)
        self.log_likelihood = _log_likelihood_terms(family, self.y, self.n_trials, self.weights)
        self.eta_start = family.link.linkfun(mustart) + 0.0
        self.scalar_newton = self._scalar_newton()
        layout = BlockLayout(ks=self.ks, n_levels=self.n_levels, p=self.p)
        # small models too: the optimisers' own LAPACK calls (the BFGS and Newton steps') wake BLAS's threads,
        # a wait of several milliseconds where another process holds the second core
        self.blas_threads = blas_threads(layout.q_rest + layout.p + 1, self.ks[0] * self.n_levels[0])
        """BLAS threads while fitting (None: BLAS's own; :mod:`mixedfx.linalg.threads`)."""

    def _take_structure(self, matrices: ModelMatrices, family: Family, n_agq: int, control: GlmerControl | None,
                        layouts: list[TermLayout]) -> None:
        """Set what the model's methods read of its terms and X (``layouts``: the terms' in lme4's order)."""
        self.matrices, self.family, self.n_agq = matrices, family, n_agq
        self.control = control or GlmerControl()
        self.order = matrices.term_order
        self.terms: list[ReTerm] = matrices.ordered_terms
        self.layouts = layouts
        self.ks = [t.k for t in self.layouts]
        self.n_levels = [t.n_levels for t in self.layouts]
        self.lower = theta_lower_bounds(self.ks)
        self.X = matrices.X
        self.n, self.p = self.X.shape
        self.offset = matrices.offset

    def _response(self, matrices: ModelMatrices) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Response, prior weights, binomial trials and starting means, as R's family initialize."""
        return family_response(self.family, matrices.y, matrices.weights)

    def with_response(self, y: np.ndarray) -> GeneralizedLinearMixedModel:
        """The same model (X, Z, family, prior weights, offset) for another response.

        Parameters
        ----------
        y : ndarray
            Shape (n,), or (n, 2) successes and failures for a binomial
            ``cbind`` response (the trials may change).

        Returns
        -------
        GeneralizedLinearMixedModel
        """
        y = np.asarray(y, dtype=float)
        if y.shape != np.shape(self.matrices.y):
            raise ValueError(f"the new response has shape {y.shape}; the model's has {np.shape(self.matrices.y)}")
        other = copy.copy(self)
        other.matrices = replace(self.matrices, y=y)
        other.y, other.weights, other.n_trials, mustart = other._response(other.matrices)
        other.log_likelihood = _log_likelihood_terms(self.family, other.y, other.n_trials, other.weights)
        other.eta_start = self.family.link.linkfun(mustart) + 0.0
        other.scalar_newton = other._scalar_newton()
        if "pirls_engines" in vars(self):  # built already: the new response's share their compiled structure
            other.pirls_engines = tuple(engine.with_response(other.y, other.weights) for engine in self.pirls_engines)
        return other

    @cached_property
    def pirls_engines(self) -> tuple[CompiledPirls | PythonPirls, CompiledPirls | PythonPirls]:
        """The PIRLS engines of the two stages, beta solved for and beta held (:func:`mixedfx.glmm.pirls.pirls_engines`),
        built on first use: a fit by :attr:`scalar_newton` needs them only for its factor."""
        return pirls_engines(self.family, self.y, self.weights, self.layouts, self.X, self.control)

    scalar_newton = None
    """The Newton fit of a model with one scalar term (:mod:`mixedfx.glmm.scalar_laplace`) where the model takes
    it, chosen when the model is built; None otherwise."""

    def _scalar_newton(self) -> ScalarLaplaceNewton | None:
        """The one-scalar-term Newton fit, for the Laplace deviance (nAGQ = 1) on a canonical link whose
        ``family$aic`` is the deviance plus a constant, where the control asks for it (``scalar_newton``; and not
        for BOBYQA, finite differences or the Python PIRLS), prints no evaluations and the model is small
        (:data:`SCALAR_NEWTON_MAX_WORK`); None otherwise."""
        ctrl, terms = self.control, self.log_likelihood
        if (self.n_agq != 1 or self.ks != [1] or terms is None or terms.deviance_shift is None or ctrl.verbose
                or ctrl.optimizer is not None or self.n * (self.p + 1) ** 2 > SCALAR_NEWTON_MAX_WORK
                or not (ctrl.scalar_newton and ctrl.stage2_newton and ctrl.use_gradient and ctrl.compiled_pirls)):
            return None
        from mixedfx.glmm.scalar_laplace import ScalarLaplaceNewton  # noqa: PLC0415 - numba loads with the first fit

        return ScalarLaplaceNewton(terms.code, terms, self.y, self.weights, self.layouts[0], self.X, self.offset,
                                   lme4_stages=not ctrl.exact_laplace,
                                   pirls_settings=(ctrl.tol_pwrss, ctrl.max_pirls, ctrl.max_halvings))

    # --- PIRLS ---------------------------------------------------------------
    def working_response(self, eta: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """IRLS's working response (less ``base``) and weights at ``eta`` (:func:`mixedfx.glmm.pirls.working_response`)."""
        return working_response(self.family, self.y, self.weights, eta, base)

    def pirls(self, theta: np.ndarray, beta: np.ndarray | None, eta_start: np.ndarray,
              mu_start: np.ndarray | None = None) -> PirlsResult:
        """Penalised iteratively reweighted least squares at theta, by the stage's engine.

        Parameters
        ----------
        theta : ndarray
            Covariance parameters, lme4's order.
        beta : ndarray or None
            Fixed effects held fixed (stage 2); None to update them too (stage 1).
        eta_start : ndarray
            Linear predictor the iterations start from.
        mu_start : ndarray, optional
            :meth:`start_means` at ``eta_start``, for callers that start many runs there.

        Returns
        -------
        PirlsResult

        Raises
        ------
        PirlsError
            When step-halving cannot reduce the penalised deviance or PIRLS does
            not converge in ``max_pirls`` iterations.
        """
        if beta is None:
            return self.pirls_engines[0].run(theta, self.offset, None, eta_start, mu_start)
        beta = np.asarray(beta, dtype=float)
        return self.pirls_engines[1].run(theta, self.offset + self.X @ beta, beta, eta_start, mu_start)

    def start_means(self, eta_start: np.ndarray) -> np.ndarray | None:
        """The means PIRLS starts from at ``eta_start`` (None where the engine computes them at each run)."""
        return self.pirls_engines[0].means(eta_start)

    # --- deviance ------------------------------------------------------------
    def laplace_deviance(self, state: PirlsResult) -> float:
        """lme4's Laplace deviance: log|L|^2 + ||u||^2 + the family's AIC term."""
        if self.log_likelihood is not None:
            aic = self.log_likelihood.aic_from_deviance(state.mu, state.dev)
        else:
            aic = self.family.aic(self.y, self.n_trials, state.mu, self.weights, state.dev)
        return float(state.logdet_re + state.u @ state.u + aic)

    def agq_deviance(self, state: PirlsResult, theta: np.ndarray) -> float:
        """Adaptive Gauss-Hermite deviance for one scalar term (lme4's glmerAGQ; :func:`~mixedfx.glmm.laplace.agq_deviance`)."""
        return agq_deviance(self.family, self.layouts[0], self.y, self.weights, state, float(theta[0]), self.n_agq)

    def final_deviance(self, optimum: GlmmOptimum) -> float:
        """-2 log-likelihood at an optimum as lme4's logLik takes it: Laplace's for nAGQ 0 and 1, AGQ's otherwise."""
        if self.n_agq == 0:
            return self.laplace_deviance(optimum.state)
        return self.deviance(optimum.state, optimum.theta)

    def deviance(self, state: PirlsResult, theta: np.ndarray) -> float:
        """The stage-2 criterion: Laplace for nAGQ <= 1, AGQ otherwise."""
        return self.agq_deviance(state, theta) if self.n_agq > 1 else self.laplace_deviance(state)

    def split(self, pars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split stage-2 parameters into theta and beta."""
        k = len(self.lower)
        return np.asarray(pars[:k], dtype=float), np.asarray(pars[k:], dtype=float)

    # --- lme4's two-stage fit -------------------------------------------------
    def stage1_objective(self, eta_start: np.ndarray) -> Callable[[np.ndarray], float]:
        """The first stage's deviance (Laplace, beta solved for inside PIRLS) as a function of theta.

        Parameters
        ----------
        eta_start : ndarray
            Linear predictor each PIRLS run starts from.

        Returns
        -------
        callable
            ``inf`` where PIRLS fails.
        """
        mu_start = self.start_means(eta_start)

        def objective(theta: np.ndarray) -> float:
            try:
                return self.laplace_deviance(self.pirls(theta, None, eta_start, mu_start))
            except PirlsError:
                return np.inf
        return objective

    def stage2_objective(self, eta_start: np.ndarray) -> Callable[[np.ndarray], float]:
        """The stage-2 deviance as a function of theta then beta (lme4's ``devfun``).

        Parameters
        ----------
        eta_start : ndarray
            Linear predictor each PIRLS run starts from.

        Returns
        -------
        callable
            ``inf`` where PIRLS fails.
        """
        mu_start = self.start_means(eta_start)

        def objective(pars: np.ndarray) -> float:
            theta, beta = self.split(pars)
            try:
                return self.deviance(self.pirls(theta, beta, eta_start, mu_start), theta)
            except PirlsError:
                return np.inf
        return objective

    @property
    def has_laplace_gradient(self) -> bool:
        """Whether the stage-2 deviance has an exact gradient (:mod:`mixedfx.glmm.laplace_gradient`).

        It has for the Laplace deviance (nAGQ = 1) of the compiled PIRLS (scalar
        terms; binomial logit or Poisson log) with a response whose log-likelihood
        splits into per-row terms. Stage 1's deviance (the Laplace deviance with
        beta inside PIRLS) has one for every nAGQ under the same conditions.
        """
        return self.n_agq == 1 and self._has_gradient

    @property
    def _has_gradient(self) -> bool:
        engine = self.pirls_engines[0]
        return isinstance(engine, CompiledPirls) and engine.kernel.gradient and self.log_likelihood is not None

    @property
    def _uses_gradient(self) -> bool:
        """Whether this fit takes the exact gradient where the deviance has one."""
        return self.control.use_gradient and self._has_gradient

    def laplace_value_and_gradient(self, eta_start: np.ndarray, stage: int = 2) -> LaplaceRuns:
        """A stage's Laplace deviance and its exact gradient, in one PIRLS run per point.

        Stage 2's is over theta then beta (only where :attr:`has_laplace_gradient`),
        stage 1's over theta, beta being solved for inside PIRLS.

        Parameters
        ----------
        eta_start : ndarray
            Linear predictor each PIRLS run starts from.
        stage : {1, 2}

        Returns
        -------
        LaplaceRuns
        """
        return LaplaceRuns(self, eta_start, stage)

    def fit(self, theta0: np.ndarray | None = None,
            optimizer: Callable[..., OptSummary] | None = None, beta0: np.ndarray | None = None) -> GlmmOptimum:
        """Optimise as lme4's glmer: theta with beta inside PIRLS, then theta and beta together.

        Parameters
        ----------
        theta0 : ndarray, optional
            Starting theta (lme4's order); 1 on the diagonal, 0 below it by default.
        optimizer : callable, optional
            The minimiser for both stages. By default the control's ``optimizer``
            (one per stage), else BOBYQA, with stage 2 first tried by Newton steps
            (see :meth:`fit_stage2`).
        beta0 : ndarray, optional
            Stage 2's starting fixed effects (lme4's ``start$fixef``); stage 1's by default.

        Returns
        -------
        GlmmOptimum
        """
        rescaling = self.rescaling()
        if rescaling is not None:
            z_scales, x_scales = rescaling
            return self._fit_rescaled(self.rescaled(z_scales, x_scales), theta_entry_scales(z_scales), x_scales,
                                      theta0, optimizer, beta0)
        if self.scalar_newton is not None and optimizer is None:  # one compiled call: BLAS's threads stay idle
            optimum = self._fit_scalar_newton(theta0, beta0)
            if optimum is not None:
                return optimum
        with limited_blas(self.blas_threads):
            if optimizer is not None:
                return self._fit(theta0, optimizer, optimizer, beta0)
            named = [None if name is None else optimizer_named(name) for name in self.control.stage_optimizers]
            return self._fit(theta0, named[0], named[1], beta0)

    def column_scales(self) -> tuple[list[np.ndarray], np.ndarray]:
        """The root mean squares of Z's columns, per term in lme4's order, and of X's columns (1 for a column of
        zeros): what :meth:`rescaling` decides on."""
        return column_scales(self.terms), root_mean_squares(self.X)

    def rescaling(self) -> tuple[list[np.ndarray], np.ndarray] | None:
        """The scales :meth:`fit` optimises on, where Z's or X's columns' scales differ by more than
        :data:`RESCALE_RATIO`; None where they do not.

        Returns
        -------
        z_scales : list of ndarray
            Per term (lme4's order), what its columns of Z are divided by: their root mean squares.
        x_scales : ndarray, shape (p,)
            What X's columns are divided by: their root mean squares where those are spread, else ones.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> cbpp = mfx.datasets.load("cbpp").assign(big=lambda d: 1e4 * d.index)
        >>> model = mfx.glmer("cbind(incidence, size - incidence) ~ big + (1 | herd)", cbpp, family="binomial").model
        >>> z_scales, x_scales = model.rescaling()
        >>> z_scales[0].tolist(), bool(x_scales[1] > 1e5)
        ([1.0], True)
        """
        z_scales, x_rms = self.column_scales()
        x_spread = bool(x_rms.size) and x_rms.max() > RESCALE_RATIO * x_rms.min()
        if theta_scales(z_scales, RESCALE_RATIO) is None and not x_spread:
            return None
        return z_scales, x_rms if x_spread else np.ones(self.p)

    def rescaled(self, z_scales: list[np.ndarray], x_scales: np.ndarray) -> GeneralizedLinearMixedModel:
        """This model on Z's columns divided by ``z_scales`` (per term, lme4's order) and X's by ``x_scales``."""
        in_formula_order = [z_scales[self.order.index(i)] for i in range(len(z_scales))]
        matrices = replace(self.matrices, re_terms=rescaled_terms(self.matrices.re_terms, in_formula_order),
                           X=self.X / x_scales)
        return GeneralizedLinearMixedModel(matrices, self.family, self.n_agq, self.control)

    def _fit_rescaled(self, rescaled: GeneralizedLinearMixedModel, scales: np.ndarray, x_scales: np.ndarray,
                      theta0: np.ndarray | None, optimizer: Callable[..., OptSummary] | None,
                      beta0: np.ndarray | None) -> GlmmOptimum:
        """The fit on rescaled columns (:meth:`rescaled`), in this model's parameters: theta' = theta scales and
        beta' = beta x_scales, as LinearMixedModel.optimize does Z's (beta enters stage 2)."""
        start = None if theta0 is None else np.asarray(theta0, dtype=float) * scales
        beta_start = None if beta0 is None else np.asarray(beta0, dtype=float) * x_scales
        return rescaled.fit(start, optimizer, beta_start).unscaled(scales, x_scales)

    def _fit(self, theta0: np.ndarray | None, optimizer: Callable[..., OptSummary] | None,
             stage2_optimizer: Callable[..., OptSummary] | None, beta0: np.ndarray | None) -> GlmmOptimum:
        ctrl = self.control
        options = ctrl.optimizer_options
        start = np.where(self.lower == 0.0, 1.0, 0.0) if theta0 is None else np.asarray(theta0, dtype=float)
        lp0 = self.pirls(start, None, self.eta_start).eta
        stage1 = traced(self.stage1_objective(lp0), ctrl.verbose)
        if self.n_agq > 0 and optimizer is None and ctrl.stage2_newton:
            opt1, state1 = self._stage1_start(stage1, lp0, start, options)
        else:
            opt1 = (optimizer or bobyqa)(stage1, start, self.lower, **options)
            if self.n_agq == 0:  # stage 1 is the fit: its end gets stage 2's checks
                opt1 = leave_boundary(opt1, stage1, self.lower, self.ks, ctrl,
                                      (ctrl.stage2_first_step, ctrl.stage2_least_step), optimizer=optimizer or bobyqa)
                opt1 = settle_on_boundary(opt1, stage1, self.lower, self.ks, ctrl.boundary_tol, ctrl.boundary_share)
            state1 = self.pirls(opt1.x, None, lp0)
        opt1 = replace(opt1, factorizer=self.pirls_engines[0].name)
        if self.n_agq == 0:
            return GlmmOptimum(opt1, opt1, opt1.x, state1.beta, state1, None, None, lp0)
        beta = state1.beta if beta0 is None else np.asarray(beta0, dtype=float)
        return self._fit_stage2(np.concatenate([opt1.x, beta]), state1.eta, opt1, stage2_optimizer, state1)

    def _fit_scalar_newton(self, theta0: np.ndarray | None, beta0: np.ndarray | None) -> GlmmOptimum | None:
        """The fit in one compiled call (:attr:`scalar_newton`): lme4's stage 1, then Newton steps on theta and
        beta together on lme4's stage-2 deviance, or on the exact Laplace deviance (``exact_laplace``). None
        where they do not converge, where lme4's PIRLS at the optimum would not stop clearly after two iterations
        (:func:`mixedfx.glmm.scalar_lme4.pirls_takes_two_iterations`), where
        theta ends below ``singular_tol`` (the general fit then settles the boundary), or, for the exact Laplace
        optimum, where lme4's standard errors depend on where its stage 1 ended (:data:`HESSIAN_FORMS_AGREE`).

        Without lme4's stage 1 (``exact_laplace``), its record keeps the starting theta, and says so.
        """
        from mixedfx.glmm.scalar_laplace import CONVERGED  # noqa: PLC0415 - loaded with scalar_newton

        newton, ctrl = self.scalar_newton, self.control
        start = np.ones(1) if theta0 is None else np.asarray(theta0, dtype=float).reshape(1)
        out = newton.fit(self.eta_start, float(start[0]), beta0)
        if (out.status != CONVERGED or out.pars[0] < ctrl.singular_tol
                or not out.standard_error_gap <= HESSIAN_FORMS_AGREE):
            return None
        theta, beta = self.split(out.pars)
        state = PirlsResult(out.eta, out.mu, out.u, beta, out.dev_resids, out.logdet,
                            lambda: self.pirls(theta, beta, out.eta).factor)
        constant = self.laplace_deviance(state) - out.laplace_deviance  # the family's
        opt = OptSummary("newton", out.start, out.pars, out.deviance + constant, out.evaluations, 3,
                         factorizer=newton.name)
        if newton.lme4_stages:
            stage1 = OptSummary("brent", start, np.array([out.stage1_theta]), out.stage1_deviance + constant,
                                out.stage1_evaluations, 4, factorizer=newton.name)
        else:
            stage1 = OptSummary("newton", start, start, out.start_deviance + constant, 0, 3, factorizer=newton.name,
                                messages=["stage 1 not run: the Newton steps take theta and beta together from here"])
        gradient, hessian = (out.gradient, out.hessian) if ctrl.calc_derivs else (None, None)
        # lme4's deviance function restarts PIRLS from stage 1's end; the exact Laplace fit's, from its own end
        devfun_start = out.eta_start if newton.lme4_stages else out.eta
        return GlmmOptimum(opt, stage1, theta, beta, state, hessian, gradient, devfun_start)

    def _stage1_start(self, stage1: Callable[[np.ndarray], float], lp0: np.ndarray, start: np.ndarray,
                      options: dict) -> tuple[OptSummary, PirlsResult]:
        """Stage 1 where it only supplies stage 2's Newton steps with their start; and PIRLS's state there.

        On the exact gradient, quasi-Newton steps land closer to stage 1's optimum
        than BOBYQA at tolerances of 1e-3, in a third of the evaluations (VerbAgg 9 against
        26); BOBYQA at those tolerances where there is no gradient or the steps fail.
        """
        ctrl = self.control
        if self._uses_gradient:
            runs = traced(self.laplace_value_and_gradient(lp0, stage=1), ctrl.verbose)
            opt = projected_bfgs(runs, start, self.lower, first_step=ctrl.stage1_first_step, gtol=ctrl.stage1_gtol,
                                 ftol_rel=1e-10)
            if opt.return_code > 0:
                return opt, runs.state(opt.x)
        opt = bobyqa(stage1, start, self.lower, **dict(options, xtol_abs=ctrl.stage1_start_tol,
                                                        ftol_abs=ctrl.stage1_start_tol))
        return opt, self.pirls(opt.x, None, lp0)

    def fit_stage2(self, x0: np.ndarray, eta_start: np.ndarray, stage1: OptSummary,
                   optimizer: Callable[..., OptSummary] | None = None) -> GlmmOptimum:
        """Optimise theta and beta together from ``x0`` (lme4's second stage, and its ``refit``).

        With ``control.stage2_newton`` (the default), Newton steps
        (:func:`mixedfx.optim.newton.newton_minimise`) go first: from stage 1's
        estimates they reach the optimum in a fraction of BOBYQA's evaluations.
        Where they do not apply (a Hessian that is not positive definite, a bound
        in the way), BOBYQA optimises from ``x0`` as lme4 does.

        Parameters
        ----------
        x0 : ndarray
            Starting theta then beta.
        eta_start : ndarray
            Linear predictor each PIRLS run starts from.
        stage1 : OptSummary
            The first stage's record, kept in the result.
        optimizer : callable, optional
            The minimiser, used alone when given (:data:`mixedfx.optim.optimize.OPTIMIZERS`).

        Returns
        -------
        GlmmOptimum
        """
        with limited_blas(self.blas_threads):
            return self._fit_stage2(x0, eta_start, stage1, optimizer)

    def _fit_stage2(self, x0: np.ndarray, eta_start: np.ndarray, stage1: OptSummary,
                    optimizer: Callable[..., OptSummary] | None,
                    stage1_state: PirlsResult | None = None) -> GlmmOptimum:
        ctrl = self.control
        options = ctrl.optimizer_options
        stage2 = CachedObjective(traced(self.stage2_objective(eta_start), ctrl.verbose))
        lower = np.concatenate([self.lower, np.full(self.p, -np.inf)])
        exact = self.laplace_value_and_gradient(eta_start) if self.n_agq == 1 and self._uses_gradient else None
        exact = None if exact is None else traced(exact, ctrl.verbose)
        started = time.perf_counter()
        (exact or stage2)(x0)  # the first point of either, timed
        # the widest batch of points evaluated together: k gradients, or deriv12's 2 k^2 values
        batch = len(x0) if exact is not None else 2 * len(x0) ** 2
        workers = self._derivative_workers(time.perf_counter() - started, batch)
        # on one thread, untraced, a Hessian's points go to the compiled PIRLS in one call (partitioned runs: a call each)
        batched = getattr(exact, "gradients", None) if workers == 1 and not ctrl.verbose else None
        opt2 = None
        if optimizer is None and ctrl.stage2_newton:
            first_hessian = (None if exact is None or stage1_state is None
                             else start_hessian(exact, x0, len(self.lower), stage1_state.factor.r_x, workers, batched))
            opt2 = newton_minimise(stage2, x0, lower, workers=workers, gradient=exact, hessian=first_hessian)
            if opt2 is not None and first_hessian is not None:  # and its theta columns' evaluations
                opt2 = replace(opt2, feval=opt2.feval + len(self.lower))
        if opt2 is None:
            spent = stage2.evaluations
            # stage 1 ends near the optimum: a small first trust region saves evaluations
            first_step = first_steps_near(x0, ctrl.stage2_first_step, ctrl.stage2_least_step)
            opt2 = (optimizer or bobyqa)(stage2, x0, lower, initial_step=first_step, **options)
            opt2 = replace(opt2, feval=opt2.feval + spent)
        opt2 = leave_boundary(opt2, stage2, lower, self.ks, ctrl, (ctrl.stage2_first_step, ctrl.stage2_least_step),
                              optimizer=optimizer or bobyqa)
        opt2 = settle_on_boundary(opt2, stage2, lower, self.ks, ctrl.boundary_tol, ctrl.boundary_share)
        opt2 = replace(opt2, factorizer=self.pirls_engines[1].name)
        if self.scalar_newton is not None and optimizer is None:  # after a failed compiled call, or in a refit
            opt2 = self._toward_exact_optimum(opt2, stage2)
        theta, beta = self.split(opt2.x)
        state = exact.state(opt2.x) if exact is not None else self.pirls(theta, beta, eta_start)
        # PIRLS stops within tol_pwrss of the mode, and where it stops depends on its start: once more from its
        # own end it settles on the mode, where the Laplace deviance and the modes reported are taken
        state = self.pirls(theta, beta, state.eta)
        gradient = hessian = None
        if ctrl.calc_derivs:
            gradient, hessian = optimum_derivatives(stage2, exact, opt2, workers, batched)
        return GlmmOptimum(opt2, stage1, theta, beta, state, hessian, gradient, eta_start)

    def _toward_exact_optimum(self, opt: OptSummary, objective: Callable[[np.ndarray], float]) -> OptSummary:
        """Stage 2's end, or the exact Laplace deviance's optimum by Newton steps from there where that is lower by
        more than :data:`EXACT_SLACK` (one scalar term: :attr:`scalar_newton`'s steps)."""
        from mixedfx.glmm.scalar_laplace import CONVERGED  # noqa: PLC0415 - loaded with scalar_newton

        if opt.x[0] < self.control.singular_tol:
            return opt
        newton = self.scalar_newton.on_exact_laplace()
        exact = newton.fit(self.eta_start, float(opt.x[0]), opt.x[1:].copy())
        if exact.status != CONVERGED or not exact.start_deviance - exact.deviance > EXACT_SLACK:
            return opt
        return replace(opt, x=exact.pars, fval=objective(exact.pars), feval=opt.feval + exact.evaluations + 1,
                       factorizer=f"{opt.factorizer}; then {newton.name}")

    def _derivative_workers(self, seconds: float, batch: int) -> int:
        """Threads for finite differences, given how long one evaluation took and how many go together.

        The compiled PIRLS releases the GIL: the points can share two cores where a
        batch takes long against starting threads and LAPACK does not use them
        already (VerbAgg: deriv12's 112 values gain by threads, 8 gradients do not).
        """
        engine = self.pirls_engines[1]
        long = seconds * batch > _THREADED_BATCH_SECONDS
        threaded = isinstance(engine, CompiledPirls) and engine.kernel.threaded
        return min(2, os.cpu_count() or 1) if long and threaded else 1
