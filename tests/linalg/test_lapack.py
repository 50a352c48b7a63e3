"""scipy's LAPACK and BLAS called without scipy.linalg: the same calls as scipy.linalg's wrappers, so the same numbers."""

import numpy as np
import pytest
import scipy.linalg as sla

from mixedfx.linalg.lapack import dot, gram, lower_cholesky, matrix_product, matrix_vector, solve_triangular


@pytest.fixture
def rng():
    return np.random.default_rng(4)


def _triangles(rng, n):
    """Lower-triangular arrays of order n in each memory order scipy's solve_triangular treats apart."""
    big = np.tril(rng.normal(size=(n + 2, n + 2))) + 4.0 * np.eye(n + 2)
    return [big[:n, :n].copy(), np.asfortranarray(big[:n, :n]), big[1:n + 1, 1:n + 1]]


@pytest.mark.parametrize("n", [1, 3, 70])
def test_solve_triangular_gives_scipys_numbers(rng, n):
    # the same LAPACK routine on the same arguments, so equal to the last bit
    rhs = [rng.normal(size=n), rng.normal(size=(n, 3)), np.eye(n)]
    for lower_triangle in _triangles(rng, n):
        for lower in (True, False):
            a = lower_triangle if lower else lower_triangle.T
            for b in rhs:
                for trans in (False, True):
                    expected = sla.solve_triangular(a, b, lower=lower, trans=int(trans), check_finite=False)
                    result = solve_triangular(a, b, lower=lower, trans=trans)
                    assert result.shape == b.shape
                    np.testing.assert_array_equal(result, expected)


def test_solve_triangular_refuses_a_zero_pivot_and_passes_empty_sides():
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        solve_triangular(np.array([[1.0, 0.0], [2.0, 0.0]]), np.ones(2), lower=True)
    assert solve_triangular(np.eye(2), np.zeros((2, 0))).shape == (2, 0)


def test_lower_cholesky_gives_scipys_factor(rng):
    m = rng.normal(size=(40, 5))
    gram_matrix = m.T @ m
    factor, info = lower_cholesky(gram_matrix)
    expected, expected_info = sla.lapack.dpotrf(gram_matrix, lower=1, clean=0)
    assert info == expected_info == 0
    np.testing.assert_array_equal(factor, expected)
    assert lower_cholesky(-np.eye(2))[1] == 1  # not positive definite: LAPACK's info names the minor


def test_blas_products_give_scipys_numbers(rng):
    a, b, v = rng.normal(size=(300, 4)), rng.normal(size=(300, 2)), rng.normal(size=300)
    assert dot(v, 2 * v) == sla.blas.ddot(v, 2 * v)
    np.testing.assert_array_equal(gram(a), sla.blas.dsyrk(1.0, a.T))
    np.testing.assert_array_equal(matrix_vector(a, v), sla.blas.dgemv(1.0, a.T, v))
    np.testing.assert_array_equal(matrix_product(a, b), sla.blas.dgemm(1.0, b.T, a.T, trans_b=True).T)
