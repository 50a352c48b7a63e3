"""The Laplace deviance's exact gradient by compiled PIRLS runs, and the Gauss-Hermite rule of AGQ."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mixedfx.glmm.pirls import PirlsResult

if TYPE_CHECKING:
    from mixedfx.glmm.model import GeneralizedLinearMixedModel

__all__ = ["LaplaceRuns", "gauss_hermite_rule"]


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
            theta, beta = model.split(point)
            base = np.ascontiguousarray(model.offset + model.X @ beta, dtype=float)
        else:
            theta, base = point, model.offset
        out = self._engine.run_raw(theta, base, self._start, self._mu_start, self._terms)
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
