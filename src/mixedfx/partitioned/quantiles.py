"""Exact quantiles (R's type 7) of a lazy Dask Series, by passes that never gather its values.

One pass counts the values and finds their range; each further pass counts
them in bins of the ranges that hold the order statistics wanted, until those
bins are small enough to gather and sort. A summary's scaled residuals take
three passes on ordinary data, whatever the number of rows. The values are a
lazy Series's, or computed from each partition of a frame by a
:class:`ValueSource` (which then reaches each worker once, not once a task).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd

from mixedfx.partitioned.passes import reduce_partitions
from mixedfx.rbase.rmath import quantile7_of_order_statistics, quantile7_ranks

__all__ = ["ValueSource", "exact_quantiles", "count_range", "add_count_range", "GATHER_AT_MOST", "BINS"]

GATHER_AT_MOST = 1_000_000
"""The most values a pass gathers to sort (8 MB): bins holding more are cut again."""
BINS = 65_536
"""Bins per range and pass: a normal sample of 100 million values leaves under 10,000 in the median's bin."""


class ValueSource(Protocol):
    """What maps a partition of a Dask frame to the values whose quantiles are wanted."""

    def values(self, part: pd.DataFrame) -> np.ndarray:
        """The partition's values (NaN for none)."""


def _values(part: pd.Series | pd.DataFrame, source: ValueSource | None) -> np.ndarray:
    values = np.asarray(part if source is None else source.values(part), dtype=float)
    return values[~np.isnan(values)]


def count_range(values: np.ndarray) -> np.ndarray:
    """Non-missing values, those at -inf and at +inf, and the finite ones' minimum and maximum: what
    :func:`exact_quantiles` first reads of all values (combined by :func:`add_count_range`).

    Examples
    --------
    >>> count_range(np.array([2.0, np.nan, -np.inf, 5.0])).tolist()
    [3.0, 1.0, 0.0, 2.0, 5.0]
    """
    values = values[~np.isnan(values)]
    finite = values[np.isfinite(values)]
    return np.array([values.size, np.sum(values == -np.inf), np.sum(values == np.inf),
                     finite.min() if finite.size else np.inf, finite.max() if finite.size else -np.inf])


