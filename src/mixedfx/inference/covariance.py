"""lme4's ``vcov(fit, use.hessian =)``: the fixed effects' covariance, for glmer from the Hessian or from R_X."""

from __future__ import annotations

import pandas as pd

from mixedfx.inference.fitted import MixedFit, is_generalized

__all__ = ["vcov"]


def vcov(fit: MixedFit, use_hessian: bool | None = None) -> pd.DataFrame:
    """The covariance of the fixed effects, as lme4's ``vcov(fit, use.hessian = use_hessian)``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
    use_hessian : bool, optional
        For a glmer: from the finite-difference Hessian of the deviance (True,
        lme4 1.1-31's default and ``fit.vcov``) or sigma^2 (R_X' R_X)^-1 at the
        final PIRLS weights (False). None gives ``fit.vcov``.

    Returns
    -------
    DataFrame

    Raises
    ------
    ValueError
        ``use_hessian`` for a linear model, whose covariance is sigma^2 (R_X' R_X)^-1.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
    ...                 family="binomial")
    >>> vcov(fit, use_hessian=False).shape
    (4, 4)
    """
    if use_hessian is None:
        return fit.vcov
    if not is_generalized(fit):
        raise ValueError("use_hessian chooses between a glmer's Hessian and R_X; a linear model's covariance "
                         "is always sigma^2 (R_X' R_X)^-1 (fit.vcov)")
    return fit.fixed_covariance(use_hessian=bool(use_hessian))
