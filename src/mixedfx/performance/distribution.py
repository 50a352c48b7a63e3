"""The distribution-specific variance of a mixed model, as insight's ``.compute_variance_distribution``.

It is the residual variance on the latent (link) scale that Nakagawa's R² and
the ICC add to the random-effects variance: sigma² for a linear model, a
constant for the binomial links (pi²/3, 1, pi²/6) and the Poisson's square-root
link, and for log-link counts the lognormal approximation
``log1p(V(mu) / mu²)``, with ``mu`` the exponentiated intercept of the null
model (the fixed part reduced to an intercept, the random part kept), which is
fitted for the purpose, as insight's ``null_model`` does.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from mixedfx.errors import MixedFxError
from mixedfx.glmm.model import GeneralizedLinearMixedModel

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["SMALL_MEAN", "distribution_variance", "null_model_mean"]

SMALL_MEAN = 6.0
"""Below this null-model mean insight warns that the lognormal approximation may be unreliable."""

_BINOMIAL_LINK_VARIANCES = {"logit": math.pi**2 / 3.0, "probit": 1.0, "cloglog": math.pi**2 / 6.0}
_SQRT_LINK_VARIANCE = 0.25
"""The variance of sqrt(y) for counts (the square root stabilises the Poisson's variance at 1/4)."""


def distribution_variance(fit: MixedFit) -> float:
    """The distribution-specific variance of a fit, insight 0.19's choice for its family and link.

    Parameters
    ----------
    fit : LmerFit or GlmerFit

    Returns
    -------
    float
        sigma² for lmer, gaussian and Gamma fits; sigma (not squared, as
        insight's fallback gives) for inverse Gaussian fits; pi²/3, 1 and pi²/6
        for the binomial's logit, probit and cloglog links; 0.25 for counts on
        the square-root link; ``log1p(V(mu) / mu²)`` for counts on the log link
        (Poisson: ``V(mu) = mu``; negative binomial: ``mu (1 + mu / theta)``).

    Raises
    ------
    MixedFxError
        For a family and link insight has no variance for (where performance
        warns and returns NA): the binomial's cauchit and log links, the
        identity link of counts.

    Warns
    -----
    UserWarning
        When the null model's mean is below 6 (insight: "mu of ... is too close
        to zero").

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
    ...                 mfx.datasets.load("cbpp"), family="binomial")
    >>> round(distribution_variance(fit), 6)
    3.289868
    """
    model = fit.model
    if not isinstance(model, GeneralizedLinearMixedModel):
        return fit.sigma**2
    family, link = model.family.r_name, model.family.link.name
    if family in ("gaussian", "Gamma"):
        return fit.sigma**2
    if family == "inverse.gaussian":
        return fit.sigma
    if family == "binomial" and link in _BINOMIAL_LINK_VARIANCES:
        return _BINOMIAL_LINK_VARIANCES[link]
    if family in ("poisson", "negative binomial") and link == "sqrt":
        return _SQRT_LINK_VARIANCE
    if family in ("poisson", "negative binomial") and link == "log":
        mu = null_model_mean(fit)
        if mu < SMALL_MEAN:
            warnings.warn(f"mu of {mu:.1f} is too close to zero, estimate of random effect variances may be "
                          "unreliable.", UserWarning, stacklevel=4)
        return float(np.log1p(model.family.variance(mu) / mu**2))
    supported = {"binomial": "logit, probit or cloglog", "poisson": "log or sqrt",
                 "negative binomial": "log or sqrt"}[family]
    raise MixedFxError(f"performance's r2 and icc have no distribution-specific variance for the {family} family "
                       f"with the {link} link (insight: 'Model link `{link}` is not yet supported for the {family} "
                       f"distribution'); refit with the {supported} link")


def null_model_mean(fit: MixedFit) -> float:
    """``exp`` of the intercept of the null model: the fit's random part, weights and offset, an intercept alone.

    insight refits the model by R's ``update`` with the fixed part replaced by
    ``1``; this refits on the same rows, with the same family (a negative
    binomial's theta held at the fit's, as lme4's ``glmer.nb`` records it in
    its call), nAGQ and control.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.glmer("TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)", mfx.datasets.load("grouseticks"),
    ...                 family="poisson")
    >>> round(null_model_mean(fit), 2)
    2.04
    """
    model = fit.model
    intercept_only = replace(model.matrices, X=np.ones((model.n, 1)), x_names=["(Intercept)"], dropped=[])
    null = GeneralizedLinearMixedModel(intercept_only, model.family, model.n_agq, model.control)
    return float(np.exp(null.fit().beta[0]))
