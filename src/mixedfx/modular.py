"""lme4's fit in stages you can call one by one, as lme4's ``modular.R`` offers them.

An lmer fit is four steps; :func:`mixedfx.lmer` is exactly these in turn::

    design = mfx.lmer_design("Reaction ~ Days + (Days | Subject)", sleepstudy)  # lFormula
    model = mfx.lmer_model(design, REML=True)                                   # mkLmerDevfun
    model.objective(theta)                                                      # devFunOnly = TRUE
    opt = mfx.optimize_lmer(model)                                              # optimizeLmer
    fit = mfx.lmer_fit(model, opt)                                              # mkMerMod

and a glmer fit the same four (``glFormula``, ``mkGlmerDevfun``, both stages of
``optimizeGlmer``, ``mkMerMod``). Between the steps everything is open: the
design's matrices, the model's objective as a plain function of theta (for
your own optimiser, a grid, a plot), the optimiser's summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from mixedfx.design.checks import (check_covariance_size, check_glmer_response, check_grouping_factors,
                                   check_lmer_response, check_residual_variation)
from mixedfx.design.matrices import ModelMatrices, build_model_matrices
from mixedfx.errors import MixedFxError
from mixedfx.formula.contrasts import ContrastSpec
from mixedfx.fits.call import FitCall
from mixedfx.fits.lmer import LmerFit
from mixedfx.linalg.memory import check_dense_blocks
from mixedfx.lmm.control import LmerControl
from mixedfx.lmm.model import LinearMixedModel
from mixedfx.optim.checks import scale_x_message
from mixedfx.optim.optimize import OptSummary

if TYPE_CHECKING:  # the glmer stages import these when first called: an lmer fit never loads them
    from mixedfx.fits.glmer import GlmerFit
    from mixedfx.glmm.control import GlmerControl
    from mixedfx.glmm.families import Family
    from mixedfx.glmm.model import GeneralizedLinearMixedModel, GlmmOptimum

__all__ = ["lmer_design", "lmer_model", "optimize_lmer", "lmer_fit", "glmer_design", "glmer_model",
           "optimize_glmer", "glmer_fit", "as_control"]

Control = TypeVar("Control", "LmerControl", "GlmerControl")
MAX_NAGQ = 100


@lru_cache(maxsize=None)
def _default_control(kind: type[Control]) -> Control:
    """The defaults of a control class, made (and checked) once: the objects are frozen."""
    return kind()


def as_control(control: Control | Mapping[str, Any] | None, kind: type[Control]) -> Control:
    """A control object of ``kind`` from None (the defaults), an instance, or a dict of its fields.

    Examples
    --------
    >>> as_control({"maxeval": 500}, LmerControl).maxeval
    500
    """
    if control is None:
        return _default_control(kind)
    if isinstance(control, kind):
        return control
    if isinstance(control, Mapping):
        known = set(kind.__dataclass_fields__)
        unknown = sorted(set(control) - known)
        if unknown:
            raise MixedFxError(f"unknown control setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        return kind(**control)
    raise TypeError(f"control must be a dict or {kind.__name__}, not {type(control).__name__}")


def start_values(start: object, n_theta: int, n_beta: int | None = None) -> tuple[np.ndarray | None,
                                                                             np.ndarray | None]:
    """lme4's ``start``: theta alone, or a dict with ``"theta"`` (and for glmer ``"fixef"``), checked.

    Parameters
    ----------
    start : array-like, dict or None
        Starting values in lme4's order.
    n_theta : int
        The model's number of covariance parameters.
    n_beta : int, optional
        Its number of fixed effects, where ``"fixef"`` is allowed (glmer).

    Returns
    -------
    theta0, beta0 : ndarray or None

    Raises
    ------
    TypeError, ValueError
        A start of another form, other keys, values of the wrong length or not finite.

    Examples
    --------
    >>> start_values({"theta": [1.0, 0.0, 1.0]}, 3)
    (array([1., 0., 1.]), None)
    """
    if start is None:
        return None, None
    allowed = ("theta",) if n_beta is None else ("theta", "fixef")
    parts = dict(start) if isinstance(start, Mapping) else {"theta": start}
    unknown = sorted(set(parts) - set(allowed))
    if unknown:
        raise ValueError(f"start takes {' and '.join(map(repr, allowed))}, not {', '.join(map(repr, unknown))}")
    sizes = {"theta": n_theta, "fixef": n_beta}
    values = {}
    for key, value in parts.items():
        try:
            array = np.asarray(value, dtype=float).ravel()
        except (TypeError, ValueError):
            raise TypeError(f"start's {key} must be numbers, not {value!r}") from None
        if array.size != sizes[key] or not np.all(np.isfinite(array)):
            raise ValueError(f"start's {key} needs {sizes[key]} finite values in lme4's order, "
                             f"got {array.size}: {array.tolist()}")
        values[key] = array
    return values.get("theta"), values.get("fixef")


def _stop_on_scale(design: ModelMatrices, control: LmerControl | GlmerControl) -> None:
    """lme4's ``check.scaleX = "stop"``: refuse before optimising where X's columns' scales differ too much."""
    if control.check_scale_x == "stop" and (message := scale_x_message(design.X, control.check_scale_x_tol)):
        raise MixedFxError(f"{message} (control check_scale_x is 'stop')")


