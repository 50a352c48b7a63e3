"""Denominator degrees of freedom for linear mixed models, as lmerTest and pbkrtest give them.

Satterthwaite (lmerTest 3.1-3): the covariance of the variance parameters
``(theta, sigma)`` is twice the inverse Hessian of the deviance (REML or ML, as
fitted), and the Jacobian of ``vcov(beta)`` in those parameters gives
``df = 2 (l' V l)^2 / (g' A g)``. Both derivatives are taken as lmerTest takes
them, with numDeriv's Richardson extrapolation (same steps, same extrapolation),
so the numbers agree to the last few digits.

Kenward-Roger (pbkrtest 0.5.2): the adjusted covariance ``vcovAdj`` of Kenward and
Roger (1997) and its denominator degrees of freedom. pbkrtest forms the n x n
marginal covariance and its inverse; here every product it needs is reduced by
the Woodbury identity to q x q matrices (q random effects), so the cost is
O(q^3 + m^2 q^2) for m variance parameters plus one pass over the rows for the
cross-products, with no n x n matrix. As in pbkrtest, prior weights are not part
of the marginal covariance.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd
import scipy.linalg as sla
from scipy.special import fdtrc, stdtr

from mixedfx.inference.hypotheses import type1_contrasts, type2_contrasts, type3_contrasts
from mixedfx.report.ddf_names import DDF_METHODS, resolve_ddf
from mixedfx.inference.kenward_roger import KenwardRoger, kenward_roger, kr_adjust, kr_linear_functions
from mixedfx.lmm.model import LinearMixedModel

__all__ = ["coef_table", "linear_function_variances", "Satterthwaite", "satterthwaite", "satterthwaite_rows", "anova_terms", "ftest_table", "kr_ftest", "numderiv_jacobian", "numderiv_hessian"]

"""lmerTest's methods for denominator degrees of freedom."""

_COEF_COLUMNS = ["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"]
_ANOVA_COLUMNS = ["Sum Sq", "Mean Sq", "NumDF", "DenDF", "F value", "Pr(>F)"]

# numDeriv's Richardson defaults: eps, zero.tol, r = 4 step halvings (v = 2)
_ND_EPS = 1e-4
_ND_ZERO_TOL = float(np.sqrt(np.finfo(float).eps / 7e-7))
_ND_HALVINGS = 0.5 ** np.arange(4)
_EIGEN_TOL = 1e-8


def _linear_model(fit: Any) -> LinearMixedModel:
    """The fit's linear mixed model; glmer fits are refused."""
    model = getattr(fit, "model", None)
    if not isinstance(model, LinearMixedModel):
        raise TypeError("denominator degrees of freedom (ddf) apply to linear mixed models (lmer fits) only, "
                        f"not to a {type(fit).__name__}")
    return model


# --------------------------------------------------------------------------- numDeriv
def _steps(x: np.ndarray, d: float) -> np.ndarray:
    """numDeriv's initial steps: relative ``d``, absolute ``eps`` near zero."""
    return np.abs(d * x) + _ND_EPS * (np.abs(x) < _ND_ZERO_TOL)


def _richardson(estimates: np.ndarray) -> np.ndarray:
    """numDeriv's Richardson extrapolation over halved steps (first axis)."""
    a = np.asarray(estimates, dtype=float)
    for m in range(1, a.shape[0]):
        a = (a[1:] * 4.0**m - a[:-1]) / (4.0**m - 1.0)
    return a[0]


def numderiv_jacobian(func: Callable[[np.ndarray], np.ndarray], x: np.ndarray) -> np.ndarray:
    """numDeriv's ``jacobian(func, x)`` (method "Richardson", its defaults).

    Parameters
    ----------
    func : callable
        Maps a vector to a vector (or array, flattened).
    x : ndarray, shape (n,)
        The point.

    Returns
    -------
    ndarray, shape (len(func(x)), n)
    """
    h = _steps(x, 1e-4)
    eye = np.eye(x.size)
    columns = []
    for i in range(x.size):
        steps = h[i] * _ND_HALVINGS
        diffs = [(np.ravel(func(x + s * eye[i])) - np.ravel(func(x - s * eye[i]))) / (2.0 * s) for s in steps]
        columns.append(_richardson(np.array(diffs)))
    return np.column_stack(columns)


