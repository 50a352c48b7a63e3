"""Variance parameters on lme4's standard-deviation / correlation scale.

lme4's profiles and confidence intervals report each random-effects term's
standard deviations and correlations (``Cv_to_Sv``), named as ``tnames(fit,
old = FALSE, prefix = c("sd", "cor"))`` does: ``sd_(Intercept)|Subject``,
``cor_Days.(Intercept)|Subject``, ``sd_Days|Subject``, then ``sigma`` where the
model has a residual scale. Within a term the order is the lower triangle of
the sd/cor matrix, column by column, as theta's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from typing import TYPE_CHECKING

from mixedfx.inference.fitted import is_generalized
from mixedfx.linalg.layout import templates

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["variance_names", "theta_to_sdcor", "sdcor_to_theta", "correlation_mask", "parameter_vector",
           "select_parameters"]


def variance_names(fit: MixedFit) -> list[str]:
    """lme4's names of the variance parameters (``oldNames = FALSE``), ``sigma`` last where estimated.

    Parameters
    ----------
    fit : LmerFit or GlmerFit

    Returns
    -------
    list of str
    """
    names = []
    for term in fit.re_terms:
        cols = list(term.z_names)
        rows, columns = _lower_triangle(len(cols))
        names += [f"sd_{cols[i]}|{term.group}" if i == j else f"cor_{cols[i]}.{cols[j]}|{term.group}"
                  for i, j in zip(rows, columns)]
    return names + (["sigma"] if fit.uses_scale else [])


def _lower_triangle(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a k x k lower triangle, column by column (theta's order)."""
    cols, rows = np.triu_indices(k)
    return rows, cols


def correlation_mask(ks: list[int]) -> np.ndarray:
    """True at the correlations among the sd/cor parameters of terms with ``ks`` columns."""
    return np.concatenate([np.not_equal(*_lower_triangle(k)) for k in ks])


def theta_to_sdcor(theta: np.ndarray, ks: list[int], scale: float = 1.0) -> np.ndarray:
    """Standard deviations and correlations of ``scale^2 Lambda Lambda'`` (lme4's ``Cv_to_Sv``).

    Parameters
    ----------
    theta : ndarray
        Covariance parameters, lme4's order.
    ks : list of int
        Columns per term.
    scale : float
        The residual standard deviation (1 for models without one).

    Returns
    -------
    ndarray
        Per term, the lower triangle of its sd/cor matrix column by column; an
        undefined correlation (a zero sd) is 0, as lme4.
    """
    out = []
    for tmpl in templates(np.asarray(theta, dtype=float), ks):
        cov = scale**2 * (tmpl @ tmpl.T)
        sd = np.sqrt(np.diag(cov))
        with np.errstate(invalid="ignore", divide="ignore"):
            sdcor = np.nan_to_num(cov / np.outer(sd, sd))
        np.fill_diagonal(sdcor, sd)
        out.append(sdcor[_lower_triangle(len(sd))])
    return np.concatenate(out)


def sdcor_to_theta(values: np.ndarray, ks: list[int], scale: float = 1.0) -> np.ndarray:
    """Theta from standard deviations and correlations (lme4's ``Sv_to_Cv``).

    Each term's Lambda is ``diag(sd) C / scale``, C the Cholesky factor of its
    correlation matrix; a correlation matrix that is only semi-definite (a
    correlation of +-1) gets a factor with zero pivots, as lme4's pivoted
    ``safe_chol``.

    Parameters
    ----------
    values : ndarray
        Per term, the lower triangle of its sd/cor matrix column by column.
    ks, scale
        As for :func:`theta_to_sdcor`.

    Returns
    -------
    ndarray
        Theta, lme4's order.
    """
    out = []
    for sdcor in templates(np.asarray(values, dtype=float), ks):
        corr = np.tril(sdcor, -1) + np.tril(sdcor, -1).T + np.eye(len(sdcor))
        lam = np.diag(sdcor)[:, None] * _semidefinite_cholesky(corr) / scale
        out.append(lam[_lower_triangle(len(lam))])
    return np.concatenate(out)


def _semidefinite_cholesky(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor of a positive semi-definite matrix; a zero pivot gives a zero column."""
    k = len(a)
    low = np.zeros_like(a)
    for j in range(k):
        pivot = a[j, j] - low[j, :j] @ low[j, :j]
        if pivot <= 1e-14:
            continue
        low[j, j] = np.sqrt(pivot)
        low[j + 1:, j] = (a[j + 1:, j] - low[j + 1:, :j] @ low[j, :j]) / low[j, j]
    return low


def parameter_vector(fit: MixedFit) -> pd.Series:
    """The fit's parameters as lme4's confint names them: variance parameters, then the fixed effects.

    Linear models scale the standard deviations by sigma; generalized ones with
    a scale parameter report the unscaled ones and sigma (lme4's ``bootFun``).

    Parameters
    ----------
    fit : LmerFit or GlmerFit

    Returns
    -------
    Series
    """
    ks = fit.ks
    scale = 1.0 if is_generalized(fit) else fit.sigma
    values = theta_to_sdcor(fit.theta, ks, scale)
    if fit.uses_scale:
        values = np.append(values, fit.sigma)
    fixef = fit.fixef
    return pd.Series(np.concatenate([values, fixef.to_numpy()]), index=variance_names(fit) + list(fixef.index))


def select_parameters(parm: Sequence[str | int] | str | int | None, names: list[str], n_variance: int) -> list[int]:
    """Positions of the chosen parameters (lme4's ``get.which``).

    Parameters
    ----------
    parm : str, int, sequence of them, or None
        None for all; ``"theta_"`` for the variance parameters, ``"beta_"`` for
        the fixed effects; names or positions.
    names : list of str
        All parameter names, variance parameters first.
    n_variance : int
        How many of them are variance parameters.

    Returns
    -------
    list of int
        Sorted positions.
    """
    if parm is None:
        return list(range(len(names)))
    chosen: set[int] = set()
    for item in [parm] if isinstance(parm, (str, int, np.integer)) else parm:
        if item == "theta_":
            chosen.update(range(n_variance))
        elif item == "beta_":
            chosen.update(range(n_variance, len(names)))
        elif isinstance(item, (int, np.integer)) and 0 <= item < len(names):
            chosen.add(int(item))
        elif item in names:
            chosen.add(names.index(item))
        else:
            raise ValueError(f"unknown parameter {item!r}; the parameters are {', '.join(names)}")
    return sorted(chosen)
