"""``glmer`` on a Dask DataFrame: lme4's two-stage fit with PIRLS run by rounds over the partitions.

The fit is a :class:`~mixedfx.fits.glmer.GlmerFit` like any other: ``summary()``,
``fixef``, ``ranef()``, ``VarCorr``, ``vcov``, ``confint(method="Wald")``,
``anova()``, ``loglik``, ``AIC`` read the optimum and the Hessian, which need no
rows. ``fitted()``, ``residuals()`` and ``predict()`` are lazy Dask Series
computed partition by partition (:class:`GlmerRowValues`); the summary's
scaled-residual quantiles take three passes
(:func:`~mixedfx.partitioned.quantiles.exact_quantiles`); ``fixed_covariance(use_hessian=False)``
takes one round over the kept rows. ``refit``, ``simulate`` and the bootstrap
raise :class:`~mixedfx.errors.RowsElsewhereError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg as sla

from mixedfx.dataframes.dask_frames import is_dask_frame, map_partition_rows
from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.remote_rows import rows_elsewhere
from mixedfx.errors import MixedFxError, RowsElsewhereError
from mixedfx.fits.call import FitCall
from mixedfx.fits.glmer import GlmerFit
from mixedfx.fits.prediction import Predictor
from mixedfx.glmm.families import Family
from mixedfx.glmm.model import GlmmOptimum
from mixedfx.linalg.cross import settle_coupling
from mixedfx.linalg.factorizer import factorize
from mixedfx.linalg.layout import random_part
from mixedfx.optim.checks import spread_message
from mixedfx.optim.optimize import OPTIMIZERS
from mixedfx.partitioned.glmer_model import PartitionedGeneralizedModel
from mixedfx.partitioned.glmer_rows import partition_glmer_rows
from mixedfx.partitioned.pirls import StepOrder
from mixedfx.partitioned.quantiles import exact_quantiles
from mixedfx.partitioned.request import PassRequest

__all__ = ["PartitionedGlmerFit", "GlmerRowValues", "partitioned_glmer_fit", "GLMER_ROW_VALUES"]

_QUARTILES = (0.0, 0.25, 0.5, 0.75, 1.0)

GLMER_ROW_VALUES = ("link", "fitted", "deviance", "pearson", "response", "working")
"""What :class:`GlmerRowValues` computes: the linear predictor, the means, and the residuals of each type."""


@dataclass(frozen=True)
class GlmerRowValues:
    """What a partition needs to compute one of a generalized fit's row-wise values (sent to each worker once).

    Attributes
    ----------
    request : PassRequest
    prototype : ModelMatrices
        The fit's coding without rows (X's kept columns).
    family : Family
    beta : ndarray
        Fixed effects.
    effects : list of ndarray
        Each term's random effects, lme4's order of terms.
    what : str
        One of :data:`GLMER_ROW_VALUES`.
    """

    request: PassRequest
    prototype: ModelMatrices
    family: Family
    beta: np.ndarray
    effects: list[np.ndarray]
    what: str

    def __post_init__(self) -> None:
        if self.what not in GLMER_ROW_VALUES:
            raise ValueError(f"what must be one of {', '.join(GLMER_ROW_VALUES)}, not {self.what!r}")

    def on_partition(self, part: pd.DataFrame) -> pd.Series:
        """One partition's values on its kept rows (every row under ``na_action="exclude"``, NaN where dropped)."""
        rows = partition_glmer_rows(part, self.request, self.prototype, self.family)
        eta = rows.offset + rows.X @ self.beta + random_part([t.codes for t in rows.layouts],
                                                             [t.z for t in rows.layouts], self.effects)
        values = self._values(rows.y, rows.weights, eta)
        if self.request.na_action == "exclude":
            padded = np.full(len(part), np.nan)
            padded[rows.kept] = values
            return pd.Series(padded, index=part.index, name=self.what)
        return pd.Series(values, index=part.index[rows.kept], name=self.what)

    def _values(self, y: np.ndarray, weights: np.ndarray, eta: np.ndarray) -> np.ndarray:
        family, what = self.family, self.what
        if what == "link":
            return eta
        mu = family.link.linkinv(eta)
        raw = y - mu
        if what == "fitted":
            return mu
        if what == "deviance":
            return np.sign(raw) * np.sqrt(np.maximum(family.dev_resids(y, mu, weights), 0.0))
        if what == "pearson":
            return raw * np.sqrt(weights / family.variance(mu))
        if what == "working":
            return raw / family.link.mu_eta(eta)
        return raw

    def values(self, part: pd.DataFrame) -> np.ndarray:
        """One partition's values as an array (what :func:`~mixedfx.partitioned.quantiles.exact_quantiles` reads)."""
        return self.on_partition(part).to_numpy()


