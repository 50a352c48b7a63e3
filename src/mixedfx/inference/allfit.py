"""Refit a model with every available optimiser and compare (lme4's ``allFit``)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from mixedfx.fits.glmer import GlmerFit
from mixedfx.fits.lmer import LmerFit
from mixedfx.optim.optimize import OPTIMIZERS
from mixedfx.fits.base import MixedModelFit

__all__ = ["all_fit", "AllFitResult"]


@dataclass(frozen=True)
class AllFitResult:
    """One refit per optimiser, with lme4's ``summary(allFit(...))`` tables as properties.

    Attributes
    ----------
    fits : dict
        Optimiser name to its fit, or to the exception it raised.
    times : Series
        Seconds per optimiser.
    """

    fits: dict[str, MixedModelFit | Exception]
    times: pd.Series

    def _ok(self) -> dict[str, MixedModelFit]:
        return {name: fit for name, fit in self.fits.items() if isinstance(fit, MixedModelFit)}

    @property
    def llik(self) -> pd.Series:
        """Log-likelihood per optimiser."""
        return pd.Series({name: fit.loglik for name, fit in self._ok().items()}, name="llik")

    @property
    def fixef(self) -> pd.DataFrame:
        """Fixed effects, one row per optimiser."""
        return pd.DataFrame({name: fit.fixef for name, fit in self._ok().items()}).T

    @property
    def sdcor(self) -> pd.DataFrame:
        """Standard deviations and correlations, one row per optimiser."""
        return pd.DataFrame({name: fit.sdcor() for name, fit in self._ok().items()}).T

    @property
    def theta(self) -> pd.DataFrame:
        """Theta, one row per optimiser."""
        return pd.DataFrame({name: fit.theta for name, fit in self._ok().items()}).T

    @property
    def feval(self) -> pd.Series:
        """Deviance evaluations per optimiser."""
        return pd.Series({name: fit.opt_summary.feval for name, fit in self._ok().items()}, name="feval")

    @property
    def messages(self) -> dict[str, list[str]]:
        """Each optimiser's messages (the error text where it failed)."""
        return {name: (fit.messages if isinstance(fit, MixedModelFit) else [f"{type(fit).__name__}: {fit}"])
                for name, fit in self.fits.items()}

    def __str__(self) -> str:
        parts = [("$which.OK", pd.Series({k: isinstance(v, MixedModelFit) for k, v in self.fits.items()})),
                 ("$msgs", pd.Series({k: "; ".join(v) or "[OK]" for k, v in self.messages.items()})),
                 ("$fixef", self.fixef), ("$llik", self.llik), ("$sdcor", self.sdcor), ("$theta", self.theta),
                 ("$times", self.times), ("$feval", self.feval)]
        return "\n\n".join(f"{title}\n{table.to_string()}" for title, table in parts)

    def __repr__(self) -> str:
        return self.__str__()


def all_fit(fit: MixedModelFit, optimizers: list[str] | None = None) -> AllFitResult:
    """Refit ``fit`` with each optimiser so a convergence warning can be judged (lme4's ``allFit``).

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        The fit to repeat; its model, control and data are reused.
    optimizers : list of str, optional
        Names from :data:`mixedfx.optim.optimize.OPTIMIZERS` (all by default).

    Returns
    -------
    AllFitResult
        Estimates, log-likelihoods, evaluations and messages per optimiser;
        an optimiser that fails is recorded with its error.
    """
    names = list(OPTIMIZERS) if optimizers is None else list(optimizers)
    unknown = [n for n in names if n not in OPTIMIZERS]
    if unknown:
        raise ValueError(f"unknown optimizer(s) {', '.join(unknown)}; available: {', '.join(OPTIMIZERS)}")
    if not isinstance(fit, (LmerFit, GlmerFit)):
        raise TypeError(f"all_fit needs a fit from lmer, glmer or glmer_nb, not {type(fit).__name__}")
    labels = dict(data_name=fit.data_name, weights_name=fit.weights_name, offset_name=fit.offset_name)
    fits: dict[str, MixedModelFit | Exception] = {}
    times = {}
    for name in names:
        start = time.perf_counter()
        try:
            if isinstance(fit, LmerFit):
                model, control = fit._model, fit._control
                fits[name] = LmerFit(model, model.optimize(control, OPTIMIZERS[name]), control, **labels)
            else:
                model = fit._model
                fits[name] = GlmerFit(model, model.fit(optimizer=OPTIMIZERS[name]), **labels)
        except (ValueError, ArithmeticError) as exc:
            fits[name] = exc
        times[name] = time.perf_counter() - start
    return AllFitResult(fits=fits, times=pd.Series(times, name="times"))
