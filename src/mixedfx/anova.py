"""Likelihood-ratio comparison of nested mixed models (lme4's ``anova(m0, m1, ...)``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import chdtrc

__all__ = ["anova", "AnovaTable", "REFIT_MESSAGE"]

REFIT_MESSAGE = "refitting model(s) with ML (instead of REML)"
_COLUMNS = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"]


class AnovaTable(pd.DataFrame):
    """lme4's likelihood-ratio table: a DataFrame that prints as lme4 prints it.

    ``attrs`` holds ``data_name``, ``formulas`` (one per row) and ``messages``.
    Anything derived from it (a slice, a column) is a plain DataFrame or Series.
    """

    @property
    def _constructor(self):
        return pd.DataFrame

    def __str__(self) -> str:
        from mixedfx.report import format_anova

        return format_anova(pd.DataFrame(self), list(self.index), list(self.attrs["formulas"]),
                            self.attrs["data_name"])

    def __repr__(self) -> str:
        return self.__str__()


def anova(*fits, names: list[str] | None = None, **named_fits) -> AnovaTable:
    """Compare nested models fitted to the same data by likelihood-ratio tests.

    Parameters
    ----------
    *fits : LmerFit
        Fitted models, in any order; they are sorted by number of parameters.
    names : list of str, optional
        Row labels for ``fits`` (default ``model1``, ``model2``, ...).
    **named_fits : LmerFit
        Models given by keyword; the keyword labels the row (``anova(m0=a, m1=b)``).

    Returns
    -------
    AnovaTable
        Columns npar, AIC, BIC, logLik, deviance, Chisq, Df, Pr(>Chisq); REML
        fits are refitted by maximum likelihood first, and ``attrs["messages"]``
        says so, as lme4 does.
    """
    if names is not None and len(names) != len(fits):
        raise ValueError(f"names has {len(names)} labels for {len(fits)} models")
    labels = list(names) if names is not None else [f"model{i + 1}" for i in range(len(fits))]
    models = dict(zip(labels, fits))
    overlap = set(models) & set(named_fits)
    if overlap:
        raise ValueError(f"model label(s) used twice: {', '.join(sorted(overlap))}")
    models.update(named_fits)
    if len(models) < 2:
        raise ValueError("anova needs at least two fitted models to compare")
    for label, fit in models.items():
        if not hasattr(fit, "loglik") or not hasattr(fit, "nobs"):
            raise TypeError(f"{label} is not a fitted mixed model (got {type(fit).__name__})")
    sizes = {fit.nobs for fit in models.values()}
    if len(sizes) > 1:
        raise ValueError(f"models were not all fitted to the same size of dataset (nobs: {sorted(sizes)})")
    messages = []
    if any(getattr(fit, "reml", False) for fit in models.values()):
        messages.append(REFIT_MESSAGE)
        models = {label: fit.refit_ml() if getattr(fit, "reml", False) else fit for label, fit in models.items()}
    order = sorted(models, key=lambda label: models[label].df)
    loglik = np.array([models[m].loglik for m in order])
    npar = np.array([models[m].df for m in order])
    chisq = np.concatenate([[np.nan], 2.0 * np.maximum(0.0, np.diff(loglik))])
    dfs = np.concatenate([[np.nan], np.diff(npar)])
    with np.errstate(invalid="ignore"):
        pvalue = np.where(np.isnan(chisq), np.nan, chdtrc(np.where(np.isnan(dfs), 1, dfs), chisq))
    table = AnovaTable({
        "npar": npar,
        "AIC": [models[m].aic for m in order],
        "BIC": [models[m].bic for m in order],
        "logLik": loglik,
        "deviance": -2.0 * loglik,
        "Chisq": chisq,
        "Df": dfs,
        "Pr(>Chisq)": pvalue,
    }, index=order)[_COLUMNS]
    table = AnovaTable(table)
    first = models[order[0]]
    table.attrs.update(data_name=first.data_name or "data", formulas=[models[m].formula_text for m in order],
                       messages=messages)
    return table
