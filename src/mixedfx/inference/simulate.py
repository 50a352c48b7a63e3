"""Responses simulated from a fitted mixed model (lme4's ``simulate.merMod``).

The linear predictor keeps the conditional modes of the terms ``re_form``
names and draws new random effects, ``b = Lambda u`` with ``u`` standard
normal, for all the others (by default all of them, lme4's ``re.form = NA``).
A linear model adds Gaussian noise; a generalized one draws from its family
at the simulated means.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.matrices import used_rows
from mixedfx.design.memory import DOUBLE, exceeded_memory, too_large
from mixedfx.design.newdata import new_data_matrices, selected_terms
from mixedfx.errors import MixedFxError
from mixedfx.glmm.families import Family
from mixedfx.design.frame import grouping_factor
from mixedfx.inference.fitted import is_generalized
from mixedfx.linalg.layout import TermLayout, templates, term_layouts
from mixedfx.formula.evaluate import DataEnv
from mixedfx.formula.syntax import Name

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["simulate", "Simulator", "SeedLike"]

SeedLike = int | np.random.SeedSequence | np.random.Generator | None


class Simulator:
    """Draws responses from a fitted model; set up once, then draw as often as needed.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        The fitted model.
    re_form : str, optional
        None or ``"~0"``: new random effects for every term (lme4's default,
        ``re.form = NA``); a formula of bar terms (``"~(1 | g)"``): those terms
        keep their conditional modes, the others are drawn.
    newdata : DataFrame, optional
        Rows to simulate for; the fitted rows when omitted.
    allow_new_levels : bool
        Allow grouping levels the fit has not seen in ``newdata``.
    """

    def __init__(self, fit: MixedFit, re_form: str | None = None, newdata: pd.DataFrame | None = None,
                 allow_new_levels: bool = False) -> None:
        mm = fit.matrices
        self.fit, self.sigma = fit, fit.sigma
        self.two_column = np.ndim(mm.y) == 2
        if newdata is not None and self.two_column:
            raise MixedFxError(f"simulating {mm.response_name} for new data needs the numbers of trials, "
                               "which new data do not give; simulate the fitted rows instead")
        kept = selected_terms(mm, re_form) if re_form is not None else []
        eta = fit.predict(newdata, re_form=re_form if kept else "~0", allow_new_levels=allow_new_levels)
        # lme4 simulates the rows used (its predict with na.omit), whatever the fit's NA action
        self.eta = np.asarray(used_rows(eta, mm) if newdata is None else eta, dtype=float)
        self.n = len(self.eta)
        self.rows = mm.rows if newdata is None else newdata.index
        drawn = [i for i in range(len(mm.re_terms)) if i not in kept]
        tmpls = templates(fit.theta, fit.ks)
        scale = 1.0 if is_generalized(fit) else self.sigma
        # the terms whose effects are drawn afresh: their rows' layout, Lambda's template, and the rows
        # each row takes its effects from (a row of a level not drawn, -1, takes none: a mask of zeros)
        self.terms = [(layout, scale * tmpls[fit.term_order.index(i)], np.maximum(layout.codes, 0),
                       None if np.all(layout.codes >= 0) else (layout.codes >= 0)[:, None])
                      for i, layout in zip(drawn, self._term_rows(mm, drawn, newdata, allow_new_levels))]
        self.weights = self._prior_weights(fit, self.n, newdata)
        if is_generalized(fit) and fit.family.name == "binomial" and np.any(self.weights % 1 != 0):
            raise MixedFxError("cannot simulate from non-integer prior weights (binomial trials)")

    @staticmethod
    def _prior_weights(fit: MixedFit, n: int, newdata: pd.DataFrame | None) -> np.ndarray:
        """lme4's ``weights(fit)``: the prior weights, times the trials of a binomial model; 1 for new data."""
        if newdata is not None:
            return np.ones(n)
        if is_generalized(fit):
            return fit.model.weights
        weights = fit.matrices.weights
        return np.ones(n) if weights is None else np.asarray(weights, dtype=float)

    @staticmethod
    def _term_rows(mm: ModelMatrices, drawn: list[int], newdata: pd.DataFrame | None,
                   allow_new_levels: bool) -> list[TermLayout]:
        """The drawn terms' layouts (codes, z, number of levels) on the fitted rows or the new ones.

        On new data every level the new rows hold gets its own draw, seen in the
        fit or not (lme4 builds these terms from the new data).
        """
        if newdata is None:
            return term_layouts([mm.re_terms[i] for i in drawn])
        if not drawn:
            return []
        formula = "~" + " + ".join(f"({mm.re_terms[i].text})" for i in drawn)
        new = new_data_matrices(mm, newdata, re_form=formula, allow_new_levels=allow_new_levels)
        env = DataEnv(newdata, factorize=True)
        out = []
        for term in new.re_terms:
            group = grouping_factor(mm.spec.formula.bars[term.index].group, env, term.group)
            out.append(TermLayout(codes=group.codes, z=term.z, n_levels=len(group.levels)))
        return out

    def random_effects(self, rng: np.random.Generator, nsim: int) -> np.ndarray:
        """Z b for new random effects of the drawn terms (``b = Lambda u``, u standard normal).

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of the normal draws.
        nsim : int
            Number of simulations.

        Returns
        -------
        ndarray, shape (n, nsim)
        """
        total = np.zeros((self.n, nsim))
        for term, template, levels, present in self.terms:
            b = rng.standard_normal((nsim, term.n_levels, term.k)) @ template.T
            rows = b[:, levels] * term.z  # (nsim, n, k): each row's effects times its z
            if present is not None:
                rows = np.where(present, rows, 0.0)
            total += rows.sum(axis=2).T
        return total

    def draw(self, rng: np.random.Generator, nsim: int = 1) -> np.ndarray:
        """Simulated responses.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of the random numbers (random effects first, then the noise).
        nsim : int
            Number of simulations.

        Returns
        -------
        ndarray
            Shape (n, nsim); (n, 2, nsim) for a ``cbind(successes, failures)``
            response.
        """
        eta = self.eta[:, None] + self.random_effects(rng, nsim)
        if not is_generalized(self.fit):
            return eta + self.sigma * rng.standard_normal((self.n, nsim)) / np.sqrt(self.weights)[:, None]
        family = self.fit.family
        return _family_draw(family.factory, family, family.link.linkinv(eta), self.weights[:, None],
                            self.sigma, rng, self.two_column)


