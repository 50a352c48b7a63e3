"""Kenward and Roger's adjusted covariance of the fixed effects, as pbkrtest's ``vcovAdj`` (0.5.2).

pbkrtest forms the n x n marginal covariance ``V = s2 (Z G Z' + I)`` and its
inverse W. Here every product the adjustment needs is reduced to q x q matrices
(q random effects) by the Woodbury identity. With ``Lambda`` the relative
covariance factor, ``K = Z'Z``, ``M = Lambda' K Lambda + I = L L'`` and
``P_j = Z Lambda M^-j Lambda' Z'``, ``s2^k W^k = I - P_1 - ... - P_k``, so with

    B = L^-1 Lambda' K,  C = L^-T B,  E = L^-1 Lambda' Z'X,  F = L^-T E,  G = L^-1 F:

    s2 Z'WZ = K - B'B              s2^2 Z'W^2 Z = s2 Z'WZ - C'C
    s2 Z'WX = Z'X - B'E            s2^2 Z'W^2 X = s2 Z'WX - C'F
    s2^2 X'W^2X = X'X - E'E - F'F  s2^3 X'W^3X = s2^2 X'W^2X - G'G
    s2^2 tr(W^2) = n - q + ||M^-1||_F^2

The derivative of G in one covariance parameter selects, at every level of its
term, one entry of the k x k block (or a mirrored pair): its products with the
matrices above are strided slices of them. The cost is a few q^3 flops in
LAPACK and the memory three q x q arrays, with no n x n or (parameters x q x q)
array. As in pbkrtest, prior weights are not part of the marginal covariance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp
from scipy.linalg.blas import dsyrk
from scipy.linalg.lapack import dlauum, dtrtri
from tqdm import tqdm

from mixedfx.inference.bootstrap import progress_bar
from mixedfx.linalg.layout import templates
from mixedfx.lmm.model import LinearMixedModel

__all__ = ["KenwardRoger", "kenward_roger", "kr_adjust", "kr_linear_functions"]

_SYMMETRIZE_ROWS = 512
# from this many random effects on, the q x q products take seconds: a progress bar is shown on a terminal
_PROGRESS_EFFECTS = 2000


@dataclass(frozen=True)
class KenwardRoger:
    """pbkrtest's ``vcovAdj`` and its attributes P and W.

    Attributes
    ----------
    vcov : ndarray, shape (p, p)
        The fit's covariance of the fixed effects.
    vcov_adj : ndarray, shape (p, p)
        Kenward and Roger's adjusted covariance.
    p_mats : ndarray, shape (m, p, p)
        pbkrtest's ``P``: one matrix per covariance parameter, the residual variance last.
    w : ndarray, shape (m, m)
        pbkrtest's ``W``: twice the inverse of the expected information of the parameters.
    """

    vcov: np.ndarray
    vcov_adj: np.ndarray
    p_mats: np.ndarray
    w: np.ndarray


@dataclass(frozen=True)
class _WeightedProducts:
    """Products with W = V^-1: Z'WZ (full), Z'WX, Z'W^2X, X'W^2X, X'W^3X, tr(W^2), and the traces of Z'W^2Z
    over each derivative's entries (``zw2z_traces``, one per covariance parameter)."""

    zwz: np.ndarray
    zwx: np.ndarray
    zw2x: np.ndarray
    xw2x: np.ndarray
    xw3x: np.ndarray
    trw2: float
    zw2z_traces: np.ndarray


Orientation = tuple[slice, slice]


def _derivative_entries(ks: list[int], n_levels: list[int]) -> list[list[Orientation]]:
    """Each covariance parameter's dG/d(gamma) as slices: (rows, columns) pairs whose entries are 1.

    pbkrtest's order: per term, the upper triangle of its k x k block by rows;
    an off-diagonal parameter sets the mirrored pair of entries.
    """
    out, offset = [], 0
    for k, nl in zip(ks, n_levels):
        end = offset + k * nl
        column = [slice(offset + r, end, k) for r in range(k)]
        for r in range(k):
            for c in range(r, k):
                out.append([(column[r], column[r])] if r == c else
                           [(column[r], column[c]), (column[c], column[r])])
        offset = end
    return out