def _check_terms(design: ModelMatrices, allow_n: bool) -> None:
    """lme4's grouping-factor checks, then the memory the factorisation will need."""
    terms = design.ordered_terms
    check_grouping_factors(terms, design.X.shape[0], allow_n)
    check_covariance_size(terms)
    check_dense_blocks(terms, design.X.shape[1])


# --------------------------------------------------------------------------- lmer
def lmer_design(formula: str, data: pd.DataFrame, *, weights: str | np.ndarray | None = None,
                offset: np.ndarray | None = None, na_action: str = "omit",
                contrasts: Mapping[str, ContrastSpec] | None = None, subset: object = None) -> ModelMatrices:
    """The model's response, X and random-effects terms, checked as lme4's ``lFormula`` checks them.

    Parameters
    ----------
    formula, data, weights, offset, na_action, contrasts, subset
        As for :func:`mixedfx.lmer`.

    Returns
    -------
    ModelMatrices

    Raises
    ------
    TypeError, FormulaError, DataError, MixedFxError
        As :func:`mixedfx.lmer` does before it optimises anything, but for a
        response the fixed effects fit exactly, which :func:`lmer_model` refuses.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> design = mfx.lmer_design("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> design.X.shape, design.x_names
    ((180, 2), ['(Intercept)', 'Days'])
    """
    design = build_model_matrices(formula, data, weights=weights, offset=offset, na_action=na_action,
                                  contrasts=contrasts, subset=subset)
    check_lmer_response(design)
    _check_terms(design, allow_n=False)
    return design


def lmer_model(design: ModelMatrices, *, REML: bool = True) -> LinearMixedModel:  # noqa: N803 - lme4's name
    """The linear model ready to evaluate its criterion, as lme4's ``mkLmerDevfun``.

    Building it reads the rows once (the cross-products); ``model.objective``
    is then the profiled deviance (``REML=False``) or REML criterion as a plain
    function of theta in lme4's order (lme4's ``devFunOnly = TRUE``), ``inf``
    where the system is singular; ``model.start_theta()`` is lme4's start.

    Parameters
    ----------
    design : ModelMatrices
        From :func:`lmer_design`.
    REML : bool

    Returns
    -------
    LinearMixedModel

    Raises
    ------
    DataError
        The fixed effects and offset fit the response exactly (judged on the
        cross-products just formed: nothing is left for a variance).

    Examples
    --------
    >>> import mixedfx as mfx
    >>> model = mfx.lmer_model(mfx.lmer_design("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff")))
    >>> round(model.objective([0.8]), 2)
    319.67
    """
    if not isinstance(REML, bool | np.bool_):
        raise TypeError(f"REML must be True or False, not {REML!r}")
    model = LinearMixedModel(design, reml=bool(REML))
    check_residual_variation(design, model.cross.xy_gram)
    return model


