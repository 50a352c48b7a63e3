"""R's GLM ``family`` objects, vectorised with numpy.

``binomial``, ``poisson``, ``Gamma``, ``inverse.gaussian`` and ``gaussian`` as
in R's ``stats`` package, and ``MASS::negative.binomial(theta)`` as lme4's
``glmer.nb`` uses it: variance, deviance residuals, AIC, ``validmu`` and the
``initialize`` step, computing what R computes (the AIC with R's saddle-point
densities, Loader's ``dbinom``/``dpois``/``dgamma`` of :mod:`mixedfx.rbase.nmath`).
The interface they share, :class:`Family`, is in :mod:`mixedfx.glmm.family_base`,
the links in :mod:`mixedfx.glmm.links`, the responses each family accepts in
:mod:`mixedfx.glmm.response_domains`.

>>> from mixedfx.glmm.families import get_family
>>> fam = get_family("binomial")
>>> fam
binomial(link="logit")
>>> float(fam.variance(0.5))
0.25
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
from scipy.special import gammaln

from mixedfx.errors import MixedFxError
from mixedfx.glmm import response_domains
from mixedfx.glmm.family_base import Family
from mixedfx.glmm.links import Link
from mixedfx.glmm.response_domains import ResponseDomain
from mixedfx.rbase.nmath import dbinom_log, dgamma_log, dpois_log
from mixedfx.rbase.rformat import format_num
from mixedfx.rbase.rmath import r_round

__all__ = ["Family", "family_response", "binomial", "poisson", "Gamma", "inverse_gaussian", "gaussian",
           "negative_binomial", "get_family"]


def _finite_positive(mu: np.ndarray) -> bool:
    """R's ``all(is.finite(mu)) && all(mu > 0)``."""
    return bool(np.all(np.isfinite(mu)) and np.all(mu > 0))


