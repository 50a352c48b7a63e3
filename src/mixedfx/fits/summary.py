"""What a fit prints: lme4's ``summary(fit)`` and ``VarCorr(fit)``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from mixedfx.report.ddf_names import resolve_ddf
from mixedfx.report.html import PreformattedHtml
from mixedfx.report.printed_table import PrintedTable
from mixedfx.report.text import SummaryOptions, format_summary, format_summary_ddf, format_varcorr

if TYPE_CHECKING:
    from mixedfx.fits.base import MixedModelFit

__all__ = ["FitSummary", "VarCorrTable"]


class FitSummary(PreformattedHtml):
    """lme4's ``summary(fit)`` (lmerTest's when a ``ddf`` method is given).

    Attributes
    ----------
    fit : MixedModelFit
    ddf : str or None
        The denominator-df method, or None for lme4's table.
    options : SummaryOptions
        How it prints (lme4's ``print.summary.merMod`` arguments).
    coefficients : DataFrame
        Estimate, Std. Error and the Wald statistic (t value, or z value and
        Pr(>|z|) for families without a dispersion parameter); with ``ddf``, df
        and Pr(>|t|) too.
    """

    def __init__(self, fit: MixedModelFit, ddf: str | None = None, options: SummaryOptions | None = None) -> None:
        self.fit = fit
        self.ddf = resolve_ddf(ddf)
        self.options = options or SummaryOptions()
        # lme4's own table needs none of lmerTest's machinery (:mod:`mixedfx.inference.ddf`), nor its import
        self.coefficients = fit.coefficient_table() if self.ddf is None else fit.coef_table(self.ddf)

    def __str__(self) -> str:
        if self.ddf is None:
            return format_summary(self.fit, self.options)
        return format_summary_ddf(self.fit, self.coefficients, self.ddf, self.options)

    def __repr__(self) -> str:
        return self.__str__()


class VarCorrTable(PrintedTable):
    """``as.data.frame(VarCorr(fit))``, printing as lme4's ``print(VarCorr(fit))``.

    ``attrs["comp"]`` and ``attrs["digits"]`` are the print's columns and digits.
    """

    def __str__(self) -> str:
        return format_varcorr(pd.DataFrame(self), self.attrs.get("comp", ("Std.Dev.",)),
                              self.attrs.get("digits", 5))
