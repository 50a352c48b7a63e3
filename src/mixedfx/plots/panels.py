"""The figures the plots draw on: matplotlib imported on first use, a grid of panels laid out once.

Every plot returns a :class:`matplotlib.figure.Figure` made directly (not
through pyplot), so nothing depends on a GUI backend or pyplot's global state;
``fig.savefig("plot.png")`` renders it with Agg.
"""

from __future__ import annotations

import io
import math
import sys
from typing import TYPE_CHECKING

import numpy as np
from scipy.special import ndtri

from mixedfx.rbase.rmath import quantile7

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["MISSING_MATPLOTLIB", "new_figure", "figure_png", "panel_grid", "point_style", "check_level", "qq_points"]

MISSING_MATPLOTLIB = "plots need matplotlib: pip install 'mixedfx[plot]'"


def new_figure(width: float, height: float) -> Figure:
    """An empty figure of ``width`` x ``height`` inches with constrained layout.

    Raises
    ------
    ImportError
        matplotlib is not installed.
    """
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise ImportError(MISSING_MATPLOTLIB) from err
    _display_in_ipython(Figure)
    return Figure(figsize=(width, height), layout="constrained")


def figure_png(figure: Figure) -> bytes:
    """The figure rendered as PNG bytes (what a notebook shows)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return buffer.getvalue()


def _display_in_ipython(figure_type: type) -> None:
    """In IPython or Jupyter, show a Figure left as a cell's value as its PNG.

    pyplot's inline backend registers this when pyplot is imported; these
    figures are made without pyplot, so nothing else would, and a notebook
    would show ``<Figure size ...>``.
    """
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is not None:
        shell.display_formatter.formatters["image/png"].for_type(figure_type, figure_png)


def panel_grid(n_panels: int, ncols: int, panel_size: tuple[float, float], sharex: bool = False,
               sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure of ``n_panels`` panels, filled row by row in ``ncols`` columns.

    Slots past the last panel are removed; with ``sharex`` a panel with no panel
    below it keeps its x tick labels.

    Examples
    --------
    >>> fig, axes = panel_grid(5, 3, (2.0, 2.0), sharex=True)
    >>> len(fig.axes), [ax.xaxis.get_tick_params()["labelbottom"] for ax in axes]
    (5, [False, False, True, True, True])
    """
    ncols = max(1, min(ncols, n_panels))
    nrows = math.ceil(n_panels / ncols)
    width, height = panel_size
    fig = new_figure(ncols * width + 0.6, nrows * height + 0.5)
    grid = fig.subplots(nrows, ncols, sharex=sharex, sharey=sharey, squeeze=False).ravel()
    for ax in grid[n_panels:]:
        fig.delaxes(ax)
    axes = list(grid[:n_panels])
    if sharex:
        for i, ax in enumerate(axes):
            ax.xaxis.set_tick_params(labelbottom=i + ncols >= n_panels)
    return fig, axes


def point_style(n_points: int) -> dict:
    """Marker size and opacity for a scatter of ``n_points``: smaller and lighter as they crowd.

    Many thousands of points are rasterised, so a saved PDF or SVG stays small.
    """
    if n_points <= 500:
        return {"s": 14.0, "alpha": 0.75}
    if n_points <= 5000:
        return {"s": 5.0, "alpha": 0.5}
    return {"s": 1.5, "alpha": 0.25, "rasterized": True}


def check_level(level: float) -> float:
    """``level`` as a float strictly between 0 and 1, or a ValueError."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be between 0 and 1 (such as 0.95), not {level!r}")
    return float(level)


def qq_points(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Normal quantiles and sorted values for a QQ plot, and R's ``qqline`` (intercept, slope).

    The quantiles are at R's ``ppoints(n)``; the line passes through the first
    and third quartiles of the values and of the normal distribution.

    Examples
    --------
    >>> import numpy as np
    >>> theoretical, ordered, intercept, slope = qq_points(np.array([3.0, 1.0, 2.0]))
    >>> theoretical.round(3).tolist(), ordered.tolist(), round(intercept, 3), round(slope, 3)
    ([-0.869, 0.0, 0.869], [1.0, 2.0, 3.0], 2.0, 0.741)
    """
    ordered = np.sort(values[np.isfinite(values)])
    n = ordered.size
    a = 3 / 8 if n <= 10 else 1 / 2
    theoretical = ndtri((np.arange(1, n + 1) - a) / (n + 1 - 2 * a))
    q1, q3 = quantile7(ordered, (0.25, 0.75))
    z1, z3 = ndtri(0.25), ndtri(0.75)
    slope = float((q3 - q1) / (z3 - z1))
    return theoretical, ordered, float(q1 - slope * z1), slope
