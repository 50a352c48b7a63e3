"""Fitted lines per group over the data (as sjPlot's and ggeffects' random-effect plots draw them)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixedfx.inference.fitted import fitted_model, is_generalized
from mixedfx.plots.panels import new_figure, panel_grid, point_style

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from mixedfx.inference.fitted import MixedFit

__all__ = ["effects"]

# a factor x's data points are spread this far either side of their level, so ties show
_JITTER = 0.08
# many group lines in one panel are drawn faint in one colour, so their spread reads as a band
_FAINT_FROM = 30


@dataclass(frozen=True)
class _XAxis:
    """The x variable as drawn: numeric, or a factor placed at its levels' codes 0, 1, ..."""

    name: str
    categories: pd.Index | None

    @classmethod
    def of(cls, column: pd.Series) -> _XAxis:
        if isinstance(column.dtype, pd.CategoricalDtype):
            return cls(str(column.name), column.cat.categories)
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            return cls(str(column.name), None)
        raise ValueError(f"x must be a numeric variable or a factor; {column.name!r} is {column.dtype}")

    def grid(self, column: pd.Series, n_grid: int) -> pd.Series:
        """Values of x spanning ``column``: ``n_grid`` evenly spaced, or the factor levels it holds."""
        if self.categories is None:
            low, high = float(column.min()), float(column.max())
            return pd.Series(np.linspace(low, high, n_grid) if high > low else [low])
        codes = np.unique(column.cat.codes.to_numpy())
        return pd.Series(pd.Categorical.from_codes(codes[codes >= 0], dtype=column.dtype))

    def positions(self, values: pd.Series) -> np.ndarray:
        """Where values sit on the x axis: themselves, or a factor's level codes."""
        if self.categories is None:
            return values.to_numpy(dtype=float)
        return values.cat.codes.to_numpy().astype(float)


def _typical_row(frame: pd.DataFrame) -> pd.DataFrame:
    """One row holding each column's typical value: a numeric column's mean, a factor's first (reference) level."""
    row = {}
    for name, column in frame.items():
        if isinstance(column.dtype, pd.CategoricalDtype):
            row[name] = pd.Categorical.from_codes([0], dtype=column.dtype)
        elif pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            row[name] = [float(column.mean())]
        else:
            row[name] = [column.mode().iloc[0]]
    return pd.DataFrame(row)


def _new_rows(frame: pd.DataFrame, rows: np.ndarray, typical: pd.DataFrame, kept: list[str],
              x: str, x_values: pd.Series) -> pd.DataFrame:
    """New data: ``frame``'s ``rows`` with their ``kept`` columns, every other at its typical value, x set."""
    new = typical.iloc[np.zeros(rows.size, dtype=int)].reset_index(drop=True)
    for name in kept:
        new[name] = frame[name].iloc[rows].reset_index(drop=True)
    new[x] = x_values.reset_index(drop=True)
    return new


def _predict(fit: MixedFit, newdata: pd.DataFrame, re_form: str) -> np.ndarray:
    """Predictions on the response scale (a glmer's means)."""
    if is_generalized(fit):
        return fit.predict(newdata, re_form=re_form, type="response")
    return fit.predict(newdata, re_form=re_form)


def _check_names(fit: MixedFit, frame: pd.DataFrame, x: str, by: str | None) -> tuple[str, list[str]]:
    """``by`` (the first grouping factor when None) and the model-frame columns that make its levels."""
    groups = list(fit.ngrps)
    by = groups[0] if by is None else by
    if by not in groups:
        raise ValueError(f"by must be a grouping factor of the model ({', '.join(groups)}), not {by!r}"[:300])
    plottable = [name for name in fit.terms.variables[1:] if name in frame.columns]
    if x not in plottable:
        allowed = ", ".join(plottable) if plottable else "none: the fixed part has no plain variable"
        raise ValueError(f"x must be a variable of the model's fixed part ({allowed}), not {x!r}"[:300])
    by_columns = by.split(":")
    if not all(name in frame.columns for name in by_columns):
        raise ValueError(f"the grouping factor {by!r} is not made of model-frame columns; choose another by")
    if x in by_columns:
        raise ValueError(f"x ({x!r}) defines the grouping factor {by!r}: its lines would be new levels")
    return by, by_columns


