"""Multiplicity adjustments of p values and confidence intervals, as emmeans makes them.

emmeans' ``.adj.p.value`` and ``.adj.critval``: Tukey's studentized range for one
family of pairwise comparisons, Scheffe's F with the rank of the family, Sidak,
emmeans' "dunnettx" approximation to Dunnett's method, the multivariate t
("mvt", by randomised quasi-Monte Carlo as mvtnorm computes it), and R's
``p.adjust`` methods (which give intervals by Bonferroni's rule, as in emmeans).
Each by group is one family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq
from scipy.special import chdtrc, chdtri, fdtrc, fdtri, stdtr, stdtrit

from mixedfx.estimated_means.studentized_range import ptukey, qtukey
from mixedfx.rbase.rmath import zapsmall

__all__ = ["P_ADJUST_METHODS", "ADJUST_METHODS", "Family", "Adjusted", "resolve_adjust", "p_adjust",
           "adjusted_p_values", "critical_values"]

P_ADJUST_METHODS = ("holm", "hochberg", "hommel", "bonferroni", "BH", "BY", "fdr", "none")
"""R's ``p.adjust.methods``."""
ADJUST_METHODS = ("tukey", "scheffe", "sidak", "dunnettx", "mvt", *P_ADJUST_METHODS)
"""Every adjustment emmeans offers."""
_INTERVAL_METHODS = ("sidak", "tukey", "scheffe", "dunnettx", "mvt", "bonferroni", "none")
"""Those with their own intervals; the other p.adjust methods give Bonferroni's."""

_DUNNETT_TOL = 5e-4  # emmeans' uniroot tolerance for the dunnettx quantile
_MVT_SEED = 20240501  # mvtnorm's integration is randomised; a fixed seed makes ours reproducible
_MVT_POINTS = 25_000  # mvtnorm's default maxpts


@dataclass(frozen=True)
class Family:
    """The families a table's rows are adjusted in (emmeans' ``fam.info`` and ``by.rows``).

    Attributes
    ----------
    size : int
        emmeans' ``famSize``: for pairwise comparisons, how many estimates are compared.
    groups : tuple of ndarray
        Row positions of each by group (one family each); all of one length.
    pairs : bool
        Whether the rows are one set of pairwise comparisons (Tukey's method applies).
    ranks : tuple of int
        The rank of each group's linear functions (Scheffe's method).
    correlation : ndarray or None
        The rows' correlation matrix, for "mvt" only.
    """

    size: int
    groups: tuple[np.ndarray, ...]
    pairs: bool
    ranks: tuple[int, ...]
    correlation: np.ndarray | None = None

    @property
    def per_group(self) -> int:
        """Rows per group (emmeans' ``n.contr``)."""
        return len(self.groups[0])


@dataclass(frozen=True)
class Adjusted:
    """Adjusted p values or critical values, the method used and the note emmeans prints (None for none)."""

    values: np.ndarray
    method: str
    note: str | None


def resolve_adjust(adjust: str) -> str:
    """emmeans' name of an adjustment, matched case-insensitively.

    Raises
    ------
    ValueError
        An unknown name.

    Examples
    --------
    >>> resolve_adjust("Tukey"), resolve_adjust("bh")
    ('tukey', 'BH')
    """
    known = {name.lower(): name for name in ADJUST_METHODS}
    if not isinstance(adjust, str) or adjust.lower() not in known:
        raise ValueError(f"adjust must be one of {', '.join(ADJUST_METHODS)}, not {adjust!r}")
    return known[adjust.lower()]


