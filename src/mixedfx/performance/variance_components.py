"""The variance components of a mixed model as insight 0.19's ``get_variance`` gives them to performance.

Nakagawa's R² and the ICC are ratios of five variances on the latent scale:

- fixed: the sample variance of the fixed part ``X beta`` (offset left out);
- random: for each grouping factor with fewer levels than observations, the
  mean over the rows of ``x_i' Sigma x_i``, where ``Sigma`` is the factor's
  random-effects covariance and ``x_i`` the row's values of the fixed-effects
  columns named as the term's columns (insight's ``.compute_variance_random``):
  a random intercept contributes its variance, a random slope its variance
  weighted by the mean square of its covariate; random-effects columns the
  fixed part lacks contribute nothing;
- distribution: the family's variance on the latent scale
  (:func:`mixedfx.performance.distribution.distribution_variance`);
- dispersion: the variances of observation-level terms (one level per row) of
  a generalized model, computed as the random variance; 0 for linear models;
- residual: distribution plus dispersion.

insight reads ``VarCorr`` by grouping factor, so of several terms on one factor
(``(1 | g) + (0 + x | g)``, or ``(x || g)``) only the first in lme4's order
counts. Everything is per-factor and per-column: the cost is a few passes over
X, with no matrix of the random effects formed.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixedfx.design.reterms import ReTerm
from mixedfx.formula.bars import parse_formula
from mixedfx.formula.syntax import Binary, Call, Name, Node, Paren, Unary, deparse
from mixedfx.glmm.model import GeneralizedLinearMixedModel
from mixedfx.inference.fitted import fitted_model
from mixedfx.linalg.layout import templates, theta_lower_bounds
from mixedfx.performance.distribution import distribution_variance

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["NO_RANDOM_WARNING", "SINGULAR_TOLERANCE", "SINGULAR_WARNING", "variance_components"]

SINGULAR_TOLERANCE = 1e-5
"""performance's ``tolerance``: a diagonal element of theta below it makes the random variance unavailable."""

SINGULAR_WARNING = (
    "Can't compute random effect variances. Some variance components equal zero. Your model may suffer from "
    "singularity (see `?lme4::isSingular` and `?performance::check_singularity`). Solution: Respecify random "
    "structure! You may also decrease the `tolerance` level to enforce the calculation of random effect variances.")
NO_RANDOM_WARNING = ("Can't compute random effect variances: every random-effects term has one level per "
                     "observation (insight's get_variance fails, and performance returns NA).")
_SLOPES_WARNING = ("Random slopes not present as fixed effects. This artificially inflates the conditional "
                   "random effect variances. Solution: Respecify fixed structure!")
_INDEX = ["fixed", "random", "residual", "distribution", "dispersion"]


def variance_components(fit: MixedFit, tolerance: float = SINGULAR_TOLERANCE) -> pd.Series:
    """insight's ``get_variance(fit)``: the variances Nakagawa's R² and the ICC are made of.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
    tolerance : float
        A fit with a diagonal element of theta below this (in absolute value)
        is singular: its random variance is not computed (NaN), as insight's.

    Returns
    -------
    Series
        ``fixed``, ``random``, ``residual``, ``distribution``, ``dispersion``
        (name ``"variance"``); ``random`` is NaN for a singular fit, and all are
        NaN for a fit whose every term has one level per observation (where
        insight gives no answer).

    Raises
    ------
    TypeError
        ``fit`` is not a fit from lmer, glmer or glmer_nb.
    MixedFxError
        A family and link performance has no variance for
        (:func:`~mixedfx.performance.distribution.distribution_variance`).

    Warns
    -----
    UserWarning
        A singular fit; random slopes of variables the fixed part lacks; a
        small null-model mean for log-link counts; no term with fewer levels
        than observations.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", mfx.datasets.load("sleepstudy"))
    >>> variance_components(fit).round(2)
    fixed            908.95
    random          1378.18
    residual         960.46
    distribution     960.46
    dispersion         0.00
    Name: variance, dtype: float64
    """
    model = fitted_model(fit, "variance_components")
    singular = _is_singular(fit, tolerance)
    if singular:
        warnings.warn(SINGULAR_WARNING, UserWarning, stacklevel=3)
    if not _random_slopes_in_fixed(fit.formula_text):
        warnings.warn(_SLOPES_WARNING, UserWarning, stacklevel=3)
    X, x_names = np.asarray(fit.matrices.X, dtype=float), list(fit.matrices.x_names)
    first_terms = _first_term_of_each_factor(fit)
    by_row = [(term, cov) for term, cov in first_terms if term.n_levels == fit.nobs]
    by_group = [(term, cov) for term, cov in first_terms if term.n_levels != fit.nobs]
    if not (singular or by_group):
        warnings.warn(NO_RANDOM_WARNING, UserWarning, stacklevel=3)
        return pd.Series(np.nan, index=_INDEX, name="variance")
    random = np.nan if singular else _random_variance(by_group, X, x_names)
    linear = not isinstance(model, GeneralizedLinearMixedModel) or model.family.r_name == "gaussian"
    dispersion = 0.0 if linear or not by_row else _random_variance(by_row, X, x_names)
    distribution = distribution_variance(fit)
    values = [_sample_variance(X @ fit.fixef.to_numpy()), random, distribution + dispersion, distribution,
              dispersion]
    return pd.Series(values, index=_INDEX, name="variance")


