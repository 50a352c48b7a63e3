"""How many BLAS threads a model's factorisations get, decided once per model.

A factorisation whose dense rest has a few hundred rows is a handful of small
BLAS calls (batched k x k products, a Gram product, a Cholesky). Handing each
to a pool of threads costs more than the arithmetic, and where other processes
share the cores the threads wait on each other: maximal_2k's uncorrelated
model takes 0.33 s on one BLAS thread and 2.1 s on two, on two cores. Such
models run their optimisation with one BLAS thread; large factorisations
(maximal_50k's Schur update over 2,000 subject columns), where BLAS gains
from threads, keep BLAS's default. The compiled factorisers of small models
call no BLAS themselves, but the optimiser around them does (scipy's
L-BFGS-B, Newton steps: products and Cholesky factors of a few rows): they too
run on one thread, or a fit of a few milliseconds waits on idle threads (the
sleepstudy quadratic-slopes model took 50-100 ms instead of 6 while another
process kept the second core busy).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from threadpoolctl import LibController

__all__ = ["blas_threads", "limited_blas", "THREADED_MIN_FLOPS"]

# A factorisation of at least this many flops (about 5 ms on one core) gains from BLAS's own threads
THREADED_MIN_FLOPS = 2e8


def blas_threads(rest_order: int, coupled_columns: int) -> int | None:
    """The BLAS threads for factorisations of a dense rest of ``rest_order`` rows coupled to ``coupled_columns``
    first-term columns: 1 where the Schur update and Cholesky take under ``THREADED_MIN_FLOPS``, else None
    (BLAS's own).

    Examples
    --------
    >>> blas_threads(137, 224), blas_threads(409, 2000)
    (1, None)
    """
    flops = rest_order**2 * (coupled_columns + rest_order / 3.0)
    return 1 if flops < THREADED_MIN_FLOPS else None


def limited_blas(threads: int | None) -> AbstractContextManager:
    """A context in which BLAS runs on ``threads`` threads (no change for None).

    Examples
    --------
    >>> with limited_blas(None):
    ...     pass
    """
    if threads is None:
        return nullcontext()
    return _BlasLimit(_blas_libraries(), threads)


class _BlasLimit(AbstractContextManager):
    """Sets each BLAS library's threads on entry and restores them on exit, leaving alone those already there.

    threadpoolctl's ``limit`` builds a limiter that queries every library on each call (20-70 us, as long
    as a small model's refit); this asks each library for its count and sets it only where it differs.
    """

    __slots__ = ("_libraries", "_saved", "_threads")

    def __init__(self, libraries: tuple[LibController, ...], threads: int) -> None:
        self._libraries = libraries
        self._threads = threads
        self._saved: list[int] = []

    def __enter__(self) -> _BlasLimit:
        self._saved = [library.num_threads for library in self._libraries]
        for library, saved in zip(self._libraries, self._saved):
            if saved != self._threads:
                library.set_num_threads(self._threads)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for library, saved in zip(self._libraries, self._saved):
            if saved != self._threads:
                library.set_num_threads(saved)


@cache
def _blas_libraries() -> tuple[LibController, ...]:
    """The loaded BLAS libraries' controllers, found once: threadpoolctl searches the loaded libraries on every
    ``threadpool_limits`` call (0.2-0.7 ms, as long as a small fit)."""
    from threadpoolctl import ThreadpoolController  # noqa: PLC0415 - only models that limit threads pay its import

    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)
