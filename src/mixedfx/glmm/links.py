"""R's GLM link functions (``stats::make.link``), vectorised with numpy.

Every link computes what R computes, clamping where R clamps: the logit link
follows R's C code (``C_logit_linkinv``, ``C_logit_mu_eta``: ``eta`` beyond
+-30 gives ``DBL_EPSILON``-based bounds, a rule the compiled kernels share
from :mod:`mixedfx.glmm.link_clamps`), the probit and cauchit links clamp
``eta`` at R's thresholds, ``-qnorm(DBL_EPSILON)`` and ``-qcauchy(DBL_EPSILON)``,
and the log, cloglog, probit and cauchit derivatives are bounded below by
``DBL_EPSILON``. Values R computes with a warning (``log`` of a negative number,
say) are ``nan`` here, without a warning.

>>> from mixedfx.glmm.links import make_link
>>> float(make_link("logit").linkinv(0.0))
0.5
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtr, ndtri

from mixedfx.errors import MixedFxError
from mixedfx.glmm.link_clamps import clamp_logit_mu_eta, log_mean, logit_odds
from mixedfx.rbase.rmath import DBL_EPSILON

__all__ = ["Link", "LINK_NAMES", "make_link"]

_T = TypeVar("_T")

_PROBIT_THRESH = 8.125890664701906
"""R's ``-qnorm(.Machine$double.eps)``, as R computes it."""

_CAUCHIT_THRESH = 1.0 / math.tan(math.pi * DBL_EPSILON)
"""R's ``-qcauchy(.Machine$double.eps)`` (``1 / tanpi(DBL_EPSILON)``)."""

_M_1_SQRT_2PI = 0.398942280401432677939946059934
_DNORM_UNDERFLOW = math.sqrt(-2.0 * math.log(2.0) * (-1021 + 1 - 53))
"""R's ``dnorm`` returns 0 beyond this ``|x|`` (the density underflows)."""


def _at_least_eps(x: np.ndarray) -> np.ndarray:
    """R's ``pmax(x, .Machine$double.eps)`` (``nan`` stays ``nan``)."""
    return np.maximum(x, DBL_EPSILON)


def _clamp(eta: np.ndarray, thresh: float) -> np.ndarray:
    """R's ``pmin(pmax(eta, -thresh), thresh)``."""
    return np.minimum(np.maximum(eta, -thresh), thresh)


# --- R's distribution functions the links need ----------------------------------------
def _dnorm(x: np.ndarray) -> np.ndarray:
    """R's ``dnorm(x)`` (``dnorm4``), with its split of ``x`` for accuracy beyond 5."""
    a = np.abs(x)
    hi = np.ldexp(np.rint(np.ldexp(a, 16)), -16)
    lo = a - hi
    tail = _M_1_SQRT_2PI * (np.exp(-0.5 * hi * hi) * np.exp((-0.5 * lo - hi) * lo))
    out = np.where(a < 5.0, _M_1_SQRT_2PI * np.exp(-0.5 * a * a), tail)
    return np.where(a > _DNORM_UNDERFLOW, 0.0, out)


def _pcauchy(x: np.ndarray) -> np.ndarray:
    """R's ``pcauchy(x)``, with Welinder's ``atan(1/x)`` beyond ``|x| > 1``."""
    y = np.arctan(1.0 / x) / np.pi
    out = np.where(np.abs(x) > 1.0, np.where(x > 0, 0.5 - y + 0.5, -y), 0.5 + np.arctan(x) / np.pi)
    return np.where(np.isinf(x), np.where(x > 0, 1.0, 0.0), out)


def _qcauchy(p: np.ndarray) -> np.ndarray:
    """R's ``qcauchy(p)``: ``-1 / tanpi(p)`` on the lower half, by symmetry above it."""
    upper = p > 0.5
    q = np.where(upper, 1.0 - p, p)
    tanpi = np.where(q == 0.25, 1.0, np.tan(np.pi * q))
    out = np.where(upper, 1.0, -1.0) / tanpi
    out = np.where(q == 0.5, 0.0, out)
    return np.where((p < 0) | (p > 1), np.nan, out)


def _dcauchy(x: np.ndarray) -> np.ndarray:
    """R's ``dcauchy(x)``."""
    return 1.0 / (np.pi * (1.0 + x * x))


# --- the links --------------------------------------------------------------------------
def _logit_linkfun(mu: np.ndarray) -> np.ndarray:
    """R's ``C_logit_link``: ``log(mu / (1 - mu))``, an error outside [0, 1]."""
    bad = (mu < 0) | (mu > 1)
    if np.any(bad):
        raise MixedFxError(f"Value {mu[bad].flat[0]:g} out of range (0, 1)")
    return np.log(mu / (1.0 - mu))


def _logit_linkinv(eta: np.ndarray) -> np.ndarray:
    """R's ``C_logit_linkinv``: ``t / (1 + t)`` of the held ``t = exp(eta)``."""
    t = logit_odds(eta)
    return t / (1.0 + t)


def _logit_mu_eta(eta: np.ndarray) -> np.ndarray:
    """R's ``C_logit_mu_eta``: ``t / (1 + t)^2`` of ``t = exp(eta)``, ``DBL_EPSILON`` beyond +-30."""
    t = logit_odds(eta)
    return clamp_logit_mu_eta(eta, t / ((1.0 + t) * (1.0 + t)))


