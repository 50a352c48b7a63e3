"""Confidence intervals for a fit's parameters (lme4's ``confint.merMod``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from mixedfx.inference.bootstrap import bootstrap, percent_labels, tail_probabilities
from mixedfx.inference.profile import profile
from mixedfx.inference.sdcor import parameter_vector, select_parameters, variance_names

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["confint", "wald_confint"]

_METHODS = ("profile", "Wald", "boot")


def wald_confint(fit: MixedFit, level: float = 0.95) -> pd.DataFrame:
    """Wald intervals: estimate +- z * standard error for the fixed effects, NaN for the variance parameters.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
    level : float
        Confidence level.

    Returns
    -------
    DataFrame
        lme4's rows and columns.
    """
    labels = percent_labels(level)
    z = ndtri(tail_probabilities(level))
    fixef = fit.fixef
    se = np.sqrt(np.diag(fit.vcov.to_numpy()))
    variance = pd.DataFrame(np.nan, index=variance_names(fit), columns=labels)
    fixed = pd.DataFrame(fixef.to_numpy()[:, None] + se[:, None] * z[None, :], index=fixef.index, columns=labels)
    return pd.concat([variance, fixed])


def confint(fit: MixedFit, method: str = "profile", level: float = 0.95,
            parm: Sequence[str | int] | str | int | None = None, nsim: int = 500, seed: int | None = None,
            n_jobs: int = 1, progress: bool | None = None, client: Any = None) -> pd.DataFrame:
    """Confidence intervals for the variance parameters and fixed effects (lme4's ``confint``).

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        The fitted model.
    method : {"profile", "Wald", "boot"}
        Likelihood-profile intervals (a REML fit is profiled by maximum
        likelihood, as lme4), Wald intervals for the fixed effects (NaN rows for
        the variance parameters), or parametric-bootstrap percentile intervals.
    level : float
        Confidence level.
    parm : str, int or sequence of them, optional
        Parameters by name or position, ``"theta_"`` (variance parameters) or
        ``"beta_"`` (fixed effects); all by default.
    nsim : int
        Bootstrap simulations (``method="boot"``).
    seed : int, optional
        Bootstrap seed.
    n_jobs : int
        Bootstrap processes.
    progress : bool, optional
        Bootstrap progress bar; by default when stderr is a terminal.
    client : distributed.Client, optional
        Run the bootstrap on a Dask cluster (:func:`mixedfx.inference.bootstrap.bootstrap`).

    Returns
    -------
    DataFrame
        Rows named as lme4 with ``oldNames = FALSE`` (``sd_(Intercept)|Subject``,
        ``cor_Days.(Intercept)|Subject``, ..., ``sigma``, then the fixed
        effects); columns named from the level (``"2.5 %"``, ``"97.5 %"``).
    """
    if method not in _METHODS:
        raise ValueError(f"method must be one of {', '.join(_METHODS)}, not {method!r}")
    names = variance_names(fit) + list(fit.fixef.index)
    chosen = select_parameters(parm, names, len(names) - len(fit.fixef))
    if method == "profile":
        return profile(fit, which=chosen, progress=progress).confint(level)
    if method == "Wald":
        return wald_confint(fit, level).iloc[chosen]
    boot = bootstrap(fit, parameter_vector, nsim, seed=seed, n_jobs=n_jobs, progress=progress, client=client)
    return boot.confint(level).iloc[chosen]
