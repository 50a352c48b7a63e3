"""lme4's ``anova(m0, m1, ...)`` (likelihood-ratio tests of nested models) and the tables of one model's terms.

One linear model gets lmerTest's F tests of type I, II or III; one generalized
model car's Wald chi-square tests of type II or III.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from mixedfx.inference.ddf import anova_terms
from mixedfx.inference.wald import wald_anova
from mixedfx.lmm.model import LinearMixedModel
from mixedfx.report.printed_table import PrintedTable
from mixedfx.report.text import format_anova, format_anova_terms, format_wald_anova

__all__ = ["anova", "AnovaTable", "FTestTable", "WaldTable", "REFIT_MESSAGE"]

REFIT_MESSAGE = "refitting model(s) with ML (instead of REML)"
_COLUMNS = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"]


class AnovaTable(PrintedTable):
    """lme4's likelihood-ratio table: a DataFrame that prints as lme4 prints it.

    ``attrs`` holds ``data_name``, ``formulas`` (one per row) and ``messages``.
    """

    def __str__(self) -> str:
        return format_anova(pd.DataFrame(self), list(self.index), list(self.attrs["formulas"]),
                            self.attrs["data_name"])


class FTestTable(PrintedTable):
    """lmerTest's F table for one linear model: a DataFrame that prints as lmerTest's.

    ``attrs["ddf"]`` names the denominator-df method, ``attrs["type"]`` the type of its hypotheses.
    """

    def __str__(self) -> str:
        return format_anova_terms(pd.DataFrame(self), self.attrs["ddf"], self.attrs["type"])


class WaldTable(PrintedTable):
    """car's Wald chi-square table for one model: a DataFrame that prints as car's ``Anova``.

    ``attrs["type"]`` is the type of its hypotheses, ``attrs["response"]`` the response.
    """

    def __str__(self) -> str:
        return format_wald_anova(pd.DataFrame(self), self.attrs["type"], self.attrs["response"])


_TYPES = {1: 1, 2: 2, 3: 3, "1": 1, "2": 2, "3": 3, "I": 1, "II": 2, "III": 3}


def anova(*fits, names: list[str] | None = None, ddf: str | None = None, type: int | str | None = None,  # noqa: A002
          refit: bool = True, **named_fits) -> AnovaTable | FTestTable | WaldTable:
    """Compare nested models by likelihood-ratio tests, or test one model's terms.

    With two or more models: lme4's likelihood-ratio table. With one linear
    model: lmerTest's F tests of its fixed-effect terms (type III unless ``type``
    says otherwise), with denominator degrees of freedom by ``ddf``
    (Satterthwaite by default). With one generalized model: car's ``Anova``
    Wald chi-square tests of ``type`` 2 or 3.

    Parameters
    ----------
    *fits : LmerFit or GlmerFit
        Fitted models, in any order; they are sorted by number of parameters.
    names : list of str, optional
        Row labels for ``fits`` (default ``model1``, ``model2``, ...).
    ddf : {"Satterthwaite", "Kenward-Roger"}, optional
        For one linear model: the denominator-df method.
    type : {1, 2, 3, "I", "II", "III"}, optional
        For one model: the type of the hypotheses (lmerTest's 1, 2, 3 for a linear
        model, default 3; car's 2 or 3 for a generalized one, which must say which).
    refit : bool
        With several models: refit REML fits by maximum likelihood first, as lme4
        does; ``False`` compares their REML criteria (lme4's ``refit = FALSE``).
    **named_fits : LmerFit or GlmerFit
        Models given by keyword; the keyword labels the row (``anova(m0=a, m1=b)``).

    Returns
    -------
    AnovaTable, FTestTable or WaldTable
        Several models: columns npar, AIC, BIC, logLik, deviance, Chisq, Df,
        Pr(>Chisq), and ``attrs["messages"]`` says when REML fits were refitted.
        One linear model: lmerTest's Sum Sq, Mean Sq, NumDF, DenDF, F value,
        Pr(>F). One generalized model: car's Chisq, Df, Pr(>Chisq).

    Raises
    ------
    TypeError
        A positional or keyword argument that is not a fit.
    ValueError
        ``ddf`` or ``type`` with several models, an unknown ``type``, or a
        generalized model without ``type``.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> sleep = mfx.datasets.load("sleepstudy")
    >>> m0 = mfx.lmer("Reaction ~ 1 + (Days | Subject)", sleep)
    >>> m1 = mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    >>> float(anova(m0, m1).loc["model2", "Df"])
    1.0
    >>> anova(m1, type=1).index.tolist()
    ['Days']
    """
    if names is not None and len(names) != len(fits):
        raise ValueError(f"names has {len(names)} labels for {len(fits)} models")
    if not isinstance(refit, bool):
        raise TypeError(f"refit must be True or False, not {refit!r}")
    labels = list(names) if names is not None else [f"model{i + 1}" for i in range(len(fits))]
    models = dict(zip(labels, fits))
    overlap = set(models) & set(named_fits)
    if overlap:
        raise ValueError(f"model label(s) used twice: {', '.join(sorted(overlap))}")
    for label, fit in named_fits.items():
        if not _is_fit(fit):
            raise TypeError(f"anova() got an unexpected keyword argument {label!r} ({_type_name(fit)}); "
                            "keywords other than names, ddf, type and refit label fitted models")
    models.update(named_fits)
    for label, fit in models.items():
        if not _is_fit(fit):
            raise TypeError(f"{label} is not a fitted mixed model (got {_type_name(fit)})")
    if len(models) == 1:
        return _one_model(next(iter(models.values())), ddf, type)
    if ddf is not None or type is not None:
        raise ValueError("ddf and type apply to the tests of one model's terms; the comparison of several "
                         "models is a likelihood-ratio test")
    sizes = {fit.nobs for fit in models.values()}
    if len(sizes) > 1:
        raise ValueError(f"models were not all fitted to the same size of dataset (nobs: {sorted(sizes)})")
    messages = []
    if refit and any(getattr(fit, "reml", False) for fit in models.values()):
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


def _is_fit(value: object) -> bool:
    return hasattr(value, "loglik") and hasattr(value, "nobs")


def _type_name(value: object) -> str:
    """A value's type, as an error message names it."""
    return type(value).__name__


def _one_model(fit, ddf: str | None, kind: int | str | None) -> FTestTable | WaldTable:
    """lmerTest's F table for a linear model, car's Wald table for a generalized one."""
    if kind is not None and kind not in _TYPES:
        raise ValueError(f"type must be 1, 2 or 3 (or 'I', 'II', 'III'), not {kind!r}")
    if isinstance(getattr(fit, "model", None), LinearMixedModel):
        table = anova_terms(fit, ddf or "Satterthwaite", _TYPES[kind] if kind is not None else 3)
        result = FTestTable(table)
    else:
        if ddf is not None:
            raise ValueError("ddf applies to linear mixed models; a generalized model's terms get Wald "
                             "chi-square tests")
        if kind is None or _TYPES[kind] == 1:
            raise ValueError("anova of one generalized model gives car's Wald chi-square tests: give type=2 or "
                             "type=3, or compare nested fits with anova(m0, m1)")
        table = wald_anova(fit, _TYPES[kind])
        result = WaldTable(table)
        table.attrs["response"] = fit.model.matrices.response_name
    result.attrs.update(table.attrs)
    return result
