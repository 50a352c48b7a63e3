"""Single term deletions: lme4's ``drop1`` (refits, AIC and likelihood-ratio tests) and lmerTest's F version.

lme4 refits the model without each term that no other term contains (R's
``drop.scope``) through ``update``, and compares AICs of maximum-likelihood
fits (a REML fit and its reductions are refitted by ML, as lme4's
``extractAIC`` does); with ``test="Chisq"`` it adds the likelihood-ratio
statistic and its chi-square p-value. lmerTest's version (``ddf=``) tests each
such term's coefficients by an F test instead, without refitting.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from mixedfx.inference.ddf import ftest_table
from mixedfx.inference.hypotheses import column_terms, marginal_terms
from mixedfx.lmm.model import LinearMixedModel
from mixedfx.report.ddf_names import method_title
from mixedfx.report.printed_table import PrintedTable
from mixedfx.report.text import format_headed_anova

__all__ = ["drop1", "Drop1Table"]


class Drop1Table(PrintedTable):
    """A single-term-deletions table that prints as R does; ``attrs["heading"]`` holds its heading lines."""

    def __str__(self) -> str:
        return format_headed_anova(pd.DataFrame(self), self.attrs["heading"])


def _ml(fit: Any) -> Any:
    return fit.refit_ml() if fit.reml else fit


def drop1(fit: Any, test: str = "none", ddf: str | None = None) -> Drop1Table:
    """Drop each term that no other term contains, as lme4's ``drop1`` (or lmerTest's with ``ddf``).

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        A fit made by :func:`mixedfx.lmer`, :func:`mixedfx.glmer` or
        :func:`mixedfx.glmer_nb` (it is refitted through ``fit.update``).
    test : {"none", "Chisq"}
        With ``"Chisq"``, likelihood-ratio tests of each reduced model against the full one.
    ddf : {"Satterthwaite", "Kenward-Roger"}, optional
        For a linear model: lmerTest's F tests of each term instead of refits.

    Returns
    -------
    Drop1Table
        lme4: rows ``<none>`` and each term, columns npar, AIC (and LRT, Pr(Chi)).
        lmerTest: a row per term, columns Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F).

    Raises
    ------
    ValueError
        An unknown ``test``, ``ddf`` with a generalized model or with ``test``.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", mfx.datasets.load("sleepstudy"))
    >>> drop1(fit, test="Chisq").index.tolist()
    ['<none>', 'Days']
    """
    if test not in ("none", "Chisq"):
        raise ValueError(f"test must be 'none' or 'Chisq', not {test!r}")
    matrices = fit.model.matrices
    labels = matrices.spec.fixed.terms.term_labels
    scope = [labels[t] for t in marginal_terms(matrices)]
    model_lines = ["", "Model:", fit.formula_text]
    if ddf is not None:
        if not isinstance(fit.model, LinearMixedModel):
            raise ValueError("ddf gives lmerTest's F tests, for linear mixed models only")
        if test != "none":
            raise ValueError("lmerTest's drop1 (ddf=) gives F tests; test='Chisq' is lme4's, without ddf")
        if matrices.dropped:
            raise ValueError("lmerTest's drop1 F tests of a rank-deficient fixed part are not supported; "
                             "drop the aliased columns from the formula, or use test='Chisq'")
        assign = column_terms(matrices)
        identity = np.eye(len(assign))
        table = ftest_table(fit, {labels[t]: identity[assign == t + 1] for t in marginal_terms(matrices)}, ddf)
        result = Drop1Table(table)
        result.attrs["heading"] = [f"Single term deletions using {method_title(table.attrs['ddf'])} method:",
                                   *model_lines]
        return result
    fits = [_ml(fit)] + [_ml(fit.update(f". ~ . - {label}")) for label in scope]
    npar = np.array([f.df for f in fits], dtype=float)
    aic = np.array([f.aic for f in fits])
    table = pd.DataFrame({"npar": np.concatenate([[np.nan], npar[0] - npar[1:]]), "AIC": aic},
                         index=["<none>", *scope])
    if test == "Chisq":
        deviance = aic - 2.0 * npar
        lrt = np.concatenate([[np.nan], deviance[1:] - deviance[0]])
        table["LRT"] = lrt
        with np.errstate(invalid="ignore"):
            table["Pr(Chi)"] = np.where(np.isnan(lrt), np.nan, chdtrc(np.where(np.isnan(lrt), 1, table["npar"]),
                                                                        lrt))
    result = Drop1Table(table)
    result.attrs["heading"] = ["Single term deletions", *model_lines]
    return result
