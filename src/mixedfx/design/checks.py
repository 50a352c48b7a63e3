"""lme4's checks on a model's input, each a named function run once before the model is built.

As lme4's ``lFormula`` calls ``checkNlevels``, ``checkZdims`` and ``checkZrank``
in turn, :func:`mixedfx.lmer` and :func:`mixedfx.glmer` call these on the
model's matrices: grouping factors (levels against observations), a response
the fixed effects fit exactly, and the response a family can take. Each raises
a :class:`~mixedfx.errors.DataError` that names the column and the fix.
"""

from __future__ import annotations

import warnings

from typing import TYPE_CHECKING

import numpy as np

from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.model_matrix import EXTREME_VALUE
from mixedfx.design.rank import gram_clearly_independent
from mixedfx.design.remote_rows import RemoteRows
from mixedfx.design.reterms import ReTerm
from mixedfx.errors import DataError, MixedFxError

if TYPE_CHECKING:
    from mixedfx.glmm.families import Family

__all__ = ["check_scales", "check_covariance_size", "check_grouping_factors", "check_residual_variation", "check_lmer_response", "check_glmer_response",
           "check_factor_response", "check_counts_response", "factor_response_error"]

_EXACT_FIT_TOL = 1e-13
"""A residual sum of squares this small relative to the response's is an exact fit."""


def check_grouping_factors(terms: list[ReTerm], n: int, allow_n: bool) -> None:
    """lme4's checks on grouping factors and on the number of random effects.

    lmer needs fewer levels (and random effects) than observations; glmer allows
    as many (lme4's ``allow.n = TRUE``: an observation-level effect, as cbpp's
    ``(1 | obs)``).
    """
    too_many, single = [], []
    for term in terms:  # one pass finds every problem; the messages follow lme4's order of checks
        levels = len(term.levels)
        if levels > n or (levels == n and not allow_n):
            too_many.append(term.group)
        if levels < 2:
            single.append(term.group)
    if too_many:
        relation = "<=" if allow_n else "<"
        raise DataError(
            f"number of levels of each grouping factor must be {relation} number of observations "
            f"(problems: {', '.join(dict.fromkeys(too_many))})"
            + ("" if allow_n else "; a factor with one level per row cannot be told apart from the residual "
                                  "in a linear mixed model"))
    if single:
        raise DataError(f"grouping factors must have > 1 sampled level (problems: {', '.join(dict.fromkeys(single))}); "
                        "a random effect needs a grouping factor with two or more levels in the rows used")
    for term in terms:
        q = len(term.levels) * term.k
        if q > n or (q == n and not allow_n):
            relation, residual = ("<", "") if allow_n else ("<=", " and the residual variance (or scale parameter)")
            raise DataError(
                f"number of observations (={n}) {relation} number of random effects (={q}) for term ({term.text}); "
                f"the random-effects parameters{residual} are probably unidentifiable")


MAX_COVARIANCE_PARAMETERS = 2000
"""The most covariance parameters (theta) a model may have: the optimisers' work grows with their square."""
MANY_COVARIANCE_PARAMETERS = 300
"""Beyond this many, a fit takes long enough to warn of it."""


