"""A scatterplot smoother for the residual plot: Cleveland's LOWESS on a grid of x values."""

from __future__ import annotations

import numpy as np

__all__ = ["lowess"]

# R's lowess: a residual above 6 median absolute residuals gets robustness weight 0
_BISQUARE_SCALE = 6.0


def _local_line(x: np.ndarray, y: np.ndarray, weights: np.ndarray, at: float, start: int, span: int) -> float:
    """The weighted least-squares line through the ``span`` points from ``start`` of sorted x, at ``at``.

    Tricube weights on the distance, relative to the farthest of those points,
    times ``weights`` (R's ``lowest``). Sums are taken without BLAS: its threads cost more than
    these short products on a shared machine.
    """
    x_range = x[-1] - x[0]
    end = start + span
    if x[start] == at == x[end - 1]:
        # as R, a span of one value takes in all the points tied with it
        end = int(np.searchsorted(x, at, side="right"))
    x, y, weights = x[start: end], y[start: end], weights[start: end]
    distance = np.abs(x - at)
    radius = distance.max()
    if radius > 0:
        # R's cut-offs: full weight within 0.1% of the radius, none beyond 99.9%
        closeness = np.where(distance <= 0.999 * radius, 1.0 - (distance / radius) ** 3, 0.0)
        w = np.where(distance <= 0.001 * radius, 1.0, closeness * closeness * closeness) * weights
    else:
        w = weights
    total = w.sum()
    if total <= 0:
        return np.nan
    mean_x, mean_y = (w * x).sum() / total, (w * y).sum() / total
    spread = (w * (x - mean_x) ** 2).sum()
    # as R: a span whose x values spread less than 0.1% of the whole range gets the weighted mean
    if np.sqrt(spread / total) <= 0.001 * x_range:
        return float(mean_y)
    slope = (w * (x - mean_x) * (y - mean_y)).sum() / spread
    return float(mean_y + slope * (at - mean_x))


def lowess(x: np.ndarray, y: np.ndarray, frac: float = 2 / 3, iterations: int = 3,
           n_points: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """LOWESS smooth of y on x (R's ``lowess(x, y, f, iter)``), on ``n_points`` evenly spaced x values.

    Each grid value gets a local line through the ``frac`` share of points
    nearest it (tricube weights); then ``iterations`` times, points with large
    residuals (against the smooth interpolated at every x) are down-weighted by
    the bisquare and the lines refitted. R fits at every x but skips those
    within 1% of the range of the last one, interpolating between: the grid does
    the same at a fixed cost of ``n_points`` local fits, whatever the number of
    points.

    Parameters
    ----------
    x, y : ndarray
        The points; non-finite pairs are dropped.
    frac : float
        Share of the points in each local fit.
    iterations : int
        Robustness iterations.
    n_points : int
        Grid values where the smooth is evaluated.

    Returns
    -------
    grid, smooth : ndarray
        The grid over the range of x and the smooth there.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> grid, smooth = lowess(x, 2.0 * x + 1.0, n_points=3)
    >>> grid.tolist(), smooth.round(6).tolist()
    ([0.0, 0.5, 1.0], [1.0, 2.0, 3.0])
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    finite = np.isfinite(x) & np.isfinite(y)
    order = np.argsort(x[finite], kind="stable")
    x, y = x[finite][order], y[finite][order]
    if x.size == 0:
        return np.zeros(0), np.zeros(0)
    grid = np.linspace(x[0], x[-1], n_points if x[-1] > x[0] else 1)
    span = min(x.size, max(2, int(frac * x.size + 1e-7)))
    # the span nearest points to a value are a window of sorted x; it starts past s while the
    # point after it (s + span) is nearer than x[s], i.e. while x[s] + x[s + span] < 2 * value
    starts = np.searchsorted(x[: x.size - span] + x[span:], 2.0 * grid, side="left")
    weights = np.ones_like(x)
    for step in range(iterations + 1):
        smooth = np.array([_local_line(x, y, weights, at, start, span) for at, start in zip(grid, starts)])
        if step == iterations or grid.size == 1:
            break
        residual = y - np.interp(x, grid, smooth)
        cutoff = _BISQUARE_SCALE * np.median(np.abs(residual))
        if cutoff < 1e-7 * np.mean(np.abs(residual)):
            break
        u = np.abs(residual) / cutoff if cutoff > 0 else np.where(residual != 0, np.inf, 0.0)
        weights = np.where(u <= 0.001, 1.0, np.where(u <= 0.999, (1.0 - u**2) ** 2, 0.0))
    return grid, smooth
