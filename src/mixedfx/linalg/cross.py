"""The one pass over the rows: the blocks of [Z X y]' W [Z X y] that every factorisation reads.

The first random-effects term (the one with the most levels) owns a
block-diagonal leading block: one ``k x k`` block per level (``a11``).
Everything after it (the other terms, then the fixed effects, then the
response) forms the "rest": its coupling with the first term (``a_r1``) is
stored sparse when that pays, and its own block (``a_rr``) is dense. After
:func:`cross_products` nothing grows with the number of rows: a new response
(:func:`with_response`) or a fixed effect moved into the offset
(:func:`transform_dense`) transforms the blocks instead of reading the rows again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from mixedfx.linalg.factor import is_sparse
from mixedfx.linalg.layout import BlockLayout, TermLayout
from mixedfx.linalg.row_products import cross_product

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["CrossProducts", "cross_products", "by_slots", "rest_slots", "response_map", "with_response",
           "transform_dense", "scale_columns", "add_cross_products", "coupling_is_sparse", "settle_coupling"]

# Coupling blocks denser than this, or this small, are kept dense.
_SPARSE_MAX_DENSITY = 0.25
_SPARSE_MIN_SIZE = 40_000
# A response map of at most this many numbers is kept dense
_DENSE_MAP_MAX = 50_000


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

    @property
    def xy_gram(self) -> np.ndarray:
        """[X y]' W [X y], shape (p + 1, p + 1): the last rows and columns of ``a_rr`` (a view)."""
        start = self.layout.q_rest
        return self.a_rr[start:, start:]

    @property
    def sparse_coupling(self) -> bool:
        """Whether the coupling block is stored sparse (crossed or nested terms with many levels)."""
        return is_sparse(self.a_r1)

    def times(self, w: np.ndarray) -> np.ndarray:
        """``[Z X]' W [Z X] w``: the blocks' product with columns over the random and fixed effects.

        Parameters
        ----------
        w : ndarray, shape (q + p,) or (q + p, c)
            Internal order: the first term level-major, the rest's terms, X's columns.

        Returns
        -------
        ndarray
            Shaped as ``w``.

        Examples
        --------
        >>> from mixedfx.linalg.layout import TermLayout
        >>> term = TermLayout(codes=np.array([0, 0, 1]), z=np.ones((3, 1)), n_levels=2)
        >>> cross_products([term], np.ones((3, 1)), np.zeros(3)).times(np.array([1.0, 0.0, 1.0])).tolist()
        [4.0, 1.0, 5.0]
        """
        k1, n1 = self.layout.ks[0], self.layout.n_levels[0]
        q1, m = k1 * n1, self.a_rr.shape[0] - 1
        w = np.asarray(w, dtype=float)
        columns = w.reshape(len(w), -1)
        first, rest = columns[:q1], columns[q1:]
        coupling = self.a_r1[:m]
        top = (np.einsum("lab,lbc->lac", self.a11, first.reshape(n1, k1, -1)).reshape(q1, -1)
               + np.asarray(coupling.T @ rest))
        bottom = np.asarray(coupling @ first) + self.a_rr[:m, :m] @ rest
        return np.vstack([top, bottom]).reshape(w.shape)

    def response_products(self) -> np.ndarray:
        """``[Z X]' W y``, shape (q + p,), in :meth:`times`' order."""
        a_r1 = self.a_r1
        last = a_r1[-1].toarray().ravel() if is_sparse(a_r1) else np.asarray(a_r1[-1], dtype=float)
        return np.concatenate([last, self.a_rr[:-1, -1]])


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
    from mixedfx.linalg.level_sums import dense_blocks, level_products  # noqa: PLC0415 - numba loads when used

    first = terms[0]
    codes, z1 = np.asarray(first.codes, dtype=np.int64), np.ascontiguousarray(first.z, dtype=float)
    w = None if weights is None else np.ascontiguousarray(weights, dtype=float)
    wz1 = z1 if w is None else z1 * w[:, None]
    p = X.shape[1]
    xy = np.empty((len(y), p + 1))  # [X y], filled in place: np.column_stack costs more on small frames
    xy[:, :p] = X
    xy[:, p] = y
    if by_slots(terms, p):
        # small: the coupling is dense anyway, and level sums beat building sparse matrices
        if w is None:
            w = np.ones(len(y))
        columns, values = rest_slots(terms[1:])
        a11, a_r1, a_rr = dense_blocks(codes, z1, wz1, columns, values, xy, w, sum(t.q for t in terms[1:]),
                                       int(first.n_levels))
    else:
        a11, xy_z1 = level_products(codes, wz1, z1, xy, int(first.n_levels))  # and [X y]' W Z1
        xy_xy = cross_product(xy) if w is None else cross_product(xy, xy * w[:, None])
        a_r1, a_rr = xy_z1, xy_xy
        if len(terms) > 1:
            import scipy.sparse as sp  # noqa: PLC0415 - a one-term model's fit does not load scipy.sparse

            zr = sp.hstack([t.matrix for t in terms[1:]], format="csr")
            wzr = zr if w is None else sp.csr_matrix(zr.multiply(w[:, None]))
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