def numderiv_hessian(func: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """numDeriv's ``hessian(func, x)`` (``genD``, method "Richardson", d = 0.1).

    Parameters
    ----------
    func : callable
        Maps a vector to a scalar.
    x : ndarray, shape (n,)
        The point.

    Returns
    -------
    ndarray, shape (n, n)
    """
    f0 = func(x)
    hs = _steps(x, 0.1)[None, :] * _ND_HALVINGS[:, None]  # (r, n)
    eye = np.eye(x.size)

    def second_differences(moves: np.ndarray) -> np.ndarray:
        return np.array([func(x + d) - 2.0 * f0 + func(x - d) for d in moves])

    diag = np.array([_richardson(second_differences(hs[:, [i]] * eye[i]) / hs[:, i] ** 2) for i in range(x.size)])
    hess = np.diag(diag)
    for i in range(x.size):
        for j in range(i):
            moves = hs[:, [i]] * eye[i] + hs[:, [j]] * eye[j]
            est = (second_differences(moves) - diag[i] * hs[:, i] ** 2 - diag[j] * hs[:, j] ** 2) \
                / (2.0 * hs[:, i] * hs[:, j])
            hess[i, j] = hess[j, i] = _richardson(est)
    return hess


# --------------------------------------------------------------------------- Satterthwaite
@dataclass(frozen=True)
class Satterthwaite:
    """lmerTest's ``vcov_beta``, ``Jac_list`` (stacked) and ``vcov_varpar``."""

    vcov: np.ndarray
    jac: np.ndarray
    vcov_varpar: np.ndarray


def _vcov_beta(model: LinearMixedModel, varpar: np.ndarray) -> np.ndarray:
    """lmerTest's ``get_covbeta``: sigma^2 (R_X' R_X)^-1 at theta."""
    r_x_inv = sla.solve_triangular(model.factor(varpar[:-1]).r_x, np.eye(model.p), lower=True, check_finite=False)
    return varpar[-1] ** 2 * (r_x_inv.T @ r_x_inv)


def _positive_inverse(hessian: np.ndarray) -> np.ndarray:
    """Inverse over the positive eigenvalues, with lmerTest's convergence warnings."""
    values, vectors = np.linalg.eigh(hessian)
    for mask, text in ((values < -_EIGEN_TOL, "Model failed to converge with {} negative {}: {}"),
                       (np.abs(values) < _EIGEN_TOL, "Model may not have converged with {} {} close to zero: {}")):
        if mask.any():
            noun = "eigenvalues" if mask.sum() > 1 else "eigenvalue"
            warnings.warn(text.format(mask.sum(), noun, " ".join(f"{v:.1e}" for v in values[mask][::-1])),
                          stacklevel=4)
    pos = values > _EIGEN_TOL
    return (vectors[:, pos] / values[pos]) @ vectors[:, pos].T


def satterthwaite(fit: Any) -> Satterthwaite:
    """lmerTest's ``as_lmerModLT``: derivatives at the estimates (theta, sigma), computed once per fit
    for any number of linear functions (:func:`satterthwaite_rows`)."""
    model = _linear_model(fit)
    varpar = np.append(fit.theta, fit.sigma)
    # lmerTest's devfun_vp: the deviance at theta and sigma (the last element)
    hessian = numderiv_hessian(lambda v: model.deviance_at_scale(v[:-1], v[-1]), varpar)
    jac = numderiv_jacobian(lambda v: _vcov_beta(model, v), varpar)
    p = model.p
    return Satterthwaite(vcov=fit.vcov.to_numpy(dtype=float), jac=jac.T.reshape(-1, p, p),
                          vcov_varpar=2.0 * _positive_inverse(hessian))


def satterthwaite_rows(rows: np.ndarray, parts: Satterthwaite) -> tuple[np.ndarray, np.ndarray]:
    """Variance and Satterthwaite df of each contrast row l: l'Vl and 2 (l'Vl)^2 / (g'Ag)."""
    var = np.einsum("rp,pq,rq->r", rows, parts.vcov, rows)
    grad = np.einsum("rp,mpq,rq->rm", rows, parts.jac, rows)
    return var, 2.0 * var**2 / np.einsum("rm,mn,rn->r", grad, parts.vcov_varpar, grad)


def _fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """lmerTest's ``get_Fstat_ddf``: one df for an F statistic from the df of its parts."""
    if nu.size == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(nu.mean())
    if np.any(nu <= 2):
        return 2.0
    e = float(np.sum(nu / (nu - 2.0)))
    return 2.0 * e / (e - nu.size)


def _satterthwaite_ftest(contrast: np.ndarray, beta: np.ndarray, parts: Satterthwaite) -> tuple[float, ...]:
    """lmerTest's ``contestMD``: (F, F, NumDF, DenDF) for the hypothesis ``L beta = 0`` (F is not rescaled)."""
    values, vectors = np.linalg.eigh(contrast @ parts.vcov @ contrast.T)
    values, vectors = values[::-1], vectors[:, ::-1]
    q = int(np.sum(values > max(np.sqrt(np.finfo(float).eps) * values[0], 0.0)))
    if q == 0:
        return (np.nan,) * 4
    rows = (vectors.T @ contrast)[:q]
    fvalue = float(np.sum((rows @ beta) ** 2 / values[:q]) / q)
    return fvalue, fvalue, float(q), _fstat_ddf(satterthwaite_rows(rows, parts)[1])


# --------------------------------------------------------------------------- Kenward-Roger
def _kenward_roger_parts(fit: Any) -> KenwardRoger:
    return kenward_roger(_linear_model(fit), fit.theta, fit.sigma, fit.vcov.to_numpy(dtype=float))


def _full_row_rank(contrast: np.ndarray) -> np.ndarray:
    """A basis of the contrast's row space (pbkrtest's ``force_full_rank``; KR is invariant to the basis)."""
    rank = np.linalg.matrix_rank(contrast)
    return contrast if rank == contrast.shape[0] else np.linalg.svd(contrast)[2][:rank]


def _kr_ftest(contrast: np.ndarray, beta: np.ndarray, parts: KenwardRoger) -> tuple[float, ...]:
    """lmerTest's Kenward-Roger ``contestMD``: (unscaled F, scaled F, NumDF, DenDF)."""
    contrast = _full_row_rank(contrast)
    q, df2, scaling = kr_adjust(contrast, parts)
    lb = contrast @ beta
    fstat = float(lb @ np.linalg.solve(contrast @ parts.vcov_adj @ contrast.T, lb)) / q
    return fstat, fstat * scaling, float(q), df2


def kr_ftest(fit: Any, contrast: np.ndarray, beta_h: np.ndarray | float = 0.0) -> tuple[float, float, float, float]:
    """pbkrtest's Kenward-Roger test of ``L beta = beta_h`` for a REML fit: (unscaled F, F scaling, ndf, ddf).

    Parameters
    ----------
    fit : LmerFit
        A linear mixed model fitted by REML.
    contrast : ndarray, shape (r, p)
        L; a row-rank-deficient L is replaced by a basis of its row space.
    beta_h : ndarray or float
        The hypothesised value of beta (pbkrtest's ``betaH``).

    Returns
    -------
    tuple of float
        The scaled F is the unscaled one times the scaling.

    Examples
    --------
    >>> import numpy as np, mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> round(kr_ftest(fit, np.array([[0.0, 1.0]]))[3], 4)
    17.0
    """
    parts = _kenward_roger_parts(fit)
    contrast = _full_row_rank(np.atleast_2d(np.asarray(contrast, dtype=float)))
    fstat, _, ndf, ddf = _kr_ftest(contrast, fit.fixef.to_numpy(dtype=float) - beta_h, parts)
    return fstat, kr_adjust(contrast, parts)[2], ndf, ddf


# --------------------------------------------------------------------------- tables
def _pvalue_t(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """2 P(T_df > |t|)."""
    return 2.0 * stdtr(df, -np.abs(t))


def linear_function_variances(fit: Any, rows: np.ndarray, ddf: str) -> tuple[np.ndarray, np.ndarray]:
    """Variance and degrees of freedom of each linear function ``l' beta`` (the rows of L).

    What emmeans and lmerTest's ``contest1D`` compute for one row at a time:
    Satterthwaite's df with ``l' V l``; Kenward-Roger's df (pbkrtest's ``Lb_ddf``)
    with ``l' V_adj l`` from the adjusted covariance; "asymptotic" gives
    ``l' V l`` and infinite df (any fit, generalized ones included).

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        A fitted mixed model (a linear one for Satterthwaite and Kenward-Roger;
        a REML fit for Kenward-Roger).
    rows : ndarray, shape (r, p)
        L, over the fit's fixed effects.
    ddf : {"Satterthwaite", "Kenward-Roger", "asymptotic"}
        Names are matched case-insensitively.

    Returns
    -------
    (ndarray, ndarray)
        Variances and df, each of shape (r,).

    Examples
    --------
    >>> import numpy as np, mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> var, df = linear_function_variances(fit, np.array([[1.0, 5.0]]), "Kenward-Roger")
    >>> round(float(df[0]), 3)
    17.0
    """
    rows = np.atleast_2d(np.asarray(rows, dtype=float))
    if str(ddf).lower() == "asymptotic":
        return np.einsum("rp,pq,rq->r", rows, fit.vcov.to_numpy(dtype=float), rows), np.full(rows.shape[0], np.inf)
    method = resolve_ddf(ddf)
    if method == "Satterthwaite":
        return satterthwaite_rows(rows, satterthwaite(fit))
    if method != "Kenward-Roger":
        raise ValueError(f"ddf must be 'Satterthwaite', 'Kenward-Roger' or 'asymptotic', not {ddf!r}")
    return kr_linear_functions(rows, _kenward_roger_parts(fit))


def coef_table(fit: Any, ddf: str | None = None) -> pd.DataFrame:
    """The fixed-effects table of ``summary(fit)``, with lmerTest's t-tests when ``ddf`` is given.

    Parameters
    ----------
    fit : LmerFit
        A fitted linear mixed model (a generalized one only with ``ddf=None``).
    ddf : {None, "lme4", "Satterthwaite", "Kenward-Roger"}
        None (or "lme4"): lme4's table (Estimate, Std. Error, t value).
        "Satterthwaite": lmerTest's table, adding df and Pr(>|t|).
        "Kenward-Roger": the same columns from pbkrtest's adjusted covariance
        (its standard errors) and Kenward-Roger df; REML fits only. Names are
        matched case-insensitively.

    Returns
    -------
    DataFrame
        One row per fixed effect.

    Raises
    ------
    ValueError
        An unknown ``ddf``, or Kenward-Roger for an ML fit.
    TypeError
        A ``ddf`` for a generalized linear mixed model.
    """
    method = resolve_ddf(ddf)
    if method is None:
        return fit.coefficient_table()
    beta = fit.fixef.to_numpy(dtype=float)
    var, df = linear_function_variances(fit, np.eye(beta.size), method)
    se = np.sqrt(var)
    table = pd.DataFrame({"Estimate": beta, "Std. Error": se, "df": df, "t value": beta / se,
                          "Pr(>|t|)": _pvalue_t(beta / se, df)}, index=fit.fixef.index)
    return table[_COEF_COLUMNS]


def _anova_rows(fit: Any, method: str, contrasts: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """One F-test row (Sum Sq .. Pr(>F)) per term with a non-empty hypothesis."""
    beta = fit.fixef.to_numpy(dtype=float)
    parts, ftest = (satterthwaite(fit), _satterthwaite_ftest) if method == "Satterthwaite" \
        else (_kenward_roger_parts(fit), _kr_ftest)
    rows = {}
    for label, contrast in contrasts.items():
        funscaled, fvalue, ndf, ddf = ftest(contrast, beta, parts)
        mean_sq = funscaled * fit.sigma**2
        rows[label] = [mean_sq * ndf, mean_sq, ndf, ddf, fvalue, float(fdtrc(ndf, ddf, fvalue))]
    return rows


def anova_terms(fit: Any, ddf: str = "Satterthwaite", type: int = 3) -> pd.DataFrame:  # noqa: A002 - R's name
    """lmerTest's ``anova(fit, type = type)``: F-tests of the fixed-effect terms of one model.

    Parameters
    ----------
    fit : LmerFit
        A fitted linear mixed model.
    ddf : {"Satterthwaite", "Kenward-Roger"}
        Method for the denominator degrees of freedom (case-insensitive);
        Kenward-Roger needs a REML fit.
    type : {1, 2, 3}
        Type I (sequential), II or III hypotheses (:mod:`mixedfx.inference.hypotheses`).

    Returns
    -------
    DataFrame
        Columns Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F); one row per
        term of the formula (none for an intercept-only model). A term whose
        hypothesis is empty gets a row of NaN, last, as in lmerTest.
        ``attrs["ddf"]`` holds the method, ``attrs["type"]`` the type.

    Raises
    ------
    ValueError
        An unknown ``ddf`` (or None), or Kenward-Roger for an ML fit.
    TypeError
        A generalized linear mixed model.

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("angle ~ recipe * temp + (1 | recipe:replicate)", mfx.datasets.load("cake"))
    >>> anova_terms(fit, type=1)["NumDF"].tolist()
    [2.0, 1.0, 2.0]
    """
    table = ftest_table(fit, _TERM_CONTRASTS[type](_linear_model(fit).matrices), ddf)
    table.attrs["type"] = type
    return table


def ftest_table(fit: Any, hypotheses: dict[str, np.ndarray], ddf: str = "Satterthwaite") -> pd.DataFrame:
    """lmerTest's ``contestMD`` of each hypothesis ``L beta = 0``: one F-test row per label.

    Parameters
    ----------
    fit : LmerFit
        A fitted linear mixed model.
    hypotheses : dict of str to ndarray
        Row label to L (r x p over the fit's fixed effects); r may be 0.
    ddf : {"Satterthwaite", "Kenward-Roger"}
        Method for the denominator degrees of freedom (case-insensitive).

    Returns
    -------
    DataFrame
        Columns Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F); rows of empty
        hypotheses are NaN and come last. ``attrs["ddf"]`` holds the method.

    Raises
    ------
    ValueError
        An unknown ``ddf``, or Kenward-Roger for an ML fit.
    TypeError
        A generalized linear mixed model.

    Examples
    --------
    >>> import numpy as np, mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> float(ftest_table(fit, {"Days": np.array([[0.0, 1.0]])})["NumDF"].iloc[0])
    1.0
    """
    method = resolve_ddf(ddf)
    if method is None:
        raise ValueError(f"F tests need ddf {' or '.join(repr(m) for m in DDF_METHODS)}, not {ddf!r}")
    _linear_model(fit)
    rows = _anova_rows(fit, method, {k: v for k, v in hypotheses.items() if v.shape[0]})
    rows.update({k: [np.nan] * len(_ANOVA_COLUMNS) for k, v in hypotheses.items() if not v.shape[0]})
    table = pd.DataFrame.from_dict(rows, orient="index", columns=_ANOVA_COLUMNS, dtype=float)
    table.attrs["ddf"] = method
    return table


_TERM_CONTRASTS = {1: type1_contrasts, 2: type2_contrasts, 3: type3_contrasts}