def add_count_range(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Two parts' :func:`count_range` combined."""
    return np.concatenate([a[:3] + b[:3], [min(a[3], b[3]), max(a[4], b[4])]])


def _count_range(part: pd.Series | pd.DataFrame, source: ValueSource | None) -> np.ndarray:
    return count_range(_values(part, source))


def _bin_counts(part: pd.Series | pd.DataFrame, source: ValueSource | None, ranges: np.ndarray) -> np.ndarray:
    values = _values(part, source)
    return np.stack([np.bincount(_bins(values, lo, hi, bool(closed)), minlength=BINS + 2)
                     for lo, hi, closed in ranges])


def _gather(part: pd.Series | pd.DataFrame, source: ValueSource | None, ranges: np.ndarray) -> list[np.ndarray]:
    values = _values(part, source)
    return [values[(values >= lo) & ((values < hi) | (bool(closed) & (values == hi)))] for lo, hi, closed in ranges]


def _edges(lo: float, hi: float) -> np.ndarray:
    """BINS + 1 increasing edges from lo to hi (exactly), without overflow where hi - lo exceeds the doubles."""
    t = np.linspace(0.0, 1.0, BINS + 1)
    return np.maximum.accumulate(np.clip(lo * (1.0 - t) + hi * t, lo, hi))


def _bins(values: np.ndarray, lo: float, hi: float, closed: bool) -> np.ndarray:
    """Each value's bin of [lo, hi) (1 .. BINS; 0: below, BINS + 1: above); ``closed``: the last bin includes hi."""
    at = np.searchsorted(_edges(lo, hi), values, side="right")  # hi itself gives BINS + 1
    return np.where(closed & (values == hi), BINS, at)


def _add_lists(a: list[np.ndarray], b: list[np.ndarray]) -> list[np.ndarray]:
    return [np.concatenate([x, y]) for x, y in zip(a, b)]


def _order_statistics(data: Any, source: ValueSource | None, ranks: list[int], lo: float,
                      hi: float, below: int) -> dict[int, float]:
    """The values of the given 0-based ranks, which lie among the finite values in [lo, hi] (``below`` values
    are less than lo)."""
    found: dict[int, float] = {}
    # each rank's search: its range, whether the range includes its upper end, and the values below it
    search = {r: (lo, hi, True, below) for r in ranks}
    while search:
        ranges = sorted({(a, b, closed) for a, b, closed, _ in search.values()})
        counts = reduce_partitions(data, _bin_counts, np.add, source, np.array(ranges, dtype=float))
        narrowed, gather = {}, True
        for r, (a, b, closed, start) in search.items():
            row = counts[ranges.index((a, b, closed))]
            cumulative = start + np.cumsum(row[1:BINS + 1])  # values below each bin's upper edge
            i = int(np.searchsorted(cumulative, r, side="right"))
            edges, last = _edges(a, b), closed and i == BINS - 1
            if edges[i] == edges[i + 1] or (edges[i + 1] <= np.nextafter(edges[i], np.inf) and not last):
                found[r] = float(edges[i])  # a bin of one double holds that value alone, however often
                continue
            narrowed[r] = (float(edges[i]), float(edges[i + 1]), last, int(cumulative[i - 1]) if i else start)
            gather &= bool(row[i + 1] <= GATHER_AT_MOST)
        search = narrowed
        if gather:
            break
    if search:
        ranges = sorted({(a, b, closed) for a, b, closed, _ in search.values()})
        pieces = reduce_partitions(data, _gather, _add_lists, source, np.array(ranges, dtype=float))
        for r, (a, b, closed, start) in search.items():
            found[r] = float(np.sort(pieces[ranges.index((a, b, closed))])[r - start])
    return found


def exact_quantiles(data: Any, probs: Sequence[float], source: ValueSource | None = None,
                    counted: np.ndarray | None = None) -> np.ndarray:
    """R's ``quantile(x, probs, type = 7, na.rm = TRUE)`` of values spread over a Dask collection's partitions.

    Parameters
    ----------
    data : dask.dataframe.Series or DataFrame
        A lazy Series holding the values, or a frame whose partitions ``source`` maps to them.
    probs : sequence of float
        Probabilities in [0, 1].
    source : ValueSource, optional
        Maps each partition of ``data`` to its values; sent to each worker once.
    counted : ndarray, optional
        The values' :func:`count_range`, where a pass that had other work found
        it: the first pass is then not made.

    Returns
    -------
    ndarray
        NaN for each where there is no non-missing value.

    Examples
    --------
    >>> import dask.dataframe as dd, pandas as pd
    >>> values = dd.from_pandas(pd.Series([3.0, 1.0, None, 4.0, 1.5]), npartitions=2)
    >>> exact_quantiles(values, [0.0, 0.5, 1.0]).tolist()
    [1.0, 2.25, 4.0]
    """
    if counted is None:
        counted = reduce_partitions(data, _count_range, add_count_range, source)
    n, negative, positive, lo, hi = counted
    n, negative, positive = int(n), int(negative), int(positive)
    if n == 0:
        return np.full(len(probs), np.nan)
    found = {}
    inner = []
    for r in quantile7_ranks(n, probs):
        if r < negative or r >= n - positive:
            found[r] = -np.inf if r < negative else np.inf
        elif r == negative or r == n - positive - 1:
            found[r] = lo if r == negative else hi
        else:
            inner.append(r)
    if inner:
        found.update(_order_statistics(data, source, inner, lo, hi, negative))
    return quantile7_of_order_statistics(n, probs, found.__getitem__)
