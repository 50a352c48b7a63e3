"""Compiled PIRLS for generalized models whose random-effects terms are all scalar.

Most generalized mixed models have only ``(1 | g)``-type terms. For them every
PIRLS iteration (working weights, the cross-products, the blocked Cholesky
factor, the solve and the new linear predictor) runs here as a few compiled
passes over the rows, with no Python between iterations. The passes sum over
the rows in row order, as the Python loop does, except the [X y] block's dot
products, which sum in SIMD lanes (results differ in the last bits).
The loop itself is :func:`mixedfx.glmm.pirls_loop.pirls_loop`'s, the one
both engines run (same convergence test, same step-halving, the factor at the
previous iteration's weights); this module gives it compiled steps.
:func:`mixedfx.glmm.pirls.pirls_engines` uses this module when
:func:`mixedfx.glmm.family_kernels.compiled_family` knows the family.

The kernels take typed bundles: the model's design and factor pattern
(:class:`mixedfx.glmm.pirls_structure.PirlsStructure`, built once per model), the
response (:class:`PirlsResponse`), the stopping rules (:class:`PirlsSettings`),
the iteration's arrays (:class:`PirlsWorkspace`) and, for the gradient,
:class:`GradientTerms`; a run returns a :class:`ScalarPirlsResult`.

Asked for the gradient, a run records each iteration (its start, working values,
factor and solution) and takes the Laplace deviance's gradient backwards through
them (:mod:`mixedfx.glmm.laplace_gradient`).

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import math
import threading
from typing import NamedTuple

import numba
import numpy as np
import scipy.sparse as sp
from numba.typed import List

from mixedfx.glmm.family_kernels import PirlsResponse, means_into, penalised_deviance, working_values
from mixedfx.glmm.laplace_gradient import (
    ITERATION_TYPE,
    GradientTerms,
    PirlsIteration,
    laplace_gradient,
)
from mixedfx.glmm.pirls_loop import PirlsSettings, pirls_loop
from mixedfx.glmm.pirls_status import NOT_FINITE, OK
from mixedfx.glmm.pirls_structure import FactorValues, PirlsStructure, pirls_structure
from mixedfx.linalg.cholesky import cholesky_in_place, pattern_cholesky_in_place
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.layout import BlockLayout, TermLayout, kernel_theta
from mixedfx.linalg.sparse_gram import add_column_products

__all__ = ["GradientTerms", "PirlsResponse", "PirlsSettings", "PirlsWorkspace", "ScalarPirls", "ScalarPirlsResult"]


class PirlsWorkspace(NamedTuple):
    """The arrays every iteration of a run overwrites (n rows, p columns of X, ``l_0`` first-term levels).

    Attributes
    ----------
    a11 : ndarray, shape (l_0,)
        A11's diagonal, then the factor's first block in place.
    coupling : ndarray, shape (nnz,)
        The coupling block's cross-products, then its factor, on the structure's coupling pattern.
    rest : ndarray, shape (m, m)
        The rest block's lower triangle, then its factor: only the factor's pattern is written
        (all of it where the structure is dense).
    w : ndarray, shape (n,)
        Working weights.
    xy : ndarray, shape (p + 1, n)
        X transposed, then the working response.
    weighted : ndarray, shape (p + 1, n)
        ``xy`` times the working weights.
    """

    a11: np.ndarray
    coupling: np.ndarray
    rest: np.ndarray
    w: np.ndarray
    xy: np.ndarray
    weighted: np.ndarray


class ScalarPirlsResult(NamedTuple):
    """What one compiled PIRLS run ends with (see :meth:`ScalarPirls.run`), as the kernel builds it.

    ``factor`` holds the factor at the last iteration's start, ``logdet_re`` its
    log |L_Z|^2; ``gradient`` is empty unless the run was asked for it.
    """

    status: int
    iterations: int
    eta: np.ndarray
    mu: np.ndarray
    u: np.ndarray
    beta: np.ndarray
    dev_resids: np.ndarray
    factor: FactorValues
    logdet_re: float
    gradient: np.ndarray

    @property
    def dev(self) -> float:
        """Sum of the deviance residuals (what the Laplace deviance reads, as of a :class:`PirlsResult`)."""
        return float(self.dev_resids.sum())


@numba.njit(cache=True, error_model="numpy")
def _linear_predictor(structure, theta, base, b, u, eta):
    """eta = base + X b + Z Lambda u, in place, one column at a time (each pass vectorises)."""
    X_t, codes, zs, u_offsets = structure.X_t, structure.codes, structure.zs, structure.u_offsets
    for r in range(eta.shape[0]):
        eta[r] = base[r]
    for j in range(X_t.shape[0]):
        x, bj = X_t[j], b[j]
        for r in range(eta.shape[0]):
            eta[r] += x[r] * bj
    for t in range(codes.shape[0]):
        level, z, th, ut = codes[t], zs[t], theta[t], u[u_offsets[t]:u_offsets[t + 1]]
        for r in range(eta.shape[0]):
            eta[r] += z[r] * th * ut[level[r]]


@numba.njit(cache=True, error_model="numpy")
def _update(response, structure, theta, base, b, u, eta, mu, resid):
    """The linear predictor, means and deviance residuals at (b, u) in place; returns the penalised deviance."""
    _linear_predictor(structure, theta, base, b, u, eta)
    means_into(response.family_code, eta, mu)
    return penalised_deviance(response, u, mu, resid)


@numba.njit(cache=True, error_model="numpy", fastmath={"reassoc", "contract"})
def _dot(a, b):
    """Dot product, summed in whatever order vectorises (partial sums in SIMD lanes; NaN and inf kept)."""
    total = 0.0
    for r in range(a.shape[0]):
        total += a[r] * b[r]
    return total


@numba.njit(cache=True, error_model="numpy")
def _accumulate(structure, work):
    """The cross-products that meet a random-effects entry: A11's diagonal, the coupling, the rest's pairs.

    ``work.xy`` holds [X y] transposed; ``work.weighted`` gets it times the weights, for
    the [X y] block's products in :func:`_factor`. Every entry sums its rows in row order.
    """
    codes, zs, rest_offsets, pos, dense_pos = (structure.codes, structure.zs, structure.rest_offsets, structure.pos,
                                               structure.dense_pos)
    a11, coupling, rest, w, xy, weighted = work
    n_terms, n = codes.shape
    p = xy.shape[0] - 1
    q_rest = rest.shape[0] - p - 1
    first, z_first = codes[0], zs[0]
    for r in range(n):
        wr = w[r]
        level = first[r]
        wz0 = wr * z_first[r]
        a11[level] += wz0 * z_first[r]
        start = dense_pos[level]
        for j in range(p + 1):
            v = xy[j, r]
            coupling[start + j] += wz0 * v
            weighted[j, r] = wr * v
        for t in range(1, n_terms):
            z = zs[t, r]
            col = rest_offsets[t] + codes[t, r]
            coupling[pos[t - 1, r]] += wz0 * z
            wz = wr * z
            for s in range(1, t):
                rest[col, rest_offsets[s] + codes[s, r]] += wz * zs[s, r]
            rest[col, col] += wz * z
            for j in range(p + 1):
                rest[q_rest + j, col] += weighted[j, r] * z


@numba.njit(cache=True, error_model="numpy")
def _factor(response, structure, theta, base, eta, mu, work):
    """Working weights and response at eta (whose means are mu), the cross-products, and the blocked factor in place.

    All into ``work``, whose ``xy`` holds X transposed in its first p rows and gets
    the working response in its last.

    Returns 0, or the status that stops PIRLS.
    """
    col_ptr, row_idx, row_scale_term = structure.col_ptr, structure.row_idx, structure.row_scale_term
    chol_col_ptr, chol_col_idx = structure.chol_col_ptr, structure.chol_col_idx
    light, heavy, dense = structure.light, structure.heavy, structure.dense
    a11, coupling, rest, w, xy, weighted = work
    p = xy.shape[0] - 1
    m = rest.shape[0]
    q_rest = m - p - 1
    if not working_values(response, eta, mu, base, w, xy[p]):
        return NOT_FINITE
    a11[:] = 0.0
    coupling[:] = 0.0
    if dense:  # a full lower triangle: row by row, in memory order
        for i in range(m):
            rest[i, : i + 1] = 0.0
    else:  # only the factor's pattern is ever written
        for j in range(m):
            rest[j, j] = 0.0
            for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
                rest[chol_col_idx[ii], j] = 0.0
    _accumulate(structure, work)
    # the [X y] block's lower triangle, a dot product per entry: less than BLAS's time for the
    # whole square, and no BLAS threads to compete with runs in threads
    for i in range(p + 1):
        for j in range(i + 1):
            rest[q_rest + i, q_rest + j] += _dot(weighted[i], xy[j])
    # L11, L_r1 = R A_r1 diag(theta1 / L11), rest = R A_rr R - L_r1 L_r1' + I
    scale = np.ones(m)  # R's diagonal
    for i in range(q_rest):
        scale[i] = theta[row_scale_term[i]]
    th0 = theta[0]
    for level in range(a11.shape[0]):
        d = math.sqrt(th0 * th0 * a11[level] + 1.0)
        a11[level] = d
        c = th0 / d
        for idx in range(col_ptr[level], col_ptr[level + 1]):
            coupling[idx] *= scale[row_idx[idx]] * c
    if dense:
        for i in range(m):
            for j in range(min(i + 1, q_rest)):
                rest[i, j] *= scale[i] * scale[j]
    else:
        for j in range(q_rest):
            rest[j, j] *= scale[j] * scale[j]
            for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
                i = chol_col_idx[ii]
                rest[i, j] *= scale[j] * scale[i]
    # each column's diagonal before the Schur update, for the pivot floor
    reference = np.empty(m)
    for i in range(m):
        reference[i] = rest[i, i] + (1.0 if i < q_rest else 0.0)
    order = a11.shape[0] + m
    add_column_products(col_ptr, row_idx, coupling, light, np.full(a11.shape[0], -1.0), rest)
    if heavy.shape[0]:
        # levels meeting many rows: one BLAS product instead of their pair loops
        block = np.zeros((m, heavy.shape[0]))
        for h in range(heavy.shape[0]):
            for idx in range(col_ptr[heavy[h]], col_ptr[heavy[h] + 1]):
                block[row_idx[idx], h] = coupling[idx]
        gram = np.dot(block, block.T)
        for i in range(m):
            for j in range(i + 1):
                rest[i, j] -= gram[i, j]
    for i in range(q_rest):
        rest[i, i] += 1.0
    if dense:
        return cholesky_in_place(rest, reference, order, True)[0]
    # only the factor's pattern: nested terms cost what their few non-zeros cost
    return pattern_cholesky_in_place(rest, reference, order, structure.chol_row_ptr, structure.chol_row_idx,
                                     chol_col_ptr, chol_col_idx)[0]


@numba.njit(cache=True, error_model="numpy")
def _solve(structure, work, u, b):
    """Fixed effects (b) and spherical random effects (u) from the factor in ``work``."""
    col_ptr, row_idx, chol_col_ptr, chol_col_idx = (structure.col_ptr, structure.row_idx, structure.chol_col_ptr,
                                                    structure.chol_col_idx)
    a11, coupling, rest = work.a11, work.coupling, work.rest
    m = rest.shape[0]
    p = b.shape[0]
    q_rest = m - p - 1
    l0 = a11.shape[0]
    v = np.empty(m - 1)
    for j in range(m - 2, -1, -1):
        s = rest[m - 1, j]
        for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
            i = chol_col_idx[ii]
            if i < m - 1:
                s -= rest[i, j] * v[i]
        v[j] = s / rest[j, j]
    for i in range(q_rest):
        u[l0 + i] = v[i]
    for j in range(p):
        b[j] = v[q_rest + j]
    for level in range(l0):
        hi = col_ptr[level + 1] - 1  # the response's entry comes last in each column
        s = coupling[hi]
        for idx in range(col_ptr[level], hi):
            s -= coupling[idx] * v[row_idx[idx]]
        u[level] = s / a11[level]


@numba.njit(cache=True, error_model="numpy")
def _result(status, iterations, structure, work, eta, mu, u, b, resid, gradient):
    """What a run returns: its state, the factor in ``work``, log |L_Z|^2 and the gradient (if asked for)."""
    l11, rest = work.a11, work.rest
    logdet = 0.0
    for level in range(l11.shape[0]):
        logdet += math.log(l11[level])
    for j in range(rest.shape[0] - b.shape[0] - 1):
        logdet += math.log(rest[j, j])
    factor = FactorValues(l11=l11, coupling=work.coupling, pattern_values=_pattern_values(structure, rest))
    return ScalarPirlsResult(status=status, iterations=iterations, eta=eta, mu=mu, u=u, beta=b, dev_resids=resid,
                             factor=factor, logdet_re=2.0 * logdet, gradient=gradient)


@numba.njit(cache=True, error_model="numpy")
def _pattern_values(structure, rest):
    """The factor's diagonal, then its pattern below the diagonal column by column (the workspace is reused)."""
    chol_col_ptr, chol_col_idx = structure.chol_col_ptr, structure.chol_col_idx
    m = rest.shape[0]
    out = np.empty(m + chol_col_idx.shape[0])
    for j in range(m):
        out[j] = rest[j, j]
        for ii in range(chol_col_ptr[j], chol_col_ptr[j + 1]):
            out[m + ii] = rest[chol_col_idx[ii], j]
    return out