def _symmetrize_from_upper(a: np.ndarray) -> None:
    """Copy the upper triangle of the C-ordered square ``a`` onto its lower, in row blocks (no q x q temporary)."""
    for start in range(0, a.shape[0], _SYMMETRIZE_ROWS):
        stop = min(start + _SYMMETRIZE_ROWS, a.shape[0])
        a[start:stop, :start] = a[:start, start:stop].T
        block = a[start:stop, start:stop]
        block[...] = np.triu(block) + np.triu(block, 1).T


def _weighted_products(z: sp.csr_matrix, x: np.ndarray, lam: sp.csr_matrix, s2: float,
                       entries: list[list[Orientation]], bar: tqdm) -> _WeightedProducts:
    """The products through the Woodbury identity (module docstring), with at most three q x q arrays alive."""
    n, q = z.shape
    zt = z.T.tocsr()
    k = (zt @ z).toarray()
    lam_k = np.asfortranarray(lam.T @ k)
    m = np.asarray(lam.T @ lam_k.T)
    m[np.diag_indices(q)] += 1.0
    chol = sla.cholesky(m.T, lower=True, overwrite_a=True, check_finite=False)
    del m
    bar.update()
    b = sla.solve_triangular(chol, lam_k, lower=True, overwrite_b=True, check_finite=False)
    del lam_k
    # s2 Z'WZ = K - B'B in place: K is symmetric, so its transpose is the Fortran-ordered matrix BLAS updates
    # (the lower triangle there is the upper one here)
    dsyrk(-1.0, b, beta=1.0, c=k.T, trans=1, lower=1, overwrite_c=1)
    _symmetrize_from_upper(k)
    bar.update()
    zx = np.asarray(zt @ x)
    e = sla.solve_triangular(chol, lam.T @ zx, lower=True, check_finite=False)
    f = sla.solve_triangular(chol, e, lower=True, trans="T", check_finite=False)
    g = sla.solve_triangular(chol, f, lower=True, check_finite=False)
    zwx = zx - b.T @ e
    c = sla.solve_triangular(chol, b, lower=True, trans="T", overwrite_b=True, check_finite=False)
    del b
    zw2x = zwx - c.T @ f
    zw2z_traces = np.array([sum(np.trace(k[rows, cols]) - np.sum(c[:, rows] * c[:, cols]) for rows, cols in pairs)
                            for pairs in entries]) / s2**2
    del c
    bar.update()
    inverse, info = dtrtri(chol, lower=1, overwrite_c=1)
    inverse, info = dlauum(inverse, lower=1, overwrite_c=1)
    # dlauum leaves M^-1's lower triangle (the upper one holds Cholesky's zeros)
    frobenius = 2.0 * np.linalg.norm(inverse) ** 2 - np.sum(np.diagonal(inverse) ** 2)
    del inverse, chol
    bar.update()
    xw2x = x.T @ x - e.T @ e - f.T @ f
    k /= s2
    return _WeightedProducts(zwz=k, zwx=zwx / s2, zw2x=zw2x / s2**2, xw2x=xw2x / s2**2,
                             xw3x=(xw2x - g.T @ g) / s2**3, trw2=float(n - q + frobenius) / s2**2,
                             zw2z_traces=zw2z_traces)


def _kr_blocks(wp: _WeightedProducts, entries: list[list[Orientation]]) -> tuple[np.ndarray, ...]:
    """pbkrtest's P_i = -X'W G_i W X, Q_ij = X'W G_i W G_j W X and K_ij = tr(W G_i W G_j), residual last."""
    zwz, zwx = wp.zwz, wp.zwx
    m, p = len(entries) + 1, zwx.shape[1]
    p_mats = np.empty((m, p, p))
    q_mats = np.empty((m, m, p, p))
    ktrace = np.empty((m, m))
    for i, pairs_i in enumerate(entries):
        p_mats[i] = -sum(zwx[rows].T @ zwx[cols] for rows, cols in pairs_i)
        q_mats[i, -1] = sum(zwx[rows].T @ wp.zw2x[cols] for rows, cols in pairs_i)
        q_mats[-1, i] = q_mats[i, -1].T
        for j in range(i, m - 1):
            pairs_j = entries[j]
            q_mats[i, j] = sum(zwx[a].T @ (zwz[b, c] @ zwx[d]) for a, b in pairs_i for c, d in pairs_j)
            q_mats[j, i] = q_mats[i, j].T
            ktrace[i, j] = ktrace[j, i] = sum(np.sum(zwz[b, c] * zwz[d, a].T) for a, b in pairs_i
                                              for c, d in pairs_j)
    p_mats[-1] = -wp.xw2x
    q_mats[-1, -1] = wp.xw3x
    ktrace[:-1, -1] = ktrace[-1, :-1] = wp.zw2z_traces
    ktrace[-1, -1] = wp.trw2
    return p_mats, q_mats, ktrace


