"""R's arithmetic on doubles, where the printed digits depend on it.

``round`` (R >= 4.0.0), ``zapsmall`` (R < 4.4) and ``quantile``
(type 7), computed the way R computes them so that the values handed to the
formatting functions of :mod:`mixedfx.rbase.rformat` are bit-for-bit R's; and the
machine constants R's formatting code uses.

Missing values (R's ``NA``) are represented by ``nan``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

__all__ = ["DBL_DIG", "DBL_EPSILON", "quantile7", "quantile7_ranks", "quantile7_of_order_statistics", "r_round",
           "zapsmall"]

DBL_EPSILON = 2.220446049250313e-16
"""R's ``.Machine$double.eps``."""

DBL_DIG = 15
"""C's ``DBL_DIG``: decimal digits a double always holds exactly."""


def _pow_di(x: float, n: int) -> float:
    """R's ``R_pow_di``: ``x ** n`` by repeated squaring, as R computes it."""
    result = 1.0
    negative = n < 0
    n = abs(n)
    while True:
        if n & 1:
            result *= x
        n >>= 1
        if not n:
            break
        x *= x
    return 1.0 / result if negative else result


def r_round(x: float, digits: int = 0) -> float:
    """Round like R's ``round(x, digits)`` (R >= 4.0.0 algorithm).

    Parameters
    ----------
    x : float
        The number; ``nan`` and infinities are returned unchanged.
    digits : int
        Decimal places (may be negative); non-integers are rounded as R does.

    Returns
    -------
    float
        The candidate ``floor`` or ``ceiling`` at ``digits`` places nearest to
        ``x``, ties going to the even last digit.
    """
    if math.isnan(x) or math.isinf(x) or x == 0.0:
        return x
    if digits == 0:
        return float(np.rint(x))
    dig = math.floor(digits + 0.5)
    sign = -1.0 if x < 0 else 1.0
    x = abs(x)
    if math.log10(2) * (0.5 + math.frexp(x)[1] - 1) + dig > DBL_DIG:
        return sign * x
    pow10 = _pow_di(10.0, dig)
    x10 = x * pow10
    i10 = math.floor(x10)
    down = i10 / pow10
    up = math.ceil(x10) / pow10
    du, dd = up - x, x - down
    return sign * (up if du < dd or (i10 % 2 == 1 and du == dd) else down)


def zapsmall(x: Sequence[float], digits: int = 7) -> np.ndarray:
    """R's ``zapsmall(x, digits)`` (R < 4.4: rounds to ``digits - log10(max|x|)`` places).

    Parameters
    ----------
    x : sequence of float
        Values, ``nan`` for missing.
    digits : int
        Significant digits relative to the largest absolute value.

    Returns
    -------
    numpy.ndarray
        The rounded values.
    """
    arr = np.asarray(x, dtype=float)
    finite = arr[~np.isnan(arr)]
    if finite.size == 0:
        return arr.copy()
    mx = float(np.max(np.abs(finite)))
    places = max(0.0, digits - math.log10(mx)) if mx > 0 else digits
    return np.array([r_round(v, places) for v in arr])


def quantile7(x: Sequence[float], probs: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0)) -> np.ndarray:
    """R's default ``quantile(x, probs, na.rm = TRUE)`` (type 7), with R's arithmetic.

    Parameters
    ----------
    x : sequence of float
        Data; ``nan`` values are dropped.
    probs : sequence of float
        Probabilities in [0, 1].

    Returns
    -------
    numpy.ndarray
        One quantile per probability; NaN for each where no value is left.
    """
    values = np.sort(np.asarray(x, dtype=float)[~np.isnan(np.asarray(x, dtype=float))])
    if not values.size:  # R: NA for each
        return np.full(len(probs), np.nan)
    return quantile7_of_order_statistics(values.size, probs, lambda rank: float(values[rank]))


def quantile7_ranks(n: int, probs: Sequence[float]) -> list[int]:
    """The 0-based ranks among n sorted values that :func:`quantile7` reads for ``probs``.

    Examples
    --------
    >>> quantile7_ranks(10, (0.0, 0.5, 1.0))
    [0, 4, 5, 9]
    """
    ranks = set()
    for p in probs:
        index = 1 + max(n - 1, 0) * p
        ranks |= {math.floor(index) - 1, math.ceil(index) - 1}
    return sorted(ranks)


def quantile7_of_order_statistics(n: int, probs: Sequence[float], value_at: Callable[[int], float]) -> np.ndarray:
    """:func:`quantile7` of n values known only through ``value_at(rank)`` (0-based rank in sorted order),
    called for the ranks of :func:`quantile7_ranks` only."""
    out = []
    for p in probs:
        index = 1 + max(n - 1, 0) * p
        lo, hi = math.floor(index), math.ceil(index)
        q = value_at(lo - 1)
        if index > lo and (upper := value_at(hi - 1)) != q:
            h = index - lo
            q = (1 - h) * q + h * upper
        out.append(q)
    return np.array(out)
