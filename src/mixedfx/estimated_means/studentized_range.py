"""R's ``ptukey`` and ``qtukey`` (nmath's ptukey.c and qtukey.c), vectorised over their arguments.

The distribution of the studentized range gives Tukey's adjustment. nmath's
algorithm (Copenhaver and Holland's Gauss-Legendre quadratures) is written here
over arrays, so that one call covers every contrast of a table; its quantile
is nmath's secant search, which stops when two iterates differ by less than
1e-4, so R's quantiles carry that error and these reproduce it.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import gammaln, ndtr

__all__ = ["ptukey", "qtukey"]

# wprob: 12-point Gauss-Legendre over two or three intervals of (w/2, 8)
_W_NODES = np.array([0.981560634246719250690549090149, 0.904117256370474856678465866119,
                     0.769902674194304687036893833213, 0.587317954286617447296702418941,
                     0.367831498998180193752691536644, 0.125233408511468915472441369464])
_W_WEIGHTS = np.array([0.047175336386511827194615961485, 0.106939325995318430960254718194,
                       0.160078328543346226334652529543, 0.203167426723065921749064455810,
                       0.233492536538354808760849898925, 0.249147045813402785000562436043])
_W_X = np.concatenate([-_W_NODES, _W_NODES[::-1]])
_W_A = np.concatenate([_W_WEIGHTS, _W_WEIGHTS[::-1]])
_W_UPPER = 8.0  # the range's density beyond 16 is below 1e-14: wprob is 1 there
_W_LARGE = 3.0  # beyond it two intervals suffice, else three
_C1, _C2, _C3 = -30.0, -50.0, 60.0

# ptukey: 16-point Gauss-Legendre over up to 50 intervals of the chi density
_Q_NODES = np.array([0.989400934991649932596154173450, 0.944575023073232576077988415535,
                     0.865631202387831743880467897712, 0.755404408355003033895101194847,
                     0.617876244402643748446671764049, 0.458016777657227386342419442984,
                     0.281603550779258913230460501460, 0.950125098376374401853193354250e-1])
_Q_WEIGHTS = np.array([0.271524594117540948517805724560e-1, 0.622535239386478928628438369944e-1,
                       0.951585116824927848099251076022e-1, 0.124628971255533872052476282192,
                       0.149595988816576732081501730547, 0.169156519395002538189312079030,
                       0.182603415044923588866763667969, 0.189450610455068496285396723208])
_Q_X = np.concatenate([-_Q_NODES, _Q_NODES])
_Q_A = np.concatenate([_Q_WEIGHTS, _Q_WEIGHTS])
_Q_INTERVALS = 50
_EPS1, _EPS2 = -30.0, 1e-14
_DF_LARGE = 25000.0  # beyond it nmath uses the infinite-df probability


def _wprob(w: np.ndarray, rr: np.ndarray, cc: np.ndarray) -> np.ndarray:
    """nmath's ``wprob``: P(range of cc standard normals < w), to the power rr (infinite df)."""
    qsqz = 0.5 * w
    pr_w = 2.0 * ndtr(qsqz) - 1.0
    with np.errstate(divide="ignore", invalid="ignore", under="ignore"):
        pr_w = np.where(pr_w >= np.exp(_C2 / cc), pr_w**cc, 0.0)
        n_int = np.where(w > _W_LARGE, 2, 3)
        binc = (_W_UPPER - qsqz) / n_int
        cc1 = cc - 1.0
        total = np.zeros_like(w)
        for i in range(3):
            active = i < n_int
            blb = qsqz + i * binc
            a, b = blb + 0.5 * binc, 0.5 * binc
            ac = a[..., None] + b[..., None] * _W_X
            qexpo = ac * ac
            rinsum = ndtr(ac) - ndtr(ac - w[..., None])
            keep = (qexpo <= _C3) & (rinsum >= np.exp(_C1 / cc1)[..., None])
            terms = np.where(keep, _W_A * np.exp(-0.5 * qexpo) * rinsum ** cc1[..., None], 0.0)
            elsum = terms.sum(axis=-1) * (2.0 * b * cc) / np.sqrt(2.0 * np.pi)
            total += np.where(active, elsum, 0.0)
        pr_w = pr_w + total
        out = np.where(pr_w <= np.exp(_C1 / rr), 0.0, np.minimum(pr_w**rr, 1.0))
    return np.where(qsqz >= _W_UPPER, 1.0, out)


