"""Memory a model needs, estimated before its arrays are allocated.

Two things grow beyond the data: the fixed-effects matrix X (rows times
columns) and the dense blocks of the blocked Cholesky factorisation in
:mod:`mixedfx.linalg.blocks`. There, the random-effects term with the most levels
(the first in lme4's order) owns a block-diagonal block; every column after it
(the other terms' random effects, then X and the response) forms a dense
square "rest" block, and its coupling with the first term is dense unless
:mod:`mixedfx.linalg.blocks` finds it sparse enough. Both sizes are known from the
level counts before anything is allocated, so a model too large for the
machine is refused with its size instead of crashing the process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mixedfx.errors import MixedFxError
from mixedfx.linalg.blocks import coupling_is_sparse

if TYPE_CHECKING:
    from mixedfx.design.matrices import ReTerm

__all__ = ["available_memory", "fixed_matrix_bytes", "dense_block_bytes", "check_fixed_matrix",
           "check_dense_blocks"]

_DOUBLE = 8
_GB = 1e9
_X_COPIES = 3
"""X, the working copy of its rank check (QR) and the cross-products' copy of [X y]."""
_ALWAYS_AVAILABLE = 64 * 2**20
"""Needs below this are not checked against the machine (reading its memory costs more than a small fit)."""
_REST_COPIES = 4
"""A factorisation holds the rest block's cross-product, two temporaries of its size and its factor."""


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation.

    Returns
    -------
    int or None
        ``MemAvailable`` of ``/proc/meminfo`` where there is one, else the
        physical memory (``sysconf``); None when neither can be read.
    """
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None


def fixed_matrix_bytes(n: int, p: int) -> int:
    """Bytes the fixed-effects matrix takes while a model is built.

    Parameters
    ----------
    n, p : int
        Rows and columns of X (before rank-deficient columns are dropped).

    Returns
    -------
    int
        X and its working copies.
    """
    return _X_COPIES * n * p * _DOUBLE


def dense_block_bytes(terms: Sequence[ReTerm], p: int) -> int:
    """Bytes the blocked Cholesky factorisation of a model takes at its peak.

    Parameters
    ----------
    terms : sequence of ReTerm
        The random-effects terms in lme4's order (the first has the most
        levels; see :func:`mixedfx.lmm.model.lme4_term_order`).
    p : int
        Columns of X.

    Returns
    -------
    int
        The rest block ``m x m`` with ``m = q_rest + p + 1`` (working copies
        included), the first term's diagonal blocks, and the coupling block
        ``m x q1`` when it is stored dense.
    """
    first, rest = terms[0], terms[1:]
    k1, levels1 = first.z.shape[1], len(first.levels)
    q1 = k1 * levels1
    m = sum(len(t.levels) * t.z.shape[1] for t in rest) + p + 1
    # the coupling's non-zeros: one k x k1 block per pair of levels met in a row, and the dense rows of X and y
    nnz = (p + 1) * q1 + sum(
        pd.unique(np.asarray(t.codes, dtype=np.int64) * levels1 + first.codes).size * t.z.shape[1] * k1
        for t in rest)
    coupling = m * q1
    dense_coupling = not coupling_is_sparse(coupling, nnz)
    elements = _REST_COPIES * m * m + 2 * levels1 * k1 * k1 + (2 * coupling if dense_coupling else 0)
    return elements * _DOUBLE


def _available_if_exceeded(needed: int, available: int | None) -> int | None:
    """The bytes available (the machine's when None) if ``needed`` exceeds them, else None."""
    if available is None and needed < _ALWAYS_AVAILABLE:
        return None
    available = available_memory() if available is None else available
    return available if available is not None and needed > available else None


def _too_large(needed: int, available: int, what: str, advice: str) -> MixedFxError:
    """The error for a model needing more memory than there is."""
    return MixedFxError(f"this model needs about {needed / _GB:.3g} GB of memory for {what}, more than the "
                        f"{available / _GB:.3g} GB available; {advice}")


def check_fixed_matrix(n: int, names: Sequence[str], available: int | None = None) -> None:
    """Refuse a fixed-effects matrix too large for the memory available.

    Parameters
    ----------
    n : int
        Rows.
    names : sequence of str
        X's column names.
    available : int, optional
        Bytes available; the machine's (:func:`available_memory`) by default.

    Raises
    ------
    MixedFxError
        Stating the size and what to change.
    """
    needed = fixed_matrix_bytes(n, len(names))
    if (left := _available_if_exceeded(needed, available)) is not None:
        raise _too_large(needed, left, f"its fixed-effects matrix ({n} rows x {len(names)} columns)",
                         "use fewer fixed-effect columns: a factor with many levels is better as the grouping "
                         "factor of a random effect, (1 | f), and interactions of factors multiply their columns")


def check_dense_blocks(terms: Sequence[ReTerm], p: int, available: int | None = None) -> None:
    """Refuse a model whose factorisation's dense blocks do not fit in memory.

    Parameters
    ----------
    terms : sequence of ReTerm
        The random-effects terms in lme4's order.
    p : int
        Columns of X.
    available : int, optional
        Bytes available; the machine's (:func:`available_memory`) by default.

    Raises
    ------
    MixedFxError
        Stating the size, the terms that make it and what to change.
    """
    needed = dense_block_bytes(terms, p)
    if (left := _available_if_exceeded(needed, available)) is None:
        return
    rest = sorted(terms[1:], key=lambda t: len(t.levels) * t.z.shape[1], reverse=True)
    m = sum(len(t.levels) * t.z.shape[1] for t in rest) + p + 1
    largest = ", ".join(f"({t.text}): {len(t.levels)} levels x {t.z.shape[1]} column{'s' * (t.z.shape[1] > 1)}"
                        for t in rest[:2])
    advice = (f"its size comes from the terms after ({terms[0].text}), the largest {largest}; use fewer levels in "
              "those grouping factors, fewer random slopes on them, or a machine with more memory" if rest
              else "use fewer random slopes or a machine with more memory")
    raise _too_large(needed, left, f"the dense blocks of its factorisation ({m} x {m})", advice)