def _on_partition(part: pd.DataFrame, row_values: GlmerRowValues) -> pd.Series:
    return row_values.on_partition(part)


class RowsOnWorkers:
    """What a generalized fit from a Dask DataFrame cannot do without its rows in this process (a linear fit
    simulates and bootstraps by passes: :mod:`mixedfx.partitioned.bootstrap`)."""

    def simulate(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        """Not available yet for a fit from a Dask DataFrame (it would draw a response for every row)."""
        raise rows_elsewhere("simulate() draws a response for every row")

    def bootstrap(self, *args: Any, **kwargs: Any) -> Any:
        """Not available yet for a fit from a Dask DataFrame: each replicate simulates every row and refits."""
        raise rows_elsewhere("the parametric bootstrap simulates every row")


class PartitionedGlmerFit(RowsOnWorkers, GlmerFit):
    """A generalized linear mixed model fitted to a Dask DataFrame's rows, which stay on the workers.

    Made by :func:`mixedfx.glmer` when ``data`` is a Dask DataFrame. Its estimates
    and printed output are those of the same rows fitted in memory: on the same
    optimiser path where the deviance has an exact gradient (scalar terms,
    binomial-logit and Poisson-log: :mod:`~mixedfx.partitioned.glmer_gradient`),
    to the optimiser's tolerance elsewhere.
    """

    def __init__(self, model: PartitionedGeneralizedModel, optimum: GlmmOptimum, call: FitCall | None,
                 frame: Any) -> None:
        super().__init__(model, optimum, call)
        self._frame = frame

    @property
    def data(self) -> Any:
        """The Dask DataFrame the model was fitted to (not copied)."""
        return self._frame

    @property
    def rounds(self) -> int:
        """Rounds of tasks over the partitions the fit's PIRLS runs took (see :mod:`mixedfx.partitioned.pirls`)."""
        return self._model.rounds

    @cached_property
    def predictor(self) -> Predictor:
        """The linear predictor, holding the coding without rows (it travels to the workers)."""
        effects = self._term_effects()
        return Predictor(self._model.prototype, self._beta,
                         [effects[self.term_order.index(i)] for i in range(len(self.re_terms))])

    def _row_values(self, what: str) -> GlmerRowValues:
        model = self._model
        return GlmerRowValues(model.rows_request, model.prototype, self.family, self._beta, self._term_effects(),
                              what)

    def _lazy(self, what: str) -> Any:
        import dask  # noqa: PLC0415 - Dask is an optional extra, loaded for partitioned data only

        return self._frame.map_partitions(_on_partition, dask.delayed(self._row_values(what), traverse=False),
                                          meta=pd.Series(dtype=float, name=what))

    def fitted(self) -> Any:
        """Fitted means, a lazy Dask Series on the kept rows' index (every row's under ``na_action="exclude"``)."""
        return self._lazy("fitted")

    def residuals(self, type: str | None = None, scaled: bool = False) -> Any:  # noqa: A002 - lme4's name
        """Deviance (default), Pearson, response or working residuals as a lazy Dask Series (sigma is 1)."""
        kind = type or self._residual_type
        if kind not in GLMER_ROW_VALUES[2:]:
            raise ValueError(f"type must be one of {', '.join(GLMER_ROW_VALUES[2:])}, not {kind!r}")
        return self._lazy(kind)

    def predict(self, newdata: Any = None, re_form: str | None = None, allow_new_levels: bool = False,
                type: str = "link") -> Any:  # noqa: A002 - lme4's name
        """Predictions as :meth:`GlmerFit.predict`; without ``newdata`` on the fitted rows, as a lazy Dask Series."""
        if type not in ("link", "response"):
            raise ValueError(f"type must be 'link' or 'response', not {type!r}")
        if newdata is None:
            if re_form is not None:
                raise RowsElsewhereError("predict() with re_form on the fitted rows of a fit from a Dask DataFrame: "
                                         "pass those rows as newdata=ddf instead")
            return self._lazy("link" if type == "link" else "fitted")
        if is_dask_frame(newdata):
            return map_partition_rows(newdata, _PartitionPredictions(self.predictor, self.family, re_form,
                                                                     allow_new_levels, type), "predicted")
        eta = self.predictor.linear_predictor(newdata, re_form, allow_new_levels)
        return self.family.link.linkinv(eta) if type == "response" else eta

    @property
    def deviance(self) -> float:
        """lme4's ``deviance()`` of a glmer: the deviance residuals' sum at the estimates (summed on the workers)."""
        return self._optimum.state.dev

    def residual_quantiles(self) -> np.ndarray:
        """The Pearson residuals' minimum, quartiles and maximum, exact, from passes over the partitions."""
        return exact_quantiles(self._frame, _QUARTILES, self._row_values("pearson"))

    def _scale_x_message(self, tol: float) -> str | None:
        return spread_message(self._model.x_deviations(), tol)

    def _unscaled_vcov(self) -> np.ndarray:
        """(R_X' R_X)^-1 at the final PIRLS weights: one round over the partitions for the blocks with X."""
        model, state = self._model, self._optimum.state
        order = StepOrder(family=model.family, beta=self._beta, held_beta=None, effects=None)
        _, pieces = model.pirls_engines[0].round((state.eta,), order)
        factor = factorize(settle_coupling(pieces.cross, model.layouts), self._theta)
        r_x_inv = sla.solve_triangular(factor.r_x, np.eye(model.p), lower=True, check_finite=False)
        return r_x_inv.T @ r_x_inv

    def refit(self, newresp: Any) -> GlmerFit:
        """Not available: a new response needs its own pass; add it as a column and fit it with :func:`mixedfx.glmer`."""
        raise RowsElsewhereError("refit(newresp) needs the rows in this process; for a Dask DataFrame add the new "
                                 "response as a column and fit it with mfx.glmer(...)")

    def reoptimize(self, optimizer: str) -> PartitionedGlmerFit:
        """The same model fitted again from lme4's start, both stages by ``optimizer`` (rounds over the partitions)."""
        return PartitionedGlmerFit(self._model, self._model.fit(optimizer=OPTIMIZERS[optimizer]), self.call,
                                   self._frame)


class _PartitionPredictions:
    """A fit's predictions for one partition of new data (pickled to the workers with the predictor only)."""

    def __init__(self, predictor: Predictor, family: Family, re_form: str | None, allow_new_levels: bool,
                 type: str) -> None:  # noqa: A002
        self.predictor, self.family, self.re_form = predictor, family, re_form
        self.allow_new_levels, self.type = allow_new_levels, type

    def __call__(self, part: pd.DataFrame) -> np.ndarray:
        eta = self.predictor.linear_predictor(part, self.re_form, self.allow_new_levels)
        return self.family.link.linkinv(eta) if self.type == "response" else eta


def partitioned_glmer_fit(model: PartitionedGeneralizedModel, call: FitCall, theta0: np.ndarray | None = None,
                          beta0: np.ndarray | None = None) -> PartitionedGlmerFit:
    """lme4's two stages on a model from :func:`~mixedfx.partitioned.glmer_model.partitioned_glmer_model`, and
    its fit (``call.data``: the Dask frame).

    Returns
    -------
    PartitionedGlmerFit

    Raises
    ------
    MixedFxError
        lme4's ``check.scaleX = "stop"``, and the checks whose action is ``"stop"``.
    """
    control = model.control
    if control.check_scale_x == "stop" and (message := spread_message(model.x_deviations(),
                                                                       control.check_scale_x_tol)):
        raise MixedFxError(f"{message} (control check_scale_x is 'stop')")
    fit = PartitionedGlmerFit(model, model.fit(theta0=theta0, beta0=beta0), call, call.data)
    fit.stop_on_checks()
    return fit
