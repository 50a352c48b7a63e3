"""Public fitting functions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from mixedfx.design import build_model_matrices
from mixedfx.errors import DataError
from mixedfx.lmm import LinearMixedModel, LmerControl
from mixedfx.lmer_fit import LmerFit

__all__ = ["lmer"]


def _control(control: LmerControl | Mapping[str, Any] | None) -> LmerControl:
    if control is None:
        return LmerControl()
    if isinstance(control, LmerControl):
        return control
    if isinstance(control, Mapping):
        known = set(LmerControl.__dataclass_fields__)
        unknown = sorted(set(control) - known)
        if unknown:
            raise ValueError(f"unknown control setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(known))}")
        return LmerControl(**control)
    raise TypeError(f"control must be a dict or LmerControl, not {type(control).__name__}")


def _check_grouping_factors(model: LinearMixedModel) -> None:
    """lme4's checks on grouping factors and on the number of random effects (lmerControl defaults)."""
    n = model.n
    too_many = [t.group for t in model.terms if len(t.levels) >= n]
    if too_many:
        raise DataError(
            "number of levels of each grouping factor must be < number of observations "
            f"(problems: {', '.join(dict.fromkeys(too_many))}); a factor with one level per row cannot be "
            "told apart from the residual in a linear mixed model")
    single = [t.group for t in model.terms if len(t.levels) < 2]
    if single:
        raise DataError(f"grouping factors must have > 1 sampled level (problems: {', '.join(dict.fromkeys(single))})")
    for term in model.terms:
        q = len(term.levels) * term.z.shape[1]
        if q >= n:
            raise DataError(
                f"number of observations (={n}) <= number of random effects (={q}) for term ({term.text}); "
                "the random-effects parameters and the residual variance (or scale parameter) are probably "
                "unidentifiable")


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
    """
    ctrl = _control(control)
    matrices = build_model_matrices(formula, data, weights=weights, offset=offset, na_action=na_action)
    if np.ndim(matrices.y) != 1:
        raise DataError(f"the response {matrices.response_name} must be a single numeric column for lmer")
    model = LinearMixedModel(matrices, reml=bool(REML))
    _check_grouping_factors(model)
    opt = model.optimize(ctrl)
    return LmerFit(model, opt, ctrl,
                   data_name=data.attrs.get("name") if isinstance(data, pd.DataFrame) else None,
                   weights_name=weights if isinstance(weights, str) else (None if weights is None else "weights"),
                   offset_name=None if offset is None else "offset")
