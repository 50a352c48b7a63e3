"""Refit a model with every available optimiser and compare (lme4's ``allFit``)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from mixedfx.inference.fitted import fitted_model
from mixedfx.optim.optimize import OPTIMIZERS

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

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

    fits: dict[str, MixedFit | Exception]
    times: pd.Series

    def _ok(self) -> dict[str, MixedFit]:
        return {name: fit for name, fit in self.fits.items() if not isinstance(fit, Exception)}

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
        return {name: (fit.messages if not isinstance(fit, Exception) else [f"{type(fit).__name__}: {fit}"])
                for name, fit in self.fits.items()}

    def __str__(self) -> str:
        parts = [("$which.OK", pd.Series({k: not isinstance(v, Exception) for k, v in self.fits.items()})),
                 ("$msgs", pd.Series({k: "; ".join(v) or "[OK]" for k, v in self.messages.items()})),
                 ("$fixef", self.fixef), ("$llik", self.llik), ("$sdcor", self.sdcor), ("$theta", self.theta),
                 ("$times", self.times), ("$feval", self.feval)]
        return "\n\n".join(f"{title}\n{table.to_string()}" for title, table in parts)

    def __repr__(self) -> str:
        return self.__str__()


def all_fit(fit: MixedFit, optimizers: list[str] | None = None) -> AllFitResult:
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
    fitted_model(fit, "all_fit")
    fits: dict[str, MixedFit | Exception] = {}
    times = {}
    for name in names:
        start = time.perf_counter()
        try:
            fits[name] = fit.reoptimize(name)
        except (ValueError, ArithmeticError) as exc:
            fits[name] = exc
        times[name] = time.perf_counter() - start
    return AllFitResult(fits=fits, times=pd.Series(times, name="times"))
