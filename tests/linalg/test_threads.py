"""BLAS threads per model: one for small factorisations and for compiled kinds (whose optimiser's BLAS calls are
tiny), BLAS's own for large ones."""

import numpy as np
import threadpoolctl

import mixedfx as mfx
from mixedfx.linalg.threads import THREADED_MIN_FLOPS, blas_threads, limited_blas


def test_small_factorisations_run_on_one_thread_and_large_ones_on_blas_threads():
    assert blas_threads(137, 224) == 1  # maximal_2k
    assert blas_threads(409, 2000) is None  # maximal_50k: the Schur update over 2,000 columns
    assert blas_threads(2000, 0) is None  # a large rest alone: LAPACK's blocked Cholesky
    assert 137**2 * (224 + 137 / 3) < THREADED_MIN_FLOPS


def test_models_take_their_factorisers_threads():
    one_term = mfx.lmer_model(mfx.lmer_design("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy")))
    assert not one_term.factorizer.calls_blas and one_term.blas_threads == 1  # L-BFGS-B's own BLAS: one thread
    data = mfx.datasets.load("sleepstudy").assign(Days2=lambda d: d["Days"] % 3)
    crossed = mfx.lmer_model(mfx.lmer_design("Reaction ~ Days + (Days | Subject) + (1 | Days2)", data))
    assert crossed.factorizer.calls_blas and crossed.blas_threads == 1


def _blas_pools():
    return [pool["num_threads"] for pool in threadpoolctl.threadpool_info() if pool["user_api"] == "blas"]


def test_limited_blas_limits_inside_and_restores_after():
    np.ones((2, 2)) @ np.ones((2, 2))  # BLAS loaded
    before = _blas_pools()
    assert before
    with limited_blas(1):
        assert _blas_pools() == [1] * len(before)
    assert _blas_pools() == before
    with limited_blas(None):
        assert _blas_pools() == before