def kenward_roger(model: LinearMixedModel, theta: np.ndarray, sigma: float, vcov: np.ndarray,
                  progress: bool | None = None) -> KenwardRoger:
    """pbkrtest's ``vcovAdj`` for a linear mixed model fitted by REML.

    Parameters
    ----------
    model : LinearMixedModel
        The fit's model.
    theta : ndarray
        The estimates of theta.
    sigma : float
        The residual standard deviation.
    vcov : ndarray, shape (p, p)
        The fit's covariance of the fixed effects.
    progress : bool, optional
        Show a progress bar (tqdm) on stderr; by default on a terminal when the
        model has 2,000 random effects or more (a few seconds of LAPACK).

    Returns
    -------
    KenwardRoger

    Raises
    ------
    ValueError
        An ML fit (the adjustment is defined for REML estimates).

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> kr = kenward_roger(fit.model, fit.theta, fit.sigma, fit.vcov.to_numpy())
    >>> kr.p_mats.shape, kr.w.shape
    ((4, 2, 2), (4, 4))
    """
    if not model.reml:
        raise ValueError("Kenward-Roger's method is only available for REML model fits")
    n_levels = [len(t.levels) for t in model.terms]
    z = sp.hstack([layout.matrix for layout in model.layouts], format="csr")
    lam = sp.block_diag([sp.kron(sp.identity(nl), tmpl) for tmpl, nl in zip(templates(theta, model.ks), n_levels)],
                        format="csr")
    entries = _derivative_entries(model.ks, n_levels)
    show = progress if progress is not None or z.shape[1] >= _PROGRESS_EFFECTS else False
    with progress_bar(5, "Kenward-Roger", show) as bar:
        wp = _weighted_products(z, np.asarray(model.matrices.X, dtype=float), lam, sigma**2, entries, bar)
        p_mats, q_mats, ktrace = _kr_blocks(wp, entries)
        bar.update()
    phi = np.asarray(vcov, dtype=float)
    phi_p = np.einsum("ab,ibc->iac", phi, p_mats)
    info = ktrace - 2.0 * np.einsum("ab,ijba->ij", phi, q_mats) + np.einsum("iab,jba->ij", phi_p, phi_p)
    invert = np.linalg.inv if np.min(np.abs(np.linalg.eigvalsh(info))) > 1e-10 else np.linalg.pinv
    w = 2.0 * invert(info)
    u = np.einsum("ij,ijab->ab", w, q_mats - np.einsum("iab,jbc->ijac", p_mats, phi_p))
    return KenwardRoger(vcov=phi, vcov_adj=phi + 2.0 * phi @ u @ phi, p_mats=p_mats, w=w)


def _div_zero(x: float, y: float, tol: float = 1e-14) -> float:
    """pbkrtest's ``.divZero``: x / y, or 1 when both are zero."""
    return 1.0 if abs(x) < tol and abs(y) < tol else x / y


def kr_adjust(contrast: np.ndarray, parts: KenwardRoger) -> tuple[int, float, float]:
    """pbkrtest's ``.KR_adjust``: (q, denominator df, F scaling) for a full-row-rank contrast L (r x p).

    Examples
    --------
    >>> import numpy as np, mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> parts = kenward_roger(fit.model, fit.theta, fit.sigma, fit.vcov.to_numpy())
    >>> q, ddf, scaling = kr_adjust(np.array([[0.0, 1.0]]), parts)
    >>> q, round(ddf, 4)
    (1, 17.0)
    """
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


def kr_linear_functions(rows: np.ndarray, parts: KenwardRoger) -> tuple[np.ndarray, np.ndarray]:
    """Each row l's adjusted variance ``l' V_adj l`` and Kenward-Roger df (pbkrtest's ``Lb_ddf``).

    Examples
    --------
    >>> import numpy as np, mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> parts = kenward_roger(fit.model, fit.theta, fit.sigma, fit.vcov.to_numpy())
    >>> variance, df = kr_linear_functions(np.eye(2), parts)
    >>> df.round(4).tolist()
    [17.0, 17.0]
    """
    variance = np.einsum("rp,pq,rq->r", rows, parts.vcov_adj, rows)
    return variance, np.array([kr_adjust(row[None, :], parts)[1] for row in rows])