def _draw_lines(ax: Axes, axis: _XAxis, x_values: pd.Series, predictions: np.ndarray, **style) -> None:
    """One fitted line; points joined by segments for a factor x."""
    marker = {} if axis.categories is None else {"marker": "o", "markersize": 3}
    ax.plot(axis.positions(x_values), predictions, **marker, **style)


@dataclass(frozen=True)
class _FittedLines:
    """What an effects plot draws: the data by level, each level's line, the population line.

    ``rows[i]`` are the data rows of level i; ``grids[i]`` and ``fits[i]`` its
    line's x values and predictions; ``data_x`` the data's positions on the x axis.
    """

    axis: _XAxis
    levels: list[str]
    rows: list[np.ndarray]
    grids: list[pd.Series]
    fits: list[np.ndarray]
    population_x: pd.Series
    population: np.ndarray
    data_x: np.ndarray
    data_y: np.ndarray


def _fitted_lines(fit: MixedFit, frame: pd.DataFrame, x: str, by: str, by_columns: list[str],
                  n_grid: int) -> _FittedLines:
    """The data, and predictions over x for each level of ``by`` (its terms only) and for the population."""
    axis = _XAxis.of(frame[x])
    group = fit.get_me("flist")[by]
    codes = group.cat.codes.to_numpy()
    levels = [str(level) for level in group.cat.categories]
    order = np.argsort(codes, kind="stable")
    rows = np.split(order, np.cumsum(np.bincount(codes, minlength=len(levels)))[:-1])
    typical = _typical_row(frame)
    grids = [axis.grid(frame[x].iloc[level_rows], n_grid) for level_rows in rows]
    sizes = [len(grid) for grid in grids]
    level_data = _new_rows(frame, np.repeat([level_rows[0] for level_rows in rows], sizes), typical, by_columns,
                           x, pd.concat(grids, ignore_index=True))
    re_form = "~" + " + ".join(f"({term.text})" for term in fit.re_terms if term.group == by)
    fits = np.split(_predict(fit, level_data, re_form), np.cumsum(sizes)[:-1])
    population_x = axis.grid(frame[x], n_grid)
    population = _predict(fit, _new_rows(frame, np.zeros(len(population_x), dtype=int), typical, [], x,
                                         population_x), "~0")
    data_x = axis.positions(frame[x])
    if axis.categories is not None:
        data_x = data_x + np.random.default_rng(0).uniform(-_JITTER, _JITTER, data_x.size)
    return _FittedLines(axis, levels, rows, grids, fits, population_x, population, data_x,
                        np.asarray(fit.get_me("y"), dtype=float))


_POPULATION_STYLE = {"color": "black", "gid": "population", "label": "population (no random effects)"}


def _draw_facets(lines: _FittedLines, by: str) -> tuple[Figure, list[Axes]]:
    """A panel per level: its data, its line, the population line dashed; all axes shared."""
    n = len(lines.levels)
    fig, axes = panel_grid(n, math.ceil(math.sqrt(1.6 * n)), (1.9, 1.7), sharex=True, sharey=True)
    dots = point_style(max(len(level_rows) for level_rows in lines.rows))
    for ax, level, level_rows, grid, fitted in zip(axes, lines.levels, lines.rows, lines.grids, lines.fits):
        ax.scatter(lines.data_x[level_rows], lines.data_y[level_rows], color="0.45", linewidths=0, gid="data",
                   **dots)
        _draw_lines(ax, lines.axis, grid, fitted, color="C0", linewidth=1.5, gid="group",
                    label=f"fitted for the {by} level")
        _draw_lines(ax, lines.axis, lines.population_x, lines.population, linewidth=1.0, linestyle="--",
                    **_POPULATION_STYLE)
        ax.set_title(level, fontsize=8, pad=2)
        ax.tick_params(labelsize=7)
    return fig, axes


