"""What inference reads of a fit: the public doors of :class:`mixedfx.fits.base.MixedModelFit`, as a protocol.

The fitted-model classes call inference (``fit.confint()``, ``fit.profile()``),
so inference must not import them; it reads a fit through this interface, and
tells a linear fit from a generalized one by the model it holds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np
import pandas as pd

from mixedfx.glmm.model import GeneralizedLinearMixedModel
from mixedfx.lmm.model import LinearMixedModel

if TYPE_CHECKING:
    from mixedfx.design.matrices import ModelMatrices
    from mixedfx.design.reterms import ReTerm
    from mixedfx.fits.call import FitCall
    from mixedfx.glmm.control import GlmerControl
    from mixedfx.lmm.control import LmerControl
    from mixedfx.optim.optimize import OptSummary

__all__ = ["MixedFit", "fitted_model", "is_generalized"]


class MixedFit(Protocol):
    """A fitted mixed model as inference sees it (what :class:`~mixedfx.fits.base.MixedModelFit` offers).

    A fit whose rows stay on a cluster also offers ``bootstrap_refits`` (its simulations'
    refits, a batch per pass over its partitions), which :func:`mixedfx.bootstrap` calls.
    """

    model: LinearMixedModel | GeneralizedLinearMixedModel
    matrices: ModelMatrices
    re_terms: list[ReTerm]
    term_order: list[int]
    ks: list[int]
    theta: np.ndarray
    fixef: pd.Series
    vcov: pd.DataFrame
    sigma: float
    loglik: float
    deviance: float
    nobs: int
    uses_scale: bool
    opt_summary: OptSummary
    reml: bool
    df: int
    formula_text: str
    call: FitCall | None
    control: LmerControl | GlmerControl
    optimizer_messages: list[str]

    def refit(self, newresp) -> MixedFit:
        """The same model fitted to a new response."""

    def reoptimize(self, optimizer: str) -> MixedFit:
        """The same model optimised again by another optimiser."""

    def update(self, formula: str | None = None, **changed) -> MixedFit:
        """The model fitted again with a changed formula or arguments (lme4's ``update``)."""

    def refit_ml(self) -> MixedFit:
        """The model refitted by maximum likelihood (itself when it is)."""


def fitted_model(fit: object, what: str) -> LinearMixedModel | GeneralizedLinearMixedModel:
    """The model a fit holds, or a TypeError naming ``what`` needs a fit from lmer or glmer.

    Examples
    --------
    >>> fitted_model(3, "profile")
    Traceback (most recent call last):
    ...
    TypeError: profile needs a fit from lmer, glmer or glmer_nb, not int
    """
    model = getattr(fit, "model", None)
    if not isinstance(model, (LinearMixedModel, GeneralizedLinearMixedModel)):
        raise TypeError(f"{what} needs a fit from lmer, glmer or glmer_nb, not {type(fit).__name__}")
    return model


def is_generalized(fit: MixedFit) -> bool:
    """Whether the fit is a generalized model's (glmer, glmer_nb)."""
    return isinstance(fit.model, GeneralizedLinearMixedModel)
