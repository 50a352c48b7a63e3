"""Profile intervals from splines, as lme4's ``confint.thpr``.

The profile zeta(parameter) is interpolated by a natural cubic spline (R's
``splines::interpSpline``), inverted piece by piece (``backSpline``: cubic
Hermite pieces through the knots with the reciprocal slopes, quadratic or
linear end pieces) and evaluated at the normal quantiles. Where no spline can
be made, linear interpolation stands in, as lme4's fallback.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

__all__ = ["SplineError", "inverse_spline", "profile_interval"]


class SplineError(ValueError):
    """The profile cannot be interpolated by a monotone spline."""


def inverse_spline(x: np.ndarray, zeta: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """lme4's ``backSpline(interpSpline(zeta ~ x))``: the parameter as a function of zeta.

    Parameters
    ----------
    x : ndarray
        Parameter values, increasing.
    zeta : ndarray
        The profile at them.

    Returns
    -------
    callable
        Maps zeta values to parameter values; NaN outside the range of ``zeta``.

    Raises
    ------
    SplineError
        Fewer than 4 points, repeated parameter values, or zeta not increasing.
    """
    if len(x) < 4:
        raise SplineError(f"must have at least 'ord'=4 points, not {len(x)}")
    kdiff, adiff = np.diff(x), np.diff(zeta)
    if np.any(kdiff <= 0):
        raise SplineError("values of the parameter must be distinct")
    if not np.all(adiff > 0):
        raise SplineError("spline must be monotone")
    from scipy.interpolate import CubicSpline  # not at import: scipy.interpolate costs a third of a second

    b2 = 1.0 / CubicSpline(x, zeta, bc_type="natural")(x, 1)
    r1 = kdiff - adiff * b2[:-1]
    r2 = b2[1:] - b2[:-1]
    c2 = b2[:-1].copy()
    c3 = (3.0 * r1 - adiff * r2) / adiff**2
    c4 = (adiff * r2 - 2.0 * r1) / adiff**3
    if len(x) > 2:
        c4[0] = c4[-1] = 0.0
        c2[0] = 2.0 * kdiff[0] / adiff[0] - b2[1]
        c3[0] = (adiff[0] * b2[1] - kdiff[0]) / adiff[0] ** 2
        c3[-1] = (kdiff[-1] - adiff[-1] * c2[-1]) / adiff[-1] ** 2
    if c3[0] > 0:
        c3[0], c2[0] = 0.0, kdiff[0] / adiff[0]
    if c3[-1] < 0:
        c3[-1], c2[-1] = 0.0, kdiff[-1] / adiff[-1]

    def evaluate(z: np.ndarray) -> np.ndarray:
        z = np.asarray(z, dtype=float)
        i = np.searchsorted(zeta, z, side="left") - 1
        i = np.where(z == zeta[0], 0, i)
        inside = (i >= 0) & (i < len(c2))
        j = np.clip(i, 0, len(c2) - 1)
        d = z - zeta[j]
        value = x[j] + d * (c2[j] + d * (c3[j] + d * c4[j]))
        return np.where(inside, value, np.nan)

    return evaluate


def profile_interval(x: np.ndarray, zeta: np.ndarray, targets: np.ndarray, bounds: tuple[float, float], name: str,
                     non_mono_tol: float = 0.01) -> np.ndarray:
    """The parameter values where the profile reaches ``targets`` (lme4's ``confint.thpr`` for one parameter).

    Parameters
    ----------
    x, zeta : ndarray
        The profile, sorted by ``x``; rows with NaN zeta are left out.
    targets : ndarray, shape (2,)
        Zeta values of the interval's ends (normal quantiles).
    bounds : tuple of float
        What an end is where the profile does not reach its target (the
        parameter's bound; NaN for none).
    name : str
        The parameter, for warnings.
    non_mono_tol : float
        A decrease in zeta larger than this makes the profile unusable.

    Returns
    -------
    ndarray, shape (2,)
        NaN for an unusable profile.
    """
    ok = np.isfinite(zeta)
    x, zeta = x[ok], zeta[ok]
    try:
        ends = inverse_spline(x, zeta)(targets)
    except SplineError:
        if not len(zeta):
            warnings.warn(f"bad profile for {name}", stacklevel=3)
            return np.full(2, np.nan)
        if np.any(np.diff(zeta) < -non_mono_tol):
            warnings.warn(f"non-monotonic profile for {name}", stacklevel=3)
            return np.full(2, np.nan)
        warnings.warn(f"bad spline fit for {name}: falling back to linear interpolation", stacklevel=3)
        order = np.argsort(zeta, kind="stable")
        ends = np.interp(targets, zeta[order], x[order], left=np.nan, right=np.nan)
    return np.where(np.isnan(ends), bounds, ends)
