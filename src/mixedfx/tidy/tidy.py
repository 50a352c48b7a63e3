"""broom.mixed's ``tidy.merMod``: a fit's estimates as one long table.

One row per fixed effect (``effect = "fixed"``), variance parameter
(``"ran_pars"``), conditional mode (``"ran_vals"``) or per-level coefficient
(``"ran_coefs"``), in that order whatever order ``effects`` names them in, as
broom.mixed 0.2.9.4 binds them. The columns are broom.mixed's, and only those
the chosen effects and options fill.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import ndtri, stdtrit

from mixedfx.inference.bootstrap import tail_probabilities
from mixedfx.report.ddf_names import resolve_ddf

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["CONF_METHODS", "EFFECTS", "SCALES", "tidy"]

EFFECTS = ("fixed", "ran_pars", "ran_vals", "ran_coefs")
"""broom.mixed's effect types, in the order their rows come."""
CONF_METHODS = ("Wald", "profile", "boot")
SCALES = ("sdcor", "vcov")
"""The scales of the ran_pars rows: standard deviations and correlations, or variances and covariances."""

_COLUMNS = ("effect", "group", "level", "term", "estimate", "std.error", "statistic", "df", "p.value",
            "conf.low", "conf.high")
_FIXED_COLUMNS = {"Estimate": "estimate", "Std. Error": "std.error", "df": "df", "t value": "statistic",
                  "z value": "statistic", "Pr(>|t|)": "p.value", "Pr(>|z|)": "p.value"}
_PREFIXES = {"sdcor": ("sd", "cor"), "vcov": ("var", "cov")}
_RAN_PARS_SEPARATOR = "__"  # broom.mixed's option broom.mixed.sep1
_RESIDUAL_TERM = "Observation"


def tidy(fit: MixedFit, effects: str | Sequence[str] = ("ran_pars", "fixed"), conf_int: bool = False,
         conf_level: float = 0.95, conf_method: str = "Wald", ddf: str | None = None,
         scales: str | Sequence[str | None] | None = None, exponentiate: bool = False,
         **confint_options: Any) -> pd.DataFrame:
    """A fit's estimates as one table, as broom.mixed's ``tidy(fit, ...)``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
    effects : str or sequence of str
        Any of ``"fixed"``, ``"ran_pars"`` (standard deviations and
        correlations, the residual's named ``sd__Observation``), ``"ran_vals"``
        (conditional modes and their conditional standard deviations) and
        ``"ran_coefs"`` (per-level coefficients, as ``fit.coef()``).
    conf_int : bool
        Add ``conf.low`` and ``conf.high``.
    conf_level : float
    conf_method : {"Wald", "profile", "boot"}
        As lme4's ``confint``: Wald intervals (missing for ran_pars, as lme4
        gives none), likelihood-profile or parametric-bootstrap ones. ran_vals
        have Wald intervals only; ran_coefs have none (missing, with a warning).
    ddf : {None, "Satterthwaite", "Kenward-Roger", "lme4"}
        lmerTest's table of the fixed effects (a linear fit's): it adds ``df`` and
        ``p.value`` and makes their intervals t intervals on those df, whatever
        ``conf_method`` is (as broom.mixed does for an lmerTest fit; a warning
        says so). ``"lme4"`` is lme4's table with normal (Wald) intervals.
    scales : str or sequence, optional
        ``"vcov"`` for ran_pars as variances and covariances (``var__``,
        ``cov__``) instead of ``"sdcor"``; or, as broom.mixed, one entry per
        effect (None for those other than ran_pars).
    exponentiate : bool
        The fixed effects' estimates and intervals exponentiated, their standard
        errors times the exponentiated estimate (the delta method).
    **confint_options
        Passed to ``fit.confint`` for profile and bootstrap intervals: ``nsim``,
        ``seed``, ``n_jobs``, ``progress``, ``client`` (a Dask cluster).

    Returns
    -------
    DataFrame
        Of the columns effect, group, level, term, estimate, std.error,
        statistic, df, p.value, conf.low, conf.high those the rows fill: lme4's
        fixed effects give estimate, std.error and statistic (a glmer's also
        p.value from z); ``ddf`` adds df and p.value; level comes with ran_vals
        and ran_coefs.

    Raises
    ------
    ValueError
        An unknown effect, scale or interval method, profile or bootstrap
        intervals of ran_vals, or of ran_pars on the ``"vcov"`` scale.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> table = tidy(fit)
    >>> list(table.columns)
    ['effect', 'group', 'term', 'estimate', 'std.error', 'statistic']
    >>> table[["effect", "term"]].to_numpy().tolist()  # doctest: +NORMALIZE_WHITESPACE
    [['fixed', '(Intercept)'], ['fixed', 'Days'], ['ran_pars', 'sd__(Intercept)'],
     ['ran_pars', 'cor__(Intercept).Days'], ['ran_pars', 'sd__Days'], ['ran_pars', 'sd__Observation']]
    >>> tidy(fit, "fixed", conf_int=True, ddf="Kenward-Roger")[["df", "conf.low"]].round(2).to_numpy().tolist()
    [[17.0, 237.01], [17.0, 7.21]]
    """
    named = [effects] if isinstance(effects, str) else list(effects)
    chosen = _effect_names(named)
    scale = _ran_pars_scale(scales, named, chosen)
    resolve_ddf(ddf)  # an unknown name is refused whichever effects are asked for
    if conf_int:
        _check_intervals(chosen, conf_method, scale)
    level = conf_level if conf_int else None
    intervals = _parameter_intervals(fit, chosen, ddf, conf_method, conf_level, confint_options) if conf_int \
        else None
    parts = []
    if "fixed" in chosen:
        fixed = _fixed(fit, ddf, level, intervals, conf_method)
        parts.append(_exponentiated(fixed) if exponentiate else fixed)
    if "ran_pars" in chosen:
        parts.append(_ran_pars(fit, scale, intervals))
    if "ran_vals" in chosen:
        parts.append(_ran_vals(fit, level))
    if "ran_coefs" in chosen:
        parts.append(_ran_coefs(fit, conf_int))
    table = pd.concat(parts, ignore_index=True)
    return table[[c for c in _COLUMNS if c in table.columns]]


