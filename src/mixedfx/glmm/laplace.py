"""The Laplace deviance's exact gradient by compiled PIRLS runs, and the adaptive Gauss-Hermite deviance."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mixedfx.glmm.families import Family
from mixedfx.glmm.pirls import PirlsResult
from mixedfx.linalg.layout import TermLayout

if TYPE_CHECKING:
    from mixedfx.glmm.model import GeneralizedLinearMixedModel

__all__ = ["LaplaceRuns", "agq_deviance", "gauss_hermite_rule"]

_SQRT_2PI = float(np.sqrt(2.0 * np.pi))


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
        A model with compiled PIRLS engines and per-row log-likelihood terms
        (:attr:`~mixedfx.glmm.model.GeneralizedLinearMixedModel.has_laplace_gradient`).
    eta_start : ndarray
        Linear predictor each run starts from.
    stage : {1, 2}
        Stage 1: beta is solved for inside PIRLS and the gradient is over theta.
    """

    def __init__(self, model: GeneralizedLinearMixedModel, eta_start: np.ndarray, stage: int) -> None:
        self.model = model
        self.stage = stage
        self._engine = model.pirls_engines[stage - 1]
        self._start = np.ascontiguousarray(eta_start, dtype=float)
        self._mu_start = self._engine.means(self._start)
        from mixedfx.glmm.scalar_pirls import GradientTerms  # noqa: PLC0415 - numba loads with the compiled PIRLS

        tangents = np.ascontiguousarray(model.X.T, dtype=float) if stage == 2 else np.zeros((0, model.n))
        self._terms = GradientTerms(tangents, model.log_likelihood.a, model.log_likelihood.b)
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
            k = len(model.lower)
            base = model.offset + model.X @ point[k:]
            out = self._engine.run_raw(point[:k], base, self._start, self._mu_start, self._terms)
        else:
            out = self._engine.run_raw(point, model.offset, self._start, self._mu_start, self._terms)
        self._last = (key, out)
        return out

    def __call__(self, pars: np.ndarray) -> tuple[float, np.ndarray]:
        out = self._run(pars)
        if out.status:
            return np.inf, self._failed
        return self.model.laplace_deviance(out), out.gradient

    def gradients(self, points: list[np.ndarray]) -> np.ndarray:
        """The gradient at each point, one per row, in one compiled call (NaN rows where PIRLS failed): the
        points of a Hessian's forward differences (:func:`mixedfx.optim.newton.hessian_columns`)."""
        model = self.model
        points = np.asarray(points, dtype=float).reshape(len(points), -1)
        if self.stage == 2:
            k = len(model.lower)
            thetas, bases = points[:, :k], model.offset + points[:, k:] @ model.X.T
        else:
            thetas, bases = points, np.broadcast_to(model.offset, (len(points), model.n))
        return self._engine.gradients(thetas, bases, self._start, self._mu_start, self._terms)

    def state(self, pars: np.ndarray) -> PirlsResult:
        """PIRLS's state at ``pars`` (from the last run where it was there).

        Raises
        ------
        PirlsError
            Where PIRLS failed there.
        """
        fixed = self.model.split(pars)[1] if self.stage == 2 else None
        return self._engine.state(self._run(pars), fixed)


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


def agq_deviance(family: Family, term: TermLayout, y: np.ndarray, weights: np.ndarray, state: PirlsResult,
                 theta: float, n_agq: int) -> float:
    """Adaptive Gauss-Hermite deviance of a model with one scalar term (lme4's glmerAGQ).

    Parameters
    ----------
    family : Family
    term : TermLayout
        The term.
    y, weights : ndarray
        The response and prior weights as the family's initialize left them.
    state : PirlsResult
        PIRLS at the parameters: the nodes are centred at its modes and scaled by the conditional sd.
    theta : float
        The term's theta.
    n_agq : int
        Nodes per level.

    Returns
    -------
    float
    """
    codes, n_levels = term.codes, term.n_levels
    base = state.eta - term.z[:, 0] * theta * state.u[codes]
    devc0 = state.u**2 + np.bincount(codes, weights=state.dev_resids, minlength=n_levels)
    sd = 1.0 / state.factor.l11[:, 0, 0]
    mult = np.zeros(n_levels)
    for z, w, ldnorm in zip(*gauss_hermite_rule(n_agq)):
        if z == 0.0:
            mult += w
            continue
        u = state.u + z * sd
        mu = family.link.linkinv(base + term.z[:, 0] * theta * u[codes])
        resid = family.dev_resids(y, mu, weights)
        devc = u**2 + np.bincount(codes, weights=resid, minlength=n_levels)
        mult += np.exp(-0.5 * (devc - devc0) - ldnorm) * w / _SQRT_2PI
    return float(devc0.sum() + state.logdet_re - 2.0 * np.log(mult).sum())
