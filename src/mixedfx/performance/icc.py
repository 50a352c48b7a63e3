"""The intraclass correlation of a mixed model, as performance 0.10.2's ``icc``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from mixedfx.performance.variance_components import SINGULAR_TOLERANCE, variance_components

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["icc"]


def icc(fit: MixedFit, tolerance: float = SINGULAR_TOLERANCE) -> pd.Series:
    """The adjusted and unadjusted intraclass correlation, as ``performance::icc(fit)``.

    With the variances of :func:`~mixedfx.performance.variance_components.variance_components`
    (fixed ``f``, random ``r``, residual ``e``), the adjusted ICC is
    ``r / (r + e)`` and the unadjusted ``r / (f + r + e)``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        As :func:`~mixedfx.performance.r2.r2` takes.
    tolerance : float
        A diagonal element of theta below this makes the fit singular.

    Returns
    -------
    Series
        ``adjusted`` and ``unadjusted`` (name ``"ICC"``); both NaN where the
        random variance is not available (a singular fit), as performance's NA.

    Raises
    ------
    MixedFxError
        A family and link performance has no distribution-specific variance for.

    Warns
    -----
    UserWarning
        As performance: a singular fit, random slopes of variables the fixed
        part lacks, a small null-model mean for log-link counts.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", mfx.datasets.load("sleepstudy"))
    >>> icc(fit).round(4)
    adjusted      0.5893
    unadjusted    0.4244
    Name: ICC, dtype: float64
    """
    parts = variance_components(fit, tolerance)
    fixed, random, residual = parts["fixed"], parts["random"], parts["residual"]
    return pd.Series([random / (random + residual), random / (fixed + random + residual)],
                     index=["adjusted", "unadjusted"], name="ICC")
