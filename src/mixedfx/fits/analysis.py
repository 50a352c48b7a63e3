"""What an analysis asks of a fit after the fit: plain data, notebook display.

The tables (:mod:`mixedfx.tidy`) and :mod:`mixedfx.performance` load when a
method first asks for them, not with every fit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pandas as pd

from mixedfx.fits.export import fit_to_dict
from mixedfx.report.html import PreformattedHtml

__all__ = ["FitAnalysis"]


class FitAnalysis(PreformattedHtml):
    """A mixin of :class:`~mixedfx.fits.base.MixedModelFit`: broom.mixed's tables, performance's R² and ICC,
    export, and in a notebook the print of the fit."""

    def tidy(self, effects: str | Sequence[str] = ("ran_pars", "fixed"), conf_int: bool = False,
             conf_level: float = 0.95, conf_method: str = "Wald", ddf: str | None = None,
             scales: str | Sequence[str | None] | None = None, exponentiate: bool = False,
             **confint_options: Any) -> pd.DataFrame:
        """The estimates as one table, as broom.mixed's ``tidy(fit)`` (:func:`mixedfx.tidy.tidy`).

        Columns effect, group, term, estimate, std.error, statistic (df, p.value
        with ``ddf`` or for glmer; conf.low, conf.high with ``conf_int``).

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> fit.tidy()["term"].tolist()
        ['(Intercept)', 'Days', 'sd__(Intercept)', 'cor__(Intercept).Days', 'sd__Days', 'sd__Observation']
        """
        from mixedfx.tidy import tidy  # noqa: PLC0415

        return tidy(self, effects, conf_int=conf_int, conf_level=conf_level, conf_method=conf_method, ddf=ddf,
                    scales=scales, exponentiate=exponentiate, **confint_options)

    def glance(self) -> pd.DataFrame:
        """One row of fit statistics, as broom.mixed's ``glance(fit)`` (:func:`mixedfx.tidy.glance`).

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> fit.glance().columns.tolist()
        ['nobs', 'sigma', 'logLik', 'AIC', 'BIC', 'REMLcrit', 'df.residual']
        """
        from mixedfx.tidy import glance  # noqa: PLC0415

        return glance(self)

    def augment(self, newdata: Any = None) -> pd.DataFrame:
        """The model frame with ``.fitted``, ``.resid``, ``.hat``, ``.cooksd`` ... per row, as broom.mixed's
        ``augment(fit)`` (:func:`mixedfx.tidy.augment`); with ``newdata``, the new rows and ``.fitted``.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> fit.augment()[".fitted"].shape
        (180,)
        """
        from mixedfx.tidy import augment  # noqa: PLC0415

        return augment(self, newdata)

    def r2(self) -> pd.Series:
        """Nakagawa's marginal and conditional R², as ``performance::r2_nakagawa(fit)``
        (:func:`mixedfx.performance.r2`): a Series indexed ``marginal``, ``conditional``.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> fit.r2().round(3).tolist()
        [0.279, 0.799]
        """
        from mixedfx.performance import r2  # noqa: PLC0415

        return r2(self)

    def icc(self) -> pd.Series:
        """The adjusted and unadjusted intraclass correlation, as ``performance::icc(fit)``
        (:func:`mixedfx.performance.icc`): a Series indexed ``adjusted``, ``unadjusted``.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> fit.icc().round(3).tolist()
        [0.722, 0.521]
        """
        from mixedfx.performance import icc  # noqa: PLC0415

        return icc(self)

    def to_dict(self) -> dict[str, Any]:
        """The fit's numbers as JSON-ready plain data (:func:`mixedfx.fits.export.fit_to_dict`).

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff"))
        >>> fit.to_dict()["method"]
        'REML'
        """
        return fit_to_dict(self)

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as a JSON text.

        Examples
        --------
        >>> import json, mixedfx as mfx
        >>> fit = mfx.lmer("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff"))
        >>> json.loads(fit.to_json())["nobs"]
        30
        """
        return json.dumps(self.to_dict(), indent=indent)
