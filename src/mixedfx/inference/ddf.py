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
import scipy.sparse as sp
from scipy.special import fdtrc, stdtr

from mixedfx.inference.hypotheses import type1_contrasts, type2_contrasts, type3_contrasts
from mixedfx.report.ddf_names import DDF_METHODS, resolve_ddf
from mixedfx.linalg.layout import templates
from mixedfx.lmm.model import LinearMixedModel

__all__ = ["coef_table", "linear_function_variances", "anova_terms", "ftest_table", "kr_ftest", "numderiv_jacobian", "numderiv_hessian"]

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
class _Satterthwaite:
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


def _satterthwaite(fit: Any) -> _Satterthwaite:
    """lmerTest's ``as_lmerModLT``: derivatives at the estimates (theta, sigma)."""
    model = _linear_model(fit)
    varpar = np.append(fit.theta, fit.sigma)
    # lmerTest's devfun_vp: the deviance at theta and sigma (the last element)
    hessian = numderiv_hessian(lambda v: model.deviance_at_scale(v[:-1], v[-1]), varpar)
    jac = numderiv_jacobian(lambda v: _vcov_beta(model, v), varpar)
    p = model.p
    return _Satterthwaite(vcov=fit.vcov.to_numpy(dtype=float), jac=jac.T.reshape(-1, p, p),
                          vcov_varpar=2.0 * _positive_inverse(hessian))


def _satterthwaite_rows(rows: np.ndarray, parts: _Satterthwaite) -> tuple[np.ndarray, np.ndarray]:
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


def _satterthwaite_ftest(contrast: np.ndarray, beta: np.ndarray, parts: _Satterthwaite) -> tuple[float, ...]:
    """lmerTest's ``contestMD``: (F, F, NumDF, DenDF) for the hypothesis ``L beta = 0`` (F is not rescaled)."""
    values, vectors = np.linalg.eigh(contrast @ parts.vcov @ contrast.T)
    values, vectors = values[::-1], vectors[:, ::-1]
    q = int(np.sum(values > max(np.sqrt(np.finfo(float).eps) * values[0], 0.0)))
    if q == 0:
        return (np.nan,) * 4
    rows = (vectors.T @ contrast)[:q]
    fvalue = float(np.sum((rows @ beta) ** 2 / values[:q]) / q)
    return fvalue, fvalue, float(q), _fstat_ddf(_satterthwaite_rows(rows, parts)[1])


# --------------------------------------------------------------------------- Kenward-Roger
@dataclass(frozen=True)
class _KenwardRoger:
    """pbkrtest's ``vcovAdj`` and its attributes P and W."""

    vcov: np.ndarray
    vcov_adj: np.ndarray
    p_mats: np.ndarray
    w: np.ndarray


def _covariance_derivatives(ks: list[int], n_levels: list[int]) -> list[sp.csr_matrix]:
    """dG/d(gamma_i) in random-effects space, pbkrtest's order: per term, upper triangle by rows."""
    q = sum(k * nl for k, nl in zip(ks, n_levels))
    out, offset = [], 0
    for k, nl in zip(ks, n_levels):
        base = offset + k * np.arange(nl)
        for r in range(k):
            for c in range(r, k):
                pairs = {(r, c), (c, r)}
                rows = np.concatenate([base + a for a, _ in pairs])
                cols = np.concatenate([base + b for _, b in pairs])
                out.append(sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(q, q)))
        offset += k * nl
    return out


@dataclass(frozen=True)
class _WeightedProducts:
    """Products with W = V^-1, V the marginal covariance: Z'WZ, Z'WX, Z'W^2Z, Z'W^2X, X'W^2X, X'W^3X, tr(W^2)."""

    zwz: np.ndarray
    zwx: np.ndarray
    zw2z: np.ndarray
    zw2x: np.ndarray
    xw2x: np.ndarray
    xw3x: np.ndarray
    trw2: float


