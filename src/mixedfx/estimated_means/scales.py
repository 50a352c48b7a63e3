"""The response scale of a grid's estimates: emmeans' ``tran`` (a link) and the names it gives the scales."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mixedfx.glmm.links import Link, make_link
from mixedfx.inference.fitted import is_generalized

__all__ = ["ResponseScale", "family_scale", "contrast_scale"]

_RATIO_LINKS = ("log", "logit", "log odds ratio")


@dataclass(frozen=True)
class ResponseScale:
    """How estimates on the link scale map to the response scale.

    Attributes
    ----------
    link : Link
        Its inverse maps estimates to the response scale (``mu_eta`` gives the SE there).
    name : str
        The link scale as emmeans' notes name it (``"logit"``, ``"log odds ratio"``).
    label : str
        The estimate's column on the response scale: ``"prob"`` (binomial),
        ``"rate"`` (Poisson), ``"response"``, ``"odds.ratio"`` or ``"ratio"`` (contrasts).
    ratios : bool
        Whether its estimates are contrasts shown as ratios (labels ``A / B``).
    """

    link: Link
    name: str
    label: str
    ratios: bool = False


def family_scale(fit: Any) -> ResponseScale | None:
    """emmeans' ``.std.link.labels``: the fit's link as the response scale (None for identity, and lmer).

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
    ...                 family="binomial")
    >>> family_scale(fit).label
    'prob'
    """
    if not is_generalized(fit):
        return None
    family = fit.family
    if family.link.name == "identity":
        return None
    label = "prob" if "binomial" in family.name else "rate" if "poisson" in family.name else "response"
    return ResponseScale(link=family.link, name=family.link.name, label=label)


def contrast_scale(scale: ResponseScale | None, true_contrasts: bool) -> tuple[ResponseScale | None, str | None]:
    """The scale of contrasts of estimates on ``scale``, and emmeans' note when they lose it.

    Contrasts on the log or logit scale are (odds) ratios on the response scale;
    on any other link they stay on the link scale, with a note.

    Examples
    --------
    >>> logit = ResponseScale(make_link("logit"), "logit", "prob")
    >>> contrast_scale(logit, True)[0].label
    'odds.ratio'
    >>> contrast_scale(ResponseScale(make_link("probit"), "probit", "prob"), True)[1]
    'Note: contrasts are still on the probit scale'
    """
    if scale is None:
        return None, None
    if not (true_contrasts and scale.name in _RATIO_LINKS):
        return None, f"Note: contrasts are still on the {scale.name} scale"
    if scale.name == "log":
        return ResponseScale(make_link("log"), "log", "ratio", ratios=True), None
    return ResponseScale(make_link("log"), "log odds ratio", "odds.ratio", ratios=True), None