def _is_singular(fit: MixedFit, tolerance: float) -> bool:
    """insight's ``.is_singular``: a diagonal element of theta below ``tolerance`` in absolute value."""
    diagonal = theta_lower_bounds(fit.ks) == 0.0
    return bool(np.any(np.abs(fit.theta[diagonal]) < tolerance))


def _first_term_of_each_factor(fit: MixedFit) -> list[tuple[ReTerm, np.ndarray]]:
    """The first term of each grouping factor in lme4's order and its covariance (insight's ``VarCorr(fit)[g]``)."""
    seen: set[str] = set()
    out = []
    for term, template in zip(fit.re_terms, templates(fit.theta, fit.ks)):
        if term.group not in seen:
            seen.add(term.group)
            out.append((term, fit.sigma**2 * (template @ template.T)))
    return out


def _random_variance(terms: list[tuple[ReTerm, np.ndarray]], X: np.ndarray, x_names: list[str]) -> float:
    """insight's ``.compute_variance_random``: the sum over terms of the mean over the rows of ``x_i' Sigma x_i``.

    ``x_i`` holds the row's values of the fixed-effects columns named as the
    term's columns (an intercept column added when X has none); columns X
    lacks are left out.
    """
    n = X.shape[0]
    columns = dict(zip(x_names, X.T))
    if not any(name.startswith("(Intercept)") for name in x_names):
        columns = {"(Intercept)": np.ones(n), **columns}
    total = 0.0
    for term, cov in terms:
        kept = [i for i, name in enumerate(term.z_names) if name in columns]
        z = np.column_stack([columns[term.z_names[i]] for i in kept]) if kept else np.zeros((n, 0))
        total += float(np.sum(cov[np.ix_(kept, kept)] * (z.T @ z))) / n
    return total


def _sample_variance(x: np.ndarray) -> float:
    """R's ``var``: the mean refined by a second pass (so a constant has variance exactly 0), over n - 1."""
    mean = x.mean()
    mean += (x - mean).mean()
    return float(np.sum((x - mean) ** 2) / (x.size - 1))


def _random_slopes_in_fixed(formula_text: str) -> bool:
    """insight's ``.random_slopes_in_fixed``: every random slope's variable is a variable of the fixed part.

    As insight's ``find_random_slopes``, a bar term's slope variables are those
    of its variables (grouping factor included) whose name occurs in the text
    of its left-hand side.
    """
    formula = parse_formula(formula_text)
    fixed = _all_vars(formula.fixed)
    for bar in formula.bars:
        lhs = deparse(bar.lhs)
        if any(name in lhs and name not in fixed for name in _all_vars(bar.lhs) | _all_vars(bar.group)):
            return False
    return True


def _all_vars(node: Node) -> set[str]:
    """R's ``all.vars``: the symbols of an expression, function names left out."""
    match node:
        case Name(id=ident):
            return {ident}
        case Call(args=args):
            return set().union(*(_all_vars(a) for a in args))
        case Binary(left=left, right=right):
            return _all_vars(left) | _all_vars(right)
        case Unary(operand=inner) | Paren(inner=inner):
            return _all_vars(inner)
    return set()