def optimize_lmer(model: LinearMixedModel, control: LmerControl | Mapping[str, Any] | None = None) -> OptSummary:
    """Minimise the model's criterion over theta, as lme4's ``optimizeLmer`` (restart at the edge included).

    Parameters
    ----------
    model : LinearMixedModel
        From :func:`lmer_model`.
    control : LmerControl or dict, optional

    Returns
    -------
    OptSummary
        The optimiser, its start and end, evaluations, and what evaluated the
        criterion (``factorizer``).

    Examples
    --------
    >>> import mixedfx as mfx
    >>> model = mfx.lmer_model(mfx.lmer_design("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff")))
    >>> round(float(mfx.optimize_lmer(model).fval), 3)
    319.654
    """
    control = as_control(control, LmerControl)
    _stop_on_scale(model.matrices, control)
    return model.optimize(control)


def lmer_fit(model: LinearMixedModel, opt: OptSummary,
             control: LmerControl | Mapping[str, Any] | None = None, call: FitCall | None = None) -> LmerFit:
    """The fitted model at the optimiser's theta, as lme4's ``mkMerMod``.

    Parameters
    ----------
    model : LinearMixedModel
    opt : OptSummary
        From :func:`optimize_lmer` (or any summary whose ``x`` is a theta).
    control : LmerControl or dict, optional
        The settings its convergence checks and refits use.
    call : FitCall, optional
        The call to repeat for ``fit.update`` (:func:`mixedfx.lmer` records its own).

    Returns
    -------
    LmerFit

    Examples
    --------
    >>> import mixedfx as mfx
    >>> model = mfx.lmer_model(mfx.lmer_design("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff")))
    >>> round(float(mfx.lmer_fit(model, mfx.optimize_lmer(model)).fixef.iloc[0]), 1)
    1527.5
    """
    fit = LmerFit(model, opt, as_control(control, LmerControl), call)
    fit.stop_on_checks()
    return fit


# --------------------------------------------------------------------------- glmer
def glmer_design(formula: str, data: pd.DataFrame, *, family: str | Family,
                 weights: str | np.ndarray | None = None, offset: np.ndarray | None = None,
                 na_action: str = "omit", contrasts: Mapping[str, ContrastSpec] | None = None,
                 subset: object = None) -> ModelMatrices:
    """The model's matrices, checked as lme4's ``glFormula`` checks them (the response against the family).

    Parameters
    ----------
    formula, data, family, weights, offset, na_action, contrasts, subset
        As for :func:`mixedfx.glmer`.

    Returns
    -------
    ModelMatrices

    Examples
    --------
    >>> import mixedfx as mfx
    >>> design = mfx.glmer_design("cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ...                           mfx.datasets.load("cbpp"), family="binomial")
    >>> design.y.shape
    (56, 2)
    """
    from mixedfx.glmm.families import get_family  # noqa: PLC0415 - loads with the first glmer call

    design = build_model_matrices(formula, data, weights=weights, offset=offset, na_action=na_action,
                                  contrasts=contrasts, subset=subset)
    check_glmer_response(design, get_family(family))
    _check_terms(design, allow_n=True)
    return design


