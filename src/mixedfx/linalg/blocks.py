"""Blocked Cholesky factorisation of the penalised cross-product matrix.

The matrix ``[Lambda'Z'  X'  y']' W [Z Lambda  X  y] + diag(I, 0, 0)`` is factored
in blocks. The first random-effects term (the one with the most levels) owns a
block-diagonal leading block: one ``k x k`` block per level, factored for all
levels at once. Everything after it (the other random-effects terms, then the
fixed effects, then the response) forms the "rest": its coupling with the first
block is stored sparse when that pays, and its Schur complement is dense.

All work that grows with the number of rows happens once, in
:func:`cross_products`; a factorisation for a new ``theta`` costs nothing that
grows with the number of rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache, partial

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from mixedfx.linalg.lazy import as_is, state_with_formed
from mixedfx.linalg.pivots import has_zero_pivot, pivot_floor
from mixedfx.linalg.row_products import cross_product

__all__ = [
    "TermLayout",
    "BlockLayout",
    "coupling_is_sparse",
    "CrossProducts",
    "BlockedFactor",
    "cross_products",
    "response_map",
    "with_response",
    "transform_dense",
    "factorize",
    "lambda_template",
    "templates",
    "term_effects",
    "random_part",
    "theta_lower_bounds",
    "one_dense_term",
    "small_scalar_terms",
    "scalar_row_scales",
]

# Coupling blocks denser than this, or this small, are kept dense.
_SPARSE_MAX_DENSITY = 0.25
_SPARSE_MIN_SIZE = 40_000
_EINSUM_PATH_MIN_LEVELS = 256
# Rest blocks up to this size are factored by compiled loops rather than LAPACK
_SMALL_REST = 64


@dataclass(frozen=True)
class TermLayout:
    """Position of one random-effects term (in internal order) in the Z columns.

    Attributes
    ----------
    codes : ndarray of int
        Level of each row.
    z : ndarray, shape (n, k)
        The term's per-row model matrix.
    n_levels : int
        Number of levels of its grouping factor.
    """

    codes: np.ndarray
    z: np.ndarray
    n_levels: int

    @property
    def k(self) -> int:
        """Columns of the term's model matrix."""
        return self.z.shape[1]

    @property
    def q(self) -> int:
        """Columns the term contributes to Z."""
        return self.n_levels * self.k

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """The term's sparse n x q block of Z (level-major columns)."""
        n, k = self.z.shape
        cols = (self.codes[:, None] * k + np.arange(k)[None, :]).ravel()
        rows = np.repeat(np.arange(n), k)
        return sp.csr_matrix((self.z.ravel(), (rows, cols)), shape=(n, self.q))


def lambda_template(theta_segment: np.ndarray, k: int) -> np.ndarray:
    """The lower-triangular k x k template filled column-major from theta."""
    template = np.zeros((k, k))
    cols, rows = _upper_indices(k)
    template[rows, cols] = theta_segment
    return template


