"""R's GLM ``family`` objects, vectorised with numpy.

``binomial``, ``poisson``, ``Gamma``, ``inverse.gaussian`` and ``gaussian`` as
in R's ``stats`` package, and ``MASS::negative.binomial(theta)`` as lme4's
``glmer.nb`` uses it: variance, deviance residuals, AIC, ``validmu`` and the
``initialize`` step, computing what R computes (the AIC with R's saddle-point
densities, Loader's ``dbinom``/``dpois``/``dgamma``). The links are in
:mod:`mixedfx.glmm.links`.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln

from mixedfx.errors import MixedFxError
from mixedfx.glmm.links import Link, make_link
from mixedfx.rbase.rformat import format_num
from mixedfx.rbase.rmath import r_round

__all__ = ["Family", "binomial", "poisson", "Gamma", "inverse_gaussian", "gaussian", "negative_binomial",
           "get_family"]

_LN_2PI = 1.837877066409345483560659472811
_LN_SQRT_2PI = 0.918938533204672741780329736406
_DBL_MIN = 2.2250738585072014e-308
_STIRLING = (0.083333333333333333333, 0.00277777777777777777778, 0.00079365079365079365079365,
             0.000595238095238095238095238, 0.0008417508417508417508417508)
"""Coefficients 1/12, 1/360, 1/1260, 1/1680, 1/1188 of R's ``stirlerr`` series."""


# --- R's densities (nmath's dbinom_raw, dpois_raw, dgamma), log scale --------------------
def _stirlerr(n: np.ndarray) -> np.ndarray:
    """R's ``stirlerr(n) = log(n!) - log(sqrt(2 pi n) (n/e)^n)``: series above 15, ``lgamma`` below."""
    s0, s1, s2, s3, s4 = _STIRLING
    nn = n * n
    series = np.select([n > 500, n > 80, n > 35],
                       [(s0 - s1 / nn) / n, (s0 - (s1 - s2 / nn) / nn) / n,
                        (s0 - (s1 - (s2 - s3 / nn) / nn) / nn) / n],
                       (s0 - (s1 - (s2 - (s3 - s4 / nn) / nn) / nn) / nn) / n)
    return np.where(n <= 15, gammaln(n + 1.0) - (n + 0.5) * np.log(n) + n - _LN_SQRT_2PI, series)


def _bd0(x: np.ndarray, m: np.ndarray) -> np.ndarray:
    """R's ``bd0(x, np) = x log(x/np) + np - x``, by a series where ``x`` is near ``np``."""
    x, m = np.broadcast_arrays(x, m)
    near = np.abs(x - m) < 0.1 * (x + m)
    v = (x - m) / (x + m)
    s = (x - m) * v
    ej, v2 = 2.0 * x * v, v * v
    active = near & (np.abs(s) >= _DBL_MIN)
    for j in range(1, 1000):
        if not active.any():
            break
        ej = ej * v2
        s1 = s + ej / (2 * j + 1)
        s, active = np.where(active, s1, s), active & (s1 != s)
    return np.where(near, s, x * np.log(x / m) + m - x)


def _dbinom_log(x: np.ndarray, n: np.ndarray, p: np.ndarray) -> np.ndarray:
    """R's ``dbinom(x, n, p, log = TRUE)`` for whole ``x`` and ``n``."""
    q = 1.0 - p
    out = (_stirlerr(n) - _stirlerr(x) - _stirlerr(n - x) - _bd0(x, n * p) - _bd0(n - x, n * q)
           - 0.5 * (_LN_2PI + np.log(x) + np.log1p(-x / n)))
    out = np.where((x < 0) | (x > n), -np.inf, out)
    out = np.where(x == n, np.where(q < 0.1, -_bd0(n, n * p) - n * q, n * np.log(p)), out)
    out = np.where(x == 0, np.where(n == 0, 0.0, np.where(p < 0.1, -_bd0(n, n * q) - n * p, n * np.log(q))), out)
    out = np.where(q == 0, np.where(x == n, 0.0, -np.inf), out)
    out = np.where(p == 0, np.where(x == 0, 0.0, -np.inf), out)
    return np.where((p < 0) | (p > 1), np.nan, out)


