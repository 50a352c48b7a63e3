"""The interface of R's GLM ``family`` objects, which :mod:`mixedfx.glmm.families` implements.

:class:`Family` holds a family's link and R's names, and gives each of R's
``family`` functions (``variance``, ``dev.resids``, ``aic``, ``validmu``,
``initialize``) a public method that takes array_likes; each family implements
them on float arrays.

>>> from mixedfx.glmm.families import poisson
>>> isinstance(poisson(), Family)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from numpy.typing import ArrayLike

from mixedfx.errors import MixedFxError
from mixedfx.glmm.links import Link, make_link
from mixedfx.glmm.response_domains import ResponseDomain

__all__ = ["Family"]


def _float_array(x: ArrayLike) -> np.ndarray:
    """``x`` as a float ndarray."""
    return np.asarray(x, dtype=float)


def _check(ok: bool, message: str) -> None:
    """Raise R's error ``message`` unless ``ok``."""
    if not ok:
        raise MixedFxError(message)


@dataclass(frozen=True)
class Family:
    """One of R's GLM families (an object of class ``family``) with its link.

    Use the factories of :mod:`mixedfx.glmm.families` (``binomial``,
    ``poisson``, ``Gamma``, ``inverse_gaussian``, ``gaussian``,
    ``negative_binomial``) or its ``get_family`` rather than the classes.

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

    @classmethod
    def link_for(cls, link: str | Link | None) -> Link:
        """The link ``link``, checked against the links the family accepts.

        Parameters
        ----------
        link : str, Link or None
            A link's name, a :class:`~mixedfx.glmm.links.Link`, or None for the
            family's default (the first of :attr:`valid_links`).

        Returns
        -------
        Link

        Raises
        ------
        MixedFxError
            For a link the family does not accept, naming those it does.
        TypeError
            For a ``link`` of any other type.

        Examples
        --------
        >>> from mixedfx.glmm.families import binomial
        >>> binomial().link_for("probit")
        make_link("probit")
        """
        if link is None:
            return make_link(cls.valid_links[0])
        if isinstance(link, Link):
            link = link.name
        if not isinstance(link, str):
            raise TypeError(f"link must be a string or a Link, not {type(link).__name__}")
        _check(link in cls.valid_links, _unknown_link_message(link, cls))
        return make_link(link)

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
        if domain is not None:
            domain.check(y, name, self.name, weights, rows)

    def _domain(self) -> ResponseDomain | None:
        """The responses the family accepts; None when it takes any."""
        return None

    def _refuse(self, y: np.ndarray) -> None:
        """Raise R's error when the family does not allow a value of ``y``."""
        domain = self._domain()
        if domain is not None:
            domain.refuse(y)

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


def _unknown_link_message(link: str, cls: type[Family]) -> str:
    """The error for a link the family ``cls`` does not accept."""
    return f"unknown link {link!r} for the {cls.r_name} family; valid links: {', '.join(cls.valid_links)}"