def check_covariance_size(terms: list[ReTerm]) -> None:
    """Refuse random-effects terms with more covariance parameters than an optimiser can take; warn of many.

    A term with k columns has k (k + 1) / 2 parameters: ``(f | g)`` with a factor
    ``f`` of 60 levels has 1,830.

    Raises
    ------
    MixedFxError
        Beyond :data:`MAX_COVARIANCE_PARAMETERS`, naming the widest term.
    """
    sizes = [len(t.z_names) * (len(t.z_names) + 1) // 2 for t in terms]
    total = sum(sizes)
    if total <= MANY_COVARIANCE_PARAMETERS:
        return
    widest = terms[int(np.argmax(sizes))]
    what = (f"the term ({widest.text}) has {len(widest.z_names)} columns, so {max(sizes)} covariance parameters; "
            f"the model has {total}")
    advice = (f"a factor's levels as random slopes are better as a nested term, (1 | {widest.group}) + "
              f"(1 | {widest.group}:<the factor>), or uncorrelated, (<the factor> || {widest.group})")
    if total > MAX_COVARIANCE_PARAMETERS:
        raise MixedFxError(f"{what}, more than the {MAX_COVARIANCE_PARAMETERS} an optimiser can take; {advice}")
    warnings.warn(f"{what}: the fit may take long; {advice}", stacklevel=4)


def check_residual_variation(matrices: ModelMatrices, gram: np.ndarray) -> None:
    """Refuse a response that the fixed effects and offset fit exactly: nothing is left for a variance.

    lme4 returns a degenerate fit (sigma 0, an infinite criterion) there; the
    factorisation at the optimum would fail here.

    Parameters
    ----------
    matrices : ModelMatrices
    gram : ndarray, shape (p + 1, p + 1)
        [X y]' W [X y] for the response less the offset: the model's cross-products
        already hold it (``LinearMixedModel.cross.xy_gram``). Columns clearly
        independent there pass; otherwise the rows decide, or the Gram matrix
        alone where the rows are elsewhere (a fit from a Dask DataFrame).

    Raises
    ------
    DataError
    """
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: the exact test decides
        if gram_clearly_independent(gram):
            return
    remote = isinstance(matrices.X, RemoteRows)
    if remote:
        total, residual = float(gram[-1, -1]), _gram_residual(gram)
    else:
        root_w = 1.0 if matrices.weights is None else np.sqrt(matrices.weights)[:, None]
        target = (np.asarray(matrices.y, dtype=float) - matrices.offset)[:, None] * root_w
        total = float(np.sum(target**2))
        if matrices.X.shape[1]:
            coefficients = np.linalg.lstsq(matrices.X * root_w, target, rcond=None)[0]
            residual = float(np.sum((target - (matrices.X * root_w) @ coefficients) ** 2))
        else:
            residual = total
    if residual <= _EXACT_FIT_TOL * total or total == 0.0:
        constant = " (it is constant)" if not remote and np.ptp(matrices.y) == 0 else ""
        raise DataError(f"the fixed effects and offset fit the response {matrices.response_name} exactly{constant}, "
                        "leaving no residual variation: a linear mixed model needs a response that varies beyond "
                        "them; check that it is not a copy or a linear function of a predictor or of the offset")


def _gram_residual(gram: np.ndarray) -> float:
    """The residual sum of squares of the last column on the others, from their Gram matrix."""
    xx, xy = gram[:-1, :-1], gram[:-1, -1]
    if not xx.size:
        return float(gram[-1, -1])
    coefficients = np.linalg.lstsq(xx, xy, rcond=None)[0]
    return float(gram[-1, -1] - xy @ coefficients)


def check_lmer_response(matrices: ModelMatrices, row_sizes: tuple[float, float | None] | None = None) -> None:
    """The response a linear model can take: one numeric column on a scale its sums of squares can hold.

    That the fixed effects do not fit it exactly is checked once the model's
    cross-products are formed (:func:`check_residual_variation`). ``row_sizes``
    replaces the rows where the fit does not hold them (see :func:`check_scales`).

    Raises
    ------
    DataError
    """
    if matrices.y.ndim != 1:
        raise DataError(f"the response {matrices.response_name} must be a single numeric column for lmer")
    if matrices.response_levels is not None:
        raise factor_response_error(matrices, "lmer needs numbers; for a binary response use "
                                              "glmer(..., family='binomial')")
    check_scales(matrices, row_sizes)


_WEIGHT_SCALE = 1e10
"""Weights whose geometric mean is beyond this factor from 1 make the criterion numerically singular."""


def check_scales(matrices: ModelMatrices, row_sizes: tuple[float, float | None] | None = None) -> None:
    """Refuse a response, or prior weights, on a scale the criterion's sums of squares cannot hold.

    The response's squares must neither overflow nor underflow. A linear model's
    estimates depend only on the weights' ratios (a common factor c scales sigma
    by sqrt(c) and theta by 1/sqrt(c)), but weights far from 1 on average make the
    penalised system numerically singular.

    ``row_sizes`` (the largest absolute response, and the positive weights'
    geometric mean or None) replaces the rows where the fit does not hold them.

    Raises
    ------
    DataError
        Naming the response or the weights, their scale and the rescaling that fixes it.
    """
    if row_sizes is None:
        y = np.asarray(matrices.y, dtype=float).reshape(-1)
        largest = float(max(-y[y.argmin()], y[y.argmax()])) if y.size else 0.0  # C methods, no ufunc reduction
        weights = matrices.weights
        positive = None if weights is None or not np.any(weights > 0) else weights[weights > 0]
        scale = None if positive is None else float(np.exp(np.mean(np.log(positive))))
    else:
        largest, scale = row_sizes
    if largest > EXTREME_VALUE:
        raise DataError(f"the response {matrices.response_name} has values as large as {largest:.3g}: their squares "
                        f"overflow double precision; rescale it (divide it by a power of 10)")
    if 0.0 < largest < 1.0 / EXTREME_VALUE:
        raise DataError(f"the response {matrices.response_name} is at most {largest:.3g} in size: its squares "
                        f"underflow double precision; rescale it (multiply it by a power of 10)")
    if scale is not None and not 1.0 / _WEIGHT_SCALE <= scale <= _WEIGHT_SCALE:
        name = matrices.weights_name or "weights"
        raise DataError(f"the weights ({name}) are about {scale:.3g} on average: only their ratios matter to lmer's "
                        f"estimates, and values this far from 1 make its criterion numerically singular; divide "
                        f"them by their mean")


def factor_response_error(matrices: ModelMatrices, why: str) -> DataError:
    """The error for a factor (or text) response where ``why`` needs a numeric one."""
    levels = matrices.response_levels or ()
    shown = ", ".join(levels[:5]) + (", ..." if len(levels) > 5 else "")
    return DataError(f"response must be numeric (lme4's message): {matrices.response_name} is a factor or text "
                     f"column with {len(levels)} levels ({shown}); {why}")


def check_glmer_response(matrices: ModelMatrices, family: Family) -> None:
    """The response a generalized model can take: lme4's checks, with the column and a value named."""
    name, y = matrices.response_name, matrices.y
    check_factor_response(matrices, family)
    if np.ndim(y) == 2:
        check_counts_response(matrices, family)
    else:
        family.check_response(y, name, matrices.weights, matrices.rows)
    values = np.asarray(y)
    if not (values[1:] != values[:-1]).any():  # one distinct value (row): np.unique would sort them all to say so
        raise DataError(f"Response is constant (lme4's message): every value of {name} is the same in the rows used; "
                        "a generalized model needs a response that varies")


def check_factor_response(matrices: ModelMatrices, family: Family) -> None:
    """A factor response (its levels in ``matrices.response_levels``): the binomial family and two levels.

    Raises
    ------
    DataError
    """
    if matrices.response_levels is None:
        return
    if family.name != "binomial":
        raise factor_response_error(matrices, f"the {family.name} family needs numbers; only the binomial family "
                                         "takes a two-level factor")
    if len(matrices.response_levels) > 2:
        raise factor_response_error(matrices, "a binomial response needs two levels (the first is failure, "
                                         "the second success): recode it as 0/1 or a two-level factor")


def check_counts_response(matrices: ModelMatrices, family: Family) -> None:
    """A ``cbind(successes, failures)`` response: binomial family and counts of 0 or more.

    Raises
    ------
    DataError
        Naming the response and the first offending row.
    """
    name, y = matrices.response_name, np.asarray(matrices.y, dtype=float)
    if family.name != "binomial":
        raise DataError(f"a two-column response ({name}) needs the binomial family, not {family.name}")
    if np.fmin.reduce(y, axis=None, initial=0.0) < 0:  # fmin passes over NaN
        negative = np.flatnonzero((y < 0).any(axis=1))
        raise DataError(f"negative counts in {name} ({negative.size} rows, e.g. row "
                           f"{matrices.rows[negative[0]]}); cbind(successes, failures) needs counts of 0 or more")
