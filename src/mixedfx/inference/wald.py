"""car's ``Anova`` for a mixed model: Wald chi-square tests of its fixed-effect terms, type II or III.

Type III tests each term's coefficients (and the intercept's) against zero.
Type II tests each term after the others but before the terms that contain it
(its "relatives": the terms whose variables include all of its): the hypothesis
is the part of the term's and its relatives' coefficients orthogonal, in the
inner product of the coefficients' covariance, to the relatives' alone (car's
``ConjComp``). Each test is ``(L b)' (L V L')^-1 (L b)`` on ``rows(L)`` degrees
of freedom, with the fit's covariance ``V`` of the fixed effects.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import chdtrc

from mixedfx.inference.hypotheses import column_terms, term_variables

__all__ = ["wald_anova"]

_RANK_TOL = 1e-7
"""Relative size below which a singular value counts as zero, R's ``qr`` tolerance."""


def _wald(hypothesis: np.ndarray, beta: np.ndarray, vcov: np.ndarray) -> tuple[float, int]:
    """The Wald statistic of ``hypothesis @ beta = 0`` and its degrees of freedom."""
    estimate = hypothesis @ beta
    return float(estimate @ np.linalg.solve(hypothesis @ vcov @ hypothesis.T, estimate)), hypothesis.shape[0]


def _complement(relatives: np.ndarray, wider: np.ndarray, vcov: np.ndarray) -> np.ndarray:
    """car's ``ConjComp``: the rows of ``wider``'s span conjugate to ``relatives``' under ``vcov``."""
    cross = wider @ vcov @ relatives.T
    u, singular, _ = np.linalg.svd(cross, full_matrices=True)
    rank = int(np.sum(singular > _RANK_TOL * singular.max())) if singular.size else 0
    return u[:, rank:].T @ wider


def wald_anova(fit: Any, type: int = 2) -> pd.DataFrame:  # noqa: A002 - car's name
    """car's ``Anova(fit, type = type)``: Wald chi-square tests of the fixed-effect terms.

    Parameters
    ----------
    fit : GlmerFit or LmerFit
        A fitted mixed model.
    type : {2, 3}
        Type II (each term after the others, before the terms containing it) or
        type III (each term's coefficients, the intercept's too).

    Returns
    -------
    DataFrame
        Columns Chisq, Df, Pr(>Chisq); a row per term (and ``(Intercept)`` first for type III).

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
    ...                 family="binomial")
    >>> round(float(wald_anova(fit).loc["period", "Chisq"]), 2)
    25.49
    """
    if type not in (2, 3):
        raise ValueError(f"car's Wald tests are of type 2 or 3, not {type!r}")
    matrices = fit.model.matrices
    beta = fit.fixef.to_numpy(dtype=float)
    vcov = np.asarray(fit.vcov, dtype=float)
    assign = column_terms(matrices)
    terms = matrices.spec.fixed.terms
    identity = np.eye(beta.shape[0])
    rows: dict[str, tuple[float, int]] = {}
    if type == 3:
        if terms.intercept:
            rows["(Intercept)"] = _wald(identity[assign == 0], beta, vcov)
        for t, label in enumerate(terms.term_labels):
            rows[label] = _wald(identity[assign == t + 1], beta, vcov) if np.any(assign == t + 1) else (np.nan, 0)
    else:
        variables = term_variables(matrices)
        for t, label in enumerate(terms.term_labels):
            own = identity[assign == t + 1]
            if not own.shape[0]:
                rows[label] = (np.nan, 0)
                continue
            relatives = [u for u in range(len(variables)) if u != t and variables[t] <= variables[u]]
            related = identity[np.isin(assign, np.array(relatives, dtype=int) + 1)]
            hypothesis = own if not related.shape[0] else _complement(related, np.vstack([related, own]), vcov)
            rows[label] = _wald(hypothesis, beta, vcov)
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["Chisq", "Df"])
    table["Df"] = table["Df"].astype(float)
    with np.errstate(invalid="ignore"):
        table["Pr(>Chisq)"] = chdtrc(table["Df"].to_numpy(), table["Chisq"].to_numpy())
    table.attrs["type"] = type
    return table
