"""Nakagawa's R² of a mixed model, as performance 0.10.2's ``r2_nakagawa``."""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixedfx.performance.variance_components import SINGULAR_TOLERANCE, variance_components

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["NO_RANDOM_R2_WARNING", "r2"]

NO_RANDOM_R2_WARNING = "Random effect variances not available. Returned R2 does not account for random effects."


def r2(fit: MixedFit, tolerance: float = SINGULAR_TOLERANCE) -> pd.Series:
    """Nakagawa's marginal and conditional R², as ``performance::r2_nakagawa(fit)``.

    With the variances of :func:`~mixedfx.performance.variance_components.variance_components`
    (fixed ``f``, random ``r``, residual ``e``), the marginal R² is
    ``f / (f + r + e)`` and the conditional ``(f + r) / (f + r + e)``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        A linear fit, or a generalized one of the binomial (logit, probit,
        cloglog), Poisson or negative binomial (log, sqrt), Gamma, inverse
        Gaussian or gaussian family.
    tolerance : float
        A diagonal element of theta below this makes the fit singular.

    Returns
    -------
    Series
        ``marginal`` and ``conditional`` (name ``"R2"``). Where the random
        variance is not available (a singular fit) the marginal R² is
        ``f / (f + e)`` and the conditional NaN, as performance's NA; where
        every term has one level per observation both are NaN.

    Raises
    ------
    MixedFxError
        A family and link performance has no distribution-specific variance for.

    Warns
    -----
    UserWarning
        As performance: a singular fit (then also that the R² leaves the random
        effects out), random slopes of variables the fixed part lacks, a small
        null-model mean for log-link counts.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> r2(fit).round(4)
    marginal       0.2787
    conditional    0.7992
    Name: R2, dtype: float64
    """
    parts = variance_components(fit, tolerance)
    fixed, random, residual = parts["fixed"], parts["random"], parts["residual"]
    if np.isnan(random) and not np.isnan(fixed):
        warnings.warn(NO_RANDOM_R2_WARNING, UserWarning, stacklevel=2)
        values = [fixed / (fixed + residual), np.nan]
    else:
        total = fixed + random + residual
        values = [fixed / total, (fixed + random) / total]
    return pd.Series(values, index=["marginal", "conditional"], name="R2")
