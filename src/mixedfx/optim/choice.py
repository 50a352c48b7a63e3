"""Optimisers chosen by lme4's names (lmerControl's and glmerControl's ``optimizer``)."""

from __future__ import annotations

from collections.abc import Callable

from mixedfx.optim.optimize import OPTIMIZERS, OptSummary

__all__ = ["OPTIMIZER_NAMES", "optimizer_named"]

_ALIASES = {"nloptwrap": "nloptwrap.NLOPT_LN_BOBYQA"}
OPTIMIZER_NAMES = ("nloptwrap", *OPTIMIZERS)
"""The names ``optimizer`` takes: lme4's ``"nloptwrap"`` (BOBYQA through nlopt), then those of ``allFit``."""


def optimizer_named(name: str) -> Callable[..., OptSummary]:
    """The optimiser lme4 calls ``name`` (its stand-in, see :mod:`mixedfx.inference.allfit`).

    Raises
    ------
    ValueError
        An unknown name; the message lists the known ones.

    Examples
    --------
    >>> optimizer_named("Nelder_Mead").__name__
    'lme4_nelder_mead'
    """
    key = _ALIASES.get(name, name)
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; lme4's names here are: {', '.join(OPTIMIZER_NAMES)}")
    return OPTIMIZERS[key]
