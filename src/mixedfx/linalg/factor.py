"""The blocked Cholesky factor L of the penalised system at one theta, and what is solved with it.

``L = [[L11, 0], [L_r1, L_rr]]``: L11 is block diagonal (one k1 x k1 block per
level of the first term), L_r1 the coupling block, L_rr the dense lower factor
of the rest, ordered as [other random-effects terms, fixed effects, response].
The factorisers of :mod:`mixedfx.linalg.factorizer` make it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from mixedfx.linalg.layout import BlockLayout
from mixedfx.linalg.lazy import state_with_formed

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["BlockedFactor", "block_diagonal", "as_dense", "is_sparse"]


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
        return _solve_triangular(self.l_rr.T, rhs)[:-1]

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

    def solve_lower(self, rhs: np.ndarray) -> np.ndarray:
        """``L^-1 rhs`` over the random and fixed effects (L without the response's row and column).

        Parameters
        ----------
        rhs : ndarray, shape (q + p, c)
            Internal order.

        Returns
        -------
        ndarray, shape (q + p, c)
        """
        q1 = self.l11.shape[0] * self.l11.shape[1]
        first = _block_solve_lower(self.l11, rhs[:q1])
        rest = np.zeros((self.l_rr.shape[0], rhs.shape[1]))
        rest[:-1] = rhs[q1:] - np.asarray(self.l_r1[:-1] @ first)
        # with the response's row (zero on the right) the C-ordered factor is read as its Fortran transpose:
        # no copy of the rest's leading block
        rest = _solve_triangular(self.l_rr.T, rest, trans=True)
        return np.vstack([first, rest[:-1]])

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``(L L')^-1 rhs`` over the random and fixed effects (L without the response's row and column).

        Parameters
        ----------
        rhs : ndarray, shape (q + p,)
            Internal order.

        Returns
        -------
        ndarray, shape (q + p,)

        Examples
        --------
        >>> from mixedfx.linalg.layout import BlockLayout
        >>> factor = BlockedFactor(l11=np.full((2, 1, 1), 2.0), l_rr=np.array([[1.0, 0.0], [0.5, 1.0]]),
        ...                        layout=BlockLayout(ks=[1], n_levels=[2], p=1),
        ...                        coupling=lambda: np.array([[1.0, 0.0], [0.0, 0.0]]))
        >>> lower = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [1.0, 0.0, 1.0]])
        >>> bool(np.allclose(factor.solve(np.ones(3)), np.linalg.solve(lower @ lower.T, np.ones(3))))
        True
        """
        y = self.solve_lower(np.asarray(rhs, dtype=float).reshape(-1, 1))
        q1 = self.l11.shape[0] * self.l11.shape[1]
        rest = np.zeros((self.l_rr.shape[0], 1))
        rest[:-1] = y[q1:]
        # with a zero in the response's slot, L_rr' is solved whole (the C-ordered factor read as its transpose)
        rest = _solve_triangular(self.l_rr.T, rest)[:-1]
        first = _block_solve_transposed(self.l11, y[:q1, 0] - np.asarray(self.l_r1[:-1].T @ rest).ravel())
        return np.concatenate([first, rest[:, 0]])

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
        lzz_inv = _solve_triangular(self.l_rr[:qr, :qr], np.eye(qr), lower=True)
        g = lzz_inv @ as_dense(self.l_r1[:qr] @ block_diagonal(l11_inv))
        ks, n_levels_all = self.layout.ks, self.layout.n_levels
        g3 = g.reshape(qr, n_levels_all[0], ks[0])
        out = [blocks1 + np.einsum("rli,rlj->lij", g3, g3)]
        start = 0
        for k, n_levels in zip(ks[1:], n_levels_all[1:]):
            cols = lzz_inv[:, start: start + k * n_levels].reshape(qr, n_levels, k)
            out.append(np.einsum("rli,rlj->lij", cols, cols))
            start += k * n_levels
        return out


def block_diagonal(blocks: np.ndarray) -> sp.bsr_matrix:
    """A sparse block-diagonal matrix from an (l, k, k) stack of blocks."""
    import scipy.sparse as sp  # noqa: PLC0415 - a one-term model's fit and summary do not load scipy.sparse

    n_blocks, k, _ = blocks.shape
    return sp.bsr_matrix((blocks, np.arange(n_blocks), np.arange(n_blocks + 1)),
                         shape=(n_blocks * k, n_blocks * k))


def as_dense(a: np.ndarray | sp.spmatrix) -> np.ndarray:
    """A dense array from a dense or sparse matrix."""
    return a.toarray() if is_sparse(a) else np.asarray(a)


def is_sparse(a: object) -> bool:
    """``scipy.sparse.issparse(a)``, without importing scipy.sparse: where it is not loaded, nothing is sparse.

    Examples
    --------
    >>> is_sparse(np.eye(2))
    False
    """
    sparse = sys.modules.get("scipy.sparse")
    return sparse is not None and sparse.issparse(a)


def _solve_triangular(a: np.ndarray, b: np.ndarray, lower: bool = False, trans: bool = False) -> np.ndarray:
    """:func:`mixedfx.linalg.lapack.solve_triangular`, whose module (and numba) is imported on the first solve."""
    from mixedfx.linalg.lapack import solve_triangular  # noqa: PLC0415 - numba's import, only where solved

    return solve_triangular(a, b, lower=lower, trans=trans)


def _dense_row(a: np.ndarray | sp.spmatrix, row: int) -> np.ndarray:
    """One row of a dense or sparse matrix as a dense vector."""
    return as_dense(a[row]).ravel()


def _block_solve_transposed(l11: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve blockdiag(L11)' x = rhs for all levels at once: back substitution, each step over every level."""
    n_blocks, k, _ = l11.shape
    b = rhs.reshape(n_blocks, k)
    x = np.empty_like(b)
    x[:, k - 1] = b[:, k - 1] / l11[:, k - 1, k - 1]
    for i in range(k - 2, -1, -1):
        x[:, i] = (b[:, i] - np.einsum("lj,lj->l", l11[:, i + 1:, i], x[:, i + 1:])) / l11[:, i, i]
    return x.reshape(-1)


def _block_solve_lower(l11: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve blockdiag(L11) x = rhs for columns ``rhs`` (l k, c), all levels at once: forward substitution."""
    n_blocks, k, _ = l11.shape
    b = rhs.reshape(n_blocks, k, -1)
    x = np.empty(b.shape)
    for i in range(k):
        x[:, i] = (b[:, i] - np.einsum("lj,ljc->lc", l11[:, i, :i], x[:, :i])) / l11[:, i, i, None]
    return x.reshape(rhs.shape)