def _dpois_raw_log(x: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """R's ``dpois_raw(x, lambda, log = TRUE)``, ``x`` not necessarily whole."""
    out = -0.5 * np.log(2.0 * math.pi * x) - _stirlerr(x) - _bd0(x, lam)
    out = np.where(lam < x * _DBL_MIN, -lam + x * np.log(lam) - gammaln(x + 1.0), out)
    out = np.where(x <= lam * _DBL_MIN, -lam, out)
    out = np.where((x < 0) | np.isinf(lam), -np.inf, out)
    return np.where(lam == 0, np.where(x == 0, 0.0, -np.inf), out)


def _dpois_log(x: np.ndarray, lam: np.ndarray) -> np.ndarray:
    """R's ``dpois(x, lambda, log = TRUE)``: ``-Inf`` (R warns) for non-whole ``x``."""
    nonint = np.abs(x - np.rint(x)) > 1e-7 * np.maximum(1.0, np.abs(x))
    out = np.where(nonint | (x < 0) | ~np.isfinite(x), -np.inf, _dpois_raw_log(np.rint(x), lam))
    return np.where(lam < 0, np.nan, out)


def _dgamma_log(x: np.ndarray, shape: float, scale: np.ndarray) -> np.ndarray:
    """R's ``dgamma(x, shape, scale = scale, log = TRUE)`` for ``shape > 0``."""
    if shape < 1:
        ratio = shape / x
        out = _dpois_raw_log(shape, x / scale) + np.where(np.isinf(ratio), np.log(shape) - np.log(x), np.log(ratio))
        at_zero = np.inf
    else:
        out = _dpois_raw_log(shape - 1.0, x / scale) - np.log(scale)
        at_zero = -np.log(scale) if shape == 1 else -np.inf
    out = np.where(x == 0, at_zero, out)
    return np.where(x < 0, -np.inf, np.where(scale <= 0, np.nan, out))


# --- families --------------------------------------------------------------------------
def _float_array(x: ArrayLike) -> np.ndarray:
    """``x`` as a float ndarray."""
    return np.asarray(x, dtype=float)


def _check(ok: bool, message: str) -> None:
    """Raise R's error ``message`` unless ``ok``."""
    if not ok:
        raise MixedFxError(message)


@dataclass(frozen=True)
class _Domain:
    """The responses a family accepts.

    Attributes
    ----------
    refused : callable
        True for each response value the family refuses.
    message : str
        R's error for such a value.
    valid : str
        What the family accepts, in words.
    zero_weight_exempt : bool
        Whether rows with zero prior weight are not checked (R's binomial sets
        their response to 0 first).
    """

    refused: Callable[[np.ndarray], np.ndarray]
    message: str
    valid: str
    zero_weight_exempt: bool = False


_COUNTS = "a count response: whole numbers, 0 or more"
_POSITIVE = "a response of positive values"
_NO_START = "cannot find valid starting values: please specify some"
_BINOMIAL_DOMAIN = _Domain(
    lambda y: (y < 0) | (y > 1), "y values must be 0 <= y <= 1",
    "0/1 values, a logical or two-level factor response, proportions in [0, 1] with the numbers of trials "
    "as weights, or cbind(successes, failures)", zero_weight_exempt=True)
_POISSON_DOMAIN = _Domain(lambda y: y < 0, "negative values not allowed for the 'Poisson' family", _COUNTS)
_GAMMA_DOMAIN = _Domain(lambda y: y <= 0, "non-positive values not allowed for the 'Gamma' family", _POSITIVE)
_INVERSE_GAUSSIAN_DOMAIN = _Domain(lambda y: y <= 0,
                                   "positive values only are allowed for the 'inverse.gaussian' family", _POSITIVE)
_NEGATIVE_BINOMIAL_DOMAIN = _Domain(lambda y: y < 0, "negative values not allowed for the negative binomial family",
                                    _COUNTS)
_GAUSSIAN_DOMAINS = {"log": _Domain(lambda y: y <= 0, _NO_START, "positive values with the log link"),
                     "inverse": _Domain(lambda y: y == 0, _NO_START, "non-zero values with the inverse link")}


def _finite_positive(mu: np.ndarray) -> bool:
    """R's ``all(is.finite(mu)) && all(mu > 0)``."""
    return bool(np.all(np.isfinite(mu)) and np.all(mu > 0))


def _y_log_y(y: np.ndarray, mu: np.ndarray) -> np.ndarray:
    """``y * log(y / mu)``, 0 where ``y`` is 0 (R's C ``y_log_y``)."""
    return np.where(y != 0, y * np.log(y / mu), 0.0)


@dataclass(frozen=True)
class Family:
    """One of R's GLM families (an object of class ``family``) with its link.

    Use the factories :func:`binomial`, :func:`poisson`, :func:`Gamma`,
    :func:`inverse_gaussian`, :func:`gaussian`, :func:`negative_binomial` or
    :func:`get_family` rather than the classes.

    Attributes
    ----------
    link : Link
        The link function.
    name : str
        R's ``family$family``: ``"binomial"``, ``"poisson"``, ``"Gamma"``,
        ``"inverse.gaussian"``, ``"gaussian"`` or ``"Negative Binomial(theta)"``.
    has_dispersion : bool
        Whether the family has a free scale parameter (gaussian, Gamma,
        inverse.gaussian) rather than a fixed one of 1.
    valid_links : tuple of str
        The links R accepts for the family, the default first.
    """

    link: Link
    has_dispersion: ClassVar[bool] = False
    valid_links: ClassVar[tuple[str, ...]] = ()
    r_name: ClassVar[str] = ""
    factory: ClassVar[str] = ""

    def __init_subclass__(cls, *, r_name: str, factory: str, valid_links: tuple[str, ...],
                          has_dispersion: bool = False, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.r_name, cls.factory, cls.valid_links, cls.has_dispersion = r_name, factory, valid_links, has_dispersion

    def __post_init__(self) -> None:
        _check(self.link.name in self.valid_links, _unknown_link_message(self.link.name, type(self)))

    @property
    def name(self) -> str:
        """R's ``family$family``."""
        return self.r_name

    def __repr__(self) -> str:
        return f'{self.factory}(link="{self.link.name}")'

    def variance(self, mu: ArrayLike) -> np.ndarray:
        """The variance function ``V(mu)`` (R's ``variance``).

        Parameters
        ----------
        mu : array_like
            Means (probabilities for the binomial family, positive values for
            the others but the gaussian).

        Returns
        -------
        ndarray
            ``V(mu)``, float, of ``mu``'s shape.
        """
        with np.errstate(all="ignore"):
            return self._variance(_float_array(mu))

    def dev_resids(self, y: ArrayLike, mu: ArrayLike, wt: ArrayLike) -> np.ndarray:
        """Weighted deviance contributions of the observations (R's ``dev.resids``).

        Parameters
        ----------
        y : array_like
            Responses (for the binomial family, proportions of successes).
        mu : array_like
            Means.
        wt : array_like
            Prior weights (for the binomial family, times the numbers of trials).

        Returns
        -------
        ndarray
            The contributions, summing to the deviance.
        """
        with np.errstate(all="ignore"):
            return self._dev_resids(_float_array(y), _float_array(mu), _float_array(wt))

    def aic(self, y: ArrayLike, n: ArrayLike, mu: ArrayLike, wt: ArrayLike, dev: float) -> float:
        """R's ``family$aic``: -2 log-likelihood (+2 where R adds it for the dispersion).

        Parameters
        ----------
        y : array_like
            Responses, as for :meth:`dev_resids`.
        n : array_like
            Numbers of binomial trials (used by the binomial family only).
        mu : array_like
            Means.
        wt : array_like
            Prior weights, as for :meth:`dev_resids`.
        dev : float
            The deviance; gaussian, Gamma and inverse.gaussian estimate the
            dispersion from it.

        Returns
        -------
        float
        """
        y, mu, wt = np.broadcast_arrays(_float_array(y), _float_array(mu), _float_array(wt))
        with np.errstate(all="ignore"):
            return float(self._aic(y, _float_array(n), mu, wt, float(dev)))

    def validmu(self, mu: ArrayLike) -> bool:
        """Whether ``mu`` is a valid vector of means (R's ``validmu``).

        Parameters
        ----------
        mu : array_like
            Means.

        Returns
        -------
        bool
            False where R's ``validmu`` is ``FALSE``, and where it is ``NA``
            (MASS's negative binomial, for a ``NaN``).
        """
        return self._validmu(_float_array(mu))

    def initialize(self, y: ArrayLike, weights: ArrayLike | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """R's ``family$initialize`` for one response vector.

        Parameters
        ----------
        y : array_like
            Responses: for the binomial family 0/1 or proportions of successes
            (with the numbers of trials as ``weights``); counts; positive values.
        weights : array_like, optional
            Prior weights; ones by default.

        Returns
        -------
        y : ndarray
            The response as R leaves it (binomial: 0 where the weight is 0).
        weights : ndarray
            The prior weights.
        mustart : ndarray
            R's starting values of the means.

        Raises
        ------
        MixedFxError
            With R's message, for responses the family does not allow.

        Warns
        -----
        UserWarning
            Binomial: R's ``non-integer #successes in a binomial glm!``.
        """
        y = np.array(y, dtype=float)  # a copy: R's binomial initialize changes y
        _check(y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1),
               f"initialize takes one response vector, not an array of shape {y.shape}")
        y = y.reshape(-1)
        weights = np.ones_like(y) if weights is None else np.broadcast_to(_float_array(weights), y.shape).copy()
        return self._initialize(y, weights)

    def check_response(self, y: ArrayLike, name: str, weights: ArrayLike | None = None,
                       rows: Sequence[object] | None = None) -> None:
        """Refuse response values the family does not allow, naming the response and a value.

        The same test as :meth:`initialize`, with a message a user can act on.

        Parameters
        ----------
        y : array_like
            The response, one value per row (proportions for the binomial family).
        name : str
            The response as the formula writes it, for the message.
        weights : array_like, optional
            Prior weights: binomial rows with weight 0 are not checked, as R sets
            their response to 0.
        rows : sequence, optional
            Row labels, to say where the first refused value is.

        Raises
        ------
        MixedFxError
            R's message, the number of refused values, the first one and what
            the family accepts.
        """
        domain = self._domain()
        if domain is None:
            return
        y = _float_array(y).reshape(-1)
        refused = domain.refused(y)
        if weights is not None and domain.zero_weight_exempt:
            refused &= np.broadcast_to(_float_array(weights), y.shape) != 0
        bad = np.flatnonzero(refused)
        if bad.size:
            where = "" if rows is None else f" in row {rows[bad[0]]}"
            count = f"{bad.size} such value{'s' if bad.size > 1 else ''}"
            raise MixedFxError(f"{domain.message}: the response {name} has {count} (e.g. {y[bad[0]]:g}{where}); "
                               f"{self.name} needs {domain.valid}")

    def _domain(self) -> _Domain | None:
        """The responses the family accepts; None when it takes any."""
        return None

    def _refuse(self, y: np.ndarray) -> None:
        """Raise R's error when the family does not allow a value of ``y``."""
        domain = self._domain()
        if domain is not None and np.any(domain.refused(y)):
            raise MixedFxError(domain.message)

    def _variance(self, mu: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _aic(self, y: np.ndarray, n: np.ndarray, mu: np.ndarray, wt: np.ndarray, dev: float) -> float:
        raise NotImplementedError

    def _validmu(self, mu: np.ndarray) -> bool:
        return True

    def _initialize(self, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        raise NotImplementedError


class _Binomial(Family, r_name="binomial", factory="binomial",
                valid_links=("logit", "probit", "cauchit", "cloglog", "log")):

    def _variance(self, mu: np.ndarray) -> np.ndarray:
        return mu * (1.0 - mu)

    def _dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return 2.0 * wt * (_y_log_y(y, mu) + _y_log_y(1.0 - y, 1.0 - mu))

    def _aic(self, y: np.ndarray, n: np.ndarray, mu: np.ndarray, wt: np.ndarray, dev: float) -> float:
        m = np.broadcast_to(n, y.shape) if np.any(n > 1) else wt
        share = np.where(m > 0, wt / m, 0.0)
        return -2.0 * np.sum(share * _dbinom_log(np.round(m * y), np.round(m), mu))

    def _validmu(self, mu: np.ndarray) -> bool:
        return bool(np.all(np.isfinite(mu)) and np.all((mu > 0) & (mu < 1)))

    def _domain(self) -> _Domain:
        return _BINOMIAL_DOMAIN

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
        return -2.0 * np.sum(_dpois_log(y, mu) * wt)

    def _validmu(self, mu: np.ndarray) -> bool:
        return _finite_positive(mu)

    def _initialize(self, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._refuse(y)
        return y, weights, y + 0.1

    def _domain(self) -> _Domain:
        return _POISSON_DOMAIN


class _Gamma(Family, r_name="Gamma", factory="Gamma", valid_links=("inverse", "identity", "log"),
             has_dispersion=True):

    def _variance(self, mu: np.ndarray) -> np.ndarray:
        return np.square(mu)

    def _dev_resids(self, y: np.ndarray, mu: np.ndarray, wt: np.ndarray) -> np.ndarray:
        return -2.0 * wt * (np.log(np.where(y == 0, 1.0, y / mu)) - (y - mu) / mu)

    def _aic(self, y: np.ndarray, n: np.ndarray, mu: np.ndarray, wt: np.ndarray, dev: float) -> float:
        disp = dev / np.sum(wt)
        return -2.0 * np.sum(_dgamma_log(y, 1.0 / disp, mu * disp) * wt) + 2.0

    def _validmu(self, mu: np.ndarray) -> bool:
        return _finite_positive(mu)

    def _initialize(self, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        self._refuse(y)
        return y, weights, y.copy()

    def _domain(self) -> _Domain:
        return _GAMMA_DOMAIN


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

    def _domain(self) -> _Domain:
        return _INVERSE_GAUSSIAN_DOMAIN


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

    def _domain(self) -> _Domain | None:
        return _GAUSSIAN_DOMAINS.get(self.link.name)


@dataclass(frozen=True, repr=False)
class _NegativeBinomial(Family, r_name="negative binomial", factory="negative_binomial",
                        valid_links=("log", "identity", "sqrt")):
    theta: float

    def __post_init__(self) -> None:
        super().__post_init__()
        _check(isinstance(self.theta, (int, float)) and math.isfinite(self.theta) and self.theta > 0,
               f"theta must be a positive number, not {self.theta!r}")

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

    def _domain(self) -> _Domain:
        return _NEGATIVE_BINOMIAL_DOMAIN


def _unknown_link_message(link: str, cls: type[Family]) -> str:
    """The error for a link the family ``cls`` does not accept."""
    return f"unknown link {link!r} for the {cls.r_name} family; valid links: {', '.join(cls.valid_links)}"


def _link_for(cls: type[Family], link: str | Link | None) -> Link:
    """The link ``link`` (a name, a :class:`Link` or None for the default) checked against ``cls``."""
    if link is None:
        return make_link(cls.valid_links[0])
    if isinstance(link, Link):
        link = link.name
    if not isinstance(link, str):
        raise TypeError(f"link must be a string or a Link, not {type(link).__name__}")
    _check(link in cls.valid_links, _unknown_link_message(link, cls))
    return make_link(link)


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
    return _Binomial(_link_for(_Binomial, link))


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
    return _Poisson(_link_for(_Poisson, link))


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
    return _Gamma(_link_for(_Gamma, link))


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
    return _InverseGaussian(_link_for(_InverseGaussian, link))


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
    return _Gaussian(_link_for(_Gaussian, link))


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
    return _NegativeBinomial(_link_for(_NegativeBinomial, link), theta=theta)


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
        return family if link is None else replace(family, link=_link_for(type(family), link))
    if isinstance(family, str):
        _check(family in _FACTORIES,
               f"unknown family {family!r}; valid families: binomial, poisson, Gamma, inverse.gaussian, gaussian")
        return _FACTORIES[family](link)
    if callable(family) and family in _FACTORIES.values():
        return family(link)
    raise TypeError(f"family must be a family name, a Family or a family function, not {type(family).__name__}")
