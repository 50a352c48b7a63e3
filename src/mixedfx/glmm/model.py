"""Generalized linear mixed models: PIRLS, the Laplace and adaptive Gauss-Hermite deviance.

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
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from mixedfx.design.matrices import ModelMatrices, ReTerm
from mixedfx.errors import DataError, MixedFxError
from mixedfx.glmm.families import Family
from mixedfx.glmm.pirls_status import HALVING_FAILED, NOT_FINITE, NOT_POSITIVE_DEFINITE
from mixedfx.linalg.lazy import state_with_formed
from mixedfx.linalg.cross import cross_products
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.factorizer import factorize
from mixedfx.linalg.layout import random_part, templates, term_effects, TermLayout, theta_lower_bounds
from mixedfx.lmm.model import lme4_term_order
from mixedfx.optim.newton import CachedObjective, ValueAndGradient, gradient_hessian, newton_minimise
from mixedfx.optim.optimize import OptSummary, bobyqa, finite_difference_derivatives, lbfgsb, snap_to_boundary

__all__ = ["check_counts_response", "GlmerControl", "GeneralizedLinearMixedModel", "GlmmOptimum", "LaplaceRuns",
           "PirlsResult", "PirlsError", "gauss_hermite_rule"]

_SQRT_2PI = float(np.sqrt(2.0 * np.pi))
_THREADED_BATCH_SECONDS = 1e-2
_NAN_MESSAGE = ("PIRLS loop resulted in NaN value (lme4's message): the means left the family's range; "
                "another link or other starting values may help")


class PirlsError(MixedFxError):
    """PIRLS failed to converge or to reduce the penalised deviance."""


# Stage 1's tolerances when it only supplies Newton's start (xtol_abs and ftol_abs): its optimum
# differs from stage 2's by more than this, and Newton steps converge from anywhere that close
_STAGE1_START_TOL = 1e-3
# L-BFGS-B on stage 1's exact gradient for that start: a first step of 0.3 in theta, and a gradient of
# 0.03 per unit of theta (about 1e-4 in theta) ends it
_STAGE1_FIRST_STEP = 0.3
_STAGE1_GTOL = 1e-2


@dataclass(frozen=True)
class GlmerControl:
    """Settings for :func:`mixedfx.glmer` (lme4's ``glmerControl``).

    Attributes
    ----------
    tol_pwrss : float
        Relative change of the penalised deviance that ends PIRLS.
    max_pirls : int
        Most PIRLS iterations per evaluation (lme4's maxit; complete separation
        needs about 35).
    xtol_abs, ftol_abs : float
        BOBYQA's absolute tolerances in both stages. ``ftol_abs`` is tighter than
        lmer's: with 1e-8 BOBYQA stops before the gradient passes lme4's
        convergence check (VerbAgg), where lme4's Nelder-Mead goes on.
    maxeval : int
        Most deviance evaluations per stage.
    boundary_tol : float
        Variance parameters this close to 0 are set to 0 when that does not raise
        the deviance.
    singular_tol : float
        ``is_singular`` holds when a diagonal theta is below this.
    calc_derivs : bool
        Compute the Hessian at the optimum for the standard errors (lme4 1.1-31's
        ``deriv12``; from differences of the exact gradient where the deviance has
        one, see :attr:`GeneralizedLinearMixedModel.has_laplace_gradient`).
    stage2_newton : bool
        Start stage 2 with Newton steps (:mod:`mixedfx.optim.newton`), which need a
        fraction of BOBYQA's evaluations, and let stage 1, which then only
        supplies their start, stop early (L-BFGS-B on the exact gradient, or
        BOBYQA at tolerances of 1e-3); False runs BOBYQA alone at the tolerances
        above in both stages.
    use_gradient : bool
        Use the Laplace deviance's exact gradient where it has one (see
        :attr:`GeneralizedLinearMixedModel.has_laplace_gradient`): L-BFGS-B for
        stage 1's start, one run per Newton step and the Hessian from gradient
        differences. False keeps finite differences of the deviance throughout,
        lme4's ``deriv12`` for the Hessian included.
    """

    tol_pwrss: float = 1e-7
    max_pirls: int = 100
    xtol_abs: float = 1e-8
    ftol_abs: float = 1e-10
    maxeval: int = 100_000
    boundary_tol: float = 1e-5
    singular_tol: float = 1e-4
    calc_derivs: bool = True
    stage2_newton: bool = True
    use_gradient: bool = True


@dataclass(frozen=True)
class PirlsResult:
    """The state PIRLS converged to for one set of parameters.

    The factor (at the weights of the last iteration's start) is formed on first
    use: an evaluation of the deviance needs only its log-determinant.
    """

    eta: np.ndarray
    mu: np.ndarray
    u: np.ndarray
    beta: np.ndarray
    dev_resids: np.ndarray
    logdet_re: float
    make_factor: Callable[[], BlockedFactor] = field(repr=False, compare=False)

    @cached_property
    def factor(self) -> BlockedFactor:
        """The blocked Cholesky factor."""
        return self.make_factor()

    def __getstate__(self) -> dict:
        return state_with_formed(self, "factor", "make_factor")

    @property
    def dev(self) -> float:
        """Sum of the deviance residuals (squared)."""
        return float(self.dev_resids.sum())


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
        Finite-difference Hessian of the stage-2 deviance over (theta, beta).
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


class LaplaceRuns:
    """A stage's Laplace deviance and exact gradient at a point, by one compiled PIRLS run.

    Calling it with parameters (theta, then beta in stage 2) returns the deviance
    and its gradient (:mod:`mixedfx.glmm.laplace_gradient`): NaN where the run needed
    step-halving, and the value ``inf`` with a NaN gradient where PIRLS failed. It
    remembers its last run, so that the point an optimiser ends on is not run
    again for its value or state.

    Parameters
    ----------
    model : GeneralizedLinearMixedModel
        A model with a compiled PIRLS and per-row log-likelihood terms.
    eta_start : ndarray
        Linear predictor each run starts from.
    stage : {1, 2}
        Stage 1: beta is solved for inside PIRLS and the gradient is over theta.
    """

    def __init__(self, model: GeneralizedLinearMixedModel, eta_start: np.ndarray, stage: int) -> None:
        self.model = model
        self.stage = stage
        self._compiled = model._compiled_pirls[stage - 1]
        self._start = np.ascontiguousarray(eta_start, dtype=float)
        self._mu_start = model.start_means(self._start)
        from mixedfx.glmm.scalar_pirls import GradientTerms  # noqa: PLC0415 - numba loads with the compiled PIRLS

        tangents = np.ascontiguousarray(model.X.T, dtype=float) if stage == 2 else np.zeros((0, model.n))
        self._terms = GradientTerms(tangents, model._log_lik.a, model._log_lik.b)
        self._failed = np.full(len(model.lower) + len(tangents), np.nan)
        self._last: tuple[bytes, object] | None = None

    def _run(self, pars: np.ndarray):
        point = np.asarray(pars, dtype=float)
        key = point.tobytes()
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        model = self.model
        if self.stage == 2:
            theta, beta = model.split(point)
            base = np.ascontiguousarray(model.offset + model.X @ beta, dtype=float)
        else:
            theta, base = point, model.offset
        out = self._compiled.run(theta, model.y, model.weights, base, self._start, model.control.tol_pwrss,
                                 model.control.max_pirls, self._mu_start, self._terms)
        self._last = (key, out)
        return out

    def __call__(self, pars: np.ndarray) -> tuple[float, np.ndarray]:
        out = self._run(pars)
        if out.status:
            return np.inf, self._failed
        return self.model.laplace_deviance(self.state(pars)), out.gradient

    def state(self, pars: np.ndarray) -> PirlsResult:
        """PIRLS's state at ``pars`` (from the last run where it was there).

        Raises
        ------
        PirlsError
            Where PIRLS failed there.
        """
        fixed = self.model.split(pars)[1] if self.stage == 2 else None
        return self.model._compiled_state(self._compiled, self._run(pars), fixed)


def check_counts_response(matrices: ModelMatrices, family: Family) -> None:
    """A ``cbind(successes, failures)`` response: binomial family and counts of 0 or more.

    Raises
    ------
    DataError
        Naming the response and the first offending row.
    """
    name, y = matrices.response_name, np.asarray(matrices.y, dtype=float)
    if family.name != "binomial":
        raise DataError(f"a two-column response ({name}) needs the binomial family, not {family.name}")
    negative = np.flatnonzero((y < 0).any(axis=1))
    if negative.size:
        raise DataError(f"negative counts in {name} ({negative.size} rows, e.g. row "
                           f"{matrices.rows[negative[0]]}); cbind(successes, failures) needs counts of 0 or more")


def _log_likelihood_terms(family: Family, y: np.ndarray, n_trials: np.ndarray, weights: np.ndarray):
    """:func:`mixedfx.glmm.family_kernels.log_likelihood_terms`, imported on first use (it loads numba)."""
    from mixedfx.glmm.family_kernels import log_likelihood_terms  # noqa: PLC0415

    return log_likelihood_terms(family, y, n_trials, weights)


def gauss_hermite_rule(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """lme4's GHrule: nodes z, weights w (summing to 1) for the standard normal, and log N(z).

    Parameters
    ----------
    n : int
        Number of nodes.

    Returns
    -------
    z, w, ldnorm : ndarray
    """
    z, w = np.polynomial.hermite_e.hermegauss(n)
    w = w / w.sum()
    return z, w, -0.5 * z**2 - 0.5 * np.log(2.0 * np.pi)


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
        self.matrices = matrices
        self.family = family
        self.n_agq = n_agq
        self.control = control or GlmerControl()
        self.order = lme4_term_order([len(t.levels) for t in matrices.re_terms])
        self.terms: list[ReTerm] = [matrices.re_terms[i] for i in self.order]
        self.layouts = [TermLayout(codes=np.asarray(t.codes, dtype=np.int64), z=np.asarray(t.z, dtype=float),
                                   n_levels=len(t.levels)) for t in self.terms]
        self.ks = [t.k for t in self.layouts]
        self.n_levels = [t.n_levels for t in self.layouts]
        self.lower = theta_lower_bounds(self.ks)
        self.X = matrices.X
        self.n, self.p = self.X.shape
        self.offset = matrices.offset
        self.y, self.weights, self.n_trials, mustart = self._response(matrices)
        self._log_lik = _log_likelihood_terms(family, self.y, self.n_trials, self.weights)
        self.eta_start = family.link.linkfun(mustart) + 0.0
        self._no_columns = np.zeros((self.n, 0))
        if n_agq > 1 and (len(self.terms) != 1 or self.ks[0] != 1):
            raise MixedFxError("nAGQ > 1 is only available for models with a single, scalar random-effects term")

    def _response(self, matrices: ModelMatrices) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Response, prior weights, binomial trials and starting means, as R's family initialize."""
        prior = np.ones(self.n) if matrices.weights is None else np.asarray(matrices.weights, dtype=float)
        y = np.asarray(matrices.y, dtype=float)
        if y.ndim == 2:
            check_counts_response(matrices, self.family)
            trials = y.sum(axis=1)
            proportion = np.divide(y[:, 0], trials, out=np.zeros(self.n), where=trials > 0)
            y_adj, w_adj, mustart = self.family.initialize(proportion, prior * trials)
            return y_adj, w_adj, trials, mustart
        y_adj, w_adj, mustart = self.family.initialize(y, prior)
        return y_adj, w_adj, np.ones(self.n), mustart

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
        other._log_lik = _log_likelihood_terms(self.family, other.y, other.n_trials, other.weights)
        other.eta_start = self.family.link.linkfun(mustart) + 0.0
        return other

    # --- PIRLS ---------------------------------------------------------------
    def working_response(self, eta: np.ndarray, base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """IRLS's working response (less ``base``) and working weights at the linear predictor ``eta``.

        Parameters
        ----------
        eta : ndarray
            Linear predictor.
        base : ndarray
            The part of ``eta`` held fixed (the offset, plus X beta in stage 2).

        Returns
        -------
        work_y, work_w : ndarray
        """
        link = self.family.link
        mu = link.linkinv(eta)
        mu_eta = link.mu_eta(eta)
        return eta - base + (self.y - mu) / mu_eta, self.weights * mu_eta**2 / self.family.variance(mu)

    def _penalised_deviance(self, eta: np.ndarray, u: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        mu = self.family.link.linkinv(eta)
        resid = self.family.dev_resids(self.y, mu, self.weights)
        return float(resid.sum() + u @ u), mu, resid

    def _linear_predictor(self, base: np.ndarray, X: np.ndarray, beta: np.ndarray, u: np.ndarray,
                          tmpls: list[np.ndarray]) -> np.ndarray:
        effects = term_effects(u, tmpls, self.n_levels)
        return base + X @ beta + random_part([t.codes for t in self.layouts], [t.z for t in self.layouts], effects)

    def pirls(self, theta: np.ndarray, beta: np.ndarray | None, eta_start: np.ndarray,
              mu_start: np.ndarray | None = None) -> PirlsResult:
        """Penalised iteratively reweighted least squares at theta.

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
        ctrl = self.control
        if beta is None:
            X, base, fixed = self.X, self.offset, None
        else:
            X, base, fixed = self._no_columns, self.offset + self.X @ beta, np.asarray(beta, dtype=float)
        compiled = self._compiled_pirls[0 if beta is None else 1]
        if compiled is not None:
            return self._run_compiled(compiled, theta, base, fixed, eta_start, mu_start)
        tmpls = templates(theta, self.ks)
        eta = eta_start
        old_pdev, old_u, old_b = np.inf, None, None
        for _ in range(ctrl.max_pirls):
            work_y, work_w = self.working_response(eta, base)
            if not (np.all(np.isfinite(work_y)) and np.all(np.isfinite(work_w))):
                raise PirlsError(_NAN_MESSAGE)
            try:
                factor = factorize(cross_products(self.layouts, X, work_y, work_w), theta)
            except np.linalg.LinAlgError:
                raise PirlsError(_NAN_MESSAGE) from None
            b, u = factor.solve_coefficients()
            eta = self._linear_predictor(base, X, b, u, tmpls)
            pdev, mu, resid = self._penalised_deviance(eta, u)
            if abs(old_pdev - pdev) < ctrl.tol_pwrss * pdev:
                return PirlsResult(eta, mu, u, b if fixed is None else fixed, resid, factor.logdet_re,
                                   lambda factor=factor: factor)
            if pdev > old_pdev:
                for _ in range(10):
                    u, b = (old_u + u) / 2.0, (old_b + b) / 2.0
                    eta = self._linear_predictor(base, X, b, u, tmpls)
                    pdev, mu, resid = self._penalised_deviance(eta, u)
                    if pdev <= old_pdev:
                        break
                if pdev - old_pdev > ctrl.tol_pwrss:
                    raise PirlsError("PIRLS step-halving failed to reduce deviance in pwrssUpdate")
            old_pdev, old_u, old_b = pdev, u, b
        raise PirlsError(f"pwrssUpdate did not converge in {ctrl.max_pirls} iterations")

    @cached_property
    def _compiled_pirls(self) -> tuple[object | None, object | None]:
        """The compiled PIRLS for stage 1 and stage 2, or None where this model has none."""
        from mixedfx.glmm.family_kernels import compiled_family  # noqa: PLC0415 - numba loads on the first fit

        code = compiled_family(self.family)
        if code == 0 or any(k != 1 for k in self.ks):
            return None, None
        from mixedfx.glmm.scalar_pirls import ScalarPirls  # noqa: PLC0415

        return ScalarPirls(self.layouts, self.X, code), ScalarPirls(self.layouts, self._no_columns, code)

    def start_means(self, eta_start: np.ndarray) -> np.ndarray | None:
        """The means the compiled PIRLS starts from at ``eta_start``; None where the model has no compiled PIRLS."""
        compiled = self._compiled_pirls[0]
        return None if compiled is None else compiled.means(eta_start)

    def _run_compiled(self, compiled, theta: np.ndarray, base: np.ndarray, fixed: np.ndarray | None,
                      eta_start: np.ndarray, mu_start: np.ndarray | None) -> PirlsResult:
        """PIRLS through :class:`mixedfx.glmm.scalar_pirls.ScalarPirls`, its failures raised as the Python loop's."""
        ctrl = self.control
        out = compiled.run(theta, self.y, self.weights, np.ascontiguousarray(base, dtype=float),
                           np.ascontiguousarray(eta_start, dtype=float), ctrl.tol_pwrss, ctrl.max_pirls, mu_start)
        return self._compiled_state(compiled, out, fixed)

    def _compiled_state(self, compiled, out, fixed: np.ndarray | None) -> PirlsResult:
        """A compiled run's state (beta ``fixed`` in stage 2), its failures raised as the Python loop's."""
        if out.status:
            self._raise_compiled_failure(out.status)
        beta = out.beta if fixed is None else fixed
        return PirlsResult(out.eta, out.mu, out.u, beta, out.dev_resids, out.logdet_re,
                           lambda: compiled.blocked_factor(out))

    def _raise_compiled_failure(self, status: int) -> None:
        """Raise the Python loop's error for a compiled run's failure status."""
        ctrl = self.control
        if status in (NOT_FINITE, NOT_POSITIVE_DEFINITE):
            raise PirlsError(_NAN_MESSAGE)
        if status == HALVING_FAILED:
            raise PirlsError("PIRLS step-halving failed to reduce deviance in pwrssUpdate")
        raise PirlsError(f"pwrssUpdate did not converge in {ctrl.max_pirls} iterations")

    # --- deviance ------------------------------------------------------------
    def laplace_deviance(self, state: PirlsResult) -> float:
        """lme4's Laplace deviance: log|L|^2 + ||u||^2 + the family's AIC term."""
        if self._log_lik is not None:
            aic = self._log_lik.aic_from_deviance(state.mu, state.dev)
        else:
            aic = self.family.aic(self.y, self.n_trials, state.mu, self.weights, state.dev)
        return float(state.logdet_re + state.u @ state.u + aic)

    def agq_deviance(self, state: PirlsResult, theta: np.ndarray) -> float:
        """Adaptive Gauss-Hermite deviance for one scalar term (lme4's glmerAGQ)."""
        term = self.layouts[0]
        codes, n_levels = term.codes, term.n_levels
        base = state.eta - term.z[:, 0] * theta[0] * state.u[codes]
        devc0 = state.u**2 + np.bincount(codes, weights=state.dev_resids, minlength=n_levels)
        sd = 1.0 / state.factor.l11[:, 0, 0]
        mult = np.zeros(n_levels)
        for z, w, ldnorm in zip(*gauss_hermite_rule(self.n_agq)):
            if z == 0.0:
                mult += w
                continue
            u = state.u + z * sd
            mu = self.family.link.linkinv(base + term.z[:, 0] * theta[0] * u[codes])
            resid = self.family.dev_resids(self.y, mu, self.weights)
            devc = u**2 + np.bincount(codes, weights=resid, minlength=n_levels)
            mult += np.exp(-0.5 * (devc - devc0) - ldnorm) * w / _SQRT_2PI
        return float(devc0.sum() + state.logdet_re - 2.0 * np.log(mult).sum())

    def deviance(self, state: PirlsResult, theta: np.ndarray) -> float:
        """The stage-2 criterion: Laplace for nAGQ <= 1, AGQ otherwise."""
        return self.agq_deviance(state, theta) if self.n_agq > 1 else self.laplace_deviance(state)

    def split(self, pars: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Split stage-2 parameters into theta and beta."""
        k = len(self.lower)
        return np.asarray(pars[:k], dtype=float), np.asarray(pars[k:], dtype=float)

    # --- lme4's two-stage fit -------------------------------------------------
    def _stage1_objective(self, eta_start: np.ndarray):
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
        return self._compiled_pirls[0] is not None and self._log_lik is not None

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
            optimizer: Callable[..., OptSummary] | None = None) -> GlmmOptimum:
        """Optimise as lme4's glmer: theta with beta inside PIRLS, then theta and beta together.

        Parameters
        ----------
        theta0 : ndarray, optional
            Starting theta (lme4's order); 1 on the diagonal, 0 below it by default.
        optimizer : callable, optional
            The minimiser for both stages. By default BOBYQA, with stage 2 first
            tried by Newton steps (see :meth:`fit_stage2`).

        Returns
        -------
        GlmmOptimum
        """
        ctrl = self.control
        options = dict(xtol_abs=ctrl.xtol_abs, ftol_abs=ctrl.ftol_abs, maxeval=ctrl.maxeval)
        start = np.where(self.lower == 0.0, 1.0, 0.0) if theta0 is None else np.asarray(theta0, dtype=float)
        lp0 = self.pirls(start, None, self.eta_start).eta
        stage1 = self._stage1_objective(lp0)
        if self.n_agq > 0 and optimizer is None and ctrl.stage2_newton:
            opt1, state1 = self._stage1_start(stage1, lp0, start, options)
        else:
            opt1 = (optimizer or bobyqa)(stage1, start, self.lower, **options)
            if self.n_agq == 0 and ctrl.boundary_tol > 0:
                opt1 = snap_to_boundary(opt1, stage1, self.lower, ctrl.boundary_tol)
            state1 = self.pirls(opt1.x, None, lp0)
        if self.n_agq == 0:
            return GlmmOptimum(opt1, opt1, opt1.x, state1.beta, state1, None, None, lp0)
        return self.fit_stage2(np.concatenate([opt1.x, state1.beta]), state1.eta, opt1, optimizer)

    def _stage1_start(self, stage1: Callable[[np.ndarray], float], lp0: np.ndarray, start: np.ndarray,
                      options: dict) -> tuple[OptSummary, PirlsResult]:
        """Stage 1 where it only supplies stage 2's Newton steps with their start; and PIRLS's state there.

        On the exact gradient, L-BFGS-B lands closer to stage 1's optimum than
        BOBYQA at tolerances of 1e-3, in half the evaluations (VerbAgg 10 against
        26); BOBYQA at those tolerances where there is no gradient or L-BFGS-B fails.
        """
        if self._uses_gradient:
            runs = self.laplace_value_and_gradient(lp0, stage=1)
            opt = lbfgsb(runs, start, self.lower, first_step=_STAGE1_FIRST_STEP, gtol=_STAGE1_GTOL, ftol_rel=1e-10)
            if opt.return_code > 0:
                return opt, runs.state(opt.x)
        opt = bobyqa(stage1, start, self.lower, **dict(options, xtol_abs=_STAGE1_START_TOL,
                                                        ftol_abs=_STAGE1_START_TOL))
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
        ctrl = self.control
        options = dict(xtol_abs=ctrl.xtol_abs, ftol_abs=ctrl.ftol_abs, maxeval=ctrl.maxeval)
        stage2 = CachedObjective(self.stage2_objective(eta_start))
        lower = np.concatenate([self.lower, np.full(self.p, -np.inf)])
        exact = self.laplace_value_and_gradient(eta_start) if self.n_agq == 1 and self._uses_gradient else None
        started = time.perf_counter()
        (exact or stage2)(x0)  # the first point of either, timed
        # the widest batch of points evaluated together: k gradients, or deriv12's 2 k^2 values
        batch = len(x0) if exact is not None else 2 * len(x0) ** 2
        workers = self._derivative_workers(time.perf_counter() - started, batch)
        newton = optimizer is None and ctrl.stage2_newton
        opt2 = newton_minimise(stage2, x0, lower, workers=workers, gradient=exact) if newton else None
        if opt2 is None:
            spent = stage2.evaluations
            # stage 1 ends near the optimum: a small first trust region saves evaluations (VerbAgg 360 -> 273)
            opt2 = (optimizer or bobyqa)(stage2, x0, lower, initial_step=np.maximum(0.05 * np.abs(x0), 0.01),
                                         **options)
            opt2 = replace(opt2, feval=opt2.feval + spent)
        if ctrl.boundary_tol > 0:
            opt2 = snap_to_boundary(opt2, stage2, lower, ctrl.boundary_tol)
        theta, beta = self.split(opt2.x)
        state = exact.state(opt2.x) if exact is not None else self.pirls(theta, beta, eta_start)
        gradient = hessian = None
        if ctrl.calc_derivs:
            gradient, hessian = self._derivatives(stage2, exact, opt2, workers)
        return GlmmOptimum(opt2, stage1, theta, beta, state, hessian, gradient, eta_start)

    @staticmethod
    def _derivatives(objective: Callable[[np.ndarray], float], exact: ValueAndGradient | None, opt: OptSummary,
                     workers: int) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian at the optimum: from the exact gradient where there is one, else lme4's deriv12.

        Forward differences of the exact gradient need k runs where deriv12 needs
        2 k^2; both approximate the same function's Hessian (to about 1e-4
        relative at lme4's step), so the standard errors agree.
        """
        if exact is not None:
            slope = exact(opt.x)[1]
            if np.all(np.isfinite(slope)):
                hessian = gradient_hessian(exact, opt.x, slope, workers=workers)
                if np.all(np.isfinite(hessian)):
                    return slope, hessian
        return finite_difference_derivatives(objective, opt.x, opt.fval, workers=workers)

    def _derivative_workers(self, seconds: float, batch: int) -> int:
        """Threads for finite differences, given how long one evaluation took and how many go together.

        The compiled PIRLS releases the GIL: the points can share two cores where a
        batch takes long against starting threads and LAPACK does not use them
        already (VerbAgg: deriv12's 112 values gain by threads, 8 gradients do not).
        """
        compiled = self._compiled_pirls[1]
        long = seconds * batch > _THREADED_BATCH_SECONDS
        return min(2, os.cpu_count() or 1) if long and compiled is not None and not compiled.dense else 1