def _weighted_products(z: sp.spmatrix, x: np.ndarray, lam: sp.spmatrix, s2: float) -> _WeightedProducts:
    """The products for V = s2 (Z Lam Lam' Z' + I), by the Woodbury identity (no n x n matrix).

    With Y = [Z X], F = Z'Y, K = Z'Z and S = Lam (Lam' K Lam + I)^-1 Lam':
    Z'W^(k+1) Y = (Z'W^k Y - K S Z'W^k Y) / s2 and Y'W^(k+1) Y = (Y'W^k Y - F' S Z'W^k Y) / s2.
    """
    q, n = z.shape[1], x.shape[0]
    y = sp.hstack([z, sp.csr_matrix(x)]).tocsc()
    m0 = (y.T @ y).toarray()
    f, k = m0[:q], m0[:q, :q]
    s = lam @ sla.cho_solve(sla.cho_factor((lam.T @ k) @ lam + np.eye(q)), lam.T.toarray())
    n1 = (f - k @ s @ f) / s2
    m2 = ((m0 - f.T @ s @ f) / s2 - f.T @ s @ n1) / s2
    sk = s @ k
    return _WeightedProducts(zwz=n1[:, :q], zwx=n1[:, q:], zw2z=m2[:q, :q], zw2x=m2[:q, q:], xw2x=m2[q:, q:],
                             xw3x=(m2[q:, q:] - f[:, q:].T @ s @ m2[:q, q:]) / s2,
                             trw2=float(n - 2.0 * np.trace(sk) + np.sum(sk * sk.T)) / s2**2)


