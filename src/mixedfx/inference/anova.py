"""Likelihood-ratio comparison of nested mixed models (lme4's ``anova(m0, m1, ...)``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from mixedfx.inference.ddf import anova_type3
from mixedfx.lmm.model import LinearMixedModel
from mixedfx.report.text import format_anova, format_anova_type3

__all__ = ["anova", "AnovaTable", "FTestTable", "REFIT_MESSAGE"]

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
        return format_anova(pd.DataFrame(self), list(self.index), list(self.attrs["formulas"]),
                            self.attrs["data_name"])

    def __repr__(self) -> str:
        return self.__str__()


class FTestTable(pd.DataFrame):
    """lmerTest's type III F table for one linear model: a DataFrame that prints as lmerTest's.

    ``attrs["ddf"]`` names the denominator-df method.
    """

    @property
    def _constructor(self):
        return pd.DataFrame

    def __str__(self) -> str:
        return format_anova_type3(pd.DataFrame(self), self.attrs["ddf"])

    def __repr__(self) -> str:
        return self.__str__()


def anova(*fits, names: list[str] | None = None, ddf: str | None = None, **named_fits) -> AnovaTable | FTestTable:
    """Compare nested models by likelihood-ratio tests, or test one linear model's terms.

    With two or more models: lme4's likelihood-ratio table. With one linear
    model: lmerTest's type III F tests of its fixed-effect terms, with
    denominator degrees of freedom by ``ddf`` (Satterthwaite by default).

    Parameters
    ----------
    *fits : LmerFit or GlmerFit
        Fitted models, in any order; they are sorted by number of parameters.
    names : list of str, optional
        Row labels for ``fits`` (default ``model1``, ``model2``, ...).
    ddf : {"Satterthwaite", "Kenward-Roger"}, optional
        For one linear model: the denominator-df method.
    **named_fits : LmerFit or GlmerFit
        Models given by keyword; the keyword labels the row (``anova(m0=a, m1=b)``).

    Returns
    -------
    AnovaTable or FTestTable
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
    if len(models) == 1:
        return _type3(next(iter(models.values())), ddf)
    if ddf is not None:
        raise ValueError("ddf applies to the F tests of one linear model; the comparison of several models "
                         "is a likelihood-ratio test")
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


def _type3(fit, ddf: str | None) -> FTestTable:
    """lmerTest's type III table for one linear model."""
    if not isinstance(getattr(fit, "model", None), LinearMixedModel):
        raise ValueError("anova of a single model gives F tests for linear mixed models only; to test a "
                         f"generalized model, compare it with a nested fit: anova(m0, m1) (got {type(fit).__name__})")
    table = anova_type3(fit, ddf or "Satterthwaite")
    result = FTestTable(table)
    result.attrs.update(table.attrs)
    return result
