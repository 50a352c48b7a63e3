"""Residual diagnostics of a fit: residuals against fitted values (lme4's ``plot(fit)``), normal QQ plots."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from mixedfx.design.remote_rows import RemoteRows, rows_elsewhere
from mixedfx.inference.fitted import fitted_model
from mixedfx.plots.panels import new_figure, panel_grid, point_style, qq_points
from mixedfx.plots.smoothing import lowess

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from mixedfx.inference.fitted import MixedFit

__all__ = ["residuals", "qq"]


def _rows_here(fit: MixedFit, what: str) -> None:
    """Refuse a fit that is not from lmer or glmer, or whose rows stay on Dask workers."""
    fitted_model(fit, what)
    if isinstance(fit.matrices.X, RemoteRows):
        raise rows_elsewhere(f"{what} draws every row")


def residuals(fit: MixedFit) -> Figure:
    """Pearson residuals against fitted values with a LOWESS smooth (lme4's ``plot(fit)``).

    Fitted values are on the response scale (a glmer's means); the residuals
    are ``fit.residuals(type="pearson")``, for a linear model the response
    residuals times the square roots of any prior weights. The smooth is
    :func:`mixedfx.plots.smoothing.lowess` (R's ``lowess`` with its defaults);
    a dashed line marks 0.

    Parameters
    ----------
    fit : LmerFit or GlmerFit

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixedfx as mfx
    >>> from mixedfx.plots import residuals
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> ax = residuals(fit).axes[0]
    >>> ax.get_xlabel(), ax.get_ylabel(), len(ax.collections[0].get_offsets())
    ('Fitted values', 'Pearson residuals', 180)
    """
    _rows_here(fit, "a residual plot")
    fitted, resid = fit.fitted(), fit.residuals(type="pearson")
    kept = np.isfinite(fitted) & np.isfinite(resid)
    fitted, resid = fitted[kept], resid[kept]
    fig = new_figure(5.5, 4.2)
    ax = fig.add_subplot()
    ax.scatter(fitted, resid, color="C0", linewidths=0, gid="residuals", **point_style(fitted.size))
    ax.axhline(0.0, color="0.4", linewidth=0.8, linestyle="--", gid="zero")
    grid, smooth = lowess(fitted, resid)
    ax.plot(grid, smooth, color="C3", linewidth=1.8, gid="smoother", label="LOWESS smooth")
    ax.legend(loc="best", fontsize=8, frameon=False)
    ax.set_xlabel("Fitted values")
    ax.set_ylabel("Pearson residuals")
    ax.set_title("Residuals against fitted values", fontsize=10)
    return fig


def qq(fit: MixedFit) -> Figure:
    """Normal QQ plots of the residuals and of each random-effect column (lattice's ``qqmath``).

    The first panel shows the scaled Pearson residuals
    (``fit.residuals(type="pearson", scaled=True)``), as lme4's
    ``qqmath(fit)``; then one panel per grouping factor and term column shows
    its conditional modes. Each panel has R's ``qqline``, through the first
    and third quartiles.

    Parameters
    ----------
    fit : LmerFit or GlmerFit

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixedfx as mfx
    >>> from mixedfx.plots import qq
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> [ax.get_title() for ax in qq(fit).axes]
    ['Scaled Pearson residuals', 'Subject: (Intercept)', 'Subject: Days']
    """
    _rows_here(fit, "a QQ plot of residuals")
    samples = {"Scaled Pearson residuals": ("residual", fit.residuals(type="pearson", scaled=True))}
    for group, frame in fit.ranef().items():
        for term in frame.columns:
            samples[f"{group}: {term}"] = ("conditional mode", frame[term].to_numpy())
    fig, axes = panel_grid(len(samples), 3, (3.2, 3.0))
    for ax, (title, (what, values)) in zip(axes, samples.items()):
        theoretical, ordered, intercept, slope = qq_points(np.asarray(values, dtype=float))
        ax.scatter(theoretical, ordered, color="C0", linewidths=0, gid="points", **point_style(ordered.size))
        ax.axline((0.0, intercept), slope=slope, color="C3", linewidth=1.0, gid="reference")
        ax.set_title(title, fontsize=9)
        ax.set_ylabel(what, fontsize=8)
    fig.supxlabel("Standard normal quantiles", fontsize=9)
    return fig
