"""Likelihood profiles of a fitted mixed model (lme4's ``profile.merMod``).

For each parameter, on lme4's sd/cor scale or a fixed effect, the deviance is
minimised over all the others with that parameter held at a sequence of values
walking away from the estimate in both directions; the signed square root of
the deviance increase is zeta. A REML fit is profiled by maximum likelihood,
as lme4 does. The steps follow lme4: the next value is chosen so zeta moves by
about ``delta``, each optimisation starts from the previous point, and a walk
stops past ``sqrt(qchisq(1 - alphamax, npar))`` or at the parameter's bound.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import chdtri, ndtri
from typing import TYPE_CHECKING

from mixedfx.errors import MixedFxError
from mixedfx.inference.bootstrap import percent_labels, progress_bar, tail_probabilities
from mixedfx.inference.fitted import fitted_model, is_generalized
from mixedfx.optim.optimize import bobyqa, first_steps_near
from mixedfx.inference.sdcor import (correlation_mask, parameter_vector, sdcor_to_theta, select_parameters, theta_to_sdcor,
                           variance_names)
from mixedfx.inference.profile_spline import profile_interval

if TYPE_CHECKING:
    from tqdm import tqdm

    from mixedfx.inference.fitted import MixedFit

__all__ = ["profile", "LikelihoodProfile"]

# BOBYQA's first steps at each point of a walk, which starts near the previous point's optimum
_NEAR_SHARE, _NEAR_LEAST = 0.1, 0.02



@dataclass(frozen=True)
class LikelihoodProfile:
    """The profiles of a fit's parameters (lme4's ``thpr`` object).

    Attributes
    ----------
    frame : DataFrame
        One row per profile point: ``parameter`` (the one held fixed), ``zeta``,
        ``value`` (its value), then every parameter's value at that point.
        Sorted by parameter, then value.
    estimates : Series
        The maximum-likelihood estimates the profiles start from.
    bounds : DataFrame
        Per profiled parameter, the interval end used where its profile does not
        reach a level (columns ``lower``, ``upper``; lme4's ``lower``/``upper``).
    n_variance : int
        How many of the profiled parameters (the first ones) are variance parameters.
    """

    frame: pd.DataFrame
    estimates: pd.Series
    bounds: pd.DataFrame
    n_variance: int

    def confint(self, level: float = 0.95, parm: Sequence[str | int] | str | None = None) -> pd.DataFrame:
        """Profile confidence intervals (lme4's ``confint.thpr``).

        Parameters
        ----------
        level : float
            Confidence level.
        parm : str, int or sequence of them, optional
            Parameters (names, positions, ``"theta_"`` or ``"beta_"``); all
            profiled ones by default.

        Returns
        -------
        DataFrame
            Rows named as lme4, columns ``"2.5 %"`` and ``"97.5 %"`` (by level).
        """
        labels = percent_labels(level)
        targets = ndtri(tail_probabilities(level))
        profiled = list(self.bounds.index)
        names = [profiled[i] for i in select_parameters(parm, profiled, self.n_variance)]
        rows = []
        for name in names:
            points = self.frame[self.frame["parameter"] == name]
            rows.append(profile_interval(points["value"].to_numpy(), points["zeta"].to_numpy(), targets,
                                         tuple(self.bounds.loc[name]), name))
        return pd.DataFrame(np.array(rows).reshape(-1, 2), index=names, columns=labels)


@dataclass
class _Walk:
    """How the profile walks: lme4's step rule, its stopping rule, the optimiser settings and the progress bar."""

    delta: float
    cutoff: float
    maxpts: int
    maxmult: float
    devtol: float
    options: dict
    bar: tqdm

    def next_value(self, rows: list[np.ndarray], col: int, low: float, high: float, minstep: float = 1e-6) -> float:
        """lme4's ``nextpar``: a step that moves zeta by about delta, capped, within the bounds."""
        (p0, z0), (p1, z1) = (rows[-2][col], rows[-2][0]), (rows[-1][col], rows[-1][0])
        num, denom = p1 - p0, z1 - z0
        step = self.delta * num / denom if np.isfinite(denom) and denom != 0 else np.nan
        if np.isnan(step):
            warnings.warn("Last two rows have identical or NA .zeta values: using minstep", stacklevel=4)
            step = minstep
        elif step < 0:
            warnings.warn("unexpected decrease in profile: using minstep", stacklevel=4)
            step = minstep
        else:
            step = min(step, abs(self.maxmult * num))
        return float(min(high, max(low, p1 + np.sign(num) * step)))

    def fill(self, rows: list[np.ndarray], col: int, low: float, high: float,
             zeta_at: Callable[[float, np.ndarray], np.ndarray]) -> list[np.ndarray]:
        """lme4's ``fillmat``: extend ``rows`` (the last two set the direction) until zeta passes the cutoff."""
        while (len(rows) < self.maxpts and low < rows[-1][col] < high
               and not abs(rows[-1][0]) > self.cutoff):
            rows.append(zeta_at(self.next_value(rows, col, low, high), rows[-1]))
        return rows

    def both_ways(self, origin: np.ndarray, shifted: np.ndarray, col: int, low: float, high: float,
                  zeta_at: Callable[[float, np.ndarray], np.ndarray]) -> list[np.ndarray]:
        """Walk from the estimate (``origin``) past ``shifted``, then the other way unless at the bound.

        One parameter's profile: one step of the progress bar.
        """
        rows = self.fill([origin, shifted], col, low, high, zeta_at)
        if origin[col] > low:
            rows += self.fill([shifted, origin], col, low, high, zeta_at)[2:]
        self.bar.update(1)
        return rows

    def signed_root(self, deviance: float, base: float, value: float, estimate: float) -> float:
        """zeta from a deviance: checks for a lower deviance than the fit's, as lme4."""
        diff = deviance - base
        if diff < -self.devtol:
            raise MixedFxError(f"profiling detected new, lower deviance (by {-diff:.3g}): the fit had not converged")
        if diff < 0:
            warnings.warn(f"slightly lower deviances (diff={diff:g}) detected", stacklevel=4)
        return float(np.sign(value - estimate) * np.sqrt(max(diff, 0.0)))


def _minimise_others(dd: Callable[[np.ndarray], float], start: np.ndarray, w: int, lower: np.ndarray,
                     correlation: np.ndarray, options: dict) -> tuple[float, np.ndarray]:
    """Minimise ``dd`` over every parameter but the w-th; correlations are optimised as sin(x) (bounds +-1)."""
    free = np.arange(len(start)) != w
    cor = correlation[free]

    def full(x: np.ndarray) -> np.ndarray:
        pars = start.copy()
        pars[free] = np.where(cor, np.sin(x), x)
        return pars

    x0 = np.where(cor, np.arcsin(np.clip(start[free], -1.0, 1.0)), start[free])
    # each point starts from the previous one's optimum: small first steps, as a refit's
    opt = bobyqa(lambda x: dd(full(x)), x0, np.where(cor, -np.inf, lower[free]),
                 initial_step=first_steps_near(x0, _NEAR_SHARE, _NEAR_LEAST), **options)
    return opt.fval, full(opt.x)


def _parameter_profiles(dd: Callable[[np.ndarray], float], estimates: np.ndarray, base: float, chosen: list[int],
                        lower: np.ndarray, upper: np.ndarray, correlation: np.ndarray, walk: _Walk,
                        extra: Callable[[np.ndarray], np.ndarray]) -> dict[int, list[np.ndarray]]:
    """Profiles over the parameters ``dd`` takes: each held fixed in turn, the others optimised.

    Rows are zeta, the parameters, then ``extra(parameters)`` (a linear model's fixed effects).
    """
    out = {}
    for w in chosen:
        estimate = estimates[w]

        def zeta_at(value: float, previous: np.ndarray, w: int = w, estimate: float = estimate) -> np.ndarray:
            start = previous[1: 1 + len(estimates)].copy()
            start[w] = value
            fval, pars = _minimise_others(dd, start, w, lower, correlation, walk.options)
            zeta = walk.signed_root(fval, base, value, estimate) if np.isfinite(fval) else np.nan
            return np.concatenate([[zeta], pars, extra(pars)])

        origin = np.concatenate([[0.0], estimates, extra(estimates)])
        shifted = zeta_at(0.001 if estimate == 0 else estimate * 1.01, origin)
        out[w] = walk.both_ways(origin, shifted, 1 + w, lower[w], upper[w], zeta_at)
    return out


_Profiles = tuple[dict[int, list[np.ndarray]], np.ndarray, "MixedFit"]


def _lmm_profiles(fit: MixedFit, chosen: list[int], walk: _Walk) -> _Profiles:
    """Profiles of a linear model, refitted by ML: variance parameters through devfun2, fixed effects by refits."""
    ml = fit.refit_ml()
    model, ks = ml.model, ml.ks
    base, n = ml.deviance, model.n
    estimates = parameter_vector(ml).to_numpy()
    nvp = len(estimates) - model.p

    def dd(pars: np.ndarray) -> float:
        s = pars[nvp - 1]
        if not s > 0:
            return np.inf
        try:
            return model.deviance_at_scale(sdcor_to_theta(pars[: nvp - 1], ks, s), s)
        except np.linalg.LinAlgError:
            return np.inf

    def fixed_effects(pars: np.ndarray) -> np.ndarray:
        return model.factor(sdcor_to_theta(pars[: nvp - 1], ks, pars[nvp - 1])).solve_coefficients()[0]

    if not np.isclose(dd(estimates[:nvp]), base, rtol=1e-5, atol=0):
        raise MixedFxError("profiling over both the residual variance and fixed effects is not numerically "
                           "consistent with profiling over the fixed effects only")
    lower = np.where(correlation_mask(ks), -1.0, 0.0)
    lower, upper = np.append(lower, 0.0), np.append(np.where(lower < 0, 1.0, np.inf), np.inf)
    profiles = _parameter_profiles(dd, estimates[:nvp], base, [w for w in chosen if w < nvp], lower, upper,
                                   np.append(correlation_mask(ks), False), walk, fixed_effects)
    stderr = np.sqrt(np.diag(ml.vcov.to_numpy()))
    for j in (w - nvp for w in chosen if w >= nvp):
        estimate = estimates[nvp + j]

        def zeta_at(value: float, previous: np.ndarray, j: int = j, estimate: float = estimate) -> np.ndarray:
            held = model.with_fixed_effect(j, value)
            opt = bobyqa(held.objective, ml.theta, model.lower, **walk.options)
            factor = held.factor(opt.x)
            s = np.sqrt(factor.pwrss / n)
            zeta = walk.signed_root(opt.fval, base, value, estimate)
            return np.concatenate([[zeta], theta_to_sdcor(opt.x, ks, s), [s],
                                   np.insert(factor.solve_coefficients()[0], j, value)])

        origin = np.concatenate([[0.0], estimates])
        shifted = zeta_at(estimate + walk.delta * stderr[j], origin)
        profiles[nvp + j] = walk.both_ways(origin, shifted, 1 + nvp + j, -np.inf, np.inf, zeta_at)
    bounds = np.column_stack([np.append(lower, np.full(model.p, np.nan)), np.append(upper, np.full(model.p, np.nan))])
    return profiles, bounds, ml


def _glmm_profiles(fit: MixedFit, chosen: list[int], walk: _Walk) -> _Profiles:
    """Profiles of a generalized model: the Laplace (or AGQ) deviance over sd/cor parameters and fixed effects."""
    model, ks = fit.model, fit.ks
    if fit.family.has_dispersion:
        raise MixedFxError("can't (yet) profile GLMMs with non-fixed scale parameters (as lme4)")
    if model.n_agq == 0:
        raise MixedFxError("profiles need the Laplace or AGQ deviance; refit with nAGQ >= 1")
    optimum = fit.optimum
    objective = model.stage2_objective(optimum.state.eta if optimum.eta_start is None else optimum.eta_start)
    nvp = len(fit.theta)

    def dd(pars: np.ndarray) -> float:
        return objective(np.concatenate([sdcor_to_theta(pars[:nvp], ks), pars[nvp:]]))

    estimates = parameter_vector(fit).to_numpy()
    base = -2.0 * fit.loglik
    if not np.isclose(dd(estimates), base, rtol=1e-5, atol=0):
        raise MixedFxError("the deviance at the estimates differs from the fit's")
    correlation = np.append(correlation_mask(ks), np.zeros(model.p, dtype=bool))
    lower = np.where(correlation, -1.0, 0.0)
    lower[nvp:] = -np.inf
    upper = np.where(correlation, 1.0, np.inf)
    profiles = _parameter_profiles(dd, estimates, base, chosen, lower, upper, correlation, walk,
                                   lambda pars: np.zeros(0))
    return profiles, np.column_stack([lower, upper]), fit


def profile(fit: MixedFit, which: Sequence[str | int] | str | None = None, alphamax: float = 0.01,
            maxpts: int = 100, delta: float | None = None, delta_cutoff: float = 1 / 8, devtol: float = 1e-9,
            maxmult: float = 10.0, progress: bool | None = None) -> LikelihoodProfile:
    """Likelihood profiles of a fit's parameters (lme4's ``profile``).

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        The fitted model (a REML fit is profiled by maximum likelihood; a
        generalized one needs nAGQ >= 1 and no scale parameter).
    which : str, int or sequence of them, optional
        Parameters to profile (names, positions, ``"theta_"``, ``"beta_"``);
        all by default.
    alphamax : float
        A walk stops once zeta passes ``sqrt(qchisq(1 - alphamax, npar))``.
    maxpts : int
        Most points per direction.
    delta : float, optional
        Target change of zeta per step; ``cutoff * delta_cutoff`` by default.
    delta_cutoff : float
        See ``delta``.
    devtol : float
        A deviance lower than the fit's by more than this is an error.
    maxmult : float
        A step is at most this multiple of the previous one.
    progress : bool, optional
        Show a progress bar on stderr (tqdm), a step per parameter; by default
        when stderr is a terminal.

    Returns
    -------
    LikelihoodProfile
    """
    fitted_model(fit, "profile")
    names = variance_names(fit) + list(fit.fixef.index)
    nvp = len(names) - len(fit.fixef)
    ctrl = fit.control
    cutoff = float(np.sqrt(chdtri(len(names), alphamax)))  # qchisq(1 - alphamax, df)
    chosen = select_parameters(which, names, nvp)
    build = _glmm_profiles if is_generalized(fit) else _lmm_profiles
    with progress_bar(len(chosen), "profile", progress) as bar:
        walk = _Walk(delta=cutoff * delta_cutoff if delta is None else delta, cutoff=cutoff, maxpts=maxpts,
                     maxmult=maxmult, devtol=devtol, options=ctrl.optimizer_options, bar=bar)
        profiles, bounds, base_fit = build(fit, chosen, walk)
    frames = []
    for w in chosen:
        table = pd.DataFrame(np.unique(np.array(profiles[w]), axis=0), columns=["zeta", *names])
        table.insert(0, "parameter", names[w])
        table.insert(2, "value", table[names[w]])
        frames.append(table.sort_values("value", kind="stable"))
    frame = pd.concat(frames, ignore_index=True)
    profiled = [names[w] for w in chosen]
    return LikelihoodProfile(frame=frame, estimates=parameter_vector(base_fit),
                             bounds=pd.DataFrame(bounds[chosen], index=profiled, columns=["lower", "upper"]),
                             n_variance=sum(w < nvp for w in chosen))