def glmer_model(design: ModelMatrices, *, family: str | Family, nAGQ: int = 1,  # noqa: N803 - lme4's name
                control: GlmerControl | Mapping[str, Any] | None = None) -> GeneralizedLinearMixedModel:
    """The generalized model ready to evaluate its deviance, as lme4's ``mkGlmerDevfun``.

    Its PIRLS engines are chosen here (``model.pirls_engines``). The first
    stage's deviance over theta (beta inside PIRLS) and the second stage's over
    theta then beta are ``model.stage1_objective(eta_start)`` and
    ``model.stage2_objective(eta_start)``.

    Parameters
    ----------
    design : ModelMatrices
        From :func:`glmer_design`.
    family : str or Family
    nAGQ : int
        0 to 25, as for :func:`mixedfx.glmer`.
    control : GlmerControl or dict, optional

    Returns
    -------
    GeneralizedLinearMixedModel

    Examples
    --------
    >>> import mixedfx as mfx
    >>> design = mfx.glmer_design("TICKS ~ YEAR + (1 | LOCATION)", mfx.datasets.load("grouseticks"), family="poisson")
    >>> mfx.glmer_model(design, family="poisson").pirls_engines[0].name
    'PIRLS (compiled, sparse rest)'
    """
    from mixedfx.glmm.control import GlmerControl  # noqa: PLC0415 - loads with the first glmer call
    from mixedfx.glmm.families import get_family  # noqa: PLC0415
    from mixedfx.glmm.model import GeneralizedLinearMixedModel  # noqa: PLC0415

    return GeneralizedLinearMixedModel(design, get_family(family), checked_n_agq(nAGQ),
                                       as_control(control, GlmerControl))


def checked_n_agq(nAGQ: object) -> int:  # noqa: N803 - lme4's name
    """lme4's ``nAGQ``, checked: a whole number from 0 to :data:`MAX_NAGQ`.

    Raises
    ------
    TypeError, MixedFxError

    Examples
    --------
    >>> checked_n_agq(1)
    1
    """
    if not isinstance(nAGQ, int | np.integer) or isinstance(nAGQ, bool):
        raise TypeError(f"nAGQ must be a whole number (an int) from 0 to {MAX_NAGQ}, not {nAGQ!r}")
    if not 0 <= nAGQ <= MAX_NAGQ:
        raise MixedFxError(f"nAGQ must be a whole number from 0 to {MAX_NAGQ}, not {nAGQ!r}")
    return int(nAGQ)


def optimize_glmer(model: GeneralizedLinearMixedModel, theta0: np.ndarray | None = None,
                   beta0: np.ndarray | None = None) -> GlmmOptimum:
    """lme4's two stages: theta with beta inside PIRLS (``optimizeGlmer(stage = 1)``), then theta and beta together.

    Parameters
    ----------
    model : GeneralizedLinearMixedModel
        From :func:`glmer_model`; nAGQ = 0 stops after the first stage.
    theta0 : ndarray, optional
        Starting theta (lme4's order); 1 on the diagonal, 0 below by default.
    beta0 : ndarray, optional
        Stage 2's starting fixed effects; stage 1's estimates by default.

    Returns
    -------
    GlmmOptimum
        Both stages' summaries, the estimates, PIRLS's state there and the Hessian.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> design = mfx.glmer_design("TICKS ~ YEAR + (1 | LOCATION)", mfx.datasets.load("grouseticks"), family="poisson")
    >>> optimum = mfx.optimize_glmer(mfx.glmer_model(design, family="poisson"))
    >>> optimum.opt.x.shape
    (4,)
    """
    _stop_on_scale(model.matrices, model.control)
    return model.fit(theta0=theta0, beta0=beta0)


def glmer_fit(model: GeneralizedLinearMixedModel, optimum: GlmmOptimum, call: FitCall | None = None) -> GlmerFit:
    """The fitted generalized model at an optimum, as lme4's ``mkMerMod``.

    ``call`` is the call to repeat for ``fit.update`` (:func:`mixedfx.glmer` records its own).

    Examples
    --------
    >>> import mixedfx as mfx
    >>> design = mfx.glmer_design("TICKS ~ YEAR + (1 | LOCATION)", mfx.datasets.load("grouseticks"), family="poisson")
    >>> model = mfx.glmer_model(design, family="poisson")
    >>> mfx.glmer_fit(model, mfx.optimize_glmer(model)).nagq
    1
    """
    from mixedfx.fits.glmer import GlmerFit  # noqa: PLC0415 - loads with the first glmer call

    fit = GlmerFit(model, optimum, call)
    fit.stop_on_checks()
    return fit
