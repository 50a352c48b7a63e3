"""Refit a model with each of lme4's ``allFit`` optimisers and compare (lme4 1.1-31's ``allFit``).

lme4's seven, by its names, and what runs for each here
(:data:`mixedfx.optim.optimize.OPTIMIZERS`):

==================================  ================================================================
lme4 (R package)                    mixedfx
==================================  ================================================================
``bobyqa`` (minqa)                  nlopt's BOBYQA (the same Powell algorithm) from minqa's first
                                    trust radius, ``min(0.95, 0.2 max|x0|)``, stopping only on its
                                    last, ``1e-6`` of it (minqa has no tolerance on the objective)
``Nelder_Mead`` (lme4)              nlopt's Nelder-Mead, of which lme4's is a port, at lme4's
                                    defaults: first steps 0.02, stopping on ``xt = 5e-4 xst`` alone
``nlminbwrap`` (R's nlminb, PORT)   scipy's SLSQP: like PORT's ``dmnfb``, a quasi-Newton method with a
                                    dense BFGS Hessian on forward differences that holds bounds
                                    exactly (an active set); it steps by line search where PORT
                                    keeps a trust region. Its tolerance is nlminb's ``rel.tol``
                                    (1e-10) relative to the objective at the start
``nmkbw`` (dfoptim's nmkb)          scipy's Nelder-Mead with nmkb's coefficients, on nmkb's
                                    coordinates (``log(x - lower)`` where bounded), from nmkb's
                                    regular simplex, to its tolerance (1e-6 on the simplex's
                                    values); for one parameter Brent's ``fmin`` on
                                    ``[lower, 100 x0]`` (scipy's bounded ``minimize_scalar``, R's
                                    ``optimize`` with optim's tolerance), as nmkbw does
``optimx.L-BFGS-B`` (R's optim)     scipy's L-BFGS-B (the same Fortran code) on R optim's central
                                    differences (``ndeps = 1e-3``, cut at the bounds), at optim's
                                    ``factr = 1e7``, ``pgtol = 0``
``nloptwrap.NLOPT_LN_NELDERMEAD``   nlopt's Nelder-Mead (nloptr's library), at nloptwrap's
                                    tolerances (the control's ``xtol_abs``, ``ftol_abs``)
``nloptwrap.NLOPT_LN_BOBYQA``       nlopt's BOBYQA, as every lmer fit (lme4's default optimiser)
==================================  ================================================================

Each optimiser runs both glmer stages, as lme4's control with one optimiser
does; the restarts at the boundary (lme4's ``restart_edge``) use it too. lme4's
second glmer stage starts bobyqa and Nelder_Mead with small steps
(``optwrap(adj = TRUE)``); here the fit's own small first steps stand in
(``GlmerControl.stage2_first_step``). Where the control sets nloptwrap's
tolerances, the optimisers other than nloptwrap's keep their own, as lme4's
``allFit`` gives each only its own settings.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from mixedfx.inference.bootstrap import progress_bar
from mixedfx.inference.fitted import fitted_model
from mixedfx.optim.optimize import OPTIMIZERS

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["all_fit", "AllFitResult", "ALLFIT_OPTIMIZERS"]

# lme4 1.1-31's allFit table (meth.tab.0), by the names allFit gives its results
ALLFIT_OPTIMIZERS = ("bobyqa", "Nelder_Mead", "nlminbwrap", "nmkbw", "optimx.L-BFGS-B",
                     "nloptwrap.NLOPT_LN_NELDERMEAD", "nloptwrap.NLOPT_LN_BOBYQA")


@dataclass(frozen=True)
class AllFitResult:
    """One refit per optimiser, with lme4's ``summary(allFit(...))`` pieces as properties.

    The tables of estimates (``fixef``, ``llik``, ``sdcor``, ``theta``,
    ``feval``) have a row per optimiser that ran; ``which_ok``, ``msgs`` and
    ``times`` one per optimiser tried.

    Attributes
    ----------
    fits : dict
        Optimiser name to its fit, or to the exception it raised.
    times : Series
        Elapsed seconds per optimiser.
    """

    fits: dict[str, MixedFit | Exception]
    times: pd.Series

    def _ok(self) -> dict[str, MixedFit]:
        return {name: fit for name, fit in self.fits.items() if not isinstance(fit, Exception)}

    @property
    def which_ok(self) -> pd.Series:
        """Whether each optimiser ran without error (lme4's ``which.OK``)."""
        return pd.Series({name: not isinstance(fit, Exception) for name, fit in self.fits.items()},
                         name="which.OK", dtype=bool)

    @property
    def llik(self) -> pd.Series:
        """Log-likelihood per optimiser."""
        return pd.Series({name: fit.loglik for name, fit in self._ok().items()}, name="llik", dtype=float)

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
        return pd.Series({name: fit.opt_summary.feval for name, fit in self._ok().items()}, name="feval",
                         dtype=int)

    @property
    def messages(self) -> dict[str, list[str]]:
        """Each optimiser's messages (the error text where it failed)."""
        return {name: (fit.messages if not isinstance(fit, Exception) else [f"{type(fit).__name__}: {fit}"])
                for name, fit in self.fits.items()}

    @property
    def msgs(self) -> pd.Series:
        """:attr:`messages` as a Series of lists, one per optimiser (lme4's ``msgs``; empty where all went well)."""
        return pd.Series(self.messages, name="msgs", dtype=object)

    def summary(self) -> dict[str, pd.Series | pd.DataFrame]:
        """lme4's ``summary(allFit(...))``: its pieces by lme4's names.

        Returns
        -------
        dict
            ``which.OK``, ``msgs``, ``fixef``, ``llik``, ``sdcor``, ``theta``,
            ``times``, ``feval``, in lme4's order.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=mfx.datasets.load("sleepstudy"))
        >>> list(all_fit(fit, ["bobyqa", "nmkbw"], progress=False).summary()["llik"].round(2))
        [-871.81, -871.81]
        """
        return {"which.OK": self.which_ok, "msgs": self.msgs, "fixef": self.fixef, "llik": self.llik,
                "sdcor": self.sdcor, "theta": self.theta, "times": self.times, "feval": self.feval}

    def __str__(self) -> str:
        parts = dict(self.summary(), msgs=self.msgs.map(lambda texts: "; ".join(texts) or "[OK]"))
        return "\n\n".join(f"${title}\n{table.to_string()}" for title, table in parts.items())

    def __repr__(self) -> str:
        return self.__str__()


def all_fit(fit: MixedFit, optimizers: list[str] | None = None, progress: bool | None = None) -> AllFitResult:
    """Refit ``fit`` with each optimiser so a convergence warning can be judged (lme4's ``allFit``).

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        The fit to repeat from its start; its model, control and data are reused.
    optimizers : list of str, optional
        Names from :data:`mixedfx.optim.optimize.OPTIMIZERS`; by default lme4's
        seven (:data:`ALLFIT_OPTIMIZERS`; the module's docstring says what
        stands in for each).
    progress : bool, optional
        Show a progress bar on stderr (tqdm); by default when stderr is a terminal.

    Returns
    -------
    AllFitResult
        Estimates, log-likelihoods, evaluations and messages per optimiser;
        an optimiser that fails is recorded with its error, as lme4 does.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=mfx.datasets.load("sleepstudy"))
    >>> result = all_fit(fit, progress=False)
    >>> bool(result.which_ok.all()), bool((result.llik - fit.loglik).abs().max() < 1e-4)
    (True, True)
    """
    names = list(ALLFIT_OPTIMIZERS) if optimizers is None else list(optimizers)
    unknown = [n for n in names if n not in OPTIMIZERS]
    if unknown:
        raise ValueError(f"unknown optimizer(s) {', '.join(unknown)}; available: {', '.join(OPTIMIZERS)}")
    fitted_model(fit, "all_fit")
    fits: dict[str, MixedFit | Exception] = {}
    times = {}
    with progress_bar(len(names), "all_fit", progress) as bar:
        for name in names:
            bar.set_postfix_str(name)
            start = time.perf_counter()
            try:
                fits[name] = fit.reoptimize(name)
            except Exception as error:  # noqa: BLE001 - lme4's allFit records every failure and goes on
                fits[name] = error
            times[name] = time.perf_counter() - start
            bar.update(1)
    return AllFitResult(fits=fits, times=pd.Series(times, name="times", dtype=float))