class PirlsContext(NamedTuple):
    """A compiled run's state beyond (u, beta), shared by its steps in :func:`mixedfx.glmm.pirls_loop.pirls_loop`.

    Attributes
    ----------
    response : PirlsResponse
    structure : PirlsStructure
    theta, base : ndarray
        The run's parameters, and the linear predictor's part held fixed.
    eta, mu, resid : ndarray, shape (n,)
        Linear predictor, means and deviance residuals, updated in place.
    work : PirlsWorkspace
        The factor at the last iteration's start.
    iterations : numba.typed.List of PirlsIteration
        The iterations recorded for the gradient.
    """

    response: PirlsResponse
    structure: PirlsStructure
    theta: np.ndarray
    base: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    resid: np.ndarray
    work: PirlsWorkspace
    iterations: List


@numba.njit(cache=True, error_model="numpy")
def _solve_step(ctx, u, b):
    """The factor at the working weights of ``ctx.eta``, and (u, b) solved from it; ``OK`` or the stopping status."""
    status = _factor(ctx.response, ctx.structure, ctx.theta, ctx.base, ctx.eta, ctx.mu, ctx.work)
    if status == OK:
        _solve(ctx.structure, ctx.work, u, b)
    return status


@numba.njit(cache=True, error_model="numpy")
def _update_step(ctx, u, b):
    """The linear predictor, means and residuals at (u, b) in ``ctx``; the penalised deviance."""
    return _update(ctx.response, ctx.structure, ctx.theta, ctx.base, b, u, ctx.eta, ctx.mu, ctx.resid)


