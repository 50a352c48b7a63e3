"""Memory a model needs, estimated before its arrays are allocated.

Two things grow beyond the data: the fixed-effects matrix X (rows times
columns), checked here before X is built, and the dense blocks of the
factorisation, checked by :mod:`mixedfx.linalg.memory` with the helpers below.
Both sizes are known before anything is allocated, so a model too large for
the machine is refused with its size instead of crashing the process.
"""

from __future__ import annotations

import os
from collections.abc import Sequence


from mixedfx.errors import MixedFxError

__all__ = ["DOUBLE", "available_memory", "fixed_matrix_bytes", "check_fixed_matrix", "exceeded_memory", "too_large"]

DOUBLE = 8
"""Bytes of one float64."""
_GB = 1e9
_X_COPIES = 3
"""X, the working copy of its rank check (QR) and the cross-products' copy of [X y]."""
_ALWAYS_AVAILABLE = 64 * 2**20
"""Needs below this are not checked against the machine (reading its memory costs more than a small fit)."""


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
    return _X_COPIES * n * p * DOUBLE


def exceeded_memory(needed: int, available: int | None) -> int | None:
    """The bytes available (the machine's when None) if ``needed`` exceeds them, else None."""
    if available is None and needed < _ALWAYS_AVAILABLE:
        return None
    available = available_memory() if available is None else available
    return available if available is not None and needed > available else None


def too_large(needed: int, available: int, what: str, advice: str) -> MixedFxError:
    """The error for a model needing more memory than there is."""
    return MixedFxError(f"this model needs about {needed / _GB:.3g} GB of memory for {what}, more than the "
                        f"{available / _GB:.3g} GB available; {advice}")


def check_fixed_matrix(n: int, names: Sequence[str] | int, available: int | None = None,
                       largest_factor: int = 0) -> None:
    """Refuse a fixed-effects matrix too large for the memory available, before anything is allocated.

    Parameters
    ----------
    n : int
        Rows.
    names : sequence of str or int
        X's column names, or how many there will be.
    available : int, optional
        Bytes available; the machine's (:func:`available_memory`) by default.
    largest_factor : int
        Levels of the fixed part's largest factor, whose contrast matrix
        (levels x levels) is formed too.

    Raises
    ------
    MixedFxError
        Stating the size and what to change.
    """
    width = names if isinstance(names, int) else len(names)
    needed = fixed_matrix_bytes(n, width) + largest_factor**2 * DOUBLE
    if (left := exceeded_memory(needed, available)) is not None:
        raise too_large(needed, left, f"its fixed-effects matrix ({n} rows x {width} columns)",
                         "use fewer fixed-effect columns: a factor with many levels is better as the grouping "
                         "factor of a random effect, (1 | f), and interactions of factors multiply their columns")
