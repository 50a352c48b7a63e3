"""Diagnostics of a fit: lme4 1.1-31's ``hatvalues``, ``cooks.distance`` and ``influence`` of a merMod.

``hatvalues`` is the diagonal of the hat matrix of the penalised least-squares
problem at the estimates: with ``M = W^1/2 [Z Lambda, X]`` (W the prior
weights) and ``A`` the penalised system ``[Z Lambda, X]' W [Z Lambda, X] +
diag(I, 0)``, ``h_i = m_i' A^-1 m_i``. It is read off the blocked Cholesky
factor of ``A`` (:class:`mixedfx.linalg.factor.BlockedFactor`) one chunk of
rows at a time. For a glmer fit lme4 factors ``A`` at the converged working
weights but scales ``M`` by the prior weights only, and so does this module.

``influence`` deletes each level of a grouping factor (or each row) in turn
and refits through ``fit.update(data=...)``, starting a linear refit from the
full fit's theta with at most ``maxfun`` evaluations, as lme4 does;
:func:`dfbeta`, :func:`dfbetas` and :func:`cooks_distance` of the result are
lme4's methods on ``influence.merMod`` objects.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import scipy.linalg as sla
import scipy.sparse as sp

from mixedfx.design.matrices import used_rows
from mixedfx.errors import MixedFxError
from mixedfx.inference.fitted import fitted_model, is_generalized
from mixedfx.linalg.cross import cross_products
from mixedfx.linalg.factor import BlockedFactor, as_dense
from mixedfx.linalg.factorizer import factorize
from mixedfx.linalg.layout import TermLayout, templates

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["hatvalues", "cooks_distance", "influence", "Influence", "dfbeta", "dfbetas"]

_GLMM_HAT_WARNING = "the hat matrix may not make sense for GLMMs"
# Entries of the dense (rest x rows) block solved at a time: bounds the memory of the hat values to 32 MB.
_CHUNK_ENTRIES = 4_000_000
# lme4's names of the components of an influence.merMod object, as templates on the deleted unit's name.
_COMPONENT_NAMES = ("fixed.effects", "fixed.effects[-{}]", "var.cov.comps", "var.cov.comps[-{}]", "vcov",
                    "vcov[-{}]", "groups", "deleted", "converged", "function.evals")


def _penalised_factor(fit: MixedFit) -> tuple[BlockedFactor, np.ndarray]:
    """The factor of the penalised system at the estimates, and the square roots of the prior weights.

    A linear fit's system carries its prior weights; a generalized fit's the
    working weights at the converged linear predictor (lme4's ``L`` and ``RX``).
    """
    model = fitted_model(fit, "hatvalues")
    matrices = model.matrices
    if is_generalized(fit):
        work_y, work_w = model.working_response(fit.optimum.state.eta, model.offset)
        factor = factorize(cross_products(model.layouts, model.X, work_y, work_w), fit.theta)
        return factor, np.sqrt(np.asarray(model.weights, dtype=float))
    prior = matrices.weights
    factor = factorize(cross_products(model.layouts, matrices.X, model.y, prior), fit.theta)
    return factor, np.ones(model.n) if prior is None else np.sqrt(np.asarray(prior, dtype=float))


def _level_block(values: np.ndarray, codes: np.ndarray, offset: int, n_cols: int) -> sp.csc_matrix:
    """Per-row k-vectors placed in their level's k columns: a sparse (n_cols x rows) block from ``offset``."""
    n_rows, k = values.shape
    where = offset + codes[:, None] * k + np.arange(k)[None, :]
    return sp.csc_matrix((values.ravel(), (where.ravel(), np.repeat(np.arange(n_rows), k))),
                         shape=(n_cols, n_rows))


def _hat_diagonal(factor: BlockedFactor, layouts: list[TermLayout], X: np.ndarray, theta: np.ndarray,
                  sqrt_w: np.ndarray) -> np.ndarray:
    """``diag(M A^-1 M')`` by forward substitution with the blocked factor, a chunk of rows at a time.

    With ``L = [[L11, 0], [L_r1, L_rr]]`` and ``M' = [M1'; M_r']`` split alike,
    ``C1 = L11^-1 M1'`` (each row's column lives in its level's block) and
    ``C_r = L_rr^-1 (M_r' - L_r1 C1)``; ``h`` is the column sums of squares.
    """
    tmpls = templates(theta, [t.k for t in layouts])
    first, n = layouts[0], X.shape[0]
    l11_inv = np.linalg.inv(factor.l11)
    m = factor.l_rr.shape[0] - 1  # the rest without the response
    l_rr = factor.l_rr[:m, :m]
    l_r1 = factor.l_r1[:m]
    q_rest = factor.q_rest
    out = np.empty(n)
    step = max(1, _CHUNK_ENTRIES // max(m, 1))
    for start in range(0, n, step):
        rows = np.arange(start, min(n, start + step))
        sw = sqrt_w[rows, None]
        codes = first.codes[rows]
        c1 = np.einsum("rij,rj->ri", l11_inv[codes], (first.z[rows] @ tmpls[0]) * sw)
        rhs = np.zeros((m, rows.size))
        offset = 0
        for layout, tmpl in zip(layouts[1:], tmpls[1:]):
            rhs += as_dense(_level_block((layout.z[rows] @ tmpl) * sw, layout.codes[rows], offset, m))
            offset += layout.q
        rhs[q_rest:] = (X[rows] * sw).T
        rhs -= as_dense(_level_block(c1, codes, 0, first.q).T @ l_r1.T).T
        rest = sla.solve_triangular(l_rr, rhs, lower=True, check_finite=False)
        out[rows] = np.einsum("ri,ri->r", c1, c1) + np.einsum("ij,ij->j", rest, rest)
    return out


def hatvalues(fit: MixedFit) -> np.ndarray:
    """The diagonal of the hat matrix of the penalised least-squares problem, as lme4's ``hatvalues``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        For a glmer fit the system is taken at the converged working weights
        and the rows are scaled by the prior weights only, as lme4 does; its
        values can then exceed 1, and a warning says, as lme4's, that the hat
        matrix may not make sense for GLMMs.

    Returns
    -------
    ndarray, shape (nobs,)
        One value per row used by the fit.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> hatvalues(fit)[:3].round(4).tolist()
    [0.2293, 0.1697, 0.1268]
    """
    factor, sqrt_w = _penalised_factor(fit)
    if is_generalized(fit):
        warnings.warn(_GLMM_HAT_WARNING, UserWarning, stacklevel=2)
    model = fit.model
    return _hat_diagonal(factor, model.layouts, model.matrices.X, fit.theta, sqrt_w)


def cooks_distance(x: MixedFit | Influence) -> pd.Series | np.ndarray:
    """Cook's distances: lme4's ``cooks.distance`` of a fit, or of an :func:`influence` result.

    Parameters
    ----------
    x : LmerFit, GlmerFit or Influence
        A fit: lme4's ``cooks.distance.merMod``, ``(r_i / (1 - h_i))^2 h_i /
        (sigma^2 p)`` with Pearson residuals r, hat values h and p fixed
        effects (infinite values become NaN). An :class:`Influence`: lme4's
        ``cooks.distance.influence.merMod``, ``d_i' V^-1 d_i (n - p) / (n p)``
        with ``d_i`` the change in the fixed effects when unit i is deleted,
        V their covariance in the full fit and n the number of deleted units.

    Returns
    -------
    ndarray (a fit: one per row used) or Series (an Influence: by deleted unit)

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> cooks_distance(fit)[:2].round(5).tolist()
    [0.00496, 0.04021]
    """
    if isinstance(x, Influence):
        db = dfbeta(x).to_numpy()
        n, p = db.shape
        weight = (n - p) / (n * p) * np.linalg.inv(x.vcov.to_numpy())
        return pd.Series(np.einsum("ij,jk,ik->i", db, weight, db), index=x.deleted, name="cooks.distance")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lme4 warns about a glmer's hat matrix; it is said once below
        hat = hatvalues(x)
    if is_generalized(x):
        warnings.warn(_GLMM_HAT_WARNING, UserWarning, stacklevel=2)
    p = x.model.matrices.X.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (used_rows(x.residuals(type="pearson"), x.model.matrices) / (1.0 - hat)) ** 2 * hat / (x.sigma**2 * p)
    out[np.isinf(out)] = np.nan
    return out


@dataclass(frozen=True)
class Influence:
    """lme4's ``influence.merMod``: the estimates with each unit deleted in turn.

    Attributes
    ----------
    fixed_effects : Series
        The full fit's fixed effects (lme4's ``fixed.effects``).
    fixed_effects_deleted : DataFrame
        A row per deleted unit, a column per fixed effect (``fixed.effects[-<group>]``).
    var_cov_comps : Series
        ``sigma^2``, then each term's covariance matrix's lower triangle column by
        column: ``v[(Intercept)]``, ``C[Days,(Intercept)]``, ``v[Days]``; prefixed by
        ``<group>:`` where the model has several terms (``var.cov.comps``).
    var_cov_comps_deleted : DataFrame
        The same with each unit deleted (``var.cov.comps[-<group>]``).
    vcov : DataFrame
        The full fit's covariance of the fixed effects.
    vcov_deleted : dict of str to DataFrame
        That covariance with each unit deleted (``vcov[-<group>]``).
    groups : str
        The grouping factor whose levels were deleted, or ``"case"`` for rows.
    deleted : Index
        The deleted levels (as text), in the order of first appearance in the
        data, or the data's row labels.
    converged : Series of bool
        Whether each refit's optimiser ended without a warning.
    function_evals : Series of int
        Each refit's objective evaluations.
    """

    fixed_effects: pd.Series
    fixed_effects_deleted: pd.DataFrame
    var_cov_comps: pd.Series
    var_cov_comps_deleted: pd.DataFrame
    vcov: pd.DataFrame
    vcov_deleted: dict[str, pd.DataFrame]
    groups: str
    deleted: pd.Index
    converged: pd.Series
    function_evals: pd.Series

    def components(self) -> dict[str, object]:
        """The components under lme4's names (``"fixed.effects[-Subject]"``, ``"function.evals"``, ...)."""
        values = (self.fixed_effects, self.fixed_effects_deleted, self.var_cov_comps, self.var_cov_comps_deleted,
                  self.vcov, self.vcov_deleted, self.groups, self.deleted, self.converged, self.function_evals)
        return {name.format(self.groups): value for name, value in zip(_COMPONENT_NAMES, values)}

    def __getitem__(self, name: str) -> object:
        return self.components()[name]

    def dfbeta(self, which: str = "fixed") -> pd.DataFrame:
        """See :func:`dfbeta`."""
        return dfbeta(self, which)

    def dfbetas(self) -> pd.DataFrame:
        """See :func:`dfbetas`."""
        return dfbetas(self)

    def cooks_distance(self) -> pd.Series:
        """See :func:`cooks_distance`."""
        return cooks_distance(self)


def dfbeta(result: Influence, which: str = "fixed") -> pd.DataFrame:
    """Change in the estimates when each unit is deleted, as lme4's ``dfbeta`` of an ``influence.merMod``.

    Parameters
    ----------
    result : Influence
    which : {"fixed", "var.cov"}
        The fixed effects, or the variance-covariance components.

    Returns
    -------
    DataFrame
        Deleted-unit estimates less the full fit's, a row per deleted unit.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", mfx.datasets.load("sleepstudy"))
    >>> dfbeta(influence(fit, "Subject")).shape
    (18, 2)
    """
    if which == "fixed":
        return result.fixed_effects_deleted - result.fixed_effects
    if which == "var.cov":
        return result.var_cov_comps_deleted - result.var_cov_comps
    raise ValueError(f"which must be 'fixed' or 'var.cov', not {which!r}")


def dfbetas(result: Influence) -> pd.DataFrame:
    """:func:`dfbeta` of the fixed effects over their standard errors in each deletion's refit (lme4's ``dfbetas``).

    Parameters
    ----------
    result : Influence

    Returns
    -------
    DataFrame
        A row per deleted unit, a column per fixed effect.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", mfx.datasets.load("sleepstudy"))
    >>> list(dfbetas(influence(fit, "Subject")).columns)
    ['(Intercept)', 'Days']
    """
    names = result.fixed_effects.index
    se = [pd.Series(np.sqrt(np.diag(v.to_numpy())), index=v.index).reindex(names).to_numpy()
          for v in (result.vcov_deleted[key] for key in result.deleted)]
    return dfbeta(result) / np.array(se)


def _variance_components(fit: MixedFit) -> pd.Series:
    """lme4's ``var.cov.comps``: sigma^2, then each term's covariance matrix's lower triangle by column."""
    names = [g for g in pd.unique(fit.varcorr()["grp"]) if g != "Residual"] if len(fit.re_terms) > 1 else [""]
    labels, values = ["sigma^2"], [fit.sigma**2]
    for term, tmpl, group in zip(fit.re_terms, templates(fit.theta, fit.ks), names * len(fit.re_terms)):
        cov = fit.sigma**2 * (tmpl @ tmpl.T)
        prefix = f"{group}:" if group else ""
        cols = list(term.z_names)
        for j in range(len(cols)):
            for i in range(j, len(cols)):
                labels.append(f"{prefix}v[{cols[i]}]" if i == j else f"{prefix}C[{cols[i]},{cols[j]}]")
                values.append(cov[i, j])
    return pd.Series(values, index=labels, name="var.cov.comps")


def _deletions(data: pd.DataFrame, groups: str | None) -> tuple[pd.Index, Iterator[np.ndarray]]:
    """The units to delete (as text) and, lazily, for each the positions of the rows of ``data`` that remain."""
    positions = np.arange(len(data))
    if groups is None:
        return pd.Index([str(label) for label in data.index]), (np.delete(positions, i) for i in positions)
    if not isinstance(groups, str):
        raise TypeError(f"groups must be the name of one column of the data, not {type(groups).__name__}")
    if groups not in data.columns:
        raise KeyError(f"groups={groups!r} is not a column of the data; its columns are {list(data.columns)}")
    present = data[groups].notna().to_numpy()
    column = data[groups].astype(str).to_numpy()
    units = pd.Index(pd.unique(column[present]))
    return units, (positions[present & (column != unit)] for unit in units)


def influence(fit: MixedFit, groups: str | None = None, data: pd.DataFrame | None = None,
              maxfun: int = 1000) -> Influence:
    """The fit with each level of ``groups`` (or each row) deleted in turn, as lme4's ``influence.merMod``.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        A fit made by :func:`mixedfx.lmer`, :func:`mixedfx.glmer` or
        :func:`mixedfx.glmer_nb` (it is refitted through ``fit.update``).
    groups : str, optional
        A column of the data: each of its levels is deleted in turn. Without
        it each row is deleted in turn (one refit per row).
    data : DataFrame, optional
        The data to delete from; the fit's own data by default.
    maxfun : int
        Most objective evaluations of each refit. Linear refits start from the
        full fit's theta, as lme4's.

    Returns
    -------
    Influence
        Its :meth:`~Influence.components` carry lme4's names.

    Raises
    ------
    MixedFxError
        A fit without a call to repeat (built stage by stage) or without its data.
    KeyError, TypeError
        ``groups`` not one column of the data.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", mfx.datasets.load("sleepstudy"))
    >>> result = influence(fit, groups="Subject")
    >>> result.fixed_effects_deleted.loc["308"].round(2).tolist()
    [251.83, 9.8]
    >>> list(result.components())[:2]
    ['fixed.effects', 'fixed.effects[-Subject]']
    """
    fitted_model(fit, "influence")
    if data is None:
        data = fit.call.data if fit.call is not None else None
        if data is None:
            raise MixedFxError("influence refits the model on the data less each unit: this fit has no data "
                               "(built stage by stage, or unpickled); pass data=")
    units, kept_rows = _deletions(data, groups)
    control = replace(fit.control, maxeval=int(maxfun))
    if not is_generalized(fit):
        control = replace(control, theta0=tuple(float(t) for t in fit.theta))
    full = _variance_components(fit)
    fixed, components, vcovs, converged, evals = [], [], {}, [], []
    for unit, rows in zip(units, kept_rows):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            refit = fit.update(data=data.iloc[rows], control=control)
        # a deletion that empties a level of a fixed-effect factor loses its column: NaN there
        fixed.append(refit.fixef.reindex(fit.fixef.index).to_numpy())
        components.append(_variance_components(refit).reindex(full.index).to_numpy())
        vcovs[unit] = refit.vcov
        converged.append(refit.convergence_code == 0 and not refit.optimizer_messages)
        evals.append(refit.opt_summary.feval)
    name = "case" if groups is None else groups
    return Influence(
        fixed_effects=fit.fixef, fixed_effects_deleted=pd.DataFrame(fixed, index=units, columns=fit.fixef.index),
        var_cov_comps=full, var_cov_comps_deleted=pd.DataFrame(components, index=units, columns=full.index),
        vcov=fit.vcov, vcov_deleted=vcovs, groups=name, deleted=units,
        converged=pd.Series(converged, index=units, name="converged"),
        function_evals=pd.Series(evals, index=units, name="function.evals"))