@numba.njit(cache=True, error_model="numpy")
def _record_step(ctx, u):
    """Keep the iteration's start, working values, factor and solution for the gradient."""
    work = ctx.work
    ctx.iterations.append(PirlsIteration(
        eta=ctx.eta.copy(), mu=ctx.mu.copy(), w=work.w.copy(), wy=work.xy[-1].copy(),
        factor=FactorValues(l11=work.a11.copy(), coupling=work.coupling.copy(),
                            pattern_values=_pattern_values(ctx.structure, work.rest)),
        u=u.copy()))


_iterations = numba.njit(cache=True, error_model="numpy")(pirls_loop(_solve_step, _update_step, _record_step))


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _pirls(response, structure, settings, theta, base, eta_start, mu_start, rest, with_gradient, terms):
    """PIRLS from eta_start (means mu_start), in ``rest`` as its rest block; ``with_gradient``, also the gradient.

    The gradient of the Laplace deviance (see :mod:`mixedfx.glmm.laplace_gradient`) is
    over theta then the coefficients of ``terms.tangent_t``'s rows (stage 2's X
    transposed, whose product with beta is in ``base``); it is NaN where
    step-halving broke the iterations' smooth path, and empty without ``with_gradient``.
    """
    X_t, u_offsets = structure.X_t, structure.u_offsets
    p, n = X_t.shape[0], response.y.shape[0]
    work = PirlsWorkspace(a11=np.empty(u_offsets[1]), coupling=np.empty(structure.row_idx.shape[0]), rest=rest,
                          w=np.empty(n), xy=np.empty((p + 1, n)), weighted=np.empty((p + 1, n)))
    for j in range(p):  # by loops: an array assigned to a slice costs seconds of compiling
        for r in range(n):
            work.xy[j, r] = X_t[j, r]
    ctx = PirlsContext(response=response, structure=structure, theta=theta, base=base, eta=eta_start.copy(),
                       mu=mu_start.copy(), resid=np.empty(n), work=work,
                       iterations=List.empty_list(ITERATION_TYPE))
    u = np.zeros(u_offsets[-1])
    b = np.zeros(p)
    status, iterations, smooth = _iterations(ctx, u, b, settings.tol, settings.max_iter, settings.max_halvings,
                                             with_gradient)
    gradient = np.zeros(structure.codes.shape[0] + terms.tangent_t.shape[0] if with_gradient else 0)
    if not smooth:
        gradient[:] = np.nan
    elif status == OK and with_gradient:
        laplace_gradient(response, terms, structure, theta, base, ctx.iterations, ctx.eta, ctx.mu, gradient)
    return _result(status, iterations, structure, work, ctx.eta, ctx.mu, u, b, ctx.resid, gradient)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _pirls_from_fields(response, structure, settings, theta, base, eta_start, mu_start, rest, with_gradient, terms):
    """:func:`_pirls`, its bundles given and its result returned as plain tuples of their fields (as
    :meth:`ScalarPirls.run` calls it).

    At every call numba's dispatcher spells out a NamedTuple argument's class and field
    names (some microseconds for these bundles, a sixth of a small model's run), and
    returning one unpickles its classes; a plain tuple costs what its arrays cost. The
    bundles are rebuilt here, where that is free.
    """
    out = _pirls(PirlsResponse(*response), PirlsStructure(*structure), PirlsSettings(*settings), theta, base,
                 eta_start, mu_start, rest, with_gradient, GradientTerms(*terms))
    factor = out.factor
    return (out.status, out.iterations, out.eta, out.mu, out.u, out.beta, out.dev_resids,
            (factor.l11, factor.coupling, factor.pattern_values), out.logdet_re, out.gradient)


