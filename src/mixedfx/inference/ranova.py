"""lmerTest's ``ranova``: likelihood-ratio tests of a linear mixed model's random-effects terms.

Each random-effects term (after ``||`` and ``g/h`` are expanded) is reduced
or removed and the model refitted through ``fit.update``, keeping its REML
or ML criterion. With ``reduce_terms`` a term whose model has terms (``Days``
in ``(Days | Subject)``) loses each of those that no other term contains, one
at a time (``(Days | Subject)`` becomes ``(1 | Subject)``; ``(0 + Days + D2 | s)``
becomes ``(D2 - 1 | s)``; a last term is replaced by the intercept); a term
without any (``(1 | g)``), or every term without ``reduce_terms``, is removed.
A model left without random effects is a linear model, whose (REML)
log-likelihood is R's ``logLik.lm``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg as sla
from scipy.special import chdtrc

from mixedfx.formula.bars import BarTerm
from mixedfx.formula.syntax import deparse
from mixedfx.formula.terms import expand_terms
from mixedfx.formula.update import update_formula
from mixedfx.inference.drop1 import Drop1Table
from mixedfx.lmm.model import LinearMixedModel

__all__ = ["ranova", "RanovaTable", "reduced_formulas", "lm_loglik"]

HEADING = "ANOVA-like table for random-effects: Single term deletions"
_COLUMNS = ["npar", "logLik", "AIC", "LRT", "Df", "Pr(>Chisq)"]


class RanovaTable(Drop1Table):
    """lmerTest's ``ranova`` table: a DataFrame that prints as lmerTest prints it.

    ``attrs["heading"]`` holds the heading lines (with the model's formula),
    ``attrs["formulae"]`` each row's reduced formula, by row name.
    """


def _drop_scope(terms_labels: list[str], terms: tuple[tuple[int, ...], ...]) -> list[str]:
    """R's ``drop.scope`` of a term list: the terms no other term contains."""
    sets = [set(t) for t in terms]
    return [label for i, label in enumerate(terms_labels)
            if not any(j != i and sets[i] <= other for j, other in enumerate(sets))]


def _term_reductions(bar: BarTerm, full: str) -> dict[str, str]:
    """lmerTest's ``get_newforms``: row name to formula, for one random-effects term of the ``full`` formula."""
    terms = expand_terms(bar.lhs)
    labels = terms.term_labels
    scope = _drop_scope(labels, terms.terms)
    if not scope:
        return {f"({bar.text})": update_formula(full, f"~ . - ({bar.text})")}
    out = {}
    for label in scope:
        lhs = "1" if set(labels) == {label} else update_formula(f"~ {deparse(bar.lhs)}", f"~ . - {label}")
        out[f"{label} in ({bar.text})"] = update_formula(full, f"~ . - ({bar.text}) + ({lhs} | {bar.group_name})")
    return out


def reduced_formulas(formula: str, bars: tuple[BarTerm, ...] | list[BarTerm], fixed: str,
                     reduce_terms: bool = True) -> tuple[str, dict[str, str]]:
    """The model's formula as lmerTest writes it, and each reduced model's formula by its row name.

    Parameters
    ----------
    formula : str
        The fitted formula.
    bars : sequence of BarTerm
        Its random-effects terms, expanded (``||``, ``g/h``), in formula order.
    fixed : str
        Its fixed part deparsed (``"1"`` when there is none).
    reduce_terms : bool
        Reduce the terms that have a model (lmerTest's ``reduce.terms``), or remove every term.

    Returns
    -------
    tuple of (str, dict of str to str)
        The full formula (fixed part, then each term in parentheses) and the reductions.

    Examples
    --------
    >>> from mixedfx.formula.bars import parse_formula
    >>> f = parse_formula("y ~ x + (x || g)")
    >>> reduced_formulas(f.text, f.bars, "x")
    ('y ~ x + (1 | g) + (0 + x | g)', {'(1 | g)': 'y ~ x + (0 + x | g)', 'x in (0 + x | g)': 'y ~ x + (1 | g)'})
    """
    full = update_formula(formula, ". ~ " + " + ".join([fixed] + [f"({bar.text})" for bar in bars]))
    forms: dict[str, str] = {}
    for bar in bars:
        forms.update(_term_reductions(bar, full) if reduce_terms
                     else {f"({bar.text})": update_formula(full, f"~ . - ({bar.text})")})
    return full, forms


def lm_loglik(x: np.ndarray, y: np.ndarray, reml: bool, weights: np.ndarray | None = None) -> tuple[float, int]:
    """R's ``logLik(lm(y ~ x), REML = reml)``: the linear model's log-likelihood and its df (rank + 1).

    Parameters
    ----------
    x : ndarray, shape (n, p)
        The model matrix.
    y : ndarray, shape (n,)
        The response, offset subtracted.
    reml : bool
        The REML log-likelihood (R's ``logLik.lm(REML = TRUE)``) instead of the likelihood.
    weights : ndarray, shape (n,), optional
        Prior weights.

    Returns
    -------
    tuple of (float, int)

    Examples
    --------
    >>> x = np.column_stack([np.ones(4), np.arange(4.0)])
    >>> round(lm_loglik(x, np.array([1.0, 3.0, 2.0, 5.0]), reml=False)[0], 6)
    -4.889669
    """
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    root = np.sqrt(w)
    q, r, _ = sla.qr(x * root[:, None], mode="economic", pivoting=True)
    diag = np.abs(np.diag(r))
    rank = int(np.sum(diag > 1e-7 * diag[0])) if diag.size else 0
    fitted = q[:, :rank] @ (q[:, :rank].T @ (y * root))
    rss = float(np.sum((y * root - fitted) ** 2))
    n = len(y) - rank if reml else len(y)
    value = 0.5 * (np.sum(np.log(w)) - n * (np.log(2.0 * np.pi) + 1.0 - np.log(n) + np.log(rss)))
    if reml:
        value -= float(np.sum(np.log(diag[:rank])))
    return float(value), rank + 1


def _refit_loglik(fit: Any, formula: str) -> tuple[float, int]:
    """Log-likelihood and df of the model with ``formula``: an lmer refit, or a linear model without bars."""
    if "|" not in formula:
        mm = fit.matrices
        return lm_loglik(np.asarray(mm.X, dtype=float), mm.y - mm.offset, fit.reml, mm.weights)
    refit = fit.update(formula)
    if refit.nobs != fit.nobs:
        raise ValueError(f"number of rows in use has changed ({fit.nobs} to {refit.nobs}) when refitting "
                         f"{formula}: remove the rows with missing values from the data first")
    return refit.loglik, refit.df


def ranova(fit: Any, reduce_terms: bool = True) -> RanovaTable:
    """Likelihood-ratio tests of each random-effects term, as lmerTest's ``ranova``.

    Parameters
    ----------
    fit : LmerFit
        A linear mixed model fitted by :func:`mixedfx.lmer` (refitted through ``fit.update``).
    reduce_terms : bool
        Reduce terms with slopes (``(Days | Subject)`` to ``(1 | Subject)``) rather than remove them.

    Returns
    -------
    RanovaTable
        Rows ``<none>`` and one per reduction, columns npar, logLik, AIC, LRT,
        Df, Pr(>Chisq). Log-likelihoods are REML or ML as the fit's.

    Raises
    ------
    TypeError
        A fit that is not a linear mixed model's.
    ValueError
        A refit used a different number of rows.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> ranova(fit).index.tolist()
    ['<none>', 'Days in (Days | Subject)']
    """
    if not isinstance(getattr(fit, "model", None), LinearMixedModel):
        raise TypeError(f"ranova needs a linear mixed model fitted by lmer, not {type(fit).__name__}")
    spec = fit.matrices.spec.formula
    full, forms = reduced_formulas(fit.formula_text, spec.bars, deparse(spec.fixed), reduce_terms)
    fits = [(fit.loglik, fit.df)] + [_refit_loglik(fit, form) for form in forms.values()]
    loglik = np.array([ll for ll, _ in fits])
    npar = np.array([df for _, df in fits], dtype=float)
    lrt = np.concatenate([[np.nan], 2.0 * (loglik[0] - loglik[1:])])
    dfs = np.concatenate([[np.nan], npar[0] - npar[1:]])
    with np.errstate(invalid="ignore"):
        pvalue = np.where(dfs > 0, chdtrc(np.where(dfs > 0, dfs, 1.0), lrt), np.nan)
    table = pd.DataFrame(dict(zip(_COLUMNS, [npar, loglik, -2.0 * loglik + 2.0 * npar, lrt, dfs, pvalue])),
                         index=["<none>", *forms])
    result = RanovaTable(table)
    result.attrs.update(heading=[HEADING, "", "Model:", full], formulae=forms)
    return result
