"""Public fitting functions."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import digamma, polygamma

from mixedfx.design.checks import (check_glmer_response, check_grouping_factors, check_residual_variation,
                                   factor_response_error)
from mixedfx.design.matrices import build_model_matrices, ModelMatrices
from mixedfx.errors import DataError, MixedFxError
from mixedfx.fits.glmer import GlmerFit
from mixedfx.fits.lmer import LmerFit
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.families import Family, get_family, negative_binomial, poisson
from mixedfx.glmm.model import GeneralizedLinearMixedModel
from mixedfx.linalg.memory import check_dense_blocks
from mixedfx.lmm.control import LmerControl
from mixedfx.lmm.model import LinearMixedModel

__all__ = ["lmer", "glmer", "glmer_nb", "theta_ml"]

NB_TOL_PWRSS = 1e-10


def _control(control, kind: type):
    """A control object of ``kind`` from None, an instance or a dict of its fields."""
    if control is None:
        return kind()
    if isinstance(control, kind):
        return control
    if isinstance(control, Mapping):
        known = set(kind.__dataclass_fields__)
        unknown = sorted(set(control) - known)
        if unknown:
            raise MixedFxError(f"unknown control setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        return kind(**control)
    raise TypeError(f"control must be a dict or {kind.__name__}, not {type(control).__name__}")


def _check_terms(matrices: ModelMatrices, allow_n: bool) -> None:
    """lme4's grouping-factor checks, then the memory the factorisation will need."""
    terms = matrices.ordered_terms
    check_grouping_factors(terms, matrices.X.shape[0], allow_n)
    check_dense_blocks(terms, matrices.X.shape[1])


def lmer(formula: str, data: pd.DataFrame, *, REML: bool = True, weights: str | np.ndarray | None = None,  # noqa: N803
         offset: np.ndarray | None = None, na_action: str = "omit",
         control: LmerControl | Mapping[str, Any] | None = None) -> LmerFit:
    """Fit a linear mixed model, as lme4's ``lmer``.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    data : DataFrame
        The data; it is not modified.
    REML : bool
        Fit by REML (default) or maximum likelihood.
    weights : str or array-like, optional
        Prior weights: a column of ``data`` or one value per row.
    offset : array-like, optional
        A known term added to the linear predictor (besides any ``offset()`` in the formula).
    na_action : {"omit", "fail"}
        Drop rows with missing values in the model's variables, or raise.
    control : LmerControl or dict, optional
        Optimiser settings.

    Returns
    -------
    LmerFit

    Raises
    ------
    TypeError
        An argument of the wrong type (``formula`` not a string, ``data`` not
        a DataFrame, ``REML`` not a bool...).
    FormulaError
        A formula that does not parse (the message says where) or has no
        random-effects term.
    DataError
        Unknown columns (with near matches), no rows, a non-numeric response,
        infinite values, bad weights, grouping factors with one level or with
        as many levels as rows, a response the fixed effects fit exactly.
    MixedFxError
        A model too large for the memory available (its size is given).
    """
    if not isinstance(REML, bool | np.bool_):
        raise TypeError(f"REML must be True or False, not {REML!r}")
    ctrl = _control(control, LmerControl)
    matrices = build_model_matrices(formula, data, weights=weights, offset=offset, na_action=na_action)
    if np.ndim(matrices.y) != 1:
        raise DataError(f"the response {matrices.response_name} must be a single numeric column for lmer")
    if matrices.response_levels is not None:
        raise factor_response_error(matrices, "lmer needs numbers; for a binary response use "
                                         "glmer(..., family='binomial')")
    check_residual_variation(matrices)
    _check_terms(matrices, allow_n=False)
    model = LinearMixedModel(matrices, reml=bool(REML))
    return LmerFit(model, model.optimize(ctrl), ctrl, **_names(data, weights, offset))


def _names(data: pd.DataFrame, weights, offset) -> dict[str, str | None]:
    """How the summary names the data, the weights and the offset."""
    return dict(data_name=data.attrs.get("name") if isinstance(data, pd.DataFrame) else None,
                weights_name=weights if isinstance(weights, str) else (None if weights is None else "weights"),
                offset_name=None if offset is None else "offset")


def _glmer_matrices(formula: str, data: pd.DataFrame, family: Family, nAGQ: int,  # noqa: N803
                    **frame_args: Any) -> ModelMatrices:
    """The model's matrices, with every check a generalized model needs before it is built."""
    if not isinstance(nAGQ, int | np.integer) or isinstance(nAGQ, bool):
        raise TypeError(f"nAGQ must be a whole number (an int) from 0 to 25, not {nAGQ!r}")
    if not 0 <= nAGQ <= 25:
        raise MixedFxError(f"nAGQ must be a whole number from 0 to 25, not {nAGQ!r}")
    matrices = build_model_matrices(formula, data, **frame_args)
    check_glmer_response(matrices, family)
    _check_terms(matrices, allow_n=True)
    return matrices


