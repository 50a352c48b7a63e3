"""The one compiled Cholesky of the penalised system: its loop and LAPACK branches, the response's pivot, failures."""

import numpy as np
import pytest

from mixedfx.linalg.cholesky import (
    _BLAS_MIN_PRODUCTS,
    _LAPACK_MIN_ORDER,
    cholesky_in_place,
    lapack_dpotri,
    pattern_cholesky_in_place,
    subtract_gram_lower,
    zero_upper,
)
from mixedfx.linalg.pivots import NOT_POSITIVE_DEFINITE, OK


def _spd(rng, m):
    base = rng.normal(size=(m, 2 * m))
    return base @ base.T


@pytest.mark.parametrize(("m", "k"), [(3, 36), (6, 2 * _BLAS_MIN_PRODUCTS)])  # a loop, then BLAS's dsyrk
def test_the_schur_update_takes_the_gram_product_off_the_lower_triangle_only(m, k):
    rng = np.random.default_rng(k)
    a = rng.normal(size=(m, k))
    start = _spd(rng, m) + np.triu(np.full((m, m), 99.0), 1)
    out = start.copy()
    subtract_gram_lower(a, out)
    np.testing.assert_allclose(np.tril(out), np.tril(start - a @ a.T), rtol=1e-12, atol=1e-12 * k)
    np.testing.assert_array_equal(np.triu(out, 1), np.triu(start, 1))


@pytest.mark.parametrize("m", [3, _LAPACK_MIN_ORDER + 10])
@pytest.mark.parametrize("response_last", [False, True])
def test_the_lower_triangle_is_factored_in_place_and_the_upper_left_alone(m, response_last):
    spd = _spd(np.random.default_rng(m), m)
    work = np.tril(spd) + np.triu(np.full((m, m), 99.0), 1)
    status, last = cholesky_in_place(work, np.diag(spd).copy(), m, response_last)
    assert status == OK
    np.testing.assert_array_equal(np.triu(work, 1), np.triu(np.full((m, m), 99.0), 1))
    zero_upper(work)
    np.testing.assert_allclose(work @ work.T, spd, rtol=1e-10, atol=1e-9 * np.abs(spd).max())
    if response_last:
        assert last == pytest.approx(work[-1, -1] ** 2, rel=1e-12)
    else:
        assert last == 0.0


@pytest.mark.parametrize("m", [4, _LAPACK_MIN_ORDER + 10])
def test_a_response_the_other_columns_fit_exactly_has_a_zero_pivot_not_a_failure(m):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3 * m, m - 1))
    xy = np.column_stack([x, x @ rng.normal(size=m - 1)])
    gram = xy.T @ xy
    work = gram.copy()
    status, last = cholesky_in_place(work, np.diag(gram).copy(), m, True)
    assert status == OK
    # the residual is rounding, clamped at zero: bounded by the response's own rounding
    assert 0.0 <= last <= m * 3 * m * np.finfo(float).eps * gram[-1, -1]


@pytest.mark.parametrize("m", [4, _LAPACK_MIN_ORDER + 10])
def test_a_singular_leading_block_fails_whatever_its_rounding(m):
    rng = np.random.default_rng(8)
    # whole numbers: the Gram matrix is exact, so only the factorisation rounds
    x = rng.integers(-9, 10, size=(3 * m, m)).astype(float)
    x[:, m - 2] = 3.0 * x[:, 1]  # dependent before the response's column
    gram = x.T @ x
    status, _ = cholesky_in_place(gram.copy(), np.diag(gram).copy(), m, True)
    assert status == NOT_POSITIVE_DEFINITE
    assert cholesky_in_place(-np.eye(m), np.ones(m), m, False)[0] == NOT_POSITIVE_DEFINITE


def test_the_pattern_factor_is_the_dense_one_on_a_full_pattern():
    rng = np.random.default_rng(9)
    m = 12
    spd = _spd(rng, m)
    row_ptr = np.concatenate([[0], np.cumsum(np.arange(m))]).astype(np.int64)
    row_idx = np.concatenate([np.arange(j) for j in range(m)]).astype(np.int64)
    col_ptr = np.concatenate([[0], np.cumsum(np.arange(m - 1, -1, -1))]).astype(np.int64)
    col_idx = np.concatenate([np.arange(j + 1, m) for j in range(m)]).astype(np.int64)
    dense, pattern = spd.copy(), spd.copy()
    want = cholesky_in_place(dense, np.diag(spd).copy(), m, True)
    got = pattern_cholesky_in_place(pattern, np.diag(spd).copy(), m, row_ptr, row_idx, col_ptr, col_idx)
    assert got[0] == want[0] == OK and got[1] == pytest.approx(want[1], rel=1e-12)
    np.testing.assert_allclose(np.tril(pattern), np.tril(dense), rtol=1e-12)


def test_the_inverse_from_the_factor():
    spd = _spd(np.random.default_rng(10), 6)
    work = spd.copy()
    cholesky_in_place(work, np.diag(spd).copy(), 6, False)
    assert lapack_dpotri(work, 6) == 0
    np.testing.assert_allclose(np.tril(work), np.tril(np.linalg.inv(spd)), rtol=1e-9)
