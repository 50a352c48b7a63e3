"""broom.mixed's ``augment.merMod``: the model frame with per-observation columns of the fit."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixedfx.dataframes.convert import as_pandas
from mixedfx.design.matrices import used_rows
from mixedfx.inference.fitted import is_generalized

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["augment"]


def augment(fit: MixedFit, newdata: pd.DataFrame | None = None) -> pd.DataFrame:
    """The model frame with the fit's per-observation columns, as broom.mixed's ``augment(fit)``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
    newdata : data frame, optional
        New rows: they are returned with ``.fitted`` (``fit.predict(newdata)``,
        a glmer's on the link scale) added. broom.mixed 0.2.9.4 also binds the
        fit's own response-module columns (``.mu``, ``.offset``, ...) of its
        first fitted rows to new data, which describe those rows and not the new
        ones; they are left out here.

    Returns
    -------
    DataFrame
        Without new data: ``fit.model_frame()`` (its index the fitted rows'
        labels), then ``.fitted`` (the linear predictor: a glmer's on the link
        scale), ``.resid`` (lme4's default residuals: response for lmer,
        deviance for glmer), ``.hat``, ``.cooksd``, ``.fixed`` (the population
        prediction, ``re_form="~0"``), then lme4's response module: ``.mu``
        (fitted means), ``.offset``, ``.sqrtXwt``, ``.sqrtrwt``, ``.weights``
        (prior weights), ``.wtres`` (Pearson residuals), and for a glmer
        ``.eta``. A glmer's ``.hat`` warns, as lme4's ``hatvalues``.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> list(augment(fit).columns)  # doctest: +NORMALIZE_WHITESPACE
    ['Reaction', 'Days', 'Subject', '.fitted', '.resid', '.hat', '.cooksd', '.fixed', '.mu', '.offset',
     '.sqrtXwt', '.sqrtrwt', '.weights', '.wtres']
    >>> augment(fit, newdata=mfx.datasets.load("sleepstudy").head(2))[".fitted"].round(2).tolist()
    [253.66, 273.33]
    """
    if newdata is not None:
        newdata = as_pandas(newdata, "newdata")
        return newdata.assign(**{".fitted": fit.predict(newdata)})
    mm = fit.matrices
    eta = used_rows(fit.predict(), mm)
    mu, weights = fit.get_me("mu"), fit.get_me("weights")
    if is_generalized(fit):
        sqrt_rwt = np.sqrt(weights / fit.family.variance(mu))
        sqrt_xwt = sqrt_rwt * fit.family.link.mu_eta(eta)
    else:
        sqrt_rwt = sqrt_xwt = np.sqrt(weights)
    columns = {".fitted": eta, ".resid": used_rows(fit.residuals(), mm), ".hat": fit.hatvalues(),
               ".cooksd": fit.cooks_distance(), ".fixed": used_rows(fit.predict(re_form="~0"), mm), ".mu": mu,
               ".offset": fit.get_me("offset"), ".sqrtXwt": sqrt_xwt, ".sqrtrwt": sqrt_rwt, ".weights": weights,
               ".wtres": used_rows(fit.residuals("pearson"), mm)}
    if is_generalized(fit):
        columns[".eta"] = eta
    frame = fit.model_frame()
    return frame.assign(**{name: np.asarray(values, dtype=float) for name, values in columns.items()})
