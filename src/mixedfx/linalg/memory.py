"""Memory the factorisation's dense blocks need, estimated from the level counts before anything is allocated.

The random-effects term with the most levels (the first in lme4's order) owns
a block-diagonal block; every column after it (the other terms' random
effects, then X and the response) forms a dense square "rest" block, and its
coupling with the first term is dense unless :func:`mixedfx.linalg.cross.coupling_is_sparse`
finds it sparse enough.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixedfx.design.memory import DOUBLE, exceeded_memory, too_large
from mixedfx.linalg.cross import coupling_is_sparse

if TYPE_CHECKING:
    from mixedfx.design.reterms import ReTerm

__all__ = ["dense_block_bytes", "check_dense_blocks"]

_REST_COPIES = 4
"""A factorisation holds the rest block's cross-product, two temporaries of its size and its factor."""


def dense_block_bytes(terms: Sequence[ReTerm], p: int, coupling_nnz: int | None = None) -> int:
    """Bytes the blocked Cholesky factorisation of a model takes at its peak.

    Parameters
    ----------
    terms : sequence of ReTerm
        The random-effects terms in lme4's order (the first has the most
        levels; see :func:`mixedfx.lmm.model.lme4_term_order`).
    p : int
        Columns of X.
    coupling_nnz : int, optional
        The coupling block's non-zeros where they are known (blocks summed
        elsewhere); counted from the terms' codes otherwise.

    Returns
    -------
    int
        The rest block ``m x m`` with ``m = q_rest + p + 1`` (working copies
        included), the first term's diagonal blocks, and the coupling block
        ``m x q1`` when it is stored dense.
    """
    coupling = _coupling_size(terms, p)
    # its non-zeros (a pass over the rows) matter only where a coupling of this size may be stored sparse
    nonzeros = coupling_nnz if coupling_nnz is not None else _coupling_nonzeros(terms, p)
    sparse = coupling_is_sparse(coupling, 0) and coupling_is_sparse(coupling, nonzeros)
    return _peak_bytes(terms, p, dense_coupling=not sparse)


def _coupling_size(terms: Sequence[ReTerm], p: int) -> int:
    """Elements of the coupling block, ``m x q1``."""
    return (sum(t.n_levels * t.k for t in terms[1:]) + p + 1) * terms[0].k * terms[0].n_levels


def _peak_bytes(terms: Sequence[ReTerm], p: int, dense_coupling: bool) -> int:
    """:func:`dense_block_bytes` with the coupling stored dense or not."""
    first = terms[0]
    m = sum(t.n_levels * t.k for t in terms[1:]) + p + 1
    coupling = _coupling_size(terms, p)
    elements = _REST_COPIES * m * m + 2 * first.n_levels * first.k**2 + (2 * coupling if dense_coupling else 0)
    return elements * DOUBLE


def _coupling_nonzeros(terms: Sequence[ReTerm], p: int) -> int:
    """The coupling's non-zeros: one k x k1 block per pair of levels met in a row, and the dense rows of X and y."""
    first, rest = terms[0], terms[1:]
    levels1 = first.n_levels
    return (p + 1) * first.k * levels1 + sum(
        pd.unique(np.asarray(t.codes, dtype=np.int64) * levels1 + first.codes).size * t.k * first.k for t in rest)


def check_dense_blocks(terms: Sequence[ReTerm], p: int, available: int | None = None,
                       coupling_nnz: int | None = None) -> None:
    """Refuse a model whose factorisation's dense blocks do not fit in memory.

    Parameters
    ----------
    terms : sequence of ReTerm
        The random-effects terms in lme4's order.
    p : int
        Columns of X.
    available : int, optional
        Bytes available; the machine's (:func:`available_memory`) by default.
    coupling_nnz : int, optional
        As for :func:`dense_block_bytes`.

    Raises
    ------
    MixedFxError
        Stating the size, the terms that make it and what to change.
    """
    if exceeded_memory(_peak_bytes(terms, p, dense_coupling=True), available) is None:
        return  # it fits even with a dense coupling: no need to count the coupling's non-zeros
    needed = dense_block_bytes(terms, p, coupling_nnz)
    if (left := exceeded_memory(needed, available)) is None:
        return
    rest = sorted(terms[1:], key=lambda t: t.n_levels * t.k, reverse=True)
    m = sum(t.n_levels * t.k for t in rest) + p + 1
    largest = ", ".join(f"({t.text}): {t.n_levels} levels x {t.k} column{'s' * (t.k > 1)}"
                        for t in rest[:2])
    advice = (f"its size comes from the terms after ({terms[0].text}), the largest {largest}; use fewer levels in "
              "those grouping factors, fewer random slopes on them, or a machine with more memory" if rest
              else "use fewer random slopes or a machine with more memory")
    raise too_large(needed, left, f"the dense blocks of its factorisation ({m} x {m})", advice)