def _family_draw(kind: str, family: Family, mu: np.ndarray, wts: np.ndarray, sigma: float,
                 rng: np.random.Generator, two_column: bool) -> np.ndarray:
    """Draws from the family at means ``mu`` (lme4's ``simfunList``), shape of ``mu``."""
    if kind == "binomial":
        trials = np.broadcast_to(wts, mu.shape).astype(np.int64)
        successes = rng.binomial(trials, mu).astype(float)
        return np.stack([successes, trials - successes], axis=1) if two_column else successes / wts
    if np.any(wts != 1) and kind in ("poisson", "negative_binomial"):
        warnings.warn("ignoring prior weights", stacklevel=4)
    if kind == "poisson":
        return rng.poisson(mu).astype(float)
    if kind == "negative_binomial":
        return rng.negative_binomial(family.theta, family.theta / (family.theta + mu)).astype(float)
    if kind == "gaussian":
        return rng.normal(mu, sigma / np.sqrt(wts))
    shape = wts / sigma**2
    if kind == "Gamma":
        return rng.gamma(shape, mu / shape)
    if kind == "inverse_gaussian":
        return rng.wald(mu, np.broadcast_to(shape, mu.shape))
    raise MixedFxError(f"simulation not implemented for family {family.name}")


def _cbind_names(fit: MixedFit) -> list[str]:
    """Column names R's ``cbind`` gives a two-column response: symbols named, others V1, V2."""
    call = fit.matrices.spec.formula.response
    return [argname or (arg.id if isinstance(arg, Name) else f"V{i + 1}")
            for i, (arg, argname) in enumerate(zip(call.args, call.argnames))]


_SIMULATION_COPIES = 3
"""Arrays of n x nsim doubles a simulation holds at once (the draws, their sum, the frame)."""


def simulate(fit: MixedFit, nsim: int = 1, seed: SeedLike = None, re_form: str | None = None,
             newdata: pd.DataFrame | None = None, allow_new_levels: bool = False) -> pd.DataFrame:
    """Responses simulated from a fitted model, as lme4's ``simulate.merMod``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        The fitted model.
    nsim : int
        Number of simulated responses.
    seed : int, SeedSequence or Generator, optional
        Seed of numpy's random generator (the same seed gives the same draws).
    re_form : str, optional
        None or ``"~0"``: new random effects for every term in every simulation
        (lme4's default ``re.form = NA``); a formula of bar terms: those terms
        keep their conditional modes and the others are drawn.
    newdata : DataFrame, optional
        Rows to simulate for (prior weights 1); the fitted rows when omitted.
    allow_new_levels : bool
        Allow grouping levels the fit has not seen in ``newdata``.

    Returns
    -------
    DataFrame
        Columns ``sim_1`` .. ``sim_<nsim>``, one row per fitted (or new) row. A
        ``cbind(successes, failures)`` response gives two columns per
        simulation, as R's matrix columns: ``(sim_1, <name>)``, ...

    Notes
    -----
    Linear models: ``eta + sigma * (Z Lambda u + e / sqrt(w))``, u and e standard
    normal, w the prior weights. Generalized models draw from the family at
    ``linkinv(eta + Z Lambda u)``: binomial with the trials, Poisson, negative
    binomial (the fit's theta), Gamma and inverse Gaussian with shape
    ``w / sigma^2``, Gaussian with sd ``sigma / sqrt(w)``.
    """
    if not isinstance(nsim, (int, np.integer)) or isinstance(nsim, bool) or nsim < 1:
        raise ValueError(f"nsim must be a positive whole number, not {nsim!r}")
    simulator = Simulator(fit, re_form=re_form, newdata=newdata, allow_new_levels=allow_new_levels)
    # the draws, their random effects and the frame: a few copies of n x nsim doubles
    needed = _SIMULATION_COPIES * simulator.n * int(nsim) * (2 if simulator.two_column else 1) * DOUBLE
    if (left := exceeded_memory(needed, None)) is not None:
        raise too_large(needed, left, f"{nsim} simulations of {simulator.n} rows",
                        "simulate fewer at a time (e.g. in a loop over seeds), or use bootstrap(), which keeps "
                        "only each replicate's statistic")
    values = simulator.draw(np.random.default_rng(seed), int(nsim))
    names = [f"sim_{i + 1}" for i in range(nsim)]
    if simulator.two_column:
        columns = pd.MultiIndex.from_product([names, _cbind_names(fit)])
        frame = pd.DataFrame(values.transpose(0, 2, 1).reshape(simulator.n, -1), index=simulator.rows,
                             columns=columns)
    else:
        frame = pd.DataFrame(values, index=simulator.rows, columns=names)
    frame.attrs["seed"] = seed if isinstance(seed, (int, np.integer)) else None
    return frame