def p_adjust(p: np.ndarray, method: str, n: int | None = None) -> np.ndarray:
    """R's ``p.adjust(p, method, n)``; NaN entries stay NaN and count in ``n`` only if given.

    Examples
    --------
    >>> p_adjust(np.array([0.01, 0.04, 0.03]), "holm").round(4).tolist()
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p, dtype=float)
    out = p.copy()
    present = ~np.isnan(p)
    values = p[present]
    lp = values.size
    n = lp if n is None else n
    if n <= 1 or method == "none":
        return out
    method = {"fdr": "BH"}.get(method, method)
    if method == "hommel" and n == 2:
        method = "hochberg"
    if method == "bonferroni":
        adjusted = np.minimum(1.0, n * values)
    elif method == "holm":
        order = np.argsort(values, kind="stable")
        adjusted = np.empty(lp)
        adjusted[order] = np.minimum(1.0, np.maximum.accumulate((n - np.arange(lp)) * values[order]))
    elif method == "hommel":
        adjusted = _hommel(values, n)
    else:
        factor = {"hochberg": lambda i: n + 1 - i, "BH": lambda i: n / i,
                  "BY": lambda i: np.sum(1.0 / np.arange(1, n + 1)) * n / i}[method]
        order = np.argsort(-values, kind="stable")
        i = np.arange(lp, 0, -1, dtype=float)
        adjusted = np.empty(lp)
        adjusted[order] = np.minimum(1.0, np.minimum.accumulate(factor(i) * values[order]))
    out[present] = adjusted
    return out


def _hommel(values: np.ndarray, n: int) -> np.ndarray:
    """R's Hommel adjustment (p padded with ones up to n)."""
    lp = values.size
    p = np.concatenate([values, np.ones(n - lp)])
    order = np.argsort(p, kind="stable")
    p = p[order]
    i = np.arange(1, n + 1)
    q = pa = np.full(n, np.min(n * p / i))
    for m in range(n - 1, 1, -1):
        i1, i2 = np.arange(n - m + 1), np.arange(n - m + 1, n)
        q1 = np.min(m * p[i2] / np.arange(2, m + 1))
        q = q.copy()
        q[i1] = np.minimum(m * p[i1], q1)
        q[i2] = q[n - m]
        pa = np.maximum(pa, q)
    result = np.empty(n)
    result[order] = np.maximum(pa, p)
    return result[:lp]


