"""pbkrtest's model comparisons: ``KRmodcomp`` (Kenward-Roger F test) and ``PBmodcomp`` (parametric bootstrap).

Both compare a large model with a small one nested in it by its fixed
effects. ``kr_modcomp`` tests the restriction ``L beta = 0`` that turns the
large model into the small one (or a given ``L``) by the Kenward-Roger F test
of the large REML fit (:func:`mixedfx.inference.ddf.kr_ftest`).
``pb_modcomp`` compares the likelihood-ratio statistic of the two ML fits with
its distribution over responses simulated from the small model, each refitted
by both models, through :func:`mixedfx.inference.bootstrap.bootstrap`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import chdtr, fdtrc

from mixedfx.inference.bootstrap import bootstrap
from mixedfx.inference.ddf import kr_ftest
from mixedfx.rbase.rformat import format_num
from mixedfx.rbase.rmath import zapsmall
from mixedfx.report.rprint import print_coefmat, print_matrix

__all__ = ["kr_modcomp", "pb_modcomp", "KRModcomp", "PBModcomp", "restriction_matrix"]

# pbkrtest prints the unscaled F test instead when the scaling factor is at most this
_F_SCALING_THRESHOLD = 0.2
# printCoefmat's default digits, max(3, getOption("digits") - 2)
_DIGITS = 5


def _rank(x: np.ndarray) -> int:
    return int(np.linalg.matrix_rank(x)) if x.size else 0


def _row_basis(x: np.ndarray) -> np.ndarray:
    """Orthonormal rows spanning the rows of ``x`` (full row rank assumed)."""
    return np.linalg.qr(x.T)[0].T


def restriction_matrix(x_large: np.ndarray, x_small: np.ndarray) -> np.ndarray:
    """pbkrtest's ``make_restriction_matrix``: L with ``L beta = 0`` exactly when X beta lies in X_small's span.

    Parameters
    ----------
    x_large, x_small : ndarray, shape (n, p) and (n, p0)
        The fixed-effects matrices; X_small's columns must lie in X_large's span.

    Returns
    -------
    ndarray, shape (rank(X_large) - rank(X_small), p)
        Orthonormal rows (their basis may differ from R's; the tests do not depend on it).

    Raises
    ------
    ValueError
        X_small's span is not inside X_large's.

    Examples
    --------
    >>> x = np.column_stack([np.ones(4), np.arange(4.0)])
    >>> restriction_matrix(x, x[:, :1]).tolist()
    [[0.0, 1.0]]
    """
    r_large, r_small = _rank(x_large), _rank(x_small)
    if _rank(np.hstack([x_small, x_large])) > r_large:
        raise ValueError("the small model's fixed effects do not lie in the span of the large model's")
    q_small = np.linalg.svd(x_small, full_matrices=False)[0][:, :r_small]
    u = np.linalg.svd(x_large - q_small @ (q_small.T @ x_large), full_matrices=False)[0][:, :r_large - r_small]
    basis = _row_basis(u.T @ x_large)
    basis *= np.where(basis[np.arange(len(basis)), np.argmax(np.abs(basis), axis=1)] < 0, -1.0, 1.0)[:, None]
    return zapsmall(basis.ravel()).reshape(basis.shape) + 0.0


def _print_r_matrix(values: np.ndarray) -> list[str]:
    """R's ``print`` of a numeric matrix without dimnames (each column formatted on its own)."""
    columns = [format_num(list(values[:, j])) for j in range(values.shape[1])]
    cells = [[columns[j][i] for j in range(values.shape[1])] for i in range(values.shape[0])]
    return print_matrix(cells, [f"[{i + 1},]" for i in range(values.shape[0])],
                        [f"[,{j + 1}]" for j in range(values.shape[1])], right=True)


@dataclass(frozen=True)
class KRModcomp:
    """pbkrtest's ``KRmodcomp`` result.

    Attributes
    ----------
    test : DataFrame
        Rows ``Ftest`` (the scaled statistic) and ``FtestU`` (unscaled), columns
        stat, ndf, ddf, F.scaling, p.value.
    formula_large : str
        The large model's formula.
    formula_small : str or None
        The small model's formula; None when the restriction was given as L.
    L : ndarray, shape (q, p)
        The restriction matrix tested (full row rank).
    ctime : float
        Seconds the test took.
    """

    test: pd.DataFrame
    formula_large: str
    formula_small: str | None
    L: np.ndarray
    ctime: float = field(default=0.0, compare=False)

    stat = property(lambda self: float(self.test.loc["Ftest", "stat"]), doc="The scaled F statistic.")
    ndf = property(lambda self: int(self.test.loc["Ftest", "ndf"]), doc="Numerator degrees of freedom.")
    ddf = property(lambda self: float(self.test.loc["Ftest", "ddf"]), doc="Kenward-Roger denominator df.")
    f_scaling = property(lambda self: float(self.test.loc["Ftest", "F.scaling"]), doc="The F scaling factor.")
    p_value = property(lambda self: float(self.test.loc["Ftest", "p.value"]), doc="P-value of the scaled F test.")

    def _heading(self) -> list[str]:
        """pbkrtest's ``.KRcommon``: the models, or L."""
        lines = [f"large : {self.formula_large}"]
        if self.formula_small is not None:
            return lines + [f"small : {self.formula_small}"]
        return lines + ["L = "] + _print_r_matrix(self.L)

    def _table(self, rows: list[str]) -> list[str]:
        return print_coefmat(self.test.loc[rows].to_numpy(dtype=float), rows, list(self.test.columns), _DIGITS,
                             tst_ind=[0, 1, 2], has_pvalue=True, na_print="")

    def __str__(self) -> str:
        """pbkrtest's ``print``: the scaled F test, or the unscaled one when the scaling is at most 0.2."""
        row = "Ftest" if self.f_scaling > _F_SCALING_THRESHOLD else "FtestU"
        return "".join(line + "\n" for line in self._heading() + self._table([row]))

    def __repr__(self) -> str:
        return self.__str__()

    def summary(self) -> str:
        """pbkrtest's ``summary``: the time, the models, both rows and a note on a small or negative scaling."""
        lines = [f"F-test with Kenward-Roger approximation; time: {self.ctime:.2f} sec"] + self._heading()
        lines += self._table(["Ftest", "FtestU"])
        if 0 < self.f_scaling < _F_SCALING_THRESHOLD:
            lines += ["Note: The scaling factor for the F-statistic is smaller than 0.2 ",
                      "The Unscaled statistic might be more reliable ", " "]
        elif self.f_scaling <= 0:
            lines += ["Note: The scaling factor for the F-statistic is negative ",
                      "Use the Unscaled statistic instead. ", " "]
        return "".join(line + "\n" for line in lines)


def _nested_order(large: Any, small: Any) -> tuple[Any, Any]:
    """pbkrtest's ``modcomp_init``: the pair ordered (large, small), or a ValueError when not nested."""
    x_large, x_small = np.asarray(large.matrices.X, dtype=float), np.asarray(small.matrices.X, dtype=float)
    if x_large.shape[0] != x_small.shape[0]:
        raise ValueError(f"the models were fitted to different numbers of rows ({x_large.shape[0]} and "
                         f"{x_small.shape[0]})")
    r_large, r_small = _rank(x_large), _rank(x_small)
    if _rank(np.hstack([x_large, x_small])) != max(r_large, r_small) or r_large == r_small:
        raise ValueError("Models have equal mean structure or are not nested: the small model's fixed effects "
                         "must lie in the span of the large model's")
    return (large, small) if r_small < r_large else (small, large)


def kr_modcomp(large: Any, small: Any, beta_h: np.ndarray | float = 0.0) -> KRModcomp:
    """The Kenward-Roger F test of a large linear mixed model against a small one, as pbkrtest's ``KRmodcomp``.

    Parameters
    ----------
    large : LmerFit
        The large model (refitted by REML through ``update`` if fitted by ML).
    small : LmerFit or array-like
        A model nested in ``large`` by its fixed effects (the two are swapped
        if given the other way round), or a restriction matrix L (q x p, or a
        vector for one row) over the large model's fixed effects.
    beta_h : array-like or float
        The value of beta under the hypothesis ``L beta = L beta_h`` (pbkrtest's ``betaH``).

    Returns
    -------
    KRModcomp
        ``stat``, ``ndf``, ``ddf``, ``f_scaling``, ``p_value`` of the scaled test;
        ``test`` holds the scaled and unscaled rows. ``print`` shows pbkrtest's text.

    Raises
    ------
    ValueError
        Models that are not nested, or an L that is not estimable in the large model.
    TypeError
        A model that is not a linear mixed model's.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> sleep = mfx.datasets.load("sleepstudy")
    >>> large = mfx.lmer("Reaction ~ Days + I(Days^2) + (Days | Subject)", sleep)
    >>> result = kr_modcomp(large, large.update(". ~ . - I(Days^2)"))
    >>> result.ndf, round(result.ddf, 1)
    (1, 143.0)
    """
    start = time.perf_counter()
    given_l = not hasattr(small, "matrices")
    if given_l:
        contrast = np.atleast_2d(np.asarray(small, dtype=float))
        x_large = np.asarray(large.matrices.X, dtype=float)
        if contrast.shape[1] != x_large.shape[1]:
            raise ValueError(f"L has {contrast.shape[1]} columns; the large model has {x_large.shape[1]} fixed "
                             "effects")
        if _rank(np.vstack([x_large, contrast])) > _rank(x_large):
            raise ValueError("L beta is not estimable in the large model (L's rows are not in the row space of X)")
        if _rank(contrast) < contrast.shape[0]:
            contrast = np.linalg.svd(contrast)[2][:_rank(contrast)]
    else:
        large, small = _nested_order(large, small)
        contrast = restriction_matrix(np.asarray(large.matrices.X, dtype=float),
                                      np.asarray(small.matrices.X, dtype=float))
    if not large.reml:
        large = large.update(REML=True)
    funscaled, scaling, ndf, ddf = kr_ftest(large, contrast, np.asarray(beta_h, dtype=float))
    fstat = scaling * funscaled
    test = pd.DataFrame({"stat": [fstat, funscaled], "ndf": [ndf, ndf], "ddf": [ddf, ddf],
                         "F.scaling": [scaling, np.nan],
                         "p.value": [float(fdtrc(ndf, ddf, fstat)), float(fdtrc(ndf, ddf, funscaled))]},
                        index=["Ftest", "FtestU"])
    return KRModcomp(test=test, formula_large=large.formula_text,
                     formula_small=None if given_l else small.formula_text, L=contrast,
                     ctime=time.perf_counter() - start)


@dataclass(frozen=True)
class PBModcomp:
    """pbkrtest's ``PBmodcomp`` result.

    Attributes
    ----------
    test : DataFrame
        Rows ``LRT`` (the chi-square test) and ``PBtest`` (the bootstrap test),
        columns stat, df, p.value.
    ref : ndarray, shape (nsim,)
        The simulated likelihood-ratio statistics (NaN where a refit failed).
    n_extreme : int
        Positive simulated statistics above the observed one.
    formula_large, formula_small : str
        The models' formulas.
    seed : int
        Entropy of the seed sequence the simulations were drawn from.
    failures : dict of str to int
        Messages of failed simulations and their counts.
    ctime : float
        Seconds the bootstrap took.
    """

    test: pd.DataFrame
    ref: np.ndarray
    n_extreme: int
    formula_large: str
    formula_small: str
    seed: int
    failures: dict[str, int] = field(default_factory=dict)
    ctime: float = field(default=0.0, compare=False)

    @property
    def nsim(self) -> int:
        """Number of simulations requested."""
        return len(self.ref)

    @property
    def npos(self) -> int:
        """Number of positive simulated statistics (those pbkrtest uses)."""
        return int(np.sum(self.ref > 0))

    @property
    def p_value(self) -> float:
        """The bootstrap p-value, ``(1 + n_extreme) / (1 + npos)``."""
        return float(self.test.loc["PBtest", "p.value"])

    def __str__(self) -> str:
        """pbkrtest's ``print``: the bootstrap's size, the models and both rows."""
        lines = [f"Bootstrap test; time: {self.ctime:.2f} sec; samples: {self.nsim}; extremes: {self.n_extreme};"]
        if self.npos < self.nsim:
            lines.append(f"Requested samples: {self.nsim} Used samples: {self.npos} Extremes: {self.n_extreme}")
        # pbkrtest 0.5.2 strips the small formula's class, so it prints without its "small : " label
        lines += [f"large : {self.formula_large}", self.formula_small]
        lines += print_coefmat(self.test.to_numpy(dtype=float), list(self.test.index), list(self.test.columns),
                               _DIGITS, tst_ind=[0], has_pvalue=True, na_print="")
        return "".join(line + "\n" for line in lines)

    def __repr__(self) -> str:
        return self.__str__()


class _LikelihoodRatio:
    """The statistic of the bootstrap: a refit of the small model against the large one refitted to its response.

    A module-level class, so that it pickles (with the large fit) for ``n_jobs > 1``.
    """

    def __init__(self, large: Any) -> None:
        self.large = large

    def __call__(self, small: Any) -> np.ndarray:
        return np.array([2.0 * (self.large.refit(small.matrices.y).loglik - small.loglik)])


def _ml(fit: Any) -> Any:
    """The fit by maximum likelihood (pbkrtest refits REML fits with ``REML = FALSE``)."""
    return fit.refit_ml() if getattr(fit, "reml", False) else fit


def pb_modcomp(large: Any, small: Any, nsim: int = 1000, seed: int | None = None, n_jobs: int = 1,
               progress: bool | None = None, client: Any = None) -> PBModcomp:
    """Parametric bootstrap test of a large mixed model against a nested small one, as pbkrtest's ``PBmodcomp``.

    Both models are fitted by maximum likelihood; responses are simulated from
    the small model and refitted by both, and the observed likelihood-ratio
    statistic is compared with the simulated ones:
    ``p = (1 + #(positive simulated > observed)) / (1 + #positive)``.

    Parameters
    ----------
    large, small : LmerFit or GlmerFit
        Nested models fitted to the same rows (swapped if ``small`` has more parameters).
    nsim : int
        Number of simulations.
    seed : int, optional
        Seed of the simulations; the result does not depend on ``n_jobs`` or ``client``.
    n_jobs : int
        Processes to run the refits on (:func:`mixedfx.inference.bootstrap.bootstrap`).
    progress : bool, optional
        Show a progress bar; by default when stderr is a terminal.
    client : distributed.Client, optional
        Run the refits on a Dask cluster's workers instead of ``n_jobs`` processes.

    Returns
    -------
    PBModcomp
        ``test`` with rows LRT (stat, df, chi-square p-value) and PBtest (stat, bootstrap p-value).

    Raises
    ------
    ValueError
        Models fitted to different numbers of rows, or with equal numbers of parameters.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> sleep = mfx.datasets.load("sleepstudy")
    >>> m1 = mfx.lmer("Reaction ~ Days + (1 | Subject)", sleep)
    >>> m0 = mfx.lmer("Reaction ~ 1 + (1 | Subject)", sleep)
    >>> pb_modcomp(m1, m0, nsim=20, seed=1).test.index.tolist()
    ['LRT', 'PBtest']
    """
    if large.nobs != small.nobs:
        raise ValueError(f"the models were fitted to different numbers of rows ({large.nobs} and {small.nobs})")
    if large.df == small.df:
        raise ValueError("the models have the same number of parameters; PBmodcomp compares nested models")
    if small.df > large.df:
        large, small = small, large
    start = time.perf_counter()
    large_ml, small_ml = _ml(large), _ml(small)
    tobs = 2.0 * (large_ml.loglik - small_ml.loglik)
    ndf = large_ml.df - small_ml.df
    boot = bootstrap(small_ml, _LikelihoodRatio(large_ml), nsim, seed=seed, n_jobs=n_jobs, progress=progress,
                     client=client)
    ref = boot.t.to_numpy(dtype=float)[:, 0]
    positive = ref[np.isfinite(ref) & (ref > 0)]
    n_extreme = int(np.sum(positive > tobs))
    test = pd.DataFrame({"stat": [tobs, tobs], "df": [float(ndf), np.nan],
                         "p.value": [1.0 - float(chdtr(ndf, tobs)), (1.0 + n_extreme) / (1.0 + positive.size)]},
                        index=["LRT", "PBtest"])
    return PBModcomp(test=test, ref=ref, n_extreme=n_extreme, formula_large=large.formula_text,
                     formula_small=small.formula_text, seed=boot.seed, failures=boot.failures,
                     ctime=time.perf_counter() - start)
