"""The call that made a fit (lme4's ``fit@call``), so that it can be made again with changes (``update``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mixedfx.errors import MixedFxError
from mixedfx.formula.update import update_formula

__all__ = ["FitCall"]


@dataclass(frozen=True)
class FitCall:
    """A fitting function with the arguments it was called with.

    Attributes
    ----------
    function : callable
        :func:`mixedfx.lmer`, :func:`mixedfx.glmer` or :func:`mixedfx.glmer_nb`.
    formula : str
        The formula as given.
    data : DataFrame or None
        The data, by reference (not copied). A pickled fit leaves it out: pass
        ``data=`` to :meth:`update` after unpickling.
    arguments : dict
        The other keyword arguments, as given.
    """

    function: Callable[..., Any]
    formula: str
    data: pd.DataFrame | None = field(repr=False)
    arguments: Mapping[str, Any]

    def __getstate__(self) -> dict:
        return {**self.__dict__, "data": None}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    def update(self, formula: str | None = None, **changed: Any) -> Any:
        """The fit made again with ``formula`` changed as R's ``update.formula`` and the arguments ``changed``.

        Raises
        ------
        TypeError
            An argument the fitting function does not take.
        MixedFxError
            No data: the fit was unpickled and ``data=`` was not given.
        """
        name = self.function.__name__
        data = changed.pop("data", self.data)
        unknown = sorted(set(changed) - set(self.arguments))
        if unknown:
            raise TypeError(f"{name}() has no argument {', '.join(map(repr, unknown))}; update can change the "
                            f"formula, data and {', '.join(sorted(self.arguments))}")
        if data is None:
            raise MixedFxError("this fit was unpickled without its data; pass data= to update")
        new_formula = self.formula if formula is None else update_formula(self.formula, formula)
        return self.function(new_formula, data, **{**self.arguments, **changed})