# --------------------------------------------------------------------------- arguments
def _effect_names(names: list[str]) -> list[str]:
    """The chosen effect types, in broom.mixed's row order."""
    unknown = [name for name in names if name not in EFFECTS]
    if unknown or not names:
        raise ValueError(f"unknown effect type {', '.join(map(repr, unknown)) or '(none given)'}: effects are "
                         f"{', '.join(EFFECTS)} (one name or several)")
    return [name for name in EFFECTS if name in names]


def _ran_pars_scale(scales: str | Sequence[str | None] | None, named: list[str], chosen: list[str]) -> str:
    """The ran_pars scale: one name, or broom.mixed's one entry per named effect."""
    if scales is None:
        return "sdcor"
    if isinstance(scales, str):
        scale: str | None = scales
    else:
        entries = list(scales)
        if len(entries) != len(named):
            raise ValueError(f"scales has {len(entries)} entries for {len(named)} effects: give one per effect "
                             "(None for those other than ran_pars), or one scale name")
        scale = entries[named.index("ran_pars")] if "ran_pars" in chosen else None
    scale = "sdcor" if scale is None else scale
    if scale not in SCALES:
        raise ValueError(f"unrecognized ran_pars scale {scale!r}: scales are {', '.join(map(repr, SCALES))}")
    return scale


def _check_intervals(chosen: list[str], conf_method: str, scale: str) -> None:
    """Refuse, before anything is computed, intervals that broom.mixed refuses or would mislabel."""
    if conf_method not in CONF_METHODS:
        raise ValueError(f"conf_method must be one of {', '.join(map(repr, CONF_METHODS))}, not {conf_method!r}")
    if conf_method != "Wald" and "ran_vals" in chosen:
        raise ValueError(f"only Wald intervals are available for ran_vals (conditional modes), not {conf_method!r}")
    if conf_method != "Wald" and "ran_pars" in chosen and scale == "vcov":
        # broom.mixed puts the sd/cor intervals beside variance estimates; a covariance's cannot be had from them
        raise ValueError(f"{conf_method} intervals of ran_pars are on the sd/cor scale: use scales='sdcor' "
                         "with conf_int, or conf_int=False with scales='vcov'")


# --------------------------------------------------------------------------- intervals
def _parameter_intervals(fit: MixedFit, chosen: list[str], ddf: str | None, conf_method: str,
                         conf_level: float, options: dict[str, Any]) -> pd.DataFrame | None:
    """``fit.confint`` of the parameters whose intervals the table takes from it, in one call."""
    fixed = "fixed" in chosen and ddf is None
    variance = "ran_pars" in chosen
    if not (fixed or variance):
        return None
    parm = None if fixed and variance else ("beta_" if fixed else "theta_")
    return fit.confint(method=conf_method, level=conf_level, parm=parm, **options)


def _with_intervals(frame: pd.DataFrame, bounds: np.ndarray) -> pd.DataFrame:
    return frame.assign(**{"conf.low": bounds[:, 0], "conf.high": bounds[:, 1]})


def _symmetric_intervals(frame: pd.DataFrame, quantile: float | np.ndarray) -> pd.DataFrame:
    """estimate -+ quantile * std.error."""
    estimate, half = frame["estimate"].to_numpy(), quantile * frame["std.error"].to_numpy()
    return _with_intervals(frame, np.column_stack([estimate - half, estimate + half]))


