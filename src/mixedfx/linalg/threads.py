"""How many BLAS threads a model's factorisations get, decided once per model.

A factorisation whose dense rest has a few hundred rows is a handful of small
BLAS calls (batched k x k products, a Gram product, a Cholesky). Handing each
to a pool of threads costs more than the arithmetic, and where other processes
share the cores the threads wait on each other: maximal_2k's uncorrelated
model takes 0.33 s on one BLAS thread and 2.1 s on two, on two cores. Such
models run their optimisation with one BLAS thread; large rests, where
LAPACK's blocked factorisation gains from threads, keep BLAS's default, and
the compiled factorisers of small models call no BLAS at all (see
``Factorizer.blas_threads``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

__all__ = ["blas_threads", "limited_blas", "THREADED_MIN_REST"]

# A rest of at least this order is factored with BLAS's own threads (about 45 Mflop, 2 ms on one core)
THREADED_MIN_REST = 512


def blas_threads(rest_order: int) -> int | None:
    """The BLAS threads for factorisations whose dense rest has ``rest_order`` rows: 1 below
    ``THREADED_MIN_REST``, else None (BLAS's own).

    Examples
    --------
    >>> blas_threads(137), blas_threads(4000)
    (1, None)
    """
    return 1 if rest_order < THREADED_MIN_REST else None


def limited_blas(threads: int | None) -> AbstractContextManager:
    """A context in which BLAS runs on ``threads`` threads (no change for None).

    Examples
    --------
    >>> with limited_blas(None):
    ...     pass
    """
    if threads is None:
        return nullcontext()
    from threadpoolctl import threadpool_limits  # noqa: PLC0415 - only models that limit threads pay its import

    return threadpool_limits(threads, user_api="blas")
