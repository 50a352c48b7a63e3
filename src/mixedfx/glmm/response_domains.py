"""The responses each GLM family accepts, with R's error for the others.

R's ``family$initialize`` refuses a response outside the family's domain with a
terse message; :meth:`ResponseDomain.check` makes the same test and says which
response, how many values, the first one and what the family accepts.

>>> import numpy as np
>>> bool(POISSON.refused(np.array([2.0, -1.0])).any())
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from mixedfx.errors import MixedFxError

__all__ = ["ResponseDomain", "BINOMIAL", "POISSON", "GAMMA", "INVERSE_GAUSSIAN", "NEGATIVE_BINOMIAL",
           "GAUSSIAN_BY_LINK"]


@dataclass(frozen=True)
class ResponseDomain:
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

    def refuse(self, y: np.ndarray) -> None:
        """Raise R's error, as R's ``initialize`` does, when a value of ``y`` is refused.

        Parameters
        ----------
        y : ndarray
            The response.

        Raises
        ------
        MixedFxError
            With R's message alone.

        Examples
        --------
        >>> import numpy as np
        >>> POISSON.refuse(np.array([0.0, 3.0]))
        """
        if np.any(self.refused(y)):
            raise MixedFxError(self.message)

    def check(self, y: ArrayLike, name: str, family: str, weights: ArrayLike | None = None,
              rows: Sequence[object] | None = None) -> None:
        """Refuse the values :meth:`refuse` refuses, naming the response and the first such value.

        Parameters
        ----------
        y : array_like
            The response, one value per row.
        name : str
            The response as the formula writes it.
        family : str
            R's name of the family, for the message.
        weights : array_like, optional
            Prior weights; rows with weight 0 are not checked where
            ``zero_weight_exempt``.
        rows : sequence, optional
            Row labels, to say where the first refused value is.

        Raises
        ------
        MixedFxError
            R's message, the number of refused values, the first one and what
            the family accepts.

        Examples
        --------
        >>> POISSON.check([0.0, -1.0], "count", "poisson", rows=["a", "b"])
        Traceback (most recent call last):
        ...
        mixedfx.errors.MixedFxError: negative values not allowed for the 'Poisson' family: the response count \
has 1 such value (e.g. -1 in row b); poisson needs a count response: whole numbers, 0 or more
        """
        y = np.asarray(y, dtype=float).reshape(-1)
        refused = self.refused(y)
        if weights is not None and self.zero_weight_exempt:
            refused &= np.broadcast_to(np.asarray(weights, dtype=float), y.shape) != 0
        bad = np.flatnonzero(refused)
        if bad.size:
            where = "" if rows is None else f" in row {rows[bad[0]]}"
            count = f"{bad.size} such value{'s' if bad.size > 1 else ''}"
            raise MixedFxError(f"{self.message}: the response {name} has {count} (e.g. {y[bad[0]]:g}{where}); "
                               f"{family} needs {self.valid}")


_COUNTS = "a count response: whole numbers, 0 or more"
_POSITIVE = "a response of positive values"
_NO_START = "cannot find valid starting values: please specify some"

BINOMIAL = ResponseDomain(
    lambda y: (y < 0) | (y > 1), "y values must be 0 <= y <= 1",
    "0/1 values, a logical or two-level factor response, proportions in [0, 1] with the numbers of trials "
    "as weights, or cbind(successes, failures)", zero_weight_exempt=True)
POISSON = ResponseDomain(lambda y: y < 0, "negative values not allowed for the 'Poisson' family", _COUNTS)
GAMMA = ResponseDomain(lambda y: y <= 0, "non-positive values not allowed for the 'Gamma' family", _POSITIVE)
INVERSE_GAUSSIAN = ResponseDomain(lambda y: y <= 0,
                                  "positive values only are allowed for the 'inverse.gaussian' family", _POSITIVE)
NEGATIVE_BINOMIAL = ResponseDomain(lambda y: y < 0, "negative values not allowed for the negative binomial family",
                                   _COUNTS)
GAUSSIAN_BY_LINK = {"log": ResponseDomain(lambda y: y <= 0, _NO_START, "positive values with the log link"),
                    "inverse": ResponseDomain(lambda y: y == 0, _NO_START, "non-zero values with the inverse link")}
"""The gaussian family's domain for the links R cannot start from any response with; any response otherwise."""