@numba.njit(cache=True, error_model="numpy", nogil=True)
def _gradients_from_fields(response, structure, settings, thetas, bases, eta_start, mu_start, rest, terms):
    """The Laplace deviance's gradient by :func:`_pirls` at each row's theta and base (NaN where PIRLS failed),
    its bundles given as plain tuples (see :func:`_pirls_from_fields`): a Hessian's columns in one call."""
    response, structure, settings, terms = (PirlsResponse(*response), PirlsStructure(*structure),
                                            PirlsSettings(*settings), GradientTerms(*terms))
    out = np.empty((thetas.shape[0], thetas.shape[1] + terms.tangent_t.shape[0]))
    for i in range(thetas.shape[0]):
        run = _pirls(response, structure, settings, thetas[i].copy(), bases[i].copy(), eta_start, mu_start, rest,
                     True, terms)
        for j in range(out.shape[1]):
            out[i, j] = np.nan if run.status != OK else run.gradient[j]
    return out


class ScalarPirls:
    """The compiled PIRLS of one scalar-term model, over its structure (built once).

    Parameters
    ----------
    layouts : list of TermLayout
        Random-effects terms in internal order, each with one column.
    X : ndarray, shape (n, p)
        The columns PIRLS updates with the random effects (none in stage 2).
    code : int
        :func:`mixedfx.glmm.family_kernels.compiled_family`'s code.
    """

    gradient = True

    def __init__(self, layouts: list[TermLayout], X: np.ndarray, code: int) -> None:
        if any(t.k != 1 for t in layouts) or code == 0:
            raise ValueError("the compiled PIRLS needs scalar terms and a compiled family")
        self.code = code
        self.structure = pirls_structure(layouts, X)
        self._structure_fields = tuple(self.structure)  # what each run passes (see _pirls_from_fields)
        self.layout = BlockLayout(ks=[1] * len(layouts), n_levels=[int(t.n_levels) for t in layouts],
                                  p=self.structure.X_t.shape[0])
        # a run without the gradient still passes arrays of the gradient's types
        self._no_gradient = GradientTerms(np.zeros((1, 0)), np.zeros(0), np.zeros(0))
        # the rest block's storage, reused by every run of a thread: entries outside the pattern stay 0
        self._local = threading.local()

    @property
    def m(self) -> int:
        """The rest block's order: the random effects after the first term's, X's columns and the response."""
        return self.structure.m

    @property
    def dense(self) -> bool:
        """Whether the rest block is stored full."""
        return self.structure.dense

    @property
    def description(self) -> str:
        """How the rest block is stored, for the engine's name."""
        return f"{'dense' if self.dense else 'sparse'} rest"

    @property
    def threaded(self) -> bool:
        """Whether runs gain by going on in two threads: where LAPACK does not factor the rest (a sparse one)."""
        return not self.dense

    @property
    def heavy(self) -> np.ndarray:
        """First-term levels whose products with the rest are one BLAS product."""
        return self.structure.heavy

    @property
    def light(self) -> np.ndarray:
        """First-term levels whose products with the rest are taken pair by pair."""
        return self.structure.light

    def means(self, eta: np.ndarray) -> np.ndarray:
        """The means at ``eta`` as a run computes them (R's clamps included)."""
        mu = np.empty(len(eta))
        means_into(self.code, np.ascontiguousarray(eta, dtype=float), mu)
        return mu

    def run(self, theta: np.ndarray, y: np.ndarray, weights: np.ndarray, base: np.ndarray, eta_start: np.ndarray,
            tol: float, max_iter: int, mu_start: np.ndarray | None = None,
            gradient: GradientTerms | None = None, max_halvings: int = 10) -> ScalarPirlsResult:
        """PIRLS at ``theta`` from ``eta_start``; ``base`` holds the offset (and X beta in stage 2).

        ``mu_start``, :meth:`means` at ``eta_start``, saves a pass over the rows where
        many runs share their start (every evaluation of an objective). With
        ``gradient`` the run also returns the gradient of its Laplace deviance
        (:mod:`mixedfx.glmm.laplace_gradient`); NaN where step-halving was needed.
        """
        mu_start = self.means(eta_start) if mu_start is None else mu_start
        out = _pirls_from_fields((self.code, y, weights), self._structure_fields, (tol, max_iter, max_halvings),
                                 kernel_theta(theta), base, eta_start, mu_start,
                                 self._workspace(), gradient is not None, tuple(gradient or self._no_gradient))
        return ScalarPirlsResult(*out[:7], FactorValues(*out[7]), *out[8:])

    def gradients(self, thetas: np.ndarray, y: np.ndarray, weights: np.ndarray, bases: np.ndarray,
                  eta_start: np.ndarray, tol: float, max_iter: int, mu_start: np.ndarray, gradient: GradientTerms,
                  max_halvings: int = 10) -> np.ndarray:
        """The gradients of :meth:`run` (with ``gradient``) at each row of ``thetas`` and ``bases``, in one
        compiled call: NaN rows where PIRLS failed or halved a step.

        The points of a Hessian's forward differences: a run through Python for each
        costs as much again as the run on a small model.
        """
        return _gradients_from_fields((self.code, y, weights), self._structure_fields, (tol, max_iter, max_halvings),
                                      np.ascontiguousarray(thetas, dtype=float), np.ascontiguousarray(bases, dtype=float),
                                      eta_start, mu_start, self._workspace(), tuple(gradient))

    def _workspace(self) -> np.ndarray:
        """This thread's rest-block storage (runs may go on in several threads at once)."""
        rest = getattr(self._local, "rest", None)
        if rest is None:
            rest = self._local.rest = np.zeros((self.m, self.m))
        return rest

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_local"]  # thread-local storage is not picklable; a copy makes its own
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._local = threading.local()

    def blocked_factor(self, result: ScalarPirlsResult) -> BlockedFactor:
        """A run's factor in :mod:`mixedfx.linalg.blocks`'s form."""
        structure, factor, m = self.structure, result.factor, self.m
        l0 = len(factor.l11)

        def coupling() -> sp.csr_matrix:
            return sp.csc_matrix((factor.coupling, structure.row_idx, structure.col_ptr), shape=(m, l0)).tocsr()
        l_rr = np.zeros((m, m))
        l_rr[np.arange(m), np.arange(m)] = factor.pattern_values[:m]
        columns = np.repeat(np.arange(m), np.diff(structure.chol_col_ptr))
        l_rr[structure.chol_col_idx, columns] = factor.pattern_values[m:]
        return BlockedFactor(l11=factor.l11.reshape(-1, 1, 1), l_rr=l_rr, layout=self.layout, coupling=coupling)