def glmer(formula: str, data: pd.DataFrame, *, family: str | Family, weights: str | np.ndarray | None = None,
          offset: np.ndarray | None = None, nAGQ: int = 1, na_action: str = "omit",  # noqa: N803
          control: GlmerControl | Mapping[str, Any] | None = None) -> GlmerFit | LmerFit:
    """Fit a generalized linear mixed model, as lme4's ``glmer``.

    Parameters
    ----------
    formula : str
        lme4 formula; a binomial response may be 0/1, logical, a two-level factor
        (first level = failure), a proportion with ``weights`` (the trials), or
        ``cbind(successes, failures)``.
    data : DataFrame
        The data; it is not modified.
    family : str or Family
        ``"binomial"``, ``"poisson"``, ``"Gamma"``, ``"inverse_gaussian"``,
        ``"gaussian"``, or an object from :mod:`mixedfx.glmm.families` (for another link).
    weights : str or array-like, optional
        Prior weights: a column of ``data`` or one value per row.
    offset : array-like, optional
        Added to the linear predictor (besides any ``offset()`` in the formula).
    nAGQ : int
        1: Laplace approximation; 0: faster, beta estimated inside PIRLS;
        more than 1: adaptive Gauss-Hermite quadrature with that many nodes (one
        scalar random-effects term only).
    na_action : {"omit", "fail"}
        Drop rows with missing values in the model's variables, or raise.
    control : GlmerControl or dict, optional

    Returns
    -------
    GlmerFit
        (An LmerFit, with a warning, for the gaussian family with identity link,
        as lme4 does.)

    Raises
    ------
    TypeError, FormulaError, DataError, MixedFxError
        As :func:`lmer`'s; also an unknown family or link (the valid ones are
        listed), responses the family does not allow (the value and its row
        are named), a factor response with more than two levels, a constant
        response, and ``nAGQ > 1`` for anything but a single scalar
        random-effects term.
    """
    fam = get_family(family)
    ctrl = _control(control, GlmerControl)
    if fam.name == "gaussian" and fam.link.name == "identity":
        warnings.warn("calling glmer() with family=gaussian (identity link) as a shortcut to lmer() is "
                      "deprecated; please call lmer() directly", FutureWarning, stacklevel=2)
        return lmer(formula, data, REML=False, weights=weights, offset=offset, na_action=na_action)
    matrices = _glmer_matrices(formula, data, fam, nAGQ, weights=weights, offset=offset, na_action=na_action)
    model = GeneralizedLinearMixedModel(matrices, fam, int(nAGQ), ctrl)
    return GlmerFit(model, model.fit(), **_names(data, weights, offset))


def glmer_nb(formula: str, data: pd.DataFrame, *, weights: str | np.ndarray | None = None,
             offset: np.ndarray | None = None, nAGQ: int = 1, na_action: str = "omit",  # noqa: N803
             control: GlmerControl | Mapping[str, Any] | None = None, tol: float = 5e-5) -> GlmerFit:
    """Fit a negative binomial mixed model, estimating its theta as lme4's ``glmer.nb``.

    A Poisson fit gives a first theta (MASS's ``theta.ml``); the negative binomial
    fit's -2 log-likelihood is then minimised over log(theta) within 3 of it.

    Parameters
    ----------
    formula, data, weights, offset, nAGQ, na_action
        As for :func:`glmer`.
    control : GlmerControl or dict, optional
        As for :func:`glmer`; PIRLS's tolerance is at most 1e-10 here (see the note in the code).
    tol : float
        Tolerance on log(theta).

    Returns
    -------
    GlmerFit
    """
    # lme4 reaches its glmer.nb optimum through a chain of warm-started refits; a tight PIRLS
    # tolerance makes the profile over theta smooth and reaches the same optimum directly
    ctrl = _control(control, GlmerControl)
    ctrl = replace(ctrl, tol_pwrss=min(ctrl.tol_pwrss, NB_TOL_PWRSS))
    matrices = _glmer_matrices(formula, data, poisson(), nAGQ, weights=weights, offset=offset, na_action=na_action)
    names = _names(data, weights, offset)
    start = GeneralizedLinearMixedModel(matrices, poisson(), int(nAGQ), replace(ctrl, calc_derivs=False))
    theta0 = theta_ml(start.y, GlmerFit(start, start.fit(), **names).fitted(), start.weights)
    search = replace(ctrl, calc_derivs=False)
    last_theta = None

    def minus_two_loglik(log_theta: float) -> float:
        nonlocal last_theta
        model = GeneralizedLinearMixedModel(matrices, negative_binomial(float(np.exp(log_theta))), int(nAGQ), search)
        optimum = model.fit(theta0=last_theta)
        last_theta = optimum.theta
        return -2.0 * GlmerFit(model, optimum, **names).loglik

    centre = np.log(theta0)
    from scipy.optimize import minimize_scalar  # noqa: PLC0415 - scipy.optimize costs 70 ms to import

    best = minimize_scalar(minus_two_loglik, bounds=(centre - 3.0, centre + 3.0), method="bounded",
                           options={"xatol": tol})
    model = GeneralizedLinearMixedModel(matrices, negative_binomial(float(np.exp(best.x))), int(nAGQ), ctrl)
    return GlmerFit(model, model.fit(theta0=last_theta), **names)


def theta_ml(y: np.ndarray, mu: np.ndarray, weights: np.ndarray, limit: int = 20,
             eps: float = 1e-4) -> float:
    """Maximum-likelihood negative binomial theta for fixed means (MASS's ``theta.ml``).

    Parameters
    ----------
    y, mu, weights : ndarray
        Counts, means and prior weights.
    limit : int
        Most Newton steps.
    eps : float
        Stop when a step is smaller than this.

    Returns
    -------
    float
    """
    n = weights.sum()
    theta = n / np.sum(weights * (y / mu - 1.0) ** 2)
    for _ in range(limit - 1):
        theta = abs(theta)
        score = np.sum(weights * (digamma(theta + y) - digamma(theta) + np.log(theta) + 1.0
                                  - np.log(theta + mu) - (y + theta) / (mu + theta)))
        info = np.sum(weights * (-polygamma(1, theta + y) + polygamma(1, theta) - 1.0 / theta
                                 + 2.0 / (mu + theta) - (y + theta) / (mu + theta) ** 2))
        step = score / info
        theta += step
        if abs(step) <= eps:
            break
    return float(max(theta, 0.0))
