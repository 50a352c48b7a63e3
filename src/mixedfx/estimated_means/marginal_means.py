"""Estimated marginal means and their contrasts, as the emmeans package computes them.

:func:`emmeans` averages the reference grid's predictions over the factors
not asked for, with equal weights (emmeans' default ``weights = "equal"``),
in each combination of the factors asked for. An :class:`EmmGrid` holds linear
functions of the fixed effects with their estimates, variances and df, computed
once when it is made; ``summary`` adds intervals, tests and the multiplicity
adjustment, on the link or the response scale; ``contrast`` and ``pairs`` make
the grid of contrasts, within each by group.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedfx.estimated_means.adjust import Adjusted, Family, adjusted_p_values, critical_values, resolve_adjust
from mixedfx.estimated_means.contrasts import contrast_set
from mixedfx.estimated_means.linear_functions import Estimates, FixedEffects, fixed_effects, resolve_df_method
from mixedfx.estimated_means.printing import EmmSummary
from mixedfx.estimated_means.reference_grid import ReferenceGrid, reference_grid, value_label
from mixedfx.estimated_means.scales import ResponseScale, contrast_scale, family_scale
from mixedfx.inference.fitted import is_generalized
from mixedfx.rbase.rmath import zapsmall
from mixedfx.report.html import PreformattedHtml

__all__ = ["EmmGrid", "emmeans"]

_TYPES = ("link", "response")
_PARENS = re.compile(r"-|\+|/|\*")  # emmeans' parens option: labels with these are parenthesised in contrasts
_OVERALL = "1"  # emmeans(fit, ~ 1): the overall mean, labelled "overall"


@dataclass(frozen=True)
class EmmGrid(PreformattedHtml):
    """Linear functions of a fit's fixed effects with their labels: emmeans' ``emmGrid``.

    Made by :func:`emmeans` (estimated marginal means), :meth:`contrast` and :meth:`pairs`.

    Attributes
    ----------
    effects : FixedEffects
        The fit's fixed effects, covariance and df method (shared by the grids made from this one).
    reference : ReferenceGrid
        The reference grid the means come from (its design's null space decides estimability).
    labels : DataFrame
        One row per estimate: the variables that label it (factors as
        categoricals, covariates as floats), the by variables last.
    linfct : ndarray, shape (len(labels), p)
        The linear functions over the fit's full fixed-effects design.
    offset : ndarray, shape (len(labels),)
    estimates : Estimates
        Estimates on the link scale, their variances and df (NaN where not estimable).
    by : tuple of str
        The by variables: each of their combinations is one family.
    kind : {"prediction", "contrast", "pairs"}
        Means, contrasts, or one set of pairwise comparisons (for Tukey's method).
    family_size : int
        emmeans' ``famSize``.
    adjust : str
        The default multiplicity adjustment of the summary.
    infer : (bool, bool)
        Whether the summary shows intervals, and tests, by default.
    level : float
        Confidence level.
    type : {"link", "response"}
        The summary's default scale.
    averaged_over : tuple of str
        The predictors the means are averaged over.
    scale : ResponseScale or None
        The link between the estimates and the response scale (None if the same).
    notes : tuple of str
        Notes printed before the summary's own.
    """

    effects: FixedEffects
    reference: ReferenceGrid
    labels: pd.DataFrame
    linfct: np.ndarray
    offset: np.ndarray
    estimates: Estimates
    by: tuple[str, ...]
    kind: str
    family_size: int
    adjust: str
    infer: tuple[bool, bool]
    level: float
    type: str
    averaged_over: tuple[str, ...]
    scale: ResponseScale | None
    notes: tuple[str, ...] = ()

    @property
    def estimate_name(self) -> str:
        """The estimate's column on the link scale: ``"emmean"`` for means, ``"estimate"`` for contrasts."""
        return "emmean" if self.kind == "prediction" else "estimate"

    def __str__(self) -> str:
        return str(self.summary())

    def __repr__(self) -> str:
        return self.__str__()

    def _family(self, method: str) -> Family:
        """The families of the rows under ``method``: by groups, Scheffe's ranks, the rows' correlation for mvt."""
        groups = _by_groups(self.labels, self.by)
        ranks = tuple(int(np.linalg.matrix_rank(zapsmall(self.linfct[g].ravel()).reshape(len(g), -1)))
                      for g in groups) if method == "scheffe" else (0,) * len(groups)
        correlation = None
        if method == "mvt":
            rows = self.linfct[:, self.reference.kept]
            cov = rows @ self.effects.covariance @ rows.T
            sd = np.sqrt(np.diag(cov))
            correlation = cov / np.outer(sd, sd)
        return Family(size=self.family_size, groups=groups, pairs=self.kind == "pairs", ranks=ranks,
                      correlation=correlation)

    def summary(self, type: str | None = None, infer: bool | tuple[bool, bool] | None = None,  # noqa: A002
                level: float | None = None, adjust: str | None = None) -> EmmSummary:
        """emmeans' ``summary``: estimates, SE, df, and intervals or tests as ``infer`` asks.

        Parameters
        ----------
        type : {"link", "response"}, optional
            The scale (default the grid's): "response" back-transforms a
            generalized model's estimates (delta-method SE, intervals from the
            link scale's; tests stay on the link scale).
        infer : bool or (bool, bool), optional
            Intervals, tests (default: intervals for means, tests for contrasts).
        level : float, optional
            Confidence level (default the grid's).
        adjust : str, optional
            Multiplicity adjustment (default the grid's): one of
            :data:`mixedfx.estimated_means.adjust.ADJUST_METHODS`.

        Returns
        -------
        EmmSummary
            The label columns, then the estimate (``emmean``, ``estimate``, or
            ``prob``, ``rate``, ``response``, ``odds.ratio``, ``ratio`` on the
            response scale), ``SE``, ``df``, then ``lower.CL``/``upper.CL``
            (``asymp.LCL``/``asymp.UCL`` with infinite df), ``null``,
            ``t.ratio`` (``z.ratio``), ``p.value``; ``attrs["notes"]`` has emmeans' notes.

        Raises
        ------
        ValueError
            An unknown type or adjustment, a level outside (0, 1).
        """
        type = self.type if type is None else type  # noqa: A001
        if type not in _TYPES:
            raise ValueError(f"type must be one of {', '.join(_TYPES)}, not {type!r}")
        infer = self.infer if infer is None else (infer, infer) if isinstance(infer, bool) else tuple(infer)
        level = self.level if level is None else _check_level(level)
        method = resolve_adjust(self.adjust if adjust is None else adjust)
        est, df = self.estimates.estimate, self.estimates.df
        se = np.sqrt(self.estimates.variance)
        scale = self.scale if type == "response" else None
        table = _ratio_labels(self.labels) if scale is not None and scale.ratios else self.labels.copy()
        estimate_name = scale.label if scale is not None else self.estimate_name
        notes = list(self.notes)
        if not is_generalized(self.effects.fit):  # emmeans names no df method for a generalized model
            notes.append(f"Degrees-of-freedom method: {self.effects.method}")
        if scale is None and self.scale is not None:
            notes.append(f"Results are given on the {self.scale.name} (not the response) scale.")
        table[estimate_name], table["SE"], table["df"] = est, se, df
        family = self._family(method) if any(infer) else None
        if infer[0]:
            notes += _add_intervals(table, est, se, df, critical_values(level, df, method, family), level, scale)
        if infer[1]:
            notes += _add_tests(table, est, se, df, adjusted_p_values(est / se, df, method, family), scale)
        if scale is not None:
            table["SE"] = np.abs(scale.link.mu_eta(est)) * se
            table[estimate_name] = scale.link.linkinv(est)
        if self.averaged_over:
            notes.insert(0, f"Results are averaged over the levels of: {', '.join(self.averaged_over)}")
        summary = EmmSummary(table.reset_index(drop=True))
        summary.attrs.update(estimate_column=estimate_name, by=list(self.by), notes=list(dict.fromkeys(notes)))
        return summary

    def contrast(self, method: str | Mapping[str, Sequence[float]] = "eff", adjust: str | None = None,
                 by: str | Sequence[str] | None | bool = True, **options: Any) -> EmmGrid:
        """emmeans' ``contrast``: contrasts of the estimates within each by group.

        Parameters
        ----------
        method : str or dict
            One of :data:`mixedfx.estimated_means.contrasts.CONTRAST_METHODS`
            ("pairwise", "revpairwise", "trt.vs.ctrl", "trt.vs.ctrlk", "eff",
            "del.eff", "poly", "consec", "mean_chg"), or a dict from a contrast's
            name to its coefficients over the estimates of a by group.
        adjust : str, optional
            The adjustment (default the method's: tukey for pairwise, dunnettx
            for trt.vs.ctrl, fdr for eff, none for poly, mvt for consec).
        by : str, sequence of str, None or True
            The by variables: True (the default) keeps the grid's, None makes
            one family of all rows.
        **options
            ``ref``, ``reverse``, ``max_degree``: see :func:`mixedfx.estimated_means.contrasts.contrast_set`.

        Returns
        -------
        EmmGrid
            Labelled by a ``contrast`` column and the by variables.

        Raises
        ------
        ValueError
            An unknown method, adjustment or by variable.
        """
        by = self.by if by is True else _names(by, "by")
        unknown = [b for b in by if b not in self.labels.columns]
        if unknown:
            raise ValueError(f"by names {', '.join(map(repr, unknown))}, not a variable of the grid: "
                             f"{', '.join(self.labels.columns)}")
        if adjust is not None:
            resolve_adjust(adjust)
        groups = _by_groups(self.labels, by)
        sizes = {len(g) for g in groups}
        if len(sizes) > 1:
            raise ValueError("the by groups are of different sizes; emmeans does not contrast irregular grids")
        raw, shown = _level_labels(self.labels, by)
        contrasts = contrast_set(method, [shown[i] for i in groups[0]], raw_levels=[raw[i] for i in groups[0]],
                                 **options)
        weights = contrasts.coefficients.T
        linfct = np.vstack([weights @ self.linfct[g] for g in groups])
        offset = np.concatenate([weights @ self.offset[g] for g in groups])
        name = _contrast_column(by)
        columns = {name: pd.Categorical(np.tile(contrasts.names, len(groups)),
                                        categories=list(dict.fromkeys(contrasts.names)))}
        for b in by:
            columns[b] = np.repeat(self.labels[b].to_numpy()[[g[0] for g in groups]], len(contrasts.names))
            if isinstance(self.labels[b].dtype, pd.CategoricalDtype):
                columns[b] = pd.Categorical(columns[b], categories=self.labels[b].cat.categories)
        sums = weights.sum(axis=1)
        true_contrasts = bool(np.all(np.abs(sums / (1e-6 + np.abs(weights).max(axis=1, initial=0.0))) < 1e-6))
        scale, note = contrast_scale(self.scale, true_contrasts)
        kind = "pairs" if contrasts.pairs else "contrast" if np.all(np.abs(sums) < 1e-3) else "prediction"
        return _grid(self.effects, self.reference, pd.DataFrame(columns), linfct, offset, by=tuple(by), kind=kind,
                     family_size=contrasts.family_size, adjust=adjust or contrasts.adjust, infer=(False, True),
                     level=self.level, type=self.type, averaged_over=self.averaged_over, scale=scale,
                     notes=(note,) if note else ())

    def pairs(self, adjust: str | None = None, reverse: bool = False, by: str | Sequence[str] | None | bool = True
              ) -> EmmGrid:
        """emmeans' ``pairs``: every pairwise difference within each by group (Tukey-adjusted by default).

        Parameters
        ----------
        adjust : str, optional
            The adjustment (default "tukey").
        reverse : bool
            Later minus earlier levels (emmeans' "revpairwise") instead of earlier minus later.
        by : str, sequence of str, None or True
            As in :meth:`contrast`.

        Returns
        -------
        EmmGrid

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...                 mfx.datasets.load("cbpp"), family="binomial")
        >>> table = emmeans(fit, "period").pairs().summary(type="response")
        >>> list(table.columns), table["contrast"].iloc[0]
        (['contrast', 'odds.ratio', 'SE', 'df', 'null', 'z.ratio', 'p.value'], 'period1 / period2')
        """
        return self.contrast("revpairwise" if reverse else "pairwise", adjust=adjust, by=by)


def _by_groups(labels: pd.DataFrame, by: Sequence[str]) -> tuple[np.ndarray, ...]:
    """Row positions of each by group, in order of first appearance."""
    if not by:
        return (np.arange(len(labels)),)
    codes, _ = pd.factorize(pd.MultiIndex.from_frame(labels[list(by)].astype(str)))
    return tuple(np.flatnonzero(codes == g) for g in range(codes.max() + 1))


def _asymptotic(df: np.ndarray) -> bool:
    """Whether every df is infinite (or missing): emmeans then names z ratios and asymptotic limits."""
    return bool(np.all(np.isnan(df) | np.isinf(df)))


def _ratio_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """The labels of contrasts shown as ratios: ``A / B`` for ``A - B``."""
    table = labels.copy()
    for name in table.columns:
        if isinstance(table[name].dtype, pd.CategoricalDtype):
            table[name] = table[name].cat.rename_categories(lambda label: label.replace(" - ", " / "))
    return table


def _add_intervals(table: pd.DataFrame, est: np.ndarray, se: np.ndarray, df: np.ndarray, critical: Adjusted,
                   level: float, scale: ResponseScale | None) -> list[str]:
    """Add the confidence limits to the table (back-transformed on a response scale); return their notes."""
    lower, upper = est - critical.values * se, est + critical.values * se
    notes = [f"Confidence level used: {value_label(level)}", *([critical.note] if critical.note else [])]
    if scale is not None:
        lower, upper = scale.link.linkinv(lower), scale.link.linkinv(upper)
        if np.any(np.nan_to_num(upper - lower) < 0):
            lower, upper = upper, lower
        notes.append(f"Intervals are back-transformed from the {scale.name} scale")
    names = ("asymp.LCL", "asymp.UCL") if _asymptotic(df) else ("lower.CL", "upper.CL")
    table[names[0]], table[names[1]] = lower, upper
    return notes


def _add_tests(table: pd.DataFrame, est: np.ndarray, se: np.ndarray, df: np.ndarray, p_values: Adjusted,
               scale: ResponseScale | None) -> list[str]:
    """Add the tests of zero (on the link scale; their null on the response scale) to the table; return notes."""
    if scale is not None:
        table["null"] = float(scale.link.linkinv(0.0))
    table["z.ratio" if _asymptotic(df) else "t.ratio"] = est / se
    table["p.value"] = p_values.values
    notes = [p_values.note] if p_values.note else []
    if scale is not None:
        notes.append(f"Tests are performed on the {scale.name} scale")
    return notes


def _check_level(level: float) -> float:
    if not isinstance(level, (int, float)) or not 0.0 < level < 1.0:
        raise ValueError(f"level must be a number between 0 and 1, not {level!r}")
    return float(level)


def _names(value: str | Sequence[str] | None, what: str) -> list[str]:
    """A name or names as a list (None for none)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return list(value)
    raise ValueError(f"{what} must be a name or a list of names, not {value!r}")


def _level_labels(labels: pd.DataFrame, by: Sequence[str]) -> tuple[list[str], list[str]]:
    """Each row's level label for contrast names: bare, and as emmeans shows them (numeric levels prefixed
    with their variable's name, labels with operators parenthesised)."""
    columns = [c for c in labels.columns if c not in by]
    raw_parts, shown_parts = [], []
    for name in columns:
        text = [value_label(v) for v in labels[name]]
        raw_parts.append(text)
        numeric = all(_is_number(t) for t in text)
        shown_parts.append([name + t for t in text] if numeric else text)
    raw = [" ".join(parts) for parts in zip(*raw_parts)] if raw_parts else [""] * len(labels)
    shown = [" ".join(parts) for parts in zip(*shown_parts)] if shown_parts else [""] * len(labels)
    return raw, [f"({s})" if _PARENS.search(s) else s for s in shown]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _contrast_column(by: Sequence[str]) -> str:
    """emmeans' name of the new contrast column: "contrast", numbered when by holds earlier ones."""
    earlier = sum(1 for b in by if re.match(r"^contrast[0-p]?", b))
    return "contrast" + (str(earlier) if earlier else "")


def _grid(effects: FixedEffects, reference: ReferenceGrid, labels: pd.DataFrame, linfct: np.ndarray,
          offset: np.ndarray, **settings: Any) -> EmmGrid:
    """An EmmGrid with its estimates computed (once, here)."""
    estimable = reference.estimable(linfct) & ~np.isnan(linfct).any(axis=1)
    estimates = effects.evaluate(np.nan_to_num(linfct[:, reference.kept]), np.nan_to_num(offset), estimable)
    return EmmGrid(effects=effects, reference=reference, labels=labels, linfct=linfct, offset=offset,
                   estimates=estimates, **settings)


def _parse_specs(specs: str | Sequence[str]) -> tuple[list[str], list[str], str | None]:
    """The names, by names and contrast method of emmeans' specs (a name, names, or formula text)."""
    if isinstance(specs, str) and "~" in specs:
        left, _, right = specs.partition("~")
        means, _, by = right.partition("|")
        return _formula_names(means), _formula_names(by), left.strip() or None
    return _names(specs, "specs"), [], None


def _formula_names(text: str) -> list[str]:
    """The names of a formula side such as ``"temp * recipe"``."""
    return [name for name in re.split(r"[\s*:+]+", text.strip()) if name]


def _averaged(reference: ReferenceGrid, facs: list[str]) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """emmeans' equal-weight means of the grid's rows in each combination of ``facs`` (first fastest)."""
    names = list(reference.levels)
    sizes = [len(v) for v in reference.levels.values()]
    n_cells = reference.linfct.shape[0]
    cell_codes = np.array(np.unravel_index(np.arange(n_cells), sizes[::-1], order="C")[::-1]) if names else \
        np.zeros((0, n_cells), dtype=int)
    used = [f for f in facs if f != _OVERALL]
    fac_sizes = [len(reference.levels[f]) for f in used]
    key = np.zeros(n_cells, dtype=int)
    stride = 1
    for f, size in zip(used, fac_sizes):
        key += cell_codes[names.index(f)] * stride
        stride *= size
    counts = np.bincount(key, minlength=stride).astype(float)
    linfct = np.zeros((stride, reference.linfct.shape[1]))
    np.add.at(linfct, key, reference.linfct)
    offset = np.bincount(key, weights=reference.offset, minlength=stride)
    combos = np.array(np.unravel_index(np.arange(stride), fac_sizes[::-1] or [1], order="C")[::-1])
    columns: dict[str, Any] = {}
    for f in facs:
        if f == _OVERALL:
            columns[f] = pd.Categorical(["overall"] * stride)
            continue
        values = reference.levels[f]
        picked = [values[i] for i in combos[used.index(f)]]
        columns[f] = pd.Categorical(picked, categories=values) if f in reference.factors else picked
    return pd.DataFrame(columns), linfct / counts[:, None], offset / counts


def emmeans(fit: Any, specs: str | Sequence[str], by: str | Sequence[str] | None = None,
            at: Mapping[str, Any] | None = None, ddf: str | None = None, level: float = 0.95,
            type: str = "link", data: pd.DataFrame | None = None) -> EmmGrid | EmmList:  # noqa: A002
    """Estimated marginal means of a fit, as emmeans' ``emmeans(fit, specs, by, at = at)``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        The fitted model.
    specs : str or list of str
        The predictors whose means are wanted: names, or R's formula text
        (``"~ recipe"``, ``"~ recipe | temp"``, ``"pairwise ~ recipe"``,
        ``"~ 1"`` for the overall mean).
    by : str or list of str, optional
        Predictors whose levels make separate families.
    at : dict, optional
        Values of predictors: covariates at these numbers (default their
        mean), factors at these levels only.
    ddf : {"Kenward-Roger", "Satterthwaite", "asymptotic"}, optional
        Degrees of freedom (any case): Kenward-Roger by default for a linear
        mixed model (for an ML fit, from its REML refit, as emmeans through
        pbkrtest), asymptotic (infinite) for a generalized one.
    level : float
        Confidence level of the intervals.
    type : {"link", "response"}
        The summaries' default scale.
    data : DataFrame, optional
        The fitted data, for a fit that does not hold it.

    Returns
    -------
    EmmGrid, or EmmList
        An EmmList (the means and their contrasts) when ``specs`` has a
        left-hand side naming a contrast method.

    Raises
    ------
    ValueError
        A name in specs or by that is no predictor, a bad ``at``, ``ddf``, ``type`` or ``level``.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> means = emmeans(fit, "Days", at={"Days": [0, 9]})
    >>> means.summary()[["Days", "emmean", "df"]].round(2).values.tolist()
    [[0.0, 251.41, 17.0], [9.0, 345.61, 17.0]]
    """
    names, formula_by, method = _parse_specs(specs)
    by_names = [b for b in dict.fromkeys(formula_by + _names(by, "by")) if b not in names]
    if type not in _TYPES:
        raise ValueError(f"type must be one of {', '.join(_TYPES)}, not {type!r}")
    level = _check_level(level)
    df_method = resolve_df_method(fit, ddf)
    reference = reference_grid(fit, at=at, data=data)
    facs = list(dict.fromkeys(names + by_names))
    unknown = [f for f in facs if f not in reference.levels and f != _OVERALL]
    if unknown:
        raise ValueError(f"specs and by must name predictors of the fixed effects, not {', '.join(map(repr, unknown))}"
                         f"; the predictors are: {', '.join(reference.levels) or 'none'} (or '1' for the overall mean)")
    if not names:
        raise ValueError("specs names no predictor (give '1' for the overall mean)")
    labels, linfct, offset = _averaged(reference, facs)
    averaged = tuple(n for n, v in reference.levels.items() if len(v) > 1 and n not in facs)
    means = _grid(fixed_effects(fit, df_method), reference, labels, linfct, offset, by=tuple(by_names),
                  kind="prediction", family_size=len(labels), adjust="none", infer=(True, False), level=level,
                  type=type, averaged_over=averaged, scale=family_scale(fit))
    return means if method is None else EmmList(means, means.contrast(method))


@dataclass(frozen=True)
class EmmList(PreformattedHtml):
    """emmeans' ``emm_list`` from ``specs`` such as ``"pairwise ~ recipe"``: the means and their contrasts."""

    emmeans: EmmGrid
    contrasts: EmmGrid

    def __str__(self) -> str:
        return f"$emmeans\n{self.emmeans}\n\n$contrasts\n{self.contrasts}\n"

    def __repr__(self) -> str:
        return self.__str__()
