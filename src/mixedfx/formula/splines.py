"""R's splines package in formulas: ``bs()`` (B-splines) and ``ns()`` (natural cubic splines).

The knots are learned from the fitted values (interior knots at quantiles of
x, boundary knots at its range) and kept in :class:`SplineBasis`, so that new
values are coded on the fitted basis, as the splines package's
``makepredictcall`` arranges. Values beyond the boundary knots are extended as
R does: ``bs`` by the Taylor polynomial at a point a quarter of the way to the
next knot, ``ns`` linearly from the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixedfx.rbase.rmath import quantile7

__all__ = ["SplineBasis", "learn_spline", "knot_probabilities", "spline_basis", "spline_values"]

# bs() extrapolates from a pivot this share of the way from a boundary knot to the next knot
_PIVOT_SHARE = 0.25


@dataclass(frozen=True)
class SplineBasis:
    """A spline basis as R's ``bs``/``ns`` attributes describe it.

    Attributes
    ----------
    kind : str
        ``"bs"`` or ``"ns"``.
    degree : int
        The pieces' degree (3 for ``ns``).
    knots : tuple of float
        Interior knots.
    boundary : tuple of float
        The two boundary knots.
    intercept : bool
        Whether the basis keeps its first column.
    """

    kind: str
    degree: int
    knots: tuple[float, ...]
    boundary: tuple[float, float]
    intercept: bool

    @property
    def all_knots(self) -> np.ndarray:
        """The knot sequence: each boundary knot repeated degree + 1 times around the interior ones."""
        order = self.degree + 1
        return np.sort(np.concatenate([np.repeat(self.boundary, order), self.knots]))


def _design(basis: SplineBasis, x: np.ndarray, derivative: int = 0) -> np.ndarray:
    """R's ``splineDesign``: every B-spline (or its derivative) at x, all within the boundary knots."""
    t = basis.all_knots
    n = t.size - basis.degree - 1
    from scipy.interpolate import BSpline  # scipy.interpolate costs every import of mixedfx a third of a second

    return BSpline(t, np.eye(n), basis.degree)(x, nu=derivative)


def _beyond(basis: SplineBasis, x: np.ndarray, side: int) -> np.ndarray:
    """The basis at values beyond boundary knot ``side`` (0 left, 1 right), extended as R does."""
    edge = basis.boundary[side]
    if basis.kind == "ns":
        pivot, degree = edge, 1
    else:
        t, order = basis.all_knots, basis.degree + 1
        neighbour = t[order] if side == 0 else t[t.size - order - 1]
        pivot, degree = (1 - _PIVOT_SHARE) * edge + _PIVOT_SHARE * neighbour, basis.degree
    powers = (x - pivot)[:, None] ** np.arange(degree + 1)
    factorials = np.cumprod(np.r_[1.0, np.arange(1.0, degree + 1.0)])
    taylor = np.vstack([_design(basis, np.array([pivot]), d) for d in range(degree + 1)]) / factorials[:, None]
    return powers @ taylor


def spline_values(x: np.ndarray, basis: SplineBasis) -> np.ndarray:
    """The basis at x (NaN rows for missing values), as R's ``bs``/``ns`` with these knots.

    Parameters
    ----------
    x : ndarray of float, shape (n,)
    basis : SplineBasis

    Returns
    -------
    ndarray, shape (n, columns)

    Examples
    --------
    >>> basis = learn_spline(np.arange(10.0), "ns", df=2, degree=3, intercept=False)
    >>> np.round(spline_values(np.array([0.0, 4.5, 9.0]), basis), 6).tolist()
    [[0.0, 0.0], [0.566263, -0.210842], [0.344097, 0.770602]]
    """
    present = ~np.isnan(x)
    xs = x[present]
    left, right = xs < basis.boundary[0], xs > basis.boundary[1]
    inside = ~(left | right)
    full = np.empty((xs.size, basis.all_knots.size - basis.degree - 1))
    full[inside] = _design(basis, xs[inside])
    for side, rows in enumerate((left, right)):
        if rows.any():
            full[rows] = _beyond(basis, xs[rows], side)
    if not basis.intercept:
        full = full[:, 1:]
    if basis.kind == "ns":
        from scipy.linalg import qr  # noqa: PLC0415 - a model without ns() does not load scipy.linalg

        constraints = _design(basis, np.asarray(basis.boundary, dtype=float), 2)
        if not basis.intercept:
            constraints = constraints[:, 1:]
        q, _ = qr(constraints.T)  # full Q: its first two columns span the second-derivative constraints
        full = full @ q[:, 2:]
    out = np.full((x.size, full.shape[1]), np.nan)
    out[present] = full
    return out


def knot_probabilities(kind: str, df: int | None, degree: int, intercept: bool) -> np.ndarray:
    """The probabilities whose quantiles of x R's ``bs``/``ns`` take as interior knots for ``df`` columns.

    Examples
    --------
    >>> knot_probabilities("ns", 3, 3, False).round(6).tolist()
    [0.333333, 0.666667]
    """
    interior = 0 if df is None else max(0, df - (1 + intercept if kind == "ns" else degree + intercept))
    return np.linspace(0.0, 1.0, interior + 2)[1:-1]


def spline_basis(kind: str, degree: int, intercept: bool, knots: np.ndarray,
                 boundary: tuple[float, float]) -> SplineBasis:
    """The basis of R's ``bs``/``ns`` with these interior knots (the quantiles at :func:`knot_probabilities`)
    and boundary knots (x's range).

    Examples
    --------
    >>> spline_basis("ns", 1, False, np.array([2.5]), (0.0, 9.0)).degree  # ns is cubic
    3
    """
    return SplineBasis(kind=kind, degree=3 if kind == "ns" else degree, knots=tuple(float(v) for v in knots),
                       boundary=(float(boundary[0]), float(boundary[1])), intercept=intercept)


def learn_spline(x: np.ndarray, kind: str, df: int | None, degree: int, intercept: bool) -> SplineBasis:
    """The knots R's ``bs``/``ns`` choose for x: interior ones at quantiles for ``df`` columns.

    Parameters
    ----------
    x : ndarray of float, shape (n,)
        The fitted values (missing ones ignored).
    kind : {"bs", "ns"}
    df : int or None
        Columns wanted; None for no interior knots.
    degree : int
        The pieces' degree (``bs``; ``ns`` is cubic).
    intercept : bool

    Returns
    -------
    SplineBasis

    Examples
    --------
    >>> np.round(learn_spline(np.arange(11.0), "bs", df=5, degree=3, intercept=False).knots, 6).tolist()
    [3.333333, 6.666667]
    """
    xs = x[~np.isnan(x)]
    probs = knot_probabilities(kind, df, degree, intercept)
    knots = quantile7(xs, probs) if probs.size else np.zeros(0)
    return spline_basis(kind, degree, intercept, knots, (xs.min(), xs.max()))