def _kr_blocks(wp: _WeightedProducts, derivs: list[sp.csr_matrix]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """pbkrtest's P_i = -X'W G_i W X, Q_ij = X'W G_i W G_j W X and K_ij = tr(W G_i W G_j), residual last."""
    da = np.array([d @ wp.zwx for d in derivs])  # D_i Z'WX
    dc = np.array([d @ wp.zwz for d in derivs])  # D_i Z'WZ
    m, p = len(derivs) + 1, wp.zwx.shape[1]
    p_mats = np.concatenate([-np.einsum("ap,iaq->ipq", wp.zwx, da), -wp.xw2x[None]])
    q_mats = np.empty((m, m, p, p))
    q_mats[:-1, :-1] = np.einsum("iap,ab,jbq->ijpq", da, wp.zwz, da, optimize=True)
    q_mats[:-1, -1] = np.einsum("iap,aq->ipq", da, wp.zw2x)
    q_mats[-1, :-1] = np.swapaxes(q_mats[:-1, -1], 1, 2)
    q_mats[-1, -1] = wp.xw3x
    ktrace = np.empty((m, m))
    ktrace[:-1, :-1] = np.einsum("iab,jba->ij", dc, dc, optimize=True)
    ktrace[:-1, -1] = ktrace[-1, :-1] = [d.multiply(wp.zw2z).sum() for d in derivs]
    ktrace[-1, -1] = wp.trw2
    return p_mats, q_mats, ktrace


def _kenward_roger(fit: Any) -> _KenwardRoger:
    """pbkrtest's ``vcovAdj`` for a REML fit."""
    model = _linear_model(fit)
    if not model.reml:
        raise ValueError("Kenward-Roger's method is only available for REML model fits")
    n_levels = [len(t.levels) for t in model.terms]
    z = sp.hstack([layout.matrix for layout in model.layouts], format="csr")
    lam = sp.block_diag([sp.kron(sp.identity(nl), tmpl) for tmpl, nl in zip(templates(fit.theta, model.ks), n_levels)],
                        format="csr")
    wp = _weighted_products(z, np.asarray(model.matrices.X, dtype=float), lam, fit.sigma**2)
    p_mats, q_mats, ktrace = _kr_blocks(wp, _covariance_derivatives(model.ks, n_levels))
    phi = fit.vcov.to_numpy(dtype=float)
    phi_p = np.einsum("ab,ibc->iac", phi, p_mats)
    info = ktrace - 2.0 * np.einsum("ab,ijba->ij", phi, q_mats) + np.einsum("iab,jba->ij", phi_p, phi_p)
    invert = np.linalg.inv if np.min(np.abs(np.linalg.eigvalsh(info))) > 1e-10 else np.linalg.pinv
    w = 2.0 * invert(info)
    u = np.einsum("ij,ijab->ab", w, q_mats - np.einsum("iab,jbc->ijac", p_mats, phi_p))
    return _KenwardRoger(vcov=phi, vcov_adj=phi + 2.0 * phi @ u @ phi, p_mats=p_mats, w=w)


def _div_zero(x: float, y: float, tol: float = 1e-14) -> float:
    """pbkrtest's ``.divZero``: x / y, or 1 when both are zero."""
    return 1.0 if abs(x) < tol and abs(y) < tol else x / y


def _kr_adjust(contrast: np.ndarray, parts: _KenwardRoger) -> tuple[int, float, float]:
    """pbkrtest's ``.KR_adjust``: (q, denominator df, F scaling) for a full-row-rank contrast."""
    phi = parts.vcov
    q = contrast.shape[0]
    theta = contrast.T @ np.linalg.solve(contrast @ phi @ contrast.T, contrast)
    u = np.einsum("ab,ibc,cd->iad", theta @ phi, parts.p_mats, phi)
    traces = np.trace(u, axis1=1, axis2=2)
    a1 = traces @ parts.w @ traces
    a2 = np.einsum("ij,iab,jba->", parts.w, u, u)
    b = (a1 + 6.0 * a2) / (2.0 * q)
    g = ((q + 1) * a1 - (q + 4) * a2) / ((q + 2) * a2)
    denom = 3.0 * q + 2.0 * (1.0 - g)
    c1, c2, c3 = g / denom, (q - g) / denom, (q + 2 - g) / denom
    v0 = 1.0 + c1 * b
    v0 = 0.0 if abs(v0) < 1e-10 else v0
    rho = _div_zero(1.0 - a2 / q, 1.0 - c2 * b) ** 2 * v0 / (q * (1.0 - c3 * b))
    df2 = 4.0 + (q + 2) / (q * rho - 1.0)
    scaling = 1.0 if abs(df2 - 2.0) < 0.01 else df2 * (1.0 - a2 / q) / (df2 - 2.0)
    return q, float(df2), float(scaling)


def _full_row_rank(contrast: np.ndarray) -> np.ndarray:
    """A basis of the contrast's row space (pbkrtest's ``force_full_rank``; KR is invariant to the basis)."""
    rank = np.linalg.matrix_rank(contrast)
    return contrast if rank == contrast.shape[0] else np.linalg.svd(contrast)[2][:rank]


def _kr_ftest(contrast: np.ndarray, beta: np.ndarray, parts: _KenwardRoger) -> tuple[float, ...]:
    """lmerTest's Kenward-Roger ``contestMD``: (unscaled F, scaled F, NumDF, DenDF)."""
    contrast = _full_row_rank(contrast)
    q, df2, scaling = _kr_adjust(contrast, parts)
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
    parts = _kenward_roger(fit)
    contrast = _full_row_rank(np.atleast_2d(np.asarray(contrast, dtype=float)))
    fstat, _, ndf, ddf = _kr_ftest(contrast, fit.fixef.to_numpy(dtype=float) - beta_h, parts)
    return fstat, _kr_adjust(contrast, parts)[2], ndf, ddf


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
        return _satterthwaite_rows(rows, _satterthwaite(fit))
    if method != "Kenward-Roger":
        raise ValueError(f"ddf must be 'Satterthwaite', 'Kenward-Roger' or 'asymptotic', not {ddf!r}")
    parts = _kenward_roger(fit)
    var = np.einsum("rp,pq,rq->r", rows, parts.vcov_adj, rows)
    return var, np.array([_kr_adjust(row[None, :], parts)[1] for row in rows])


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
    parts, ftest = (_satterthwaite(fit), _satterthwaite_ftest) if method == "Satterthwaite" \
        else (_kenward_roger(fit), _kr_ftest)
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
