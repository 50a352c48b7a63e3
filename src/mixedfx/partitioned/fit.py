"""``lmer`` on a Dask DataFrame: the exact fit from two passes over the partitions, rows never gathered.

After :func:`~mixedfx.partitioned.design.partitioned_lmer_model`'s passes the
criterion, its optimisation and every estimate need no rows, so the fit is an
:class:`~mixedfx.fits.lmer.LmerFit` like any other: ``summary()``,
``ranef()``, ``VarCorr``, ``vcov``, ``confint`` (Wald or profile), ``anova()``
and the Satterthwaite tests give the in-memory numbers. What reads rows goes
through more passes: ``fitted()``, ``residuals()`` and ``predict()`` give
lazy Dask Series, and the summary's scaled-residual quantiles take three
passes (:func:`~mixedfx.partitioned.quantiles.exact_quantiles`). The rest
(``hatvalues``, Kenward-Roger, ``refit``, ``simulate``, the bootstrap) raises
:class:`~mixedfx.errors.RowsElsewhereError`, which says to fit in memory for it.
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from mixedfx.dataframes.dask_frames import is_dask_frame, map_partition_rows
from mixedfx.design.remote_rows import rows_elsewhere
from mixedfx.errors import MixedFxError, RowsElsewhereError
from mixedfx.fits.call import FitCall
from mixedfx.fits.lmer import LmerFit
from mixedfx.fits.prediction import Predictor
from mixedfx.lmm.control import LmerControl
from mixedfx.lmm.model import LinearMixedModel
from mixedfx.optim.checks import spread_message
from mixedfx.optim.optimize import OptSummary
from mixedfx.partitioned.design import PartitionedDesign
from mixedfx.partitioned.quantiles import exact_quantiles
from mixedfx.partitioned.rows import RowValues, lazy_row_values

__all__ = ["PartitionedLmerFit", "partitioned_lmer_fit", "RowsOnWorkers"]

_QUARTILES = (0.0, 0.25, 0.5, 0.75, 1.0)


class RowsOnWorkers:
    """What a fit from a Dask DataFrame cannot do without its rows in this process (both kinds of fit share it)."""

    def simulate(self, *args: Any, **kwargs: Any) -> pd.DataFrame:
        """Not available yet for a fit from a Dask DataFrame (it would draw a response for every row)."""
        raise rows_elsewhere("simulate() draws a response for every row")

    def bootstrap(self, *args: Any, **kwargs: Any) -> Any:
        """Not available yet for a fit from a Dask DataFrame: each replicate simulates every row and refits."""
        raise rows_elsewhere("the parametric bootstrap simulates every row")


class PartitionedLmerFit(RowsOnWorkers, LmerFit):
    """A linear mixed model fitted to a Dask DataFrame's rows, which stay on the workers.

    Made by :func:`mixedfx.lmer` when ``data`` is a Dask DataFrame. Its estimates
    and printed output are those of the same rows fitted in memory.
    """

    def __init__(self, model: LinearMixedModel, opt: OptSummary, control: LmerControl, call: FitCall | None,
                 frame: Any, design: PartitionedDesign) -> None:
        super().__init__(model, opt, control, call)
        self._frame = frame
        self.design = design
        """The passes' request, the coding without rows and the summed blocks (:class:`PartitionedDesign`)."""

    @property
    def data(self) -> Any:
        """The Dask DataFrame the model was fitted to (not copied)."""
        return self._frame

    @cached_property
    def predictor(self) -> Predictor:
        """The linear predictor, holding the coding without rows (it travels to the workers)."""
        effects = self._term_effects()
        return Predictor(self.design.prototype, self._beta,
                         [effects[self.term_order.index(i)] for i in range(len(self.re_terms))])

    def _row_values(self, what: str, scale: float = 1.0) -> RowValues:
        return RowValues(self.design.request, self.predictor, what, scale)

    def fitted(self) -> Any:
        """Fitted values, a lazy Dask Series on the kept rows' index (every row's under ``na_action="exclude"``).

        Examples
        --------
        >>> import dask.dataframe as dd, mixedfx as mfx
        >>> rows = dd.from_pandas(mfx.datasets.load("sleepstudy"), npartitions=3)
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", rows)
        >>> round(float(fit.fitted().compute().iloc[0]), 2)
        253.66
        """
        return lazy_row_values(self._frame, self._row_values("fitted"))

    def residuals(self, type: str | None = None, scaled: bool = False) -> Any:  # noqa: A002 - lme4's name
        """Response (default) or Pearson residuals, optionally divided by sigma, as a lazy Dask Series."""
        kind = type or self._residual_type
        if kind not in ("response", "pearson"):
            raise ValueError(f"type must be 'response' or 'pearson' for a linear mixed model, not {kind!r}")
        return lazy_row_values(self._frame, self._row_values(kind, self.sigma if scaled else 1.0))

    def predict(self, newdata: Any = None, re_form: str | None = None, allow_new_levels: bool = False) -> Any:
        """Predictions as :meth:`LmerFit.predict`; without ``newdata`` the fitted values, as a lazy Dask Series."""
        if newdata is None:
            if re_form is not None:
                raise RowsElsewhereError("predict() with re_form on the fitted rows of a fit from a Dask DataFrame: "
                                         "pass those rows as newdata=ddf instead")
            return self.fitted()
        if is_dask_frame(newdata):
            return map_partition_rows(newdata, _PartitionPredictions(self.predictor, re_form, allow_new_levels),
                                      "predicted")
        return self.predictor.linear_predictor(newdata, re_form, allow_new_levels)

    def residual_quantiles(self) -> np.ndarray:
        """The scaled Pearson residuals' minimum, quartiles and maximum, exact, from passes over the partitions."""
        return exact_quantiles(self._frame, _QUARTILES, self._row_values("pearson", self.sigma))

    def _scale_x_message(self, tol: float) -> str | None:
        return spread_message(self.design.x_deviations(), tol)

    def refit_ml(self) -> PartitionedLmerFit:
        """This model refitted by maximum likelihood from the current theta (no pass over the rows)."""
        if not self.reml:
            return self
        control = replace(self._control, theta0=tuple(self._opt.x))
        model = self._model.with_criterion(reml=False)
        return PartitionedLmerFit(model, model.optimize(control), control, self.call, self._frame, self.design)

    def refit(self, newresp) -> LmerFit:
        """Not available: a new response would need its own pass; fit the new column with :func:`mixedfx.lmer`."""
        raise RowsElsewhereError("refit(newresp) needs the rows in this process; for a Dask DataFrame add the new "
                                 "response as a column and fit it with mfx.lmer(...)")

    def reoptimize(self, optimizer: str) -> PartitionedLmerFit:
        """The same model optimised from lme4's start by another optimiser (no pass over the rows)."""
        fit = super().reoptimize(optimizer)
        return PartitionedLmerFit(fit.model, fit.opt_summary, self._control, self.call, self._frame, self.design)


class _PartitionPredictions:
    """A fit's predictions for one partition of new data (pickled to the workers with the predictor only)."""

    def __init__(self, predictor: Predictor, re_form: str | None, allow_new_levels: bool) -> None:
        self.predictor, self.re_form, self.allow_new_levels = predictor, re_form, allow_new_levels

    def __call__(self, part: pd.DataFrame) -> np.ndarray:
        return self.predictor.linear_predictor(part, self.re_form, self.allow_new_levels)


def partitioned_lmer_fit(model: LinearMixedModel, design: PartitionedDesign, control: LmerControl,
                         call: FitCall) -> PartitionedLmerFit:
    """The fit of a model from :func:`~mixedfx.partitioned.design.partitioned_lmer_model`, as
    :func:`mixedfx.lmer_fit` after :func:`mixedfx.optimize_lmer` (``call.data``: the Dask frame).

    Returns
    -------
    PartitionedLmerFit
    """
    if control.check_scale_x == "stop" and (message := spread_message(design.x_deviations(),
                                                                       control.check_scale_x_tol)):
        raise MixedFxError(f"{message} (control check_scale_x is 'stop')")
    fit = PartitionedLmerFit(model, model.optimize(control), control, call, call.data, design)
    fit.stop_on_checks()
    return fit
