"""The caterpillar plot of a fit's random effects (lme4's ``dotplot(ranef(fit, condVar = TRUE))``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy.special import ndtri

from mixedfx.inference.fitted import fitted_model
from mixedfx.plots.panels import check_level, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mixedfx.inference.fitted import MixedFit

__all__ = ["caterpillar", "LevelRows", "level_rows"]

# sizes in inches: a panel's width, one level's row, the room for titles and axis labels, the
# narrowest figure (which the title fits)
_PANEL_WIDTH, _ROW_HEIGHT, _MARGIN_HEIGHT, _LEAST_WIDTH = 2.6, 0.16, 1.1, 4.6
# the unlabelled middle of a long caterpillar takes a sixth of the labelled rows' height, at least 3 rows
_MIDDLE_SHARE, _MIDDLE_LEAST = 1 / 6, 3


@dataclass(frozen=True)
class LevelRows:
    """Where a grouping factor's levels sit on the y axis of its caterpillar panels.

    Levels are sorted by their first column's conditional mode, lowest at the
    bottom. A factor of more than ``max_levels`` levels keeps its lowest and
    highest ones labelled (rows 0, 1, ...) and squeezes the rest, unlabelled,
    into a band between them.

    Attributes
    ----------
    labelled : ndarray of int
        Level positions (in the ranef table's order) drawn with their names, bottom to top.
    labelled_y : ndarray of float
        Their rows.
    unlabelled : ndarray of int
        The middle levels, bottom to top (empty when every level is labelled).
    unlabelled_y : ndarray of float
        Their heights, evenly spaced in the band.
    band : tuple of float or None
        The band's bottom and top; None when every level is labelled.
    n_rows : float
        The rows the panel spans.
    """

    labelled: np.ndarray
    labelled_y: np.ndarray
    unlabelled: np.ndarray
    unlabelled_y: np.ndarray
    band: tuple[float, float] | None
    n_rows: float


def level_rows(first_column: np.ndarray, max_levels: int) -> LevelRows:
    """The rows of a factor's levels, sorted by ``first_column``, at most ``max_levels`` of them labelled.

    Examples
    --------
    >>> import numpy as np
    >>> rows = level_rows(np.array([5.0, -1.0, 3.0, 0.0, 9.0, -7.0]), max_levels=4)
    >>> rows.labelled.tolist(), rows.labelled_y.tolist(), rows.unlabelled.tolist(), rows.band
    ([5, 1, 0, 4], [0.0, 1.0, 5.0, 6.0], [3, 2], (1.5, 4.5))
    """
    order = np.argsort(first_column, kind="stable")
    n = order.size
    if n <= max_levels:
        return LevelRows(order, np.arange(n, dtype=float), order[:0], np.zeros(0), None, float(n))
    n_low = max_levels // 2
    n_high = max_levels - n_low
    middle = order[n_low: n - n_high]
    band_rows = max(_MIDDLE_LEAST, round(max_levels * _MIDDLE_SHARE))
    bottom = n_low - 0.5
    top = bottom + band_rows
    middle_y = bottom + (np.arange(middle.size) + 0.5) / middle.size * band_rows
    labelled_y = np.concatenate([np.arange(n_low), top + 0.5 + np.arange(n_high)]).astype(float)
    return LevelRows(np.concatenate([order[:n_low], order[n - n_high:]]), labelled_y, middle, middle_y,
                     (bottom, top), float(max_levels + band_rows))


def _draw_levels(ax: Axes, modes: np.ndarray, half_widths: np.ndarray | None, rows: LevelRows) -> None:
    """One column's conditional modes, with intervals ``modes -+ half_widths``, on the rows of ``rows``."""
    ax.scatter(modes[rows.labelled], rows.labelled_y, s=14, color="C0", zorder=3, gid="modes")
    if half_widths is not None:
        centre, half = modes[rows.labelled], half_widths[rows.labelled]
        ax.hlines(rows.labelled_y, centre - half, centre + half, color="C0", linewidth=1.0, zorder=2,
                  gid="intervals")
    if rows.band is not None:
        ax.axhspan(*rows.band, color="0.93", zorder=0, gid="unlabelled_band")
        middle = modes[rows.unlabelled]
        ax.scatter(middle, rows.unlabelled_y, s=1.0, color="C0", alpha=0.6, linewidths=0, zorder=3,
                   gid="unlabelled_modes")
        if half_widths is not None:
            half = half_widths[rows.unlabelled]
            ax.hlines(rows.unlabelled_y, middle - half, middle + half, color="C0", linewidth=0.4, alpha=0.12,
                      zorder=2, gid="unlabelled_intervals")
    ax.axvline(0.0, color="0.4", linewidth=0.8, linestyle="--", zorder=1, gid="zero")
    ax.set_ylim(-0.7, rows.n_rows - 0.3)


def _label_levels(ax: Axes, names: list[str], rows: LevelRows) -> None:
    """The level names as y tick labels; the unlabelled band's tick says how many levels it holds."""
    ticks = list(rows.labelled_y)
    labels = [names[i] for i in rows.labelled]
    if rows.band is not None:
        ticks.append(sum(rows.band) / 2)
        labels.append(f"{rows.unlabelled.size:,} levels\nnot labelled")
    ax.set_yticks(ticks, labels, fontsize=7 if rows.n_rows > 40 else 8)
    if rows.band is not None:
        note = ax.get_yticklabels()[-1]
        note.set_color("0.35")
        note.set_fontstyle("italic")
    ax.tick_params(axis="y", length=0)


def caterpillar(fit: MixedFit, condvar: bool = True, level: float = 0.95, max_levels: int = 60) -> Figure:
    """Conditional modes of the random effects with intervals (lme4's ``dotplot(ranef(fit, condVar = TRUE))``).

    One panel per grouping factor and term column (``(Intercept)``, ``Days``),
    side by side; the panels of one factor share their y axis, its levels
    sorted by the first column's mode, lowest at the bottom, as lattice's
    dotplot sorts them. Each mode carries the interval mode +- z * conditional
    SD, z = qnorm((1 + level) / 2); a dashed line marks 0.

    A factor of more than ``max_levels`` levels shows its ``max_levels // 2``
    lowest and its highest levels, labelled, at the two ends; the levels
    between are drawn as small unlabelled points with faint intervals, squeezed
    into a shaded band in their sorted order (so the band still shows the
    caterpillar's shape), whose tick says how many levels it holds
    ("2,912 levels not labelled" for InstEval's 2,972 students).

    Parameters
    ----------
    fit : LmerFit or GlmerFit
    condvar : bool
        Draw the intervals from the conditional variances; modes alone when False.
    level : float
        Coverage of the intervals.
    max_levels : int
        Most level names per factor (at least 2).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import mixedfx as mfx
    >>> from mixedfx.plots import caterpillar
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> fig = caterpillar(fit)
    >>> [ax.get_title() for ax in fig.axes]
    ['Subject: (Intercept)', 'Subject: Days']
    >>> len(fig.axes[0].get_yticklabels())
    18
    """
    fitted_model(fit, "caterpillar")
    level = check_level(level)
    if not (isinstance(max_levels, (int, np.integer)) and max_levels >= 2):
        raise ValueError(f"max_levels must be an integer of at least 2, not {max_levels!r}")
    z = float(ndtri((1 + level) / 2))
    effects: dict[str, pd.DataFrame] = fit.ranef(condvar=condvar)
    layout = {group: level_rows(frame.iloc[:, 0].to_numpy(), int(max_levels)) for group, frame in effects.items()}
    n_panels = sum(frame.shape[1] for frame in effects.values())
    tallest = max(rows.n_rows for rows in layout.values())
    longest_name = max(len(str(name)) for frame in effects.values() for name in frame.index)
    label_width = sum(min(longest_name, 24) * 0.07 + 0.3 for _ in effects)
    fig = new_figure(max(_LEAST_WIDTH, n_panels * _PANEL_WIDTH + label_width),
                     max(2.6, tallest * _ROW_HEIGHT + _MARGIN_HEIGHT))
    grid = fig.add_gridspec(1, n_panels)
    column = 0
    for group, frame in effects.items():
        rows = layout[group]
        sds = np.sqrt(np.diagonal(frame.attrs["condvar"], axis1=1, axis2=2)) if condvar else None
        first = None
        for j, term in enumerate(frame.columns):
            ax = fig.add_subplot(grid[0, column], sharey=first)
            column += 1
            _draw_levels(ax, frame.iloc[:, j].to_numpy(), None if sds is None else z * sds[:, j], rows)
            ax.set_title(f"{group}: {term}", fontsize=9)
            ax.set_xlabel("conditional mode", fontsize=8)
            if first is None:
                first = ax
                _label_levels(ax, [str(name) for name in frame.index], rows)
            else:
                ax.tick_params(axis="y", labelleft=False, length=0)
    if condvar:
        fig.suptitle(f"Conditional modes, {100 * level:g}% intervals (\u00b1{z:.2f} conditional SD)", fontsize=9)
    return fig
