"""The heavy/light Gram product of scalar-term models against dense linear algebra."""

import numpy as np
import pytest
import scipy.sparse as sp

from mixedfx.linalg.sparse_gram import ScalarSchur


def _coupling(rng, m=60, q1=200):
    """A sparse coupling with a few columns meeting most rows (heavy) and many meeting few (light)."""
    dense = np.where(rng.random((m, q1)) < 0.05, rng.normal(size=(m, q1)), 0.0)
    dense[:, :5] = rng.normal(size=(m, 5))
    dense[-3:] = rng.normal(size=(3, q1))  # the fixed-effects and response rows meet every level
    return sp.csr_matrix(dense), dense


def test_both_kinds_of_columns_are_present():
    schur = ScalarSchur(_coupling(np.random.default_rng(0))[0])
    assert len(schur.heavy) >= 5 and len(schur.light) > 100


def test_lower_triangle_is_the_scaled_schur_complement():
    rng = np.random.default_rng(1)
    a_r1, dense = _coupling(rng)
    m = dense.shape[0]
    base = rng.normal(size=(m, 3 * m))
    a_rr = base @ base.T
    w = rng.uniform(0.1, 1.0, dense.shape[1])
    rows = rng.uniform(0.5, 2.0, m)
    q_rest = m - 3
    got = ScalarSchur(a_r1).lower(a_rr, w, rows, q_rest)
    want = rows[:, None] * (a_rr - (dense * w) @ dense.T) * rows[None, :] + np.diag(np.r_[np.ones(q_rest), 0, 0, 0])
    np.testing.assert_allclose(np.tril(got), np.tril(want), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_weighted_trace_is_the_trace_over_the_leading_rows(dtype):
    rng = np.random.default_rng(3)
    a_r1, dense = _coupling(rng)
    m, size = dense.shape[0], dense.shape[0] - 2
    base = rng.normal(size=(size, 2 * size))
    inverse = base @ base.T
    w = rng.uniform(0.1, 1.0, dense.shape[1])
    rows = rng.uniform(0.5, 2.0, m)
    scaled = rows[:size, None] * dense[:size]
    want = np.trace(inverse @ (scaled * w) @ scaled.T)
    # only the upper triangle of the Fortran-ordered inverse is read
    upper = np.asfortranarray(np.triu(inverse) + np.tril(np.full((size, size), 99.0), -1), dtype=dtype)
    got = ScalarSchur(a_r1).weighted_trace(upper, w, rows)
    np.testing.assert_allclose(got, want, rtol=1e-5 if dtype == np.float32 else 1e-11)


def test_lower_forms_in_a_given_array():
    rng = np.random.default_rng(4)
    a_r1, dense = _coupling(rng)
    m = dense.shape[0]
    a_rr = np.eye(m) * 50.0
    w, rows = rng.uniform(0.1, 1.0, dense.shape[1]), np.ones(m)
    schur = ScalarSchur(a_r1)
    out = np.full((m, m), np.nan)
    got = schur.lower(a_rr, w, rows, m - 3, out=out)
    assert got is out
    np.testing.assert_allclose(np.tril(got), np.tril(schur.lower(a_rr, w, rows, m - 3)))
