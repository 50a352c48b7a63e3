"""Penalised iteratively reweighted least squares: lme4's pwrssUpdate, and the two engines that run it.

At a given theta (and, in glmer's second stage, a given beta) PIRLS finds the
conditional modes of the random effects (and beta in the first stage): each
iteration forms the working response and weights at the current linear
predictor, factors the penalised system at those weights, solves it, and halves
the step while the penalised deviance rises. It stops when the penalised
deviance changes by less than ``tol_pwrss`` relative.

The loop is written once (:func:`mixedfx.glmm.pirls_loop.pirls_loop`); two
engines give it their steps, chosen once when the model is built
(:func:`pirls_engines`, named in ``OptSummary.factorizer``):

- :class:`CompiledPirls`: the binomial logit or Poisson log family, every
  iteration compiled, no Python in between; scalar random-effects terms
  (:mod:`mixedfx.glmm.scalar_pirls`, with the Laplace deviance's exact gradient
  on request), or vector-valued terms whose coupling is dense
  (:mod:`mixedfx.glmm.vector_pirls`).
- :class:`PythonPirls`: any terms and family; each iteration forms the
  cross-products and factors them through :mod:`mixedfx.linalg`.

Both raise :class:`PirlsError` with lme4's messages where PIRLS fails; the
compiled engine's status codes (:mod:`mixedfx.glmm.pirls_status`) become those
errors in :func:`raise_for_status`, the only place that maps them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from mixedfx.errors import MixedFxError
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.families import Family
from mixedfx.glmm.pirls_loop import pirls_loop
from mixedfx.glmm.pirls_status import (
    HALVING_FAILED,
    NOT_FINITE,
    NOT_POSITIVE_DEFINITE,
    OK,
)
from mixedfx.linalg.cross import by_slots, cross_products
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.factorizer import factorize
from mixedfx.linalg.layout import TermLayout, random_part, templates, term_effects
from mixedfx.linalg.lazy import state_with_formed

if TYPE_CHECKING:
    from mixedfx.glmm.scalar_pirls import GradientTerms, ScalarPirls, ScalarPirlsResult
    from mixedfx.glmm.vector_pirls import VectorPirls, VectorPirlsResult

__all__ = ["PirlsError", "PirlsResult", "raise_for_status", "working_response", "PythonPirls", "CompiledPirls",
           "pirls_engines"]

NAN_MESSAGE = ("PIRLS loop resulted in NaN value (lme4's message): the means left the family's range; "
               "another link or other starting values may help")


class PirlsError(MixedFxError):
    """PIRLS failed to converge or to reduce the penalised deviance."""


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


def raise_for_status(status: int, max_pirls: int) -> None:
    """Raise the error lme4 gives for a PIRLS run's status (nothing for ``OK``).

    Raises
    ------
    PirlsError
    """
    if status == OK:
        return
    if status in (NOT_FINITE, NOT_POSITIVE_DEFINITE):
        raise PirlsError(NAN_MESSAGE)
    if status == HALVING_FAILED:
        raise PirlsError("PIRLS step-halving failed to reduce deviance in pwrssUpdate")
    raise PirlsError(f"pwrssUpdate did not converge in {max_pirls} iterations")


def working_response(family: Family, y: np.ndarray, weights: np.ndarray, eta: np.ndarray,
                     base: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """IRLS's working response (less ``base``) and working weights at the linear predictor ``eta``.

    Parameters
    ----------
    family : Family
    y, weights : ndarray
        The response and prior weights as the family's initialize left them.
    eta : ndarray
        Linear predictor.
    base : ndarray
        The part of ``eta`` held fixed (the offset, plus X beta in stage 2).

    Returns
    -------
    work_y, work_w : ndarray

    Examples
    --------
    >>> from mixedfx.glmm.families import poisson
    >>> z, w = working_response(poisson(), np.array([2.0]), np.ones(1), np.zeros(1), np.zeros(1))
    >>> float(z[0]), float(w[0])
    (1.0, 1.0)
    """
    link = family.link
    mu = link.linkinv(eta)
    mu_eta = link.mu_eta(eta)
    return eta - base + (y - mu) / mu_eta, weights * mu_eta**2 / family.variance(mu)


class PythonPirls:
    """PIRLS in Python over :mod:`mixedfx.linalg`'s factor: any random-effects terms, any family.

    Parameters
    ----------
    family : Family
    y, weights : ndarray
        The response and prior weights as the family's initialize left them.
    layouts : list of TermLayout
        The random-effects terms, internal order.
    X : ndarray, shape (n, p)
        The columns whose coefficients PIRLS solves for (none in stage 2).
    control : GlmerControl
    """

    name = "PIRLS (Python)"

    def __init__(self, family: Family, y: np.ndarray, weights: np.ndarray, layouts: list[TermLayout],
                 X: np.ndarray, control: GlmerControl) -> None:
        self.family, self.y, self.weights = family, y, weights
        self.layouts, self.X, self.control = layouts, X, control
        self.ks = [t.k for t in layouts]

    def with_response(self, y: np.ndarray, weights: np.ndarray) -> PythonPirls:
        """The same engine for another response (and the prior weights its family's initialize gave)."""
        return PythonPirls(self.family, y, weights, self.layouts, self.X, self.control)

    def means(self, eta_start: np.ndarray) -> None:
        """Nothing: this engine computes the means at each start itself."""
        return None

    def run(self, theta: np.ndarray, base: np.ndarray, fixed: np.ndarray | None, eta_start: np.ndarray,
            mu_start: np.ndarray | None = None) -> PirlsResult:
        """PIRLS at ``theta`` from ``eta_start``; ``base`` holds the offset (and X beta in stage 2).

        ``fixed`` is stage 2's beta, reported in the result; ``mu_start`` is unused.

        Raises
        ------
        PirlsError
        """
        ctrl = self.control
        state = _PythonPirlsState(self, theta, base, eta_start)
        u, b = np.zeros(sum(t.k * t.n_levels for t in self.layouts)), np.zeros(self.X.shape[1])
        status, _, _ = _python_iterations(state, u, b, ctrl.tol_pwrss, ctrl.max_pirls, ctrl.max_halvings, False)
        raise_for_status(status, ctrl.max_pirls)
        factor = state.factor
        return PirlsResult(state.eta, state.mu, u, b if fixed is None else fixed, state.resid, factor.logdet_re,
                           lambda: factor)


class _PythonPirlsState:
    """A Python run's state beyond (u, beta), and its steps for :func:`mixedfx.glmm.pirls_loop.pirls_loop`."""

    def __init__(self, engine: PythonPirls, theta: np.ndarray, base: np.ndarray, eta_start: np.ndarray) -> None:
        self.engine, self.theta, self.base = engine, theta, base
        self.templates = templates(theta, engine.ks)
        self.eta = eta_start
        self.mu = self.resid = np.empty(0)
        self.factor: BlockedFactor | None = None

    def solve(self, u: np.ndarray, b: np.ndarray) -> int:
        """The factor at the working weights of the current linear predictor, and (u, b) from it."""
        engine = self.engine
        work_y, work_w = working_response(engine.family, engine.y, engine.weights, self.eta, self.base)
        if not (np.all(np.isfinite(work_y)) and np.all(np.isfinite(work_w))):
            return NOT_FINITE
        try:
            self.factor = factorize(cross_products(engine.layouts, engine.X, work_y, work_w), self.theta)
        except np.linalg.LinAlgError:
            return NOT_POSITIVE_DEFINITE
        b[:], u[:] = self.factor.solve_coefficients()
        return OK

    def update(self, u: np.ndarray, b: np.ndarray) -> float:
        """The linear predictor, means and deviance residuals at (u, b); the penalised deviance."""
        engine = self.engine
        layouts = engine.layouts
        effects = term_effects(u, self.templates, [t.n_levels for t in layouts])
        self.eta = self.base + engine.X @ b + random_part([t.codes for t in layouts], [t.z for t in layouts],
                                                          effects)
        self.mu = engine.family.link.linkinv(self.eta)
        self.resid = engine.family.dev_resids(engine.y, self.mu, engine.weights)
        return float(self.resid.sum() + u @ u)

    def record(self, u: np.ndarray) -> None:
        """Nothing: this engine gives no gradient."""


_python_iterations = pirls_loop(_PythonPirlsState.solve, _PythonPirlsState.update, _PythonPirlsState.record)

class CompiledPirls:
    """PIRLS compiled end to end: :class:`mixedfx.glmm.scalar_pirls.ScalarPirls` for scalar terms,
    :class:`mixedfx.glmm.vector_pirls.VectorPirls` for vector-valued terms with a dense coupling.

    Parameters
    ----------
    kernel : ScalarPirls or VectorPirls
        The model's structure and compiled loop; its ``gradient`` says whether a run
        gives the Laplace deviance's exact gradient, its ``threaded`` whether runs gain
        by going on in two threads.
    y, weights : ndarray
        The response and prior weights as the family's initialize left them.
    control : GlmerControl
    """

    def __init__(self, kernel: ScalarPirls | VectorPirls, y: np.ndarray, weights: np.ndarray,
                 control: GlmerControl) -> None:
        self.kernel, self.y, self.weights, self.control = kernel, y, weights, control
        self.name = f"PIRLS (compiled, {kernel.description})"

    def with_response(self, y: np.ndarray, weights: np.ndarray) -> CompiledPirls:
        """The same engine (the same compiled structure) for another response and its prior weights."""
        return CompiledPirls(self.kernel, y, weights, self.control)

    def means(self, eta_start: np.ndarray) -> np.ndarray:
        """The means at ``eta_start`` as a run computes them: pass them to :meth:`run` when many runs share it."""
        return self.kernel.means(eta_start)

    def run(self, theta: np.ndarray, base: np.ndarray, fixed: np.ndarray | None, eta_start: np.ndarray,
            mu_start: np.ndarray | None = None) -> PirlsResult:
        """As :meth:`PythonPirls.run`.

        Raises
        ------
        PirlsError
        """
        return self.state(self.run_raw(theta, base, eta_start, mu_start), fixed)

    def run_raw(self, theta: np.ndarray, base: np.ndarray, eta_start: np.ndarray, mu_start: np.ndarray | None,
                gradient: GradientTerms | None = None) -> ScalarPirlsResult | VectorPirlsResult:
        """One compiled run as the kernel returns it (its status unchecked), with the gradient on request."""
        ctrl = self.control
        return self.kernel.run(theta, self.y, self.weights, np.ascontiguousarray(base, dtype=float),
                               np.ascontiguousarray(eta_start, dtype=float), ctrl.tol_pwrss, ctrl.max_pirls,
                               mu_start, gradient, ctrl.max_halvings)

    def gradients(self, thetas: np.ndarray, bases: np.ndarray, eta_start: np.ndarray, mu_start: np.ndarray,
                  gradient: GradientTerms) -> np.ndarray:
        """The gradients of :meth:`run_raw` at several points, one per row, in one compiled call (scalar terms:
        :meth:`mixedfx.glmm.scalar_pirls.ScalarPirls.gradients`)."""
        ctrl = self.control
        return self.kernel.gradients(thetas, self.y, self.weights, bases, np.ascontiguousarray(eta_start, dtype=float),
                                     ctrl.tol_pwrss, ctrl.max_pirls, mu_start, gradient, ctrl.max_halvings)

    def state(self, out: ScalarPirlsResult | VectorPirlsResult, fixed: np.ndarray | None) -> PirlsResult:
        """A compiled run's state (beta ``fixed`` in stage 2).

        Raises
        ------
        PirlsError
            Where the run failed.
        """
        raise_for_status(out.status, self.control.max_pirls)
        beta = out.beta if fixed is None else fixed
        kernel = self.kernel
        return PirlsResult(out.eta, out.mu, out.u, beta, out.dev_resids, out.logdet_re,
                           lambda: kernel.blocked_factor(out))


def pirls_engines(family: Family, y: np.ndarray, weights: np.ndarray, layouts: list[TermLayout], X: np.ndarray,
                  control: GlmerControl) -> tuple[PythonPirls | CompiledPirls, PythonPirls | CompiledPirls]:
    """The PIRLS engines of a model's two stages (beta solved for, then beta held), chosen once.

    Compiled where the family has a compiled form
    (:func:`mixedfx.glmm.family_kernels.compiled_family`), ``control.compiled_pirls``
    holds and every term is scalar, or there is one term, or the coupling is
    small enough to be dense (:func:`mixedfx.linalg.cross.by_slots`); the Python
    loop otherwise.

    Returns
    -------
    tuple
        Stage 1's engine (over X) and stage 2's (over no columns).
    """
    no_columns = np.zeros((len(y), 0))
    scalar = all(t.k == 1 for t in layouts)
    if control.compiled_pirls and (scalar or len(layouts) == 1 or by_slots(layouts, X.shape[1])):
        from mixedfx.glmm.family_kernels import compiled_family  # noqa: PLC0415 - numba loads with the first fit

        code = compiled_family(family)
        if code:
            if scalar:
                from mixedfx.glmm.scalar_pirls import ScalarPirls as Kernel  # noqa: PLC0415
            else:
                from mixedfx.glmm.vector_pirls import VectorPirls as Kernel  # noqa: PLC0415

            return (CompiledPirls(Kernel(layouts, X, code), y, weights, control),
                    CompiledPirls(Kernel(layouts, no_columns, code), y, weights, control))
    return (PythonPirls(family, y, weights, layouts, X, control),
            PythonPirls(family, y, weights, layouts, no_columns, control))
