"""The likelihood profile's zeta against each parameter (lme4's ``xyplot(profile(fit))``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from mixedfx.inference.profile import LikelihoodProfile
from mixedfx.plots.panels import check_level, panel_grid

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["profile"]

# points on each drawn zeta curve
_CURVE_POINTS = 200


def _zeta_curve(values: np.ndarray, zeta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """zeta as a smooth function of the parameter: lme4's ``interpSpline(zeta ~ par)``, natural cubic.

    Fewer than 4 distinct values are joined by straight lines.
    """
    if values.size < 4 or np.any(np.diff(values) <= 0):
        return values, zeta
    grid = np.linspace(values[0], values[-1], _CURVE_POINTS)
    from scipy.interpolate import CubicSpline

    return grid, CubicSpline(values, zeta, bc_type="natural")(grid)


def profile(prof: LikelihoodProfile, level: float = 0.95) -> Figure:
    """zeta against each profiled parameter, the interval's ends marked (lme4's ``xyplot(profile(fit))``).

    One panel per parameter (sd/cor scale, sigma, fixed effects), sharing the
    zeta axis. Dashed lines mark zeta = +-qnorm((1 + level) / 2); at the
    profile interval's ends (``prof.confint(level)``) a segment drops from zeta
    = 0 to that zeta and a point marks the end. An end the profile does not
    reach (NaN) is left unmarked.

    Parameters
    ----------
    prof : LikelihoodProfile
        What ``fit.profile()`` returns.
    level : float
        Coverage of the marked interval.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixedfx as mfx
    >>> from mixedfx.plots import profile
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> fig = profile(fit.profile(which="beta_"))
    >>> [ax.get_title() for ax in fig.axes]
    ['(Intercept)', 'Days']
    """
    if not isinstance(prof, LikelihoodProfile):
        raise TypeError(f"profile needs what fit.profile() returns (a LikelihoodProfile), not {type(prof).__name__}")
    level = check_level(level)
    z = float(ndtri((1 + level) / 2))
    ends = prof.confint(level)
    names = list(prof.bounds.index)
    fig, axes = panel_grid(len(names), 3, (3.0, 2.6), sharey=True)
    for ax, name in zip(axes, names):
        points = prof.frame[prof.frame["parameter"] == name]
        finite = np.isfinite(points["zeta"].to_numpy()) & np.isfinite(points["value"].to_numpy())
        values, zeta = points["value"].to_numpy()[finite], points["zeta"].to_numpy()[finite]
        ax.plot(*_zeta_curve(values, zeta), color="C0", linewidth=1.5, gid="zeta")
        for height in (-z, z):
            ax.axhline(height, color="0.5", linewidth=0.8, linestyle="--", gid="level")
        ax.axhline(0.0, color="0.8", linewidth=0.6, gid="zero")
        marked = np.column_stack([ends.loc[name].to_numpy(), [-z, z]])
        marked = marked[np.isfinite(marked[:, 0])]
        ax.vlines(marked[:, 0], 0.0, marked[:, 1], color="C3", linewidth=1.0, gid="interval_segments")
        ax.scatter(marked[:, 0], marked[:, 1], s=18, color="C3", zorder=3, gid="interval_ends")
        ax.set_title(name, fontsize=9)
    fig.supylabel("\u03b6 (signed square root of the deviance change)", fontsize=9)
    fig.suptitle(f"Likelihood profiles: {100 * level:g}% interval ends at \u03b6 = \u00b1{z:.2f}", fontsize=10)
    return fig