def _cloglog_linkinv(eta: np.ndarray) -> np.ndarray:
    """R's ``pmax(pmin(-expm1(-exp(eta)), 1 - eps), eps)``."""
    return _at_least_eps(np.minimum(-np.expm1(-np.exp(eta)), 1.0 - DBL_EPSILON))


def _cloglog_mu_eta(eta: np.ndarray) -> np.ndarray:
    """R's ``pmax(exp(eta) * exp(-exp(eta)), eps)`` with ``eta`` capped at 700."""
    eta = np.minimum(eta, 700.0)
    return _at_least_eps(np.exp(eta) * np.exp(-np.exp(eta)))


def _finite_and(condition: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], bool]:
    """R's ``valideta`` of the form ``all(is.finite(eta)) && all(condition(eta))``."""
    return lambda eta: bool(np.all(np.isfinite(eta)) and np.all(condition(eta)))


def _always_valid(eta: np.ndarray) -> bool:
    """R's ``valideta`` that returns ``TRUE`` for any ``eta``."""
    return True


def _vectorised(fun: Callable[[np.ndarray], _T]) -> Callable[[ArrayLike], _T]:
    """``fun`` taking any array_like, as a float ndarray, quiet where R returns ``Inf``/``NaN``."""
    @functools.wraps(fun)
    def on_floats(x: ArrayLike) -> _T:
        with np.errstate(all="ignore"):
            return fun(np.asarray(x, dtype=float))
    return on_floats


@dataclass(frozen=True)
class Link:
    """One of R's GLM links (a ``link-glm`` object of ``stats::make.link``).

    Get one with :func:`make_link` (or as a family's ``link``). The four
    functions take an array_like and return a float ndarray of its shape
    (``valideta`` a bool), computing what R computes.

    Attributes
    ----------
    name : str
        R's name of the link: ``"logit"``, ``"probit"``, ``"cauchit"``,
        ``"cloglog"``, ``"log"``, ``"identity"``, ``"sqrt"``, ``"inverse"`` or
        ``"1/mu^2"``.
    linkfun : callable
        ``linkfun(mu) -> eta``, the link function (R's ``linkfun``). The logit
        raises :class:`~mixedfx.errors.MixedFxError` for a ``mu`` outside
        [0, 1], with the message of R's C code.
    linkinv : callable
        ``linkinv(eta) -> mu``, the inverse link (R's ``linkinv``), clamped as R
        clamps it.
    mu_eta : callable
        ``mu_eta(eta) -> dmu/deta`` (R's ``mu.eta``), bounded as R bounds it.
    valideta : callable
        ``valideta(eta) -> bool``, whether ``eta`` is a valid linear predictor
        (R's ``valideta``).
    """

    name: str
    linkfun: Callable[[ArrayLike], np.ndarray] = field(repr=False, compare=False)
    linkinv: Callable[[ArrayLike], np.ndarray] = field(repr=False, compare=False)
    mu_eta: Callable[[ArrayLike], np.ndarray] = field(repr=False, compare=False)
    valideta: Callable[[ArrayLike], bool] = field(repr=False, compare=False, default=_always_valid)

    def __post_init__(self) -> None:
        for attr in ("linkfun", "linkinv", "mu_eta", "valideta"):
            object.__setattr__(self, attr, _vectorised(getattr(self, attr)))

    def __repr__(self) -> str:
        return f'make_link("{self.name}")'

    def __reduce__(self) -> tuple:
        # its functions are wrapped (and some are lambdas): a link pickles as its name
        return make_link, (self.name,)


_LINKS: dict[str, Link] = {
    link.name: link
    for link in (
        Link("logit", _logit_linkfun, _logit_linkinv, _logit_mu_eta),
        Link("probit", ndtri, lambda eta: ndtr(_clamp(eta, _PROBIT_THRESH)),
             lambda eta: _at_least_eps(_dnorm(eta))),
        Link("cauchit", _qcauchy, lambda eta: _pcauchy(_clamp(eta, _CAUCHIT_THRESH)),
             lambda eta: _at_least_eps(_dcauchy(eta))),
        Link("cloglog", lambda mu: np.log(-np.log(1.0 - mu)), _cloglog_linkinv, _cloglog_mu_eta),
        Link("log", np.log, log_mean, log_mean),
        Link("identity", lambda mu: mu + 0.0, lambda eta: eta + 0.0, np.ones_like),
        Link("sqrt", np.sqrt, np.square, lambda eta: 2.0 * eta, _finite_and(lambda eta: eta > 0)),
        Link("inverse", lambda mu: 1.0 / mu, lambda eta: 1.0 / eta, lambda eta: -1.0 / np.square(eta),
             _finite_and(lambda eta: eta != 0)),
        Link("1/mu^2", lambda mu: 1.0 / np.square(mu), lambda eta: 1.0 / np.sqrt(eta),
             lambda eta: -1.0 / (2.0 * eta**1.5), _finite_and(lambda eta: eta > 0)),
    )
}

LINK_NAMES: tuple[str, ...] = tuple(_LINKS)
"""The names :func:`make_link` accepts."""


def make_link(name: str) -> Link:
    """R's ``make.link(name)``: the link called ``name``.

    Parameters
    ----------
    name : str
        One of :data:`LINK_NAMES`.

    Returns
    -------
    Link

    Raises
    ------
    MixedFxError
        For a name that is not one of R's links.
    """
    try:
        return _LINKS[name]
    except (KeyError, TypeError):
        raise MixedFxError(f"{name!r} link not recognised; valid links: {', '.join(LINK_NAMES)}") from None