def by_slots(terms: list[TermLayout], p: int) -> bool:
    """Whether :func:`cross_products` forms the rest by slots (:func:`rest_slots`): several terms whose coupling with
    the first is small enough to be dense.

    Parameters
    ----------
    terms : list of TermLayout
        Random-effects terms in internal order.
    p : int
        Columns of X.
    """
    m = sum(t.q for t in terms[1:]) + p + 1
    return len(terms) > 1 and m * terms[0].q < _SPARSE_MIN_SIZE


def rest_slots(terms: list[TermLayout]) -> tuple[np.ndarray, np.ndarray]:
    """Each row's column in the rest and its value there, one column of the two (n, slots) arrays per slot.

    Parameters
    ----------
    terms : list of TermLayout
        The terms after the first (internal order).

    Returns
    -------
    columns : ndarray of int, shape (n, s)
        Increasing along each row.
    values : ndarray, shape (n, s)
    """
    n, slots = len(terms[0].codes), sum(t.k for t in terms)
    columns, values = np.empty((n, slots), dtype=np.int64), np.empty((n, slots))
    slot, start = 0, 0
    for t in terms:
        for a in range(t.k):
            np.add(t.codes * t.k, start + a, out=columns[:, slot])
            values[:, slot] = t.z[:, a]
            slot += 1
        start += t.q
    return columns, values