def _ptukey_lower(q: np.ndarray, cc: np.ndarray, df: np.ndarray) -> np.ndarray:
    """nmath's ``ptukey(q, cc, df)`` (one range) for q > 0 and finite df <= 25000."""
    f2 = 0.5 * df
    ulen = np.select([df <= 100.0, df <= 800.0, df <= 5000.0], [1.0, 0.5, 0.25], 0.125)
    f2lf = f2 * np.log(df) - df * np.log(2.0) - gammaln(f2) + np.log(ulen)
    f21, ff4 = f2 - 1.0, 0.25 * df
    ones = np.ones_like(q)
    ans = np.zeros_like(q)
    running = np.ones(q.shape, dtype=bool)
    for i in range(1, _Q_INTERVALS + 1):
        twa1 = (2 * i - 1) * ulen
        u = (_Q_X * ulen[..., None]) + twa1[..., None]  # the chi-square nodes of interval i
        t1 = f2lf[..., None] + f21[..., None] * np.log(u) - u * ff4[..., None]
        use = t1 >= _EPS1
        qsqz = q[..., None] * np.sqrt(0.5 * u)
        wprb = _wprob(qsqz, ones[..., None], cc[..., None] * np.ones_like(qsqz))
        otsum = np.where(use, wprb * _Q_A * np.exp(np.where(use, t1, 0.0)), 0.0).sum(axis=-1)
        running &= ~((i * ulen >= 1.0) & (otsum <= _EPS2))
        ans += np.where(running, otsum, 0.0)
        if not running.any():
            break
    return np.minimum(ans, 1.0)


def ptukey(q: ArrayLike, nmeans: ArrayLike, df: ArrayLike, lower_tail: bool = True) -> np.ndarray:
    """R's ``ptukey(q, nmeans, df, lower.tail = lower_tail)``: the studentized range's distribution.

    Parameters
    ----------
    q : array_like
        Quantiles.
    nmeans : array_like
        Number of means (at least 2; need not be an integer).
    df : array_like
        Degrees of freedom (at least 2; ``inf`` allowed).
    lower_tail : bool
        P(Q <= q) if True, else P(Q > q).

    Returns
    -------
    ndarray
        Broadcast over the arguments; NaN where ``nmeans < 2`` or ``df < 2``.

    Examples
    --------
    >>> float(ptukey(3.5, 3, 42)) > 0.95
    True
    >>> round(float(ptukey(2.5, 4, np.inf, lower_tail=False)), 6)
    0.288963
    """
    q, cc, df = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (q, nmeans, df)))
    out = np.full(q.shape, np.nan)
    valid = (df >= 2) & (cc >= 2) & ~np.isnan(q)
    large = valid & (q > 0) & np.isfinite(q) & (df > _DF_LARGE)
    small = valid & (q > 0) & np.isfinite(q) & (df <= _DF_LARGE)
    out[valid & (q <= 0)] = 0.0
    out[valid & np.isposinf(q)] = 1.0
    out[large] = _wprob(q[large], np.ones(int(large.sum())), cc[large])
    out[small] = _ptukey_lower(q[small], cc[small], df[small])
    return out if lower_tail else 1.0 - out


def _qinv(p: float, cc: float, df: float) -> float:
    """nmath's starting value for ``qtukey`` (Odeh and Evans' normal quantile, adjusted)."""
    ps = 0.5 - 0.5 * p
    yi = np.sqrt(np.log(1.0 / (ps * ps)))
    t = yi + ((((yi * -0.453642210148e-04 + -0.204231210125) * yi + -0.342242088547) * yi + -1.0) * yi
              + 0.322232421088) / ((((yi * 0.38560700634e-02 + 0.103537752850) * yi + 0.531103462366) * yi
                                    + 0.588581570495) * yi + 0.993484626060e-01)
    if df < 120.0:
        t += (t * t * t + t) / df / 4.0
    q = 0.8832 - 0.2368 * t
    if df < 120.0:
        q += -1.214 / df + 1.208 * t / df
    return float(t * (q * np.log(cc - 1.0) + 1.4142))


def qtukey(p: float, nmeans: float, df: float) -> float:
    """R's ``qtukey(p, nmeans, df)``: nmath's secant search, stopping at a step below 1e-4.

    Examples
    --------
    >>> round(qtukey(0.95, 3, 42), 4)
    3.4358
    """
    if not (df >= 2 and nmeans >= 2 and 0.0 <= p <= 1.0):
        return float("nan")
    if p == 0.0:
        return 0.0
    if p == 1.0:
        return float("inf")

    def gap(x: float) -> float:
        return float(ptukey(x, nmeans, df)) - p

    x0 = _qinv(p, nmeans, df)
    valx0 = gap(x0)
    x1 = max(0.0, x0 - 1.0) if valx0 > 0.0 else x0 + 1.0
    valx1 = gap(x1)
    ans = x1
    for _ in range(1, 50):
        ans = x1 - valx1 * (x1 - x0) / (valx1 - valx0)
        valx0, x0 = valx1, x1
        ans = max(ans, 0.0)
        valx1, x1 = gap(ans), ans
        if abs(x1 - x0) < 1e-4:
            return ans
    return ans
