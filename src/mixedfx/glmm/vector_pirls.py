"""Compiled PIRLS for generalized models with vector-valued terms whose coupling is dense (crossed maximal models).

Each iteration forms the working weights and response
(:func:`mixedfx.glmm.family_kernels.working_values`), every block of the
penalised system in two passes over the rows
(:func:`mixedfx.linalg.level_sums.dense_blocks`), the blocked factor
(:func:`mixedfx.linalg.vector_dense.factor_dense_coupling`: batched k x k
work, one Gram product and one Cholesky through BLAS and LAPACK), solves it
(:func:`mixedfx.linalg.vector_dense.solve_dense`) and moves to the new linear
predictor and penalised deviance: the kernels that
:func:`mixedfx.linalg.cross.cross_products` and
:class:`mixedfx.linalg.factorizer.VectorDenseFactorizer` call, run with no
Python between iterations. The loop is
:func:`mixedfx.glmm.pirls_loop.pirls_loop`'s, the one every engine runs.
:func:`mixedfx.glmm.pirls.pirls_engines` uses this module for one
vector-valued term, or several whose coupling is small enough to be dense
(:func:`mixedfx.linalg.cross.by_slots`), when
:func:`mixedfx.glmm.family_kernels.compiled_family` knows the family.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import math
from functools import partial
from typing import NamedTuple

import numba
import numpy as np

from mixedfx.glmm.family_kernels import PirlsResponse, means_into, penalised_deviance, working_values
from mixedfx.glmm.pirls_loop import PirlsSettings, pirls_loop
from mixedfx.glmm.pirls_status import NOT_FINITE, OK
from mixedfx.linalg.cross import rest_slots
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.layout import BlockLayout, TermLayout, kernel_theta
from mixedfx.linalg.lazy import as_is
from mixedfx.linalg.level_sums import dense_blocks
from mixedfx.linalg.threads import blas_threads
from mixedfx.linalg.vector_dense import factor_dense_coupling, solve_dense, stacked_templates

__all__ = ["VectorStructure", "VectorPirls", "VectorPirlsResult"]


class VectorStructure(NamedTuple):
    """A model's design as the compiled iterations read it (built once per model; n rows, p columns of X).

    Attributes
    ----------
    codes : ndarray of int, shape (terms, n)
        Each term's level of each row (internal order).
    zs : ndarray, shape (terms, n, kmax)
        Each term's model matrix, padded with zeros to the widest term.
    ks, n_levels : ndarray of int, shape (terms,)
        Columns and levels per term.
    u_offsets : ndarray of int, shape (terms + 1,)
        Where each term's random effects start in u.
    X_t : ndarray, shape (p, n)
        X transposed.
    z1 : ndarray, shape (n, k1)
        The first term's model matrix.
    columns : ndarray of int, shape (n, s)
        Each row's columns among the other terms' (:func:`mixedfx.linalg.cross.rest_slots`).
    values : ndarray, shape (n, s)
        The row's values there.
    xy : ndarray, shape (n, p + 1)
        X, then a column of zeros: each iteration's working response in a run's copy.
    """

    codes: np.ndarray
    zs: np.ndarray
    ks: np.ndarray
    n_levels: np.ndarray
    u_offsets: np.ndarray
    X_t: np.ndarray
    z1: np.ndarray
    columns: np.ndarray
    values: np.ndarray
    xy: np.ndarray


class VectorWorkspace(NamedTuple):
    """The arrays every iteration of a run overwrites: the working weights and response, the first term's model
    matrix times the weights, [X y] with the working response, and the factor at the last iteration's start
    (``l11``, ``l_r1``, ``l_rr``)."""

    w: np.ndarray
    wy: np.ndarray
    wz1: np.ndarray
    xy: np.ndarray
    l11: np.ndarray
    l_r1: np.ndarray
    l_rr: np.ndarray


class VectorContext(NamedTuple):
    """A run's state beyond (u, beta), shared by its steps in :func:`mixedfx.glmm.pirls_loop.pirls_loop`: its
    parameters (``theta`` and its stacked templates ``tmpls``, the fixed part of the linear predictor ``base``), the
    linear predictor, means and deviance residuals (updated in place) and the workspace."""

    response: PirlsResponse
    structure: VectorStructure
    theta: np.ndarray
    tmpls: np.ndarray
    base: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    resid: np.ndarray
    work: VectorWorkspace


class VectorPirlsResult(NamedTuple):
    """What one compiled run ends with (see :meth:`VectorPirls.run`): its status and iterations, the linear
    predictor, means, spherical random effects, coefficients and deviance residuals, the factor at the last
    iteration's start (``l11``, ``l_r1``, ``l_rr``) and its log |L_Z|^2."""

    status: int
    iterations: int
    eta: np.ndarray
    mu: np.ndarray
    u: np.ndarray
    beta: np.ndarray
    dev_resids: np.ndarray
    l11: np.ndarray
    l_r1: np.ndarray
    l_rr: np.ndarray
    logdet_re: float


