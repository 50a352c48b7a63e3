"""Estimates, variances and degrees of freedom of linear functions of a fit's fixed effects, as emmeans'.

emmeans' ``emm_basis.merMod``: for a linear mixed model, ``lmer.df``
"kenward-roger" (the default) uses pbkrtest's adjusted covariance and
``Lb_ddf``; "satterthwaite" lmerTest's ``calcSatterth``; "asymptotic" the
fit's covariance and infinite df, as always for a generalized model. For a fit
by ML, pbkrtest's ``vcovAdj`` refits the model by REML and adjusts that fit's
covariance, while ``Lb_ddf`` reads the ML fit's: both are reproduced. Unlike
emmeans, no limit on the number of observations switches the method off
(emmeans' ``pbkrtest.limit`` and ``lmerTest.limit`` of 3000).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from mixedfx.inference.ddf import Satterthwaite, linear_function_variances, satterthwaite, satterthwaite_rows
from mixedfx.inference.fitted import is_generalized
from mixedfx.inference.kenward_roger import KenwardRoger, kenward_roger, kr_linear_functions

__all__ = ["DF_METHODS", "resolve_df_method", "Estimates", "FixedEffects", "fixed_effects"]

DF_METHODS = ("kenward-roger", "satterthwaite", "asymptotic")
"""emmeans' ``lmer.df`` methods, as its notes name them."""


def resolve_df_method(fit: Any, ddf: str | None) -> str:
    """emmeans' df method for a fit: its default (kenward-roger; asymptotic for glmer) or ``ddf``.

    Raises
    ------
    ValueError
        An unknown name, or Kenward-Roger or Satterthwaite for a generalized model.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> resolve_df_method(fit, None), resolve_df_method(fit, "Satterthwaite")
    ('kenward-roger', 'satterthwaite')
    """
    generalized = is_generalized(fit)
    if ddf is None:
        return "asymptotic" if generalized else "kenward-roger"
    method = ddf.lower() if isinstance(ddf, str) else None
    if method not in DF_METHODS:
        raise ValueError(f"ddf must be one of 'Kenward-Roger', 'Satterthwaite' or 'asymptotic' (any case), "
                         f"not {ddf!r}")
    if generalized and method != "asymptotic":
        raise ValueError(f"ddf={ddf!r} applies to linear mixed models; a generalized model's inference is "
                         "asymptotic (ddf='asymptotic')")
    return method


@dataclass(frozen=True)
class Estimates:
    """Estimates, variances and df of linear functions; NaN where a function is not estimable."""

    estimate: np.ndarray
    variance: np.ndarray
    df: np.ndarray


@dataclass(frozen=True)
class FixedEffects:
    """A fit's fixed effects, their covariance and df method, computed once for every table of one grid.

    Attributes
    ----------
    fit : LmerFit or GlmerFit
    beta : ndarray, shape (p,)
        The fixed effects.
    method : str
        One of :data:`DF_METHODS`.
    kenward_roger : KenwardRoger or None
        pbkrtest's adjustment, for "kenward-roger".
    satterthwaite : Satterthwaite or None
        lmerTest's derivatives, for "satterthwaite" (computed once for every table).
    """

    fit: Any
    beta: np.ndarray
    method: str
    kenward_roger: KenwardRoger | None
    satterthwaite: Satterthwaite | None = None

    @property
    def covariance(self) -> np.ndarray:
        """The covariance emmeans uses: Kenward and Roger's adjusted one, or the fit's."""
        if self.kenward_roger is not None:
            return self.kenward_roger.vcov_adj
        return self.fit.vcov.to_numpy(dtype=float)

    def evaluate(self, rows: np.ndarray, offset: np.ndarray, estimable: np.ndarray) -> Estimates:
        """Each row's ``l' beta + offset``, its variance and df (NaN where not estimable).

        Parameters
        ----------
        rows : ndarray, shape (r, p)
            L, over the fit's fixed effects.
        offset : ndarray, shape (r,)
        estimable : ndarray of bool, shape (r,)
        """
        out = np.full((3, rows.shape[0]), np.nan)
        use = rows[estimable]
        if use.shape[0]:
            out[0, estimable] = use @ self.beta + offset[estimable]
            if self.kenward_roger is not None:
                out[1, estimable], out[2, estimable] = kr_linear_functions(use, self.kenward_roger)
            elif self.satterthwaite is not None:
                out[1, estimable], out[2, estimable] = satterthwaite_rows(use, self.satterthwaite)
            else:
                out[1, estimable], out[2, estimable] = linear_function_variances(self.fit, use, self.method)
        return Estimates(*out)


def _kenward_roger(fit: Any) -> KenwardRoger:
    """pbkrtest's ``vcovAdj`` as ``Lb_ddf`` meets it: of the REML fit (refitted if need be), with the fit's vcov."""
    vcov = fit.vcov.to_numpy(dtype=float)
    reml = fit
    if not fit.reml:
        if fit.call is None:
            raise ValueError("Kenward-Roger's df for an ML fit need its REML refit, and this fit has no call to "
                             "refit (built stage by stage); use ddf='Satterthwaite' or 'asymptotic'")
        reml = fit.update(REML=True)
    parts = kenward_roger(reml.model, reml.theta, reml.sigma, reml.vcov.to_numpy(dtype=float))
    return dataclasses.replace(parts, vcov=vcov)


def fixed_effects(fit: Any, method: str) -> FixedEffects:
    """The fit's :class:`FixedEffects` under df ``method`` (one of :data:`DF_METHODS`).

    Examples
    --------
    >>> import numpy as np, mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> est = fixed_effects(fit, "kenward-roger").evaluate(np.array([[1.0, 5.0]]), np.zeros(1), np.ones(1, bool))
    >>> round(float(est.df[0]), 4)
    17.0
    """
    kr = _kenward_roger(fit) if method == "kenward-roger" else None
    derivatives = satterthwaite(fit) if method == "satterthwaite" else None
    return FixedEffects(fit=fit, beta=fit.fixef.to_numpy(dtype=float), method=method, kenward_roger=kr,
                        satterthwaite=derivatives)