# --------------------------------------------------------------------------- the four effects
def _fixed(fit: MixedFit, ddf: str | None, conf_level: float | None, intervals: pd.DataFrame | None,
           conf_method: str) -> pd.DataFrame:
    """lme4's (or lmerTest's) coefficient table with broom.mixed's names, and the intervals at ``conf_level``."""
    table = fit.coef_table(ddf)
    frame = pd.DataFrame({"effect": "fixed", "term": list(table.index)})
    for column, name in _FIXED_COLUMNS.items():
        if column in table.columns:
            frame[name] = table[column].to_numpy(dtype=float)
    if conf_level is None:
        return frame
    if ddf is not None:
        if conf_method != "Wald":
            warnings.warn(f"with ddf, the fixed effects' intervals are Wald intervals (t on the table's df), not "
                          f"{conf_method} intervals, as broom.mixed's; conf_method applies to ran_pars", stacklevel=3)
        upper = tail_probabilities(conf_level)[1]
        return _symmetric_intervals(frame, stdtrit(frame["df"].to_numpy(), upper) if "df" in frame
                                    else ndtri(upper))
    return _with_intervals(frame, intervals.loc[list(table.index)].to_numpy(dtype=float))


def _exponentiated(fixed: pd.DataFrame) -> pd.DataFrame:
    """Estimates and interval ends exponentiated, standard errors by the delta method."""
    out = fixed.copy()
    for column in ("estimate", "conf.low", "conf.high"):
        if column in out:
            out[column] = np.exp(out[column])
    out["std.error"] = out["std.error"] * out["estimate"]
    return out


def _ran_pars(fit: MixedFit, scale: str, intervals: pd.DataFrame | None) -> pd.DataFrame:
    """lme4's ``as.data.frame(VarCorr(fit), order = "lower.tri")`` on one scale, named as broom.mixed."""
    rows = _lower_triangle_order(pd.DataFrame(fit.varcorr()))
    var_prefix, cov_prefix = _PREFIXES[scale]
    terms = []
    for var1, var2 in zip(rows["var1"], rows["var2"]):
        names = [v for v in (var1, var2) if not pd.isna(v)] or [_RESIDUAL_TERM]
        prefix = var_prefix if len(names) == 1 else cov_prefix
        terms.append(prefix + _RAN_PARS_SEPARATOR + ".".join(names))
    frame = pd.DataFrame({"effect": "ran_pars", "group": rows["grp"].to_numpy(), "term": terms,
                          "estimate": rows[scale].to_numpy(dtype=float)})
    if intervals is None:
        return frame
    return _with_intervals(frame, intervals.iloc[: len(frame)].to_numpy(dtype=float))


def _lower_triangle_order(varcorr: pd.DataFrame) -> pd.DataFrame:
    """VarCorr's rows term by term as the lower triangle, column by column: each variance, then its covariances.

    ``fit.varcorr()`` lists a term's variances, then its covariances (lme4's
    ``order = "cov.last"``); theta, confint and broom.mixed take the lower
    triangle's order.
    """
    order: list[int] = []
    for group in dict.fromkeys(varcorr["grp"]):
        block = varcorr.index[varcorr["grp"] == group]
        variances = [i for i in block if pd.isna(varcorr.at[i, "var2"])]
        covariances = [i for i in block if not pd.isna(varcorr.at[i, "var2"])]
        for i in variances:
            order.append(i)
            order.extend(j for j in covariances if varcorr.at[j, "var1"] == varcorr.at[i, "var1"])
    return varcorr.loc[order].reset_index(drop=True)


def _ran_vals(fit: MixedFit, conf_level: float | None) -> pd.DataFrame:
    """lme4's ``as.data.frame(ranef(fit, condVar = TRUE))`` with broom.mixed's names; Wald intervals."""
    modes = fit.ranef_table()
    frame = pd.DataFrame({"effect": "ran_vals", "group": modes["grpvar"].astype(str).to_numpy(),
                          "level": modes["grp"].astype(str).to_numpy(), "term": modes["term"].astype(str).to_numpy(),
                          "estimate": modes["condval"].to_numpy(dtype=float),
                          "std.error": modes["condsd"].to_numpy(dtype=float)})
    if conf_level is None:
        return frame
    return _symmetric_intervals(frame, ndtri(tail_probabilities(conf_level)[1]))


def _ran_coefs(fit: MixedFit, conf_int: bool) -> pd.DataFrame:
    """``fit.coef()`` per grouping factor, term by term (broom.mixed's gather of each table)."""
    parts = []
    for group, table in fit.coef().items():
        levels = table.index.astype(str).to_numpy()
        for term in table.columns:
            parts.append(pd.DataFrame({"effect": "ran_coefs", "group": group, "level": levels, "term": str(term),
                                       "estimate": table[term].to_numpy(dtype=float)}))
    frame = pd.concat(parts, ignore_index=True)
    if not conf_int:
        return frame
    warnings.warn("intervals are not available for random-effects coefficients (ran_coefs): returning NaN",
                  stacklevel=3)
    return _with_intervals(frame, np.full((len(frame), 2), np.nan))