@numba.njit(cache=True, error_model="numpy")
def _linear_predictor(structure, tmpls, base, b, u, eta):
    """eta = base + X b + Z Lambda u, in place."""
    codes, zs, ks, n_levels, u_offsets, X_t = (structure.codes, structure.zs, structure.ks, structure.n_levels,
                                               structure.u_offsets, structure.X_t)
    n = eta.shape[0]
    for r in range(n):
        eta[r] = base[r]
    for j in range(X_t.shape[0]):
        x, bj = X_t[j], b[j]
        for r in range(n):
            eta[r] += x[r] * bj
    for t in range(ks.shape[0]):
        k, tmpl, start = ks[t], tmpls[t], u_offsets[t]
        effects = np.empty((n_levels[t], k))  # b = T u level by level
        for lev in range(n_levels[t]):
            for c in range(k):
                acc = 0.0
                for d in range(c + 1):
                    acc += tmpl[c, d] * u[start + lev * k + d]
                effects[lev, c] = acc
        level, z = codes[t], zs[t]
        for r in range(n):
            acc = 0.0
            for c in range(k):
                acc += z[r, c] * effects[level[r], c]
            eta[r] += acc


@numba.njit(cache=True, error_model="numpy")
def _solve_step(ctx, u, b):
    """The factor at the working weights of ``ctx.eta``, and (u, b) solved from it; ``OK`` or the stopping status."""
    structure, work = ctx.structure, ctx.work
    if not working_values(ctx.response, ctx.eta, ctx.mu, ctx.base, work.w, work.wy):
        return NOT_FINITE
    xy, wz1, z1, w, codes, n1 = work.xy, work.wz1, structure.z1, work.w, structure.codes[0], structure.n_levels[0]
    last = xy.shape[1] - 1
    for r in range(xy.shape[0]):
        xy[r, last] = work.wy[r]
        for c in range(z1.shape[1]):
            wz1[r, c] = w[r] * z1[r, c]
    a11, a_r1, a_rr = dense_blocks(codes, z1, wz1, structure.columns, structure.values, xy, w,
                                   structure.u_offsets[-1] - structure.u_offsets[1], n1)
    status = factor_dense_coupling(a11, a_r1, a_rr, ctx.theta, structure.ks, structure.n_levels, work.l11,
                                   work.l_r1, work.l_rr)
    if status == OK:
        solve_dense(work.l11, work.l_r1, work.l_rr, u, b)
    return status


@numba.njit(cache=True, error_model="numpy")
def _update_step(ctx, u, b):
    """The linear predictor, means and residuals at (u, b) in ``ctx``; the penalised deviance."""
    _linear_predictor(ctx.structure, ctx.tmpls, ctx.base, b, u, ctx.eta)
    means_into(ctx.response.family_code, ctx.eta, ctx.mu)
    return penalised_deviance(ctx.response, u, ctx.mu, ctx.resid)


@numba.njit(cache=True, error_model="numpy")
def _record_step(ctx, u):
    """Nothing: these runs give no gradient."""


_iterations = numba.njit(cache=True, error_model="numpy")(pirls_loop(_solve_step, _update_step, _record_step))


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _pirls(response, structure, settings, theta, base, eta_start, mu_start):
    """PIRLS from eta_start (whose means are mu_start): the run's :class:`VectorPirlsResult`."""
    ks, n_levels, u_offsets = structure.ks, structure.n_levels, structure.u_offsets
    n, p = eta_start.shape[0], structure.X_t.shape[0]
    q1, k1 = u_offsets[1], ks[0]
    q_rest = u_offsets[-1] - q1
    m = q_rest + p + 1
    work = VectorWorkspace(w=np.empty(n), wy=np.empty(n), wz1=np.empty((n, k1)), xy=structure.xy.copy(),
                           l11=np.zeros((n_levels[0], k1, k1)), l_r1=np.zeros((m, q1)), l_rr=np.zeros((m, m)))
    ctx = VectorContext(response=response, structure=structure, theta=theta, tmpls=stacked_templates(theta, ks),
                        base=base, eta=eta_start.copy(), mu=mu_start.copy(), resid=np.empty(n), work=work)
    u = np.zeros(u_offsets[-1])
    b = np.zeros(p)
    status, iterations, _ = _iterations(ctx, u, b, settings.tol, settings.max_iter, settings.max_halvings, False)
    logdet = 0.0
    if status == OK:
        for lev in range(n_levels[0]):
            for j in range(k1):
                logdet += math.log(work.l11[lev, j, j])
        for j in range(q_rest):
            logdet += math.log(work.l_rr[j, j])
    return VectorPirlsResult(status=status, iterations=iterations, eta=ctx.eta, mu=ctx.mu, u=u, beta=b,
                             dev_resids=ctx.resid, l11=work.l11, l_r1=work.l_r1, l_rr=work.l_rr,
                             logdet_re=2.0 * logdet)