def response_map(terms: list[TermLayout], X: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray | sp.csr_matrix:
    """[Z X]' W: its product with a response gives that response's cross-products.

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
    ndarray or scipy.sparse.csr_matrix, shape (q + p, n)
        Rows in the order of the Z columns (term by term), then X's columns; dense
        where it holds at most ``_DENSE_MAP_MAX`` numbers (a small model's refit:
        numpy's product costs a fraction of scipy's call), sparse otherwise.
    """
    import scipy.sparse as sp  # noqa: PLC0415 - a one-term model's fit does not load scipy.sparse

    n = X.shape[0]
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    zx = sp.hstack([t.matrix for t in terms] + [sp.csr_matrix(X)], format="csr")
    mapped = sp.csr_matrix(zx.multiply(w[:, None])).T.tocsr()
    return mapped.toarray() if mapped.shape[0] * mapped.shape[1] <= _DENSE_MAP_MAX else mapped


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
    q1 = cp.a11.shape[0] * cp.a11.shape[1]
    first, rest = products[:q1], products[q1:]
    if is_sparse(cp.a_r1):
        import scipy.sparse as sp  # noqa: PLC0415 - only a sparse coupling loads scipy.sparse
        a_r1 = sp.vstack([cp.a_r1[:-1], sp.csr_matrix(first)], format="csr")
    else:
        a_r1 = cp.a_r1.copy()
        a_r1[-1] = first
    a_rr = cp.a_rr.copy()
    a_rr[-1, :-1] = rest
    a_rr[:-1, -1] = rest
    a_rr[-1, -1] = yy
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
    if is_sparse(cp.a_r1):
        import scipy.sparse as sp  # noqa: PLC0415 - only a sparse coupling loads scipy.sparse
        a_r1 = sp.vstack([cp.a_r1[:qr], sp.csr_matrix(dense_rows)], format="csr")
    else:
        a_r1 = np.vstack([cp.a_r1[:qr], dense_rows])
    zd = cp.a_rr[:qr, qr:] @ T
    a_rr = np.block([[cp.a_rr[:qr, :qr], zd], [zd.T, T.T @ cp.a_rr[qr:, qr:] @ T]])
    layout = BlockLayout(ks=cp.layout.ks, n_levels=cp.layout.n_levels, p=T.shape[1] - 1)
    return CrossProducts(a11=cp.a11, a_r1=a_r1, a_rr=a_rr, layout=layout)


def scale_columns(cp: CrossProducts, scales: list[np.ndarray]) -> CrossProducts:
    """The blocks after dividing each term's columns of Z by their scales (X and y kept).

    Parameters
    ----------
    cp : CrossProducts
        Blocks of the model.
    scales : list of ndarray
        Per term (internal order, as the blocks' layout), one scale per column of its model matrix.

    Returns
    -------
    CrossProducts
        The blocks of [Z D^-1, X, y] with D the scales repeated over each term's levels.
    """
    layout = cp.layout
    per_column = [np.tile(1.0 / np.asarray(s, dtype=float), n) for s, n in zip(scales, layout.n_levels)]
    first = 1.0 / np.asarray(scales[0], dtype=float)
    rest = np.concatenate(per_column[1:] + [np.ones(layout.p + 1)])
    a11 = cp.a11 * first[None, :, None] * first[None, None, :]
    if is_sparse(cp.a_r1):
        import scipy.sparse as sp  # noqa: PLC0415 - only a sparse coupling loads scipy.sparse
        a_r1 = sp.csr_matrix(sp.diags(rest) @ cp.a_r1 @ sp.diags(per_column[0]))
    else:
        a_r1 = rest[:, None] * cp.a_r1 * per_column[0][None, :]
    return CrossProducts(a11=a11, a_r1=a_r1, a_rr=rest[:, None] * cp.a_rr * rest[None, :], layout=layout)


def add_cross_products(a: CrossProducts, b: CrossProducts) -> CrossProducts:
    """The blocks of two sets of rows of one model, added (the coupling kept sparse if either is).

    Follow a sum of many with :func:`settle_coupling`, which stores the coupling as one
    pass over all the rows would.
    """
    if is_sparse(a.a_r1) or is_sparse(b.a_r1):
        import scipy.sparse as sp  # noqa: PLC0415 - only a sparse coupling loads scipy.sparse
        a_r1 = sp.csr_matrix(a.a_r1) + sp.csr_matrix(b.a_r1)
    else:
        a_r1 = a.a_r1 + b.a_r1
    return CrossProducts(a11=a.a11 + b.a11, a_r1=a_r1, a_rr=a.a_rr + b.a_rr, layout=a.layout)


def settle_coupling(cp: CrossProducts, terms: list[TermLayout]) -> CrossProducts:
    """The coupling block stored as :func:`cross_products` would store it for these blocks' terms.

    Parameters
    ----------
    cp : CrossProducts
        Blocks summed over parts of the rows (:func:`add_cross_products`).
    terms : list of TermLayout
        The blocks' terms (internal order); only their sizes are read.
    """
    if len(terms) == 1 or by_slots(terms, cp.layout.p):
        dense = cp.a_r1.toarray() if is_sparse(cp.a_r1) else cp.a_r1
        return CrossProducts(a11=cp.a11, a_r1=dense, a_rr=cp.a_rr, layout=cp.layout)
    import scipy.sparse as sp  # noqa: PLC0415 - only a sparse coupling loads scipy.sparse

    coupling = sp.csr_matrix(cp.a_r1)
    qr = cp.layout.q_rest
    dense_rows = coupling[qr:].toarray()
    return CrossProducts(a11=cp.a11, a_r1=_coupling_block(coupling[:qr], dense_rows), a_rr=cp.a_rr, layout=cp.layout)


def coupling_is_sparse(size: int, nnz: int) -> bool:
    """Whether a coupling block of ``size`` elements, ``nnz`` of them non-zero, is stored sparse."""
    return size >= _SPARSE_MIN_SIZE and nnz <= _SPARSE_MAX_DENSITY * size


def _coupling_block(zr_z1: sp.csr_matrix, xy_z1: np.ndarray) -> np.ndarray | sp.csr_matrix:
    """Stack the random-effects and dense rows of the coupling block in the cheaper form."""
    import scipy.sparse as sp  # noqa: PLC0415 - a one-term model's fit does not load scipy.sparse

    size = (zr_z1.shape[0] + xy_z1.shape[0]) * zr_z1.shape[1]
    if coupling_is_sparse(size, zr_z1.nnz + xy_z1.size):
        return sp.vstack([zr_z1, sp.csr_matrix(xy_z1)], format="csr")
    return np.vstack([zr_z1.toarray(), xy_z1])