def _draw_overlay(lines: _FittedLines, by: str) -> tuple[Figure, list[Axes]]:
    """One panel: all data in grey, a line per level (faint in one colour when many), the population bold."""
    fig = new_figure(7.0, 5.0)
    ax = fig.add_subplot()
    ax.scatter(lines.data_x, lines.data_y, color="0.55", linewidths=0, gid="data", **point_style(lines.data_x.size))
    n = len(lines.levels)
    for i, (grid, fitted) in enumerate(zip(lines.grids, lines.fits)):
        style = ({"color": "C0", "linewidth": 0.5, "alpha": 0.2} if n > _FAINT_FROM
                 else {"color": f"C{i % 10}", "linewidth": 1.0})
        _draw_lines(ax, lines.axis, grid, fitted, gid="group",
                    label=f"one line per level of {by} ({n:,})" if i == 0 else None, **style)
    _draw_lines(ax, lines.axis, lines.population_x, lines.population, linewidth=2.5, **_POPULATION_STYLE)
    return fig, [ax]


def effects(fit: MixedFit, x: str, by: str | None = None, max_panels: int = 30, n_grid: int = 50) -> Figure:
    """The data and the fitted lines of each group over x, with the population line (sjPlot/ggeffects style).

    For each level of ``by``, predictions (``fit.predict(newdata, re_form=...)``
    with the random-effects terms of ``by`` only) over ``n_grid`` values
    spanning that level's x, or the factor levels it has data at; the
    population line (``re_form="~0"``) spans all the data. Every other variable
    is held at its typical value: a numeric one's mean, a factor's reference
    (first) level; the columns that make a level of ``by`` keep that level's
    values. A glmer is drawn on the response scale (its data as
    ``fit.get_me("y")``: proportions for a binomial).

    Up to ``max_panels`` levels get a panel each (sharing both axes, as
    lattice's ``xyplot(y ~ x | g)``): the level's data, its line (blue) and the
    population line (dashed black). More levels share one panel: all data in
    grey, one thin line per level, the population line bold. A factor x is
    placed at its levels, the data jittered, the predictions joined by segments.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
    x : str
        A variable of the fixed part, as a column of ``fit.model_frame()``.
    by : str, optional
        A grouping factor (``fit.ngrps``' names); the first by default.
    max_panels : int
        Most levels drawn in separate panels.
    n_grid : int
        Values of a numeric x each line is predicted at.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    ValueError
        ``x`` is not a plain variable of the fixed part, or ``by`` not a grouping factor.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> from mixedfx.plots import effects
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> fig = effects(fit, "Days", by="Subject")
    >>> len(fig.axes), fig.axes[0].get_title(), [line.get_gid() for line in fig.axes[0].lines]
    (18, '308', ['group', 'population'])
    """
    fitted_model(fit, "effects")
    frame = fit.model_frame()
    by, by_columns = _check_names(fit, frame, x, by)
    if n_grid < 2 or max_panels < 1:
        raise ValueError(f"n_grid must be at least 2 and max_panels at least 1, not {n_grid} and {max_panels}")
    lines = _fitted_lines(fit, frame, x, by, by_columns, n_grid)
    draw = _draw_facets if len(lines.levels) <= max_panels else _draw_overlay
    fig, axes = draw(lines, by)
    categories = lines.axis.categories
    if categories is not None:
        axes[0].set_xticks(range(len(categories)), [str(c) for c in categories])
        axes[0].set_xlim(-0.5, len(categories) - 0.5)
    handles = [next(line for line in axes[0].lines if line.get_gid() == gid) for gid in ("group", "population")]
    fig.legend(handles=handles, loc="outside upper center", ncols=2, frameon=False, fontsize=8)
    scale = " (response scale)" if is_generalized(fit) else ""
    fig.supxlabel(x, fontsize=9)
    fig.supylabel(f"{fit.terms.response}{scale}", fontsize=9)
    return fig