def vector_structure(layouts: list[TermLayout], X: np.ndarray) -> VectorStructure:
    """The :class:`VectorStructure` of a model's terms (internal order) and the columns PIRLS solves for."""
    n, kmax = X.shape[0], max(t.k for t in layouts)
    zs = np.zeros((len(layouts), n, kmax))
    for i, t in enumerate(layouts):
        zs[i, :, : t.k] = t.z
    columns, values = rest_slots(layouts[1:]) if len(layouts) > 1 else (np.zeros((n, 0), np.int64), np.zeros((n, 0)))
    q = np.array([t.q for t in layouts], dtype=np.int64)
    return VectorStructure(codes=np.ascontiguousarray([t.codes for t in layouts], dtype=np.int64), zs=zs,
                           ks=np.array([t.k for t in layouts], dtype=np.int64),
                           n_levels=np.array([t.n_levels for t in layouts], dtype=np.int64),
                           u_offsets=np.concatenate([[0], np.cumsum(q)]).astype(np.int64),
                           X_t=np.ascontiguousarray(X.T, dtype=float),
                           z1=np.ascontiguousarray(layouts[0].z, dtype=float), columns=np.ascontiguousarray(columns),
                           values=np.ascontiguousarray(values),
                           xy=np.ascontiguousarray(np.column_stack([X, np.zeros(n)]), dtype=float))


class VectorPirls:
    """The compiled PIRLS of one model with vector-valued terms and a dense coupling, over its structure (built once).

    Parameters
    ----------
    layouts : list of TermLayout
        Random-effects terms in internal order.
    X : ndarray, shape (n, p)
        The columns PIRLS updates with the random effects (none in stage 2).
    code : int
        :func:`mixedfx.glmm.family_kernels.compiled_family`'s code.
    """

    description = "vector-valued terms"
    gradient = False

    def __init__(self, layouts: list[TermLayout], X: np.ndarray, code: int) -> None:
        if code == 0:
            raise ValueError("the compiled PIRLS needs a compiled family")
        self.code = code
        self.structure = vector_structure(layouts, X)
        self.layout = BlockLayout(ks=[t.k for t in layouts], n_levels=[int(t.n_levels) for t in layouts],
                                  p=X.shape[1])

    @property
    def threaded(self) -> bool:
        """Whether runs gain by going on in two threads (finite differences' points): where the model's BLAS runs
        on one thread (:func:`mixedfx.linalg.threads.blas_threads`), so that its Gram products and Cholesky
        factors do not use the cores already."""
        return blas_threads(self.layout.q_rest + self.layout.p + 1, self.layout.ks[0] * self.layout.n_levels[0]) == 1

    def means(self, eta: np.ndarray) -> np.ndarray:
        """The means at ``eta`` as a run computes them (R's clamps included)."""
        mu = np.empty(len(eta))
        means_into(self.code, np.ascontiguousarray(eta, dtype=float), mu)
        return mu

    def run(self, theta: np.ndarray, y: np.ndarray, weights: np.ndarray, base: np.ndarray, eta_start: np.ndarray,
            tol: float, max_iter: int, mu_start: np.ndarray | None = None, gradient: None = None,
            max_halvings: int = 10) -> VectorPirlsResult:
        """PIRLS at ``theta`` from ``eta_start``; ``base`` holds the offset (and X beta in stage 2).

        As :meth:`mixedfx.glmm.scalar_pirls.ScalarPirls.run`, without a gradient (``gradient`` must be None).
        """
        if gradient is not None:
            raise ValueError("the compiled PIRLS of vector-valued terms gives no gradient")
        mu_start = self.means(eta_start) if mu_start is None else mu_start
        return _pirls(PirlsResponse(family_code=self.code, y=y, weights=weights), self.structure,
                      PirlsSettings(tol=tol, max_iter=max_iter, max_halvings=max_halvings),
                      kernel_theta(theta), base, eta_start, mu_start)

    def blocked_factor(self, result: VectorPirlsResult) -> BlockedFactor:
        """A run's factor in :mod:`mixedfx.linalg.factor`'s form."""
        return BlockedFactor(l11=result.l11, l_rr=result.l_rr, layout=self.layout,
                             coupling=partial(as_is, result.l_r1))
