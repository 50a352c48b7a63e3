"""broom.mixed's ``glance.merMod``: a fit's one-row summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["glance"]


def glance(fit: MixedFit) -> pd.DataFrame:
    """A fit's size, scale and likelihood in one row, as broom.mixed's ``glance(fit)``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit

    Returns
    -------
    DataFrame
        One row: nobs, sigma, logLik, AIC, BIC, deviance, df.residual. For a
        REML fit the deviance column is ``REMLcrit``, the REML criterion (what
        lme4's ``deviance()`` gives such a fit); a glmer's deviance is lme4's,
        the sum of its squared deviance residuals. As broom.mixed, a column whose
        value is missing is left out.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> row = glance(fit)
    >>> list(row.columns)
    ['nobs', 'sigma', 'logLik', 'AIC', 'BIC', 'REMLcrit', 'df.residual']
    >>> round(float(row["REMLcrit"].iloc[0]), 3)
    1743.628
    """
    values = {"nobs": fit.nobs, "sigma": fit.sigma, "logLik": fit.loglik, "AIC": fit.aic, "BIC": fit.bic,
              "REMLcrit" if fit.reml else "deviance": fit.deviance, "df.residual": fit.df_resid}
    return pd.DataFrame({name: [value] for name, value in values.items()
                         if value is not None and not np.isnan(value)})