@lru_cache(maxsize=32)
def _upper_indices(k: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.triu_indices(k)``, kept: templates are built at every evaluation."""
    return np.triu_indices(k)


def theta_lower_bounds(ks: list[int]) -> np.ndarray:
    """lme4's lower bounds: 0 for diagonal elements, -inf below the diagonal."""
    bounds = []
    for k in ks:
        cols, rows = _upper_indices(k)
        bounds.append(np.where(rows == cols, 0.0, -np.inf))
    return np.concatenate(bounds) if bounds else np.zeros(0)


@dataclass(frozen=True)
class BlockLayout:
    """Sizes of the blocks: columns and levels per term (internal order), columns of X."""

    ks: list[int]
    n_levels: list[int]
    p: int

    @property
    def q_rest(self) -> int:
        """Random-effects columns after the first term."""
        return sum(k * n for k, n in zip(self.ks[1:], self.n_levels[1:]))

    @property
    def order(self) -> int:
        """The order of the whole penalised system: every random effect, X's columns and the response."""
        return sum(k * n for k, n in zip(self.ks, self.n_levels)) + self.p + 1


@dataclass(frozen=True)
class CrossProducts:
    """The blocks of [Z X y]' W [Z X y] that a factorisation needs.

    Attributes
    ----------
    a11 : ndarray, shape (l1, k1, k1)
        Diagonal blocks of Z1' W Z1 (Z1: the first term).
    a_r1 : ndarray or scipy sparse matrix, shape (m, q1)
        [Z2 .. Zk X y]' W Z1.
    a_rr : ndarray, shape (m, m)
        [Z2 .. Zk X y]' W [Z2 .. Zk X y] (symmetric).
    layout : BlockLayout
        Sizes of the blocks.
    """

    a11: np.ndarray
    a_r1: np.ndarray | sp.spmatrix
    a_rr: np.ndarray
    layout: BlockLayout

    @cached_property
    def one_term_blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """a11, a_r1 and a_rr as C-ordered arrays (what :mod:`mixedfx.linalg.one_term` reads)."""
        return tuple(np.ascontiguousarray(a, dtype=float) for a in (self.a11, self.a_r1, self.a_rr))

    @cached_property
    def scalar_blocks(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """For scalar terms: each rest row's term (-1 for [X y]), a11's diagonal, a_r1 and a_rr, C-ordered."""
        terms = np.repeat(np.arange(1, len(self.layout.ks)), self.layout.n_levels[1:])
        row_term = np.concatenate([terms, np.full(self.layout.p + 1, -1)]).astype(np.int64)
        return (row_term, np.ascontiguousarray(self.a11[:, 0, 0]), np.ascontiguousarray(self.a_r1, dtype=float),
                np.ascontiguousarray(self.a_rr, dtype=float))

    @cached_property
    def compiled_criterion(self) -> Callable[[np.ndarray], tuple[int, float, float, float]] | None:
        """theta -> (status, log |L_Z|^2, log |R_X|^2, pwrss) in one compiled call, for the shapes that have one.

        A ``functools.partial`` over the blocks: it pickles with them.
        """
        if one_dense_term(self):
            from mixedfx.linalg.one_term import (  # noqa: PLC0415 - loads numba only when used
                class_criterion_parts,
                criterion_parts,
                level_classes,
            )

            a11, a_r1, a_rr = self.one_term_blocks
            classes = level_classes(a11, a_r1)
            if classes is not None:
                return partial(class_criterion_parts, *classes, a_rr)
            return partial(criterion_parts, a11, a_r1, a_rr)
        if small_scalar_terms(self):
            from mixedfx.linalg.one_term import scalar_criterion_parts  # noqa: PLC0415

            return partial(scalar_criterion_parts, *self.scalar_blocks)
        return None

    @cached_property
    def scalar_schur(self):
        """:class:`mixedfx.linalg.sparse_gram.ScalarSchur` of a sparse coupling block, prepared on first use."""
        from mixedfx.linalg.sparse_gram import ScalarSchur  # noqa: PLC0415 - loads numba only for such models

        return ScalarSchur(self.a_r1)


def cross_products(terms: list[TermLayout], X: np.ndarray, y: np.ndarray,
                   weights: np.ndarray | None = None) -> CrossProducts:
    """Form the cross-product blocks from the rows (the only pass over the data).

    Parameters
    ----------
    terms : list of TermLayout
        Random-effects terms in internal order (first: most levels).
    X : ndarray, shape (n, p)
        Fixed-effects matrix.
    y : ndarray, shape (n,)
        Response, offset already subtracted.
    weights : ndarray, shape (n,), optional
        Prior weights.

    Returns
    -------
    CrossProducts
    """
    from mixedfx.linalg.level_sums import level_products  # noqa: PLC0415 - loads numba only when used

    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    first = terms[0]
    wz1 = first.z if weights is None else first.z * w[:, None]
    xy = np.column_stack([X, y])
    a11, xy_z1 = level_products(first.codes, wz1, first.z, xy, first.n_levels)  # and [X y]' W Z1
    m = sum(t.q for t in terms[1:]) + xy.shape[1]
    if len(terms) > 1 and m * first.q < _SPARSE_MIN_SIZE:
        # small: the coupling is dense anyway, and level sums beat building sparse matrices
        slots = _rest_slots(terms[1:], xy)
        n_xy = xy.shape[1]  # [X y]' W Z1 came from the level pass: sum only the other terms' rows here
        a_r1 = np.vstack([_first_term_sums(slots[:-n_xy], m - n_xy, first, wz1), xy_z1])
        a_rr = _pair_sums(slots, [(cols, w * vals) for cols, vals in slots], m, m)
    else:
        xy_xy = cross_product(xy) if weights is None else cross_product(xy, xy * w[:, None])
        a_r1, a_rr = xy_z1, xy_xy
        if len(terms) > 1:
            zr = sp.hstack([t.matrix for t in terms[1:]], format="csr")
            wzr = sp.csr_matrix(zr.multiply(w[:, None]))
            zr_z1 = (wzr.T @ first.matrix).tocsr()
            a_rr = _rest_gram((zr.T @ wzr).tocoo(), wzr.T @ xy, xy_xy)
            a_r1 = _coupling_block(zr_z1, xy_z1)
    layout = BlockLayout(ks=[t.k for t in terms], n_levels=[t.n_levels for t in terms], p=X.shape[1])
    return CrossProducts(a11=a11, a_r1=a_r1, a_rr=a_rr, layout=layout)


def _rest_gram(zr_zr: sp.coo_matrix, zr_xy: np.ndarray, xy_xy: np.ndarray) -> np.ndarray:
    """[[Zr'WZr, Zr'W[X y]], [., [X y]'W[X y]]] as one dense array, scattering the sparse block's non-zeros."""
    qr = zr_zr.shape[0]
    out = np.zeros((qr + len(xy_xy),) * 2)
    out[zr_zr.row, zr_zr.col] = zr_zr.data
    out[:qr, qr:] = zr_xy
    out[qr:, :qr] = zr_xy.T
    out[qr:, qr:] = xy_xy
    return out


def _rest_slots(terms: list[TermLayout], xy: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each row's entries in the rest columns, one (column, value) pair of arrays per slot."""
    slots, start = [], 0
    for t in terms:
        slots += [(start + t.codes * t.k + a, t.z[:, a]) for a in range(t.k)]
        start += t.q
    slots += [(np.full(len(xy), start + j), xy[:, j]) for j in range(xy.shape[1])]
    return slots


def _first_term_sums(slots: list[tuple[np.ndarray, np.ndarray]], n_rows: int, first: TermLayout,
                     weighted_z: np.ndarray) -> np.ndarray:
    """The rows' slot entries summed against the first term's weighted columns: (n_rows, q1), level-major."""
    out = np.empty((n_rows, first.q))
    for r in range(first.k):
        out[:, r::first.k] = _pair_sums(slots, [(first.codes, weighted_z[:, r])], n_rows, first.n_levels)
    return out


def _pair_sums(rows: list[tuple[np.ndarray, np.ndarray]], cols: list[tuple[np.ndarray, np.ndarray]],
               n_rows: int, n_cols: int) -> np.ndarray:
    """sum over the data rows of the outer products of their row and column entries, as a dense array."""
    out = np.zeros(n_rows * n_cols)
    for row_index, row_value in rows:
        for col_index, col_value in cols:
            out += np.bincount(row_index * n_cols + col_index, weights=row_value * col_value,
                               minlength=n_rows * n_cols)
    return out.reshape(n_rows, n_cols)


def response_map(terms: list[TermLayout], X: np.ndarray, weights: np.ndarray | None = None) -> sp.csr_matrix:
    """[Z X]' W as a sparse matrix: its product with a response gives that response's cross-products.

    Parameters
    ----------
    terms : list of TermLayout
        Random-effects terms in internal order.
    X : ndarray, shape (n, p)
        Fixed-effects matrix.
    weights : ndarray, shape (n,), optional
        Prior weights.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (q + p, n)
        Rows in the order of the Z columns (term by term), then X's columns.
    """
    n = X.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    zx = sp.hstack([t.matrix for t in terms] + [sp.csr_matrix(X)], format="csr")
    return sp.csr_matrix(zx.multiply(w[:, None])).T.tocsr()


def with_response(cp: CrossProducts, products: np.ndarray, yy: float) -> CrossProducts:
    """The cross-product blocks for a new response, the Z and X blocks reused.

    Parameters
    ----------
    cp : CrossProducts
        Blocks of the model with its current response.
    products : ndarray, shape (q + p,)
        [Z X]' W y for the new response (``response_map(...) @ y``).
    yy : float
        y' W y.

    Returns
    -------
    CrossProducts
    """
    q1 = cp.layout.ks[0] * cp.layout.n_levels[0]
    first, rest = products[:q1], np.append(products[q1:], yy)
    if sp.issparse(cp.a_r1):
        a_r1 = sp.vstack([cp.a_r1[:-1], sp.csr_matrix(first)], format="csr")
    else:
        a_r1 = cp.a_r1.copy()
        a_r1[-1] = first
    a_rr = cp.a_rr.copy()
    a_rr[-1] = rest
    a_rr[:, -1] = rest
    return CrossProducts(a11=cp.a11, a_r1=a_r1, a_rr=a_rr, layout=cp.layout)


def transform_dense(cp: CrossProducts, T: np.ndarray) -> CrossProducts:
    """The cross-product blocks after replacing the columns [X y] by [X y] T.

    Parameters
    ----------
    cp : CrossProducts
        Blocks of the model.
    T : ndarray, shape (p + 1, m + 1)
        Maps the p fixed-effects columns and the response to m new fixed-effects
        columns and a new response (the last column).

    Returns
    -------
    CrossProducts
        With ``layout.p == m``.
    """
    qr = cp.layout.q_rest
    dense_rows = T.T @ cp.a_r1[qr:]
    if sp.issparse(cp.a_r1):
        a_r1 = sp.vstack([cp.a_r1[:qr], sp.csr_matrix(dense_rows)], format="csr")
    else:
        a_r1 = np.vstack([cp.a_r1[:qr], dense_rows])
    zd = cp.a_rr[:qr, qr:] @ T
    a_rr = np.block([[cp.a_rr[:qr, :qr], zd], [zd.T, T.T @ cp.a_rr[qr:, qr:] @ T]])
    layout = BlockLayout(ks=cp.layout.ks, n_levels=cp.layout.n_levels, p=T.shape[1] - 1)
    return CrossProducts(a11=cp.a11, a_r1=a_r1, a_rr=a_rr, layout=layout)


def coupling_is_sparse(size: int, nnz: int) -> bool:
    """Whether a coupling block of ``size`` elements, ``nnz`` of them non-zero, is stored sparse."""
    return size >= _SPARSE_MIN_SIZE and nnz <= _SPARSE_MAX_DENSITY * size


def _coupling_block(zr_z1: sp.csr_matrix, xy_z1: np.ndarray) -> np.ndarray | sp.csr_matrix:
    """Stack the random-effects and dense rows of the coupling block in the cheaper form."""
    size = (zr_z1.shape[0] + xy_z1.shape[0]) * zr_z1.shape[1]
    if coupling_is_sparse(size, zr_z1.nnz + xy_z1.size):
        return sp.vstack([zr_z1, sp.csr_matrix(xy_z1)], format="csr")
    return np.vstack([zr_z1.toarray(), xy_z1])


def _block_diagonal(blocks: np.ndarray) -> sp.bsr_matrix:
    """A sparse block-diagonal matrix from an (l, k, k) stack of blocks."""
    n_blocks, k, _ = blocks.shape
    return sp.bsr_matrix((blocks, np.arange(n_blocks), np.arange(n_blocks + 1)),
                         shape=(n_blocks * k, n_blocks * k))


@dataclass(frozen=True)
class BlockedFactor:
    """The Cholesky factor L for one theta, in blocks.

    ``L = [[L11, 0], [L_r1, L_rr]]`` where L11 is block diagonal (``l11``, one
    k1 x k1 block per level of the first term), L_r1 is the coupling block and
    L_rr is the dense lower factor of the rest, ordered as [other random-effects
    terms, fixed effects, response].

    L_r1 is formed on first use (``coupling`` makes it): the deviance needs only
    the diagonal of L.
    """

    l11: np.ndarray
    l_rr: np.ndarray
    layout: BlockLayout
    coupling: Callable[[], np.ndarray | sp.spmatrix] = field(repr=False, compare=False)

    @cached_property
    def l_r1(self) -> np.ndarray | sp.spmatrix:
        """The coupling block of L."""
        return self.coupling()

    def __getstate__(self) -> dict:
        return state_with_formed(self, "l_r1", "coupling")

    @property
    def q_rest(self) -> int:
        """Random-effects columns after the first term."""
        return self.layout.q_rest

    @property
    def p(self) -> int:
        """Columns of X."""
        return self.layout.p

    @property
    def logdet_re(self) -> float:
        """log |L_Z|^2: the random-effects part of the log-determinant."""
        diag11 = np.diagonal(self.l11, axis1=1, axis2=2)
        rest = np.diagonal(self.l_rr)[: self.q_rest]
        return 2.0 * (np.log(diag11).sum() + np.log(rest).sum())

    @property
    def logdet_x(self) -> float:
        """log |R_X|^2: the fixed-effects part of the log-determinant."""
        return 2.0 * np.log(np.diagonal(self.l_rr)[self.q_rest: self.q_rest + self.p]).sum()

    @property
    def pwrss(self) -> float:
        """Penalised weighted residual sum of squares (last diagonal element squared)."""
        return float(self.l_rr[-1, -1] ** 2)

    @property
    def r_x(self) -> np.ndarray:
        """The lower-triangular fixed-effects block of L (R_X transposed)."""
        s = slice(self.q_rest, self.q_rest + self.p)
        return self.l_rr[s, s]

    def rest_solution(self) -> np.ndarray:
        """The rest's random effects then the fixed effects: L_rr's last row solved against L_rr' (its leading block).

        Solved with the whole of L_rr and a zero in the response's slot, so LAPACK
        reads the C-ordered factor as its Fortran transpose without a copy.
        """
        rhs = self.l_rr[-1].copy()
        rhs[-1] = 0.0
        return sla.solve_triangular(self.l_rr.T, rhs, lower=False, check_finite=False)[:-1]

    def solve_coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """Fixed effects and spherical random effects at this theta.

        Returns
        -------
        beta : ndarray, shape (p,)
        u : ndarray, shape (q,)
            Spherical random effects, internal column order (term by term,
            level-major within a term).
        """
        v = self.rest_solution()
        u_rest, beta = v[: self.q_rest], v[self.q_rest:]
        c1 = _dense_row(self.l_r1, -1)
        rhs = c1 - np.asarray(self.l_r1[:-1].T @ v).ravel()
        u1 = _block_solve_transposed(self.l11, rhs)
        return beta, np.concatenate([u1, u_rest])

    def conditional_covariance_blocks(self) -> list[np.ndarray]:
        """Per-level k x k diagonal blocks of (L_Z L_Z')^-1, one stack per term.

        Returns
        -------
        list of ndarray
            One (levels, k, k) stack per term, internal order.
        """
        l11_inv = np.linalg.inv(self.l11)
        blocks1 = np.einsum("lji,ljk->lik", l11_inv, l11_inv)
        qr = self.q_rest
        if not qr:
            return [blocks1]
        lzz_inv = sla.solve_triangular(self.l_rr[:qr, :qr], np.eye(qr), lower=True, check_finite=False)
        g = lzz_inv @ _as_dense(self.l_r1[:qr] @ _block_diagonal(l11_inv))
        ks, n_levels_all = self.layout.ks, self.layout.n_levels
        g3 = g.reshape(qr, n_levels_all[0], ks[0])
        out = [blocks1 + np.einsum("rli,rlj->lij", g3, g3)]
        start = 0
        for k, n_levels in zip(ks[1:], n_levels_all[1:]):
            cols = lzz_inv[:, start: start + k * n_levels].reshape(qr, n_levels, k)
            out.append(np.einsum("rli,rlj->lij", cols, cols))
            start += k * n_levels
        return out


def factorize(cp: CrossProducts, theta: np.ndarray, out: np.ndarray | None = None) -> BlockedFactor:
    """Factor the penalised cross-product matrix for one theta.

    Parameters
    ----------
    cp : CrossProducts
        Blocks formed once from the data.
    theta : ndarray
        Covariance parameters, term by term in internal order, each term's
        lower-triangular template column-major.
    out : ndarray, shape (m, m), optional
        For scalar terms with a sparse coupling block, a C-ordered array to form
        and factor the rest block in (the factor's ``l_rr`` is then a view of it).

    Returns
    -------
    BlockedFactor

    Raises
    ------
    numpy.linalg.LinAlgError
        When the rest block is not positive definite (a rank-deficient X): a
        pivot at or below :func:`mixedfx.linalg.pivots.pivot_floor`.
    """
    layout = cp.layout
    if one_dense_term(cp):
        from mixedfx.linalg.one_term import factor_one_term  # noqa: PLC0415 - loads numba only when used

        status, l11, l_r1, l_rr = factor_one_term(*cp.one_term_blocks, np.ascontiguousarray(theta, dtype=float))
        if status:
            raise np.linalg.LinAlgError("the penalised cross-product matrix is not positive definite")
        return BlockedFactor(l11=l11, l_rr=l_rr, layout=layout, coupling=partial(as_is, l_r1))
    tmpls = templates(theta, layout.ks)
    t1 = tmpls[0]
    k1 = layout.ks[0]
    # einsum's contraction-path search pays off only for many levels
    many = cp.a11.shape[0] > _EINSUM_PATH_MIN_LEVELS
    scaled11 = np.einsum("rj,lrs,sk->ljk", t1, cp.a11, t1, optimize=many)
    scaled11 += np.eye(k1)
    l11 = _stacked_cholesky(scaled11)
    # right factor of the coupling: blockdiag(T1 L11_i^-T)
    right = np.einsum("ik,ljk->lij", t1, _stacked_lower_inverse(l11), optimize=many)
    qr = layout.q_rest
    if all(k == 1 for k in layout.ks):
        # scalar terms: Lambda is diagonal, so L_r1 L_r1' = R A_r1 diag(c^2) A_r1' R with R, c
        # diagonal; one weighted Gram product replaces the sparse Lambda products
        rows = scalar_row_scales(theta, layout)
        cols = right[:, 0, 0]
        coupling = partial(_scale_rows_cols, cp.a_r1, rows, cols)
        reference = rows**2 * np.diagonal(cp.a_rr)
        reference[:qr] += 1.0
        if sp.issparse(cp.a_r1):
            return BlockedFactor(l11=l11, l_rr=_factor_scalar_rest(cp, rows, cols**2, reference, out),
                                 layout=layout, coupling=coupling)
        rest = rows[:, None] * (cp.a_rr - (cp.a_r1 * cols[None, :] ** 2) @ cp.a_r1.T) * rows[None, :]
    else:
        left = _rest_lambda_transposed(tmpls[1:], layout.n_levels[1:], layout.p + 1)
        l_r1 = left @ cp.a_r1 @ _block_diagonal(right)
        rest = left @ (left @ cp.a_rr).T
        reference = np.diagonal(rest).copy()
        reference[:qr] += 1.0
        rest = rest - _as_dense(l_r1 @ l_r1.T)
        coupling = partial(as_is, l_r1)
    rest[np.arange(qr), np.arange(qr)] += 1.0
    try:
        l_rr = sla.cholesky(rest, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        l_rr = _cholesky_fitted_response(rest)
    _check_pivots(l_rr, reference, layout.order)
    return BlockedFactor(l11=l11, l_rr=l_rr, layout=layout, coupling=coupling)


def scalar_row_scales(theta: np.ndarray, layout: BlockLayout) -> np.ndarray:
    """For scalar terms, the diagonal of Lambda over the rest's rows, 1 on the rows of X and y."""
    return np.concatenate([np.repeat(theta[1:], layout.n_levels[1:]), np.ones(layout.p + 1)])


def small_scalar_terms(cp: CrossProducts) -> bool:
    """Whether every term is scalar, the coupling dense and the rest small.

    Such models evaluate their criterion by :func:`mixedfx.linalg.one_term.scalar_criterion_parts`.
    """
    return (all(k == 1 for k in cp.layout.ks) and not sp.issparse(cp.a_r1)
            and cp.a_rr.shape[0] <= _SMALL_REST)


def one_dense_term(cp: CrossProducts) -> bool:
    """Whether the model has one random-effects term and a dense coupling block (:mod:`mixedfx.linalg.one_term`'s case)."""
    return len(cp.layout.ks) == 1 and not sp.issparse(cp.a_r1)


def _factor_scalar_rest(cp: CrossProducts, rows: np.ndarray, col_weights: np.ndarray, reference: np.ndarray,
                        out: np.ndarray | None = None) -> np.ndarray:
    """L_rr for scalar terms with a sparse coupling block, formed and factored in place (in ``out`` when given).

    ``reference`` is the rest's diagonal before the Schur update (for the pivot floor).

    Raises
    ------
    numpy.linalg.LinAlgError
        When the rest block is not positive definite (the response's pivot aside).
    """
    from mixedfx.linalg.sparse_gram import lower_cholesky_in_place  # noqa: PLC0415

    schur, qr = cp.scalar_schur, cp.layout.q_rest
    factor = lower_cholesky_in_place(schur.lower(cp.a_rr, col_weights, rows, qr, out))
    if factor is None:
        # the failed factorisation overwrote the block: form it again for the fitted-response fallback
        rest = schur.lower(cp.a_rr, col_weights, rows, qr)
        rest = np.tril(rest) + np.tril(rest, -1).T
        factor = _cholesky_fitted_response(rest)
    _check_pivots(factor, reference, cp.layout.order)
    return factor


def _check_pivots(l_rr: np.ndarray, reference: np.ndarray, order: int) -> None:
    """Raise LinAlgError where a pivot of L_rr before the response's is at or below the pivot floor."""
    if has_zero_pivot(np.diagonal(l_rr)[:-1], reference[:-1], order):
        raise np.linalg.LinAlgError("the penalised cross-product matrix is numerically singular")


def templates(theta: np.ndarray, ks: list[int]) -> list[np.ndarray]:
    """Split theta into one lower-triangular template per term (k x k each)."""
    out, start = [], 0
    for k in ks:
        size = k * (k + 1) // 2
        out.append(lambda_template(theta[start: start + size], k))
        start += size
    return out


def term_effects(u: np.ndarray, tmpls: list[np.ndarray], n_levels: list[int]) -> list[np.ndarray]:
    """Random effects b = Lambda u, one (levels, k) array per term.

    Parameters
    ----------
    u : ndarray
        Spherical random effects, term by term, level-major within a term.
    tmpls : list of ndarray
        Each term's k x k template.
    n_levels : list of int
        Levels per term.

    Returns
    -------
    list of ndarray
    """
    out, start = [], 0
    for tmpl, n in zip(tmpls, n_levels):
        k = tmpl.shape[0]
        out.append(u[start: start + k * n].reshape(n, k) @ tmpl.T)
        start += k * n
    return out


def random_part(codes: list[np.ndarray], zs: list[np.ndarray], effects: list[np.ndarray]) -> np.ndarray:
    """Z b: each row's random-effects contribution; a code of -1 (unseen level) contributes 0.

    Parameters
    ----------
    codes : list of ndarray of int
        Each term's level per row.
    zs : list of ndarray, shape (n, k)
        Each term's model matrix.
    effects : list of ndarray, shape (levels, k)
        Each term's random effects.

    Returns
    -------
    ndarray, shape (n,)
    """
    total = np.zeros(len(codes[0])) if codes else np.zeros(0)
    for c, z, b in zip(codes, zs, effects):
        c = np.asarray(c)
        rows = np.where((c >= 0)[:, None], b[np.maximum(c, 0)], 0.0)
        total += np.einsum("ij,ij->i", np.asarray(z, dtype=float), rows)
    return total


def _rest_lambda_transposed(templates: list[np.ndarray], n_levels: list[int], n_dense: int) -> sp.csr_matrix:
    """Lambda' for the rest: the other terms' block-diagonal templates, identity for X and y."""
    blocks = [_block_diagonal(np.broadcast_to(t.T, (n, *t.shape)).copy()) for t, n in zip(templates, n_levels)]
    blocks.append(sp.identity(n_dense, format="csr"))
    return sp.block_diag(blocks, format="csr")


def _stacked_cholesky(a: np.ndarray) -> np.ndarray:
    """Lower Cholesky factors of a stack (l, k, k) of small SPD matrices.

    Loops over the k columns with vector operations across the l matrices: for
    the small k of random-effects terms this avoids numpy's per-matrix overhead.

    Raises
    ------
    numpy.linalg.LinAlgError
        When a matrix is not positive definite.
    """
    k = a.shape[1]
    lower = np.zeros_like(a)
    for j in range(k):
        pivot = a[:, j, j] - np.einsum("lr,lr->l", lower[:, j, :j], lower[:, j, :j])
        if not np.all(pivot > pivot_floor(a[:, j, j], k)):
            raise np.linalg.LinAlgError("a diagonal block is not positive definite")
        lower[:, j, j] = np.sqrt(pivot)
        for i in range(j + 1, k):
            lower[:, i, j] = (a[:, i, j] - np.einsum("lr,lr->l", lower[:, i, :j], lower[:, j, :j])) / lower[:, j, j]
    return lower


def _stacked_lower_inverse(lower: np.ndarray) -> np.ndarray:
    """Inverses of a stack (l, k, k) of lower-triangular matrices, by forward substitution across the stack."""
    k = lower.shape[1]
    inverse = np.zeros_like(lower)
    for j in range(k):
        inverse[:, j, j] = 1.0 / lower[:, j, j]
        for i in range(j + 1, k):
            inverse[:, i, j] = -np.einsum("lr,lr->l", lower[:, i, j:i], inverse[:, j:i, j]) / lower[:, i, i]
    return inverse


def _scale_rows_cols(a: np.ndarray | sp.spmatrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | sp.spmatrix:
    """diag(rows) a diag(cols), keeping a's form (dense or CSR)."""
    if sp.issparse(a):
        csr = a.tocsr(copy=True)
        csr.data *= rows[np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))] * cols[csr.indices]
        return csr
    return rows[:, None] * a * cols[None, :]


def _cholesky_fitted_response(rest: np.ndarray) -> np.ndarray:
    """Lower Cholesky factor whose last pivot (the response's) may be zero.

    A response the other columns fit exactly (complete separation in a binomial
    model drives PIRLS there) leaves a zero residual; everything else must be
    positive definite, or LinAlgError is raised.
    """
    l_rr = np.zeros_like(rest)
    l_rr[:-1, :-1] = sla.cholesky(rest[:-1, :-1], lower=True, check_finite=False)
    last = sla.solve_triangular(l_rr[:-1, :-1], rest[:-1, -1], lower=True, check_finite=False)
    l_rr[-1, :-1] = last
    l_rr[-1, -1] = np.sqrt(max(rest[-1, -1] - last @ last, 0.0))
    return l_rr


def _as_dense(a: np.ndarray | sp.spmatrix) -> np.ndarray:
    """A dense array from a dense or sparse matrix."""
    return a.toarray() if sp.issparse(a) else np.asarray(a)


def _dense_row(a: np.ndarray | sp.spmatrix, row: int) -> np.ndarray:
    """One row of a dense or sparse matrix as a dense vector."""
    return _as_dense(a[row]).ravel()


def _block_solve_transposed(l11: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve blockdiag(L11)' x = rhs for all levels at once: back substitution, each step over every level."""
    n_blocks, k, _ = l11.shape
    b = rhs.reshape(n_blocks, k)
    x = np.empty_like(b)
    for i in range(k - 1, -1, -1):
        x[:, i] = (b[:, i] - np.einsum("lj,lj->l", l11[:, i + 1:, i], x[:, i + 1:])) / l11[:, i, i]
    return x.reshape(-1)
