"""lme4's ``lmList``: a separate least-squares fit in each group, ``y ~ x | g``.

The formula's model (``y ~ x``) is coded on the whole data by the design
stage (:func:`mixedfx.design.frame.model_frame`, the bar term's model matrix),
then split by the grouping factor's levels; each group's fit drops columns
that are linearly dependent on earlier ones in that group (R's ``lm``: their
coefficients are NA). With ``pool=True`` the confidence intervals use the
residual standard deviation pooled over the groups (lme4's ``pooledSD``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.linalg as sla
from scipy.special import stdtrit

from mixedfx.design.frame import model_frame
from mixedfx.design.rank import rank_keep
from mixedfx.design.reterms import build_re_term
from mixedfx.errors import DataError, FormulaError
from mixedfx.formula.bars import parse_formula
from mixedfx.formula.syntax import Binary, parse_expr
from mixedfx.inference.bootstrap import percent_labels, tail_probabilities

__all__ = ["GroupFit", "LmList", "lm_list"]


@dataclass(frozen=True)
class GroupFit:
    """One group's least-squares fit (R's ``lm`` on the group's rows).

    Attributes
    ----------
    coef : ndarray, shape (p,)
        Coefficients, NaN where a column depends on earlier ones in this group.
    cov_unscaled : ndarray, shape (p, p)
        ``(X'X)^-1`` over the estimated coefficients (NaN elsewhere), R's ``cov.unscaled``.
    rss : float
        Residual sum of squares.
    n : int
        Rows.
    rank : int
        Estimated coefficients.
    """

    coef: np.ndarray
    cov_unscaled: np.ndarray
    rss: float
    n: int
    rank: int

    @property
    def df_residual(self) -> int:
        """Residual degrees of freedom, rows less the rank."""
        return self.n - self.rank


def _least_squares(X: np.ndarray, y: np.ndarray) -> GroupFit:
    """R's ``lm.fit`` on one group: QR on the columns R's rank rule keeps."""
    n, p = X.shape
    keep = rank_keep(X)
    coef = np.full(p, np.nan)
    cov = np.full((p, p), np.nan)
    if keep:
        q, r = np.linalg.qr(X[:, keep])
        coef[keep] = sla.solve_triangular(r, q.T @ y, check_finite=False)
        r_inv = sla.solve_triangular(r, np.eye(len(keep)), check_finite=False)
        cov[np.ix_(keep, keep)] = r_inv @ r_inv.T
    fitted = X[:, keep] @ coef[keep] if keep else np.zeros(n)
    residual = y - fitted
    return GroupFit(coef=coef, cov_unscaled=cov, rss=float(residual @ residual), n=n, rank=len(keep))


class LmList:
    """Least-squares fits per group, as lme4's ``lmList4`` object.

    Attributes
    ----------
    formula : str
        The formula as given.
    group : str
        The grouping factor.
    names : list of str
        R's coefficient names.
    fits : dict of str to GroupFit
        A fit per level of the grouping factor, in R's level order.
    pool : bool
        Whether :meth:`confint` pools the residual standard deviation by default.
    """

    def __init__(self, formula: str, group: str, names: list[str], fits: dict[str, GroupFit], pool: bool) -> None:
        self.formula = formula
        self.group = group
        self.names = names
        self.fits = fits
        self.pool = pool

    @property
    def pooled_df(self) -> int:
        """Degrees of freedom of the pooled standard deviation: rows less coefficients (NA ones too), over the groups."""
        return sum(fit.n - len(self.names) for fit in self.fits.values())

    @property
    def sigma(self) -> float:
        """The residual standard deviation pooled over the groups (lme4's ``sigma``, ``pooledSD``).

        Raises
        ------
        DataError
            No residual degrees of freedom.
        """
        df = self.pooled_df
        if df <= 0:
            raise DataError("no degrees of freedom for estimating the pooled standard deviation: the groups have "
                            "no more rows than coefficients")
        return float(np.sqrt(sum(fit.rss for fit in self.fits.values()) / df))

    def coef(self) -> pd.DataFrame:
        """The coefficients, a row per group (R's ``coef(lmList)``; NaN where a group's column was dependent).

        Returns
        -------
        DataFrame
            Indexed by the grouping factor's levels, a column per coefficient.
        """
        return pd.DataFrame([fit.coef for fit in self.fits.values()], columns=self.names,
                            index=pd.Index(list(self.fits), name=self.group))

    def confint(self, level: float = 0.95, pool: bool | None = None) -> pd.DataFrame:
        """Confidence intervals per group, as lme4's ``confint`` of an lmList.

        Parameters
        ----------
        level : float
            Coverage.
        pool : bool, optional
            Use the pooled standard deviation and its degrees of freedom (the
            default, from ``lm_list``'s ``pool``), or each group's own ``lm`` intervals.
            lme4 1.1-31's ``confint(lmList)`` without ``pool =`` gives each group's
            own intervals whatever the lmList's setting (it reads ``object$pool``,
            which is NULL); ``pool=False`` reproduces that, ``pool=True`` its
            ``confint(lmList, pool = TRUE)``.

        Returns
        -------
        DataFrame
            A row per group; columns a MultiIndex of (coefficient, bound), the
            bounds named as R's (``"2.5 %"``, ``"97.5 %"``), as R's array
            ``[group, bound, coefficient]``.
        """
        pool = self.pool if pool is None else pool
        tails = tail_probabilities(level)
        rows = []
        for fit in self.fits.values():
            se = np.sqrt(np.diag(fit.cov_unscaled))
            if pool:
                scale, df = self.sigma, self.pooled_df
            else:
                scale, df = np.sqrt(fit.rss / fit.df_residual) if fit.df_residual > 0 else np.nan, fit.df_residual
            quantiles = stdtrit(df, tails) if df > 0 else np.full(2, np.nan)
            rows.append((fit.coef[:, None] + np.outer(se * scale, quantiles)).ravel())
        columns = pd.MultiIndex.from_product([self.names, percent_labels(level)])
        return pd.DataFrame(rows, columns=columns, index=pd.Index(list(self.fits), name=self.group))

    def __repr__(self) -> str:
        return f"<LmList {self.formula}: {len(self.fits)} groups>"


def lm_list(formula: str, data: pd.DataFrame, pool: bool = True) -> LmList:
    """A least-squares fit of ``y ~ x`` in each level of ``g``, as lme4's ``lmList(y ~ x | g, data)``.

    Parameters
    ----------
    formula : str
        ``"response ~ model | group"``, e.g. ``"Reaction ~ Days | Subject"``.
    data : DataFrame
        Rows with a missing value in any variable are dropped.
    pool : bool
        Whether confidence intervals use the pooled residual standard deviation.

    Returns
    -------
    LmList

    Raises
    ------
    FormulaError
        A formula that is not ``y ~ x | g``.
    DataError
        Unknown columns, a two-column response.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fits = lm_list("Reaction ~ Days | Subject", mfx.datasets.load("sleepstudy"))
    >>> fits.coef().loc["308"].round(3).tolist()
    [244.193, 21.765]
    >>> round(fits.sigma, 4)
    25.5918
    """
    tree = parse_expr(formula)
    if not (isinstance(tree, Binary) and tree.op == "~" and isinstance(tree.right, Binary) and tree.right.op == "|"):
        raise FormulaError(f"lm_list needs a formula 'y ~ x | g', not {formula!r}")
    frame = model_frame(parse_formula(formula), data)
    if frame.y.ndim != 1:
        raise DataError("lm_list fits least squares to one response column, not a two-column cbind(...) response")
    term, _ = build_re_term(frame, 0)
    fits = {level: _least_squares(term.z[term.codes == i], frame.y[term.codes == i])
            for i, level in enumerate(term.levels)}
    return LmList(formula, term.group, list(term.z_names), fits, pool)