# --------------------------------------------------------------------------- distributions
def _pt_upper(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """P(T_df > t)."""
    return stdtr(df, -t)


def _qt(p: np.ndarray | float, df: np.ndarray) -> np.ndarray:
    return stdtrit(df, p)


def _pf_upper(x: np.ndarray, d1: float, df: np.ndarray) -> np.ndarray:
    """P(F(d1, df) > x), the chi-square limit for infinite df."""
    return np.where(np.isinf(df), chdtrc(d1, x * d1), fdtrc(d1, np.where(np.isinf(df), 1.0, df), x))


def _qf(p: float, d1: float, df: np.ndarray) -> np.ndarray:
    return np.where(np.isinf(df), chdtri(d1, 1.0 - p) / d1, fdtri(d1, np.where(np.isinf(df), 1.0, df), p))


def _dunnett_means(k: float) -> float:
    """The number of means whose pairwise family has k comparisons."""
    return (1.0 + np.sqrt(1.0 + 8.0 * k)) / 2.0


def _pdunnx(x: np.ndarray, k: float, df: np.ndarray) -> np.ndarray:
    """emmeans' ``.pdunnx``: Dunnett's distribution as a mixture of Tukey's and Sidak's."""
    twt = (k - 1.0) / k
    tukey = ptukey(np.sqrt(2.0) * x, _dunnett_means(k), df)
    sidak = (1.0 - 2.0 * _pt_upper(np.abs(x), df)) ** k
    return twt * tukey + (1.0 - twt) * sidak


def _zeroin(f: Callable[[float], float], a: float, b: float, tol: float, maxit: int = 1000) -> float:
    """R's ``uniroot`` (``R_zeroin2``, Brent's method), so that its coarse tolerance stops where R's does."""
    fa, fb = f(a), f(b)
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    c, fc = a, fa
    eps = np.finfo(float).eps
    for _ in range(maxit + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2.0 * eps * abs(b) + tol / 2.0
        new_step = (c - b) / 2.0
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:
                t1 = fb / fa
                p, q = cb * t1, 1.0 - t1
            else:
                q, t1, t2 = fa / fc, fb / fc, fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < 0.75 * cb * q - abs(tol_act * q) / 2.0 and p < abs(prev_step * q / 2.0):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = f(b)
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    return b


def _qdunnx(level: float, k: float, df: float) -> float:
    """emmeans' ``.qdunnx``: the dunnettx quantile, by uniroot between Tukey's and Sidak's."""
    if k < 1.005:
        return float(_qt(1.0 - 0.5 * (1.0 - level), np.asarray(df)))
    tukey = qtukey(level, _dunnett_means(k), df) / np.sqrt(2.0)
    sidak = float(_qt(0.5 + 0.5 * level ** (1.0 / k), np.asarray(df)))
    if abs(tukey - sidak) < _DUNNETT_TOL:
        return tukey
    return _zeroin(lambda x: float(_pdunnx(np.asarray(x), k, np.asarray(df))) - level, tukey, sidak, _DUNNETT_TOL)


def _mvt_coverage(bound: float, df: float, correlation: np.ndarray) -> float:
    """P(|T_i| < bound for all i) for a multivariate t with integer df (normal when infinite), as mvtnorm's pmvt."""
    from scipy.stats import multivariate_normal, multivariate_t  # scipy.stats: imported only for the mvt adjustment

    k = correlation.shape[0]
    upper, lower = np.full(k, bound), np.full(k, -bound)
    rng = np.random.default_rng(_MVT_SEED)
    if np.isinf(df):
        return float(multivariate_normal.cdf(upper, cov=correlation, lower_limit=lower, allow_singular=True,
                                             maxpts=_MVT_POINTS * k, rng=rng))
    return float(multivariate_t.cdf(upper, shape=correlation, df=int(df), lower_limit=lower, allow_singular=True,
                                    maxpts=_MVT_POINTS * k, random_state=rng))


# --------------------------------------------------------------------------- adjustments
def _note(method: str, family: Family, ragged: bool, stat: str) -> str | None:
    """emmeans' note naming the adjustment, or None where it prints none."""
    check = {"none": 1, "tukey": 2, "scheffe": 3}.get(method, 99)
    size = _dunnett_means(max(len(g) for g in family.groups)) if ragged else family.size
    if check == 1 or (size < 3 and check < 10):
        return None
    if method == "tukey":
        detail = f"for comparing a family of {family.size} estimates"
    elif method == "scheffe":
        detail = "with rank " + ("(varies)" if ragged else str(family.ranks[0]))
    else:
        detail = f"for {family.per_group} {stat}"
    heading = "P value adjustment" if stat == "tests" else "Conf-level adjustment"
    return f"{heading}: {method} method {detail}"


def _applicable(method: str, family: Family) -> str:
    """emmeans' replacements: no adjustment for one row per family, Sidak's for Tukey's beyond pairs."""
    if family.per_group == 1 and method != "scheffe":
        return "none"
    if method == "tukey" and not family.pairs:
        return "sidak"
    return method


def adjusted_p_values(t: np.ndarray, df: np.ndarray, adjust: str, family: Family) -> Adjusted:
    """emmeans' ``.adj.p.value`` for two-sided tests of the rows' t (or z) ratios.

    Parameters
    ----------
    t : ndarray, shape (r,)
        The ratios (NaN where not estimable).
    df : ndarray, shape (r,)
        Their degrees of freedom (``inf`` for z ratios).
    adjust : str
        One of :data:`ADJUST_METHODS` (case-insensitive).
    family : Family

    Returns
    -------
    Adjusted

    Examples
    --------
    >>> fam = Family(size=3, groups=(np.arange(3),), pairs=True, ranks=(2,))
    >>> adjusted_p_values(np.array([0.6, 0.6, 0.02]), np.full(3, 42.0), "tukey", fam).values.round(4).tolist()
    [0.8209, 0.8209, 0.9998]
    """
    method = _applicable(resolve_adjust(adjust), family)
    df = np.where(np.isnan(df), np.inf, df)
    unadjusted = 2.0 * _pt_upper(np.abs(t), df)
    ragged = method in P_ADJUST_METHODS or method == "mvt" or len(set(family.ranks)) > 1
    # as in emmeans, methods that adjust row by row see the table as one group (Tukey's zapsmall of the df
    # then spans every group, and a non-estimable row's infinite df rounds the others to integers)
    groups = zip(family.groups, family.ranks) if ragged else [(np.arange(t.size), family.ranks[0])]
    p = np.full(t.shape, np.nan)
    for rows, rank in groups:
        abs_t, n = np.abs(t[rows]), family.per_group
        if method in P_ADJUST_METHODS:
            p[rows] = p_adjust(unadjusted[rows], method, n)
        elif method == "sidak":
            p[rows] = 1.0 - (1.0 - unadjusted[rows]) ** n
        elif method == "tukey":
            p[rows] = ptukey(np.sqrt(2.0) * abs_t, family.size, zapsmall(df[rows]), lower_tail=False)
        elif method == "scheffe":
            p[rows] = _pf_upper(t[rows] ** 2 / rank, rank, df[rows])
        elif method == "dunnettx":
            p[rows] = 1.0 - _pdunnx(abs_t, n, df[rows])
        else:
            correlation = family.correlation[np.ix_(rows, rows)]
            p[rows] = [1.0 - _mvt_coverage(x, d, correlation) if np.isfinite(x) else np.nan
                       for x, d in zip(abs_t, df[rows])]
    return Adjusted(p, method, _note(method, family, ragged, "tests"))


def critical_values(level: float, df: np.ndarray, adjust: str, family: Family) -> Adjusted:
    """emmeans' ``.adj.critval``: the multiplier of the SE for two-sided intervals at ``level``.

    p.adjust methods other than Bonferroni's give Bonferroni's intervals, as in emmeans.

    Examples
    --------
    >>> fam = Family(size=3, groups=(np.arange(3),), pairs=True, ranks=(2,))
    >>> critical_values(0.95, np.full(3, np.inf), "none", fam).values.round(4).tolist()
    [1.96, 1.96, 1.96]
    """
    method = resolve_adjust(adjust)
    if family.per_group == 1 and method != "scheffe" and len(set(family.ranks)) == 1:
        method = "none"
    method = method if method in _INTERVAL_METHODS else "bonferroni"
    if method == "tukey" and not family.pairs:
        method = "sidak"
    df = np.where(np.isnan(df), np.inf, df)
    cv = np.full(df.shape, np.nan)
    for rows, rank in zip(family.groups, family.ranks):
        n, d = len(rows), df[rows]
        if method == "none":
            cv[rows] = -_qt((1.0 - level) / 2.0, d)
        elif method == "sidak":
            cv[rows] = -_qt((1.0 - level ** (1.0 / n)) / 2.0, d)
        elif method == "bonferroni":
            cv[rows] = -_qt((1.0 - level) / n / 2.0, d)
        elif method == "tukey":
            cv[rows] = [qtukey(level, family.size, x) / np.sqrt(2.0) for x in d]
        elif method == "scheffe":
            cv[rows] = np.sqrt(rank * _qf(level, rank, d))
        elif method == "dunnettx":
            cv[rows] = [_qdunnx(level, n, x) for x in d]
        else:
            correlation = family.correlation[np.ix_(rows, rows)]
            cv[rows] = [_mvt_quantile(level, x, correlation) for x in d]
    return Adjusted(cv, method, _note(method, family, len(set(family.ranks)) > 1, "estimates"))


def _mvt_quantile(level: float, df: float, correlation: np.ndarray) -> float:
    """mvtnorm's ``qmvt(level, tail = "both.tails")``: between the unadjusted and Bonferroni's quantiles."""
    k = correlation.shape[0]
    low = float(-_qt((1.0 - level) / 2.0, np.asarray(df)))
    high = float(-_qt((1.0 - level) / k / 2.0, np.asarray(df)))
    if k == 1 or high - low < 1e-12:
        return low
    return brentq(lambda x: _mvt_coverage(x, df, correlation) - level, low, high, xtol=1e-6)