def _y_log_y(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``y * log(y / mu)``, 0 where ``y`` is 0 (R's C ``y_log_y``)."""
    return np.where(y != 0, y * np.log(y / mu), 0.0)


class _Binomial(Family, r_name="binomial", factory="binomial",
                valid_links=("logit", "probit", "cauchit", "cloglog", "log")):

    def _variance(self, mu: np.ndarray) -> np.ndarray:
        return mu * (1.0 - mu)

    def _dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return 2.0 * wt * (_y_log_y(y, mu) + _y_log_y(1.0 - y, 1.0 - mu))

    def _aic(self, y: np.ndarray, n: np.ndarray, mu: np.ndarray, wt: np.ndarray, dev: float) -> float:
        m = np.broadcast_to(n, y.shape) if np.any(n > 1) else wt
        share = np.where(m > 0, wt / m, 0.0)
        return -2.0 * np.sum(share * dbinom_log(np.round(m * y), np.round(m), mu))

    def _validmu(self, mu: np.ndarray) -> bool:
        return bool(np.all(np.isfinite(mu)) and np.all((mu > 0) & (mu < 1)))

    def _domain(self) -> ResponseDomain:
        return response_domains.BINOMIAL

    def _initialize(self, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        y[weights == 0] = 0.0
        self._refuse(y)
        successes = weights * y
        if np.any(np.abs(successes - np.round(successes)) > 1e-3):
            warnings.warn("non-integer #successes in a binomial glm!", stacklevel=3)
        return y, weights, (weights * y + 0.5) / (weights + 1.0)


class _Poisson(Family, r_name="poisson", factory="poisson", valid_links=("log", "identity", "sqrt")):

    def _variance(self, mu: np.ndarray) -> np.ndarray:
        return mu

    def _dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return 2.0 * np.where(y > 0, wt * (y * np.log(y / mu) - (y - mu)), mu * wt)

    def _aic(self, y: np.ndarray, n: np.ndarray, mu: np.ndarray, wt: np.ndarray, dev: float) -> float:
        return -2.0 * np.sum(dpois_log(y, mu) * wt)

    def _validmu(self, mu: np.ndarray) -> bool:
        return _finite_positive(mu)

    def _initialize(self, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._refuse(y)
        fractional = np.flatnonzero(y != np.round(y))
        if fractional.size:
            # R says so from dpois in the family's aic, once per value; the log-likelihood is then -Inf
            warnings.warn(f"non-integer x = {format_num([float(y[fractional[0]])])[0].strip()} in a poisson response "
                          f"({fractional.size} non-integer values): its log-likelihood is -Inf, as in R",
                          stacklevel=3)
        return y, weights, y + 0.1

    def _domain(self) -> ResponseDomain:
        return response_domains.POISSON


class _Gamma(Family, r_name="Gamma", factory="Gamma", valid_links=("inverse", "identity", "log"),
             has_dispersion=True):

    def _variance(self, mu: np.ndarray) -> np.ndarray:
        return np.square(mu)

    def _dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return -2.0 * wt * (np.log(np.where(y == 0, 1.0, y / mu)) - (y - mu) / mu)

    def _aic(self, y: np.ndarray, n: np.ndarray, mu: np.ndarray, wt: np.ndarray, dev: float) -> float:
        disp = dev / np.sum(wt)
        return -2.0 * np.sum(dgamma_log(y, 1.0 / disp, mu * disp) * wt) + 2.0

    def _validmu(self, mu: np.ndarray) -> bool:
        return _finite_positive(mu)

    def _initialize(self, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._refuse(y)
        return y, weights, y.copy()

    def _domain(self) -> ResponseDomain:
        return response_domains.GAMMA


class _InverseGaussian(Family, r_name="inverse.gaussian", factory="inverse_gaussian",
                       valid_links=("1/mu^2", "inverse", "identity", "log"), has_dispersion=True):

    def _variance(self, mu: np.ndarray) -> np.ndarray:
        return mu**3.0

    def _dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return wt * np.square(y - mu) / (y * np.square(mu))

    def _aic(self, y: np.ndarray, n: np.ndarray, mu: np.ndarray, wt: np.ndarray, dev: float) -> float:
        total = np.sum(wt)
        return total * (1.0 + np.log(dev / total * 2.0 * math.pi)) + 3.0 * np.sum(np.log(y) * wt) + 2.0

    def _initialize(self, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._refuse(y)
        return y, weights, y.copy()

    def _domain(self) -> ResponseDomain:
        return response_domains.INVERSE_GAUSSIAN


class _Gaussian(Family, r_name="gaussian", factory="gaussian", valid_links=("identity", "log", "inverse"),
                has_dispersion=True):

    def _variance(self, mu: np.ndarray) -> np.ndarray:
        return np.ones_like(mu)

    def _dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return wt * np.square(y - mu)

    def _aic(self, y: np.ndarray, n: np.ndarray, mu: np.ndarray, wt: np.ndarray, dev: float) -> float:
        nobs = y.size
        return nobs * (np.log(dev / nobs * 2.0 * math.pi) + 1.0) + 2.0 - np.sum(np.log(wt))

    def _initialize(self, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._refuse(y)
        return y, weights, y.copy()

    def _domain(self) -> ResponseDomain | None:
        return response_domains.GAUSSIAN_BY_LINK.get(self.link.name)


@dataclass(frozen=True, repr=False)
class _NegativeBinomial(Family, r_name="negative binomial", factory="negative_binomial",
                        valid_links=("log", "identity", "sqrt")):
    theta: float

    def __post_init__(self) -> None:
        super().__post_init__()
        if not (isinstance(self.theta, (int, float)) and math.isfinite(self.theta) and self.theta > 0):
            raise MixedFxError(f"theta must be a positive number, not {self.theta!r}")

    @property
    def name(self) -> str:
        """MASS's ``paste0("Negative Binomial(", format(round(theta, 4)), ")")``."""
        return f"Negative Binomial({format_num([r_round(self.theta, 4)])[0]})"

    def __repr__(self) -> str:
        return f'negative_binomial(theta={self.theta!r}, link="{self.link.name}")'

    def _variance(self, mu: np.ndarray) -> np.ndarray:
        return mu + np.square(mu) / self.theta

    def _dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        th = self.theta
        return 2.0 * wt * (y * np.log(np.maximum(1.0, y) / mu) - (y + th) * np.log((y + th) / (mu + th)))

    def _aic(self, y: np.ndarray, n: np.ndarray, mu: np.ndarray, wt: np.ndarray, dev: float) -> float:
        th = self.theta
        term = ((y + th) * np.log(mu + th) - y * np.log(mu) + gammaln(y + 1.0) - th * math.log(th)
                + math.lgamma(th) - gammaln(th + y))
        return 2.0 * np.sum(term * wt)

    def _validmu(self, mu: np.ndarray) -> bool:
        return bool(np.all(mu > 0))

    def _initialize(self, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._refuse(y)
        return y, weights, y + (y == 0) / 6.0

    def _domain(self) -> ResponseDomain:
        return response_domains.NEGATIVE_BINOMIAL



def binomial(link: str | Link | None = "logit") -> Family:
    """R's ``binomial(link)``, for 0/1 responses or proportions of successes.

    Parameters
    ----------
    link : {"logit", "probit", "cauchit", "cloglog", "log"}, Link or None
        The link function; None means logit.

    Returns
    -------
    Family
        Variance ``mu (1 - mu)``; the dispersion is fixed at 1.
    """
    return _Binomial(_Binomial.link_for(link))


def poisson(link: str | Link | None = "log") -> Family:
    """R's ``poisson(link)``, for counts.

    Parameters
    ----------
    link : {"log", "identity", "sqrt"}, Link or None
        The link function (None: log).

    Returns
    -------
    Family
        Variance ``mu``, dispersion 1.
    """
    return _Poisson(_Poisson.link_for(link))


def Gamma(link: str | Link | None = "inverse") -> Family:  # noqa: N802 - R's name
    """R's ``Gamma(link)``, for positive responses with a constant coefficient of variation.

    Parameters
    ----------
    link : {"inverse", "identity", "log"}, Link or None
        The link function; the canonical inverse when None.

    Returns
    -------
    Family
        Variance ``mu^2`` times a dispersion parameter. Its ``aic`` estimates
        the dispersion as R's does, by the mean deviance ``dev / sum(wt)``,
        and adds 2 for it.
    """
    return _Gamma(_Gamma.link_for(link))


def inverse_gaussian(link: str | Link | None = "1/mu^2") -> Family:
    """R's ``inverse.gaussian(link)``, for positive responses.

    The default link, ``1/mu^2``, is the canonical one; the AIC estimates the
    dispersion from the deviance, as R's does.

    Parameters
    ----------
    link : {"1/mu^2", "inverse", "identity", "log"}, Link or None
        None for the default.

    Returns
    -------
    Family
        Variance ``mu^3`` times a dispersion parameter.
    """
    return _InverseGaussian(_InverseGaussian.link_for(link))


def gaussian(link: str | Link | None = "identity") -> Family:
    """R's ``gaussian(link)``: normal responses, identity link unless told otherwise.

    Parameters
    ----------
    link : {"identity", "log", "inverse"}, Link or None
        None, like "identity", is the default link. With the log link or the
        inverse, ``initialize`` rejects the responses R cannot start from
        (``y <= 0``, ``y == 0``), with R's message.

    Returns
    -------
    Family
        Constant variance (the dispersion parameter is ``sigma^2``).
    """
    return _Gaussian(_Gaussian.link_for(link))


def negative_binomial(theta: float, link: str | Link | None = "log") -> Family:
    """``MASS::negative.binomial(theta, link)``, the family of lme4's ``glmer.nb``.

    Parameters
    ----------
    theta : float
        The shape parameter, positive and finite.
    link : {"log", "identity", "sqrt"}, Link or None
        The link function (None: log).

    Returns
    -------
    Family
        Variance ``mu + mu^2 / theta``, dispersion 1, named as MASS names it,
        e.g. ``"Negative Binomial(2.0522)"``.

    Raises
    ------
    MixedFxError
        For a ``theta`` that is not a positive finite number.
    """
    return _NegativeBinomial(_NegativeBinomial.link_for(link), theta=theta)


_FACTORIES: dict[str, Callable[..., Family]] = {
    "binomial": binomial,
    "poisson": poisson,
    "Gamma": Gamma,
    "gamma": Gamma,
    "inverse.gaussian": inverse_gaussian,
    "inverse_gaussian": inverse_gaussian,
    "gaussian": gaussian,
}


def get_family(family: str | Family | Callable[..., Family], link: str | Link | None = None) -> Family:
    """Resolve a family given by name, as a :class:`Family` or as a factory function.

    Parameters
    ----------
    family : str, Family or callable
        ``"binomial"``, ``"poisson"``, ``"Gamma"`` (or ``"gamma"``),
        ``"inverse.gaussian"`` (or ``"inverse_gaussian"``), ``"gaussian"``; a
        family object; or one of the factories (``binomial``, ...), as R accepts
        ``family = binomial``.
    link : str, Link or None
        The link; None keeps a family object's link or takes the default.

    Returns
    -------
    Family

    Raises
    ------
    MixedFxError
        For an unknown family name or a link the family does not accept.
    TypeError
        For a ``family`` of any other type.
    """
    if isinstance(family, Family):
        return family if link is None else replace(family, link=family.link_for(link))
    if isinstance(family, str):
        if family not in _FACTORIES:
            raise MixedFxError(f"unknown family {family!r}; valid families: binomial, poisson, Gamma, "
                               "inverse.gaussian, gaussian")
        return _FACTORIES[family](link)
    if callable(family) and family in _FACTORIES.values():
        return family(link)
    raise TypeError(f"family must be a family name, a Family or a family function, not {type(family).__name__}")


def family_response(family: Family, y: np.ndarray, weights: np.ndarray | None) -> tuple[np.ndarray, np.ndarray,
                                                                                       np.ndarray, np.ndarray]:
    """The response, prior weights, binomial trials and starting means as R's family initialize leaves them.

    Row by row, so the rows may come in parts (a Dask frame's partitions).

    Parameters
    ----------
    family : Family
    y : ndarray
        The model's response, shape (n,), or (n, 2) successes and failures for ``cbind``.
    weights : ndarray or None
        Prior weights (ones when None).

    Returns
    -------
    y, weights, n_trials, mustart : ndarray

    Examples
    --------
    >>> y, w, trials, mustart = family_response(binomial(), np.array([[1.0, 3.0]]), None)
    >>> float(y[0]), float(w[0]), float(trials[0]), float(mustart[0])
    (0.25, 4.0, 4.0, 0.3)
    """
    y = np.asarray(y, dtype=float)
    n = y.shape[0]
    prior = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    if y.ndim == 2:
        trials = y.sum(axis=1)
        proportion = np.divide(y[:, 0], trials, out=np.zeros(n), where=trials > 0)
        y_adj, w_adj, mustart = family.initialize(proportion, prior * trials)
        return y_adj, w_adj, trials, mustart
    y_adj, w_adj, mustart = family.initialize(y, prior)
    return y_adj, w_adj, np.ones(n), mustart
