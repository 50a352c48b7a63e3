"""The compiled level sums against numpy's bincount definition."""

import numpy as np

from mixedfx.linalg.level_sums import level_products, slot_products


def test_level_products_sum_each_levels_row_products():
    rng = np.random.default_rng(1)
    n, n_levels, k, m = 500, 13, 3, 4
    codes = rng.integers(0, n_levels, n)
    z = rng.normal(size=(n, k))
    wz = z * rng.uniform(0.5, 2.0, n)[:, None]
    values = rng.normal(size=(n, m))
    blocks, out = level_products(codes, wz, z, values, n_levels)
    assert blocks.shape == (n_levels, k, k) and out.shape == (m, n_levels * k)
    for r in range(k):
        for s in range(k):
            expected = np.bincount(codes, weights=wz[:, r] * z[:, s], minlength=n_levels)
            assert np.allclose(blocks[:, r, s], expected, rtol=1e-13, atol=1e-13)
        for j in range(m):
            expected = np.bincount(codes, weights=values[:, j] * wz[:, r], minlength=n_levels)
            assert np.allclose(out[j, r::k], expected, rtol=1e-13, atol=1e-13)


def test_levels_without_rows_sum_to_zero():
    blocks, out = level_products(np.array([0, 0, 2]), np.ones((3, 1)), np.ones((3, 1)), np.ones((3, 2)), 4)
    assert blocks[:, 0, 0].tolist() == [2.0, 0.0, 1.0, 0.0]
    assert out.tolist() == [[2.0, 0.0, 1.0, 0.0], [2.0, 0.0, 1.0, 0.0]]


def test_slot_products_match_the_dense_gram_and_coupling():
    # two other terms (k = 2 on 5 levels, k = 1 on 3) then two [X y] columns, against R' W R and R' W Z1 formed densely
    rng = np.random.default_rng(2)
    n, n1, k1 = 300, 7, 2
    codes = rng.integers(0, n1, n)
    z1 = rng.normal(size=(n, k1))
    w = rng.uniform(0.5, 2.0, n)
    a, b = rng.integers(0, 5, n), rng.integers(0, 3, n)
    za, xy = rng.normal(size=(n, 2)), rng.normal(size=(n, 2))
    columns = np.column_stack([2 * a, 2 * a + 1, 10 + b])
    values = np.column_stack([za, np.ones(n)])
    rest, coupling = slot_products(columns, values, xy, w, 13, codes, z1 * w[:, None], n1)
    dense_rest = np.zeros((n, 15))
    np.put_along_axis(dense_rest, columns, values, axis=1)
    dense_rest[:, 13:] = xy
    dense_z1 = np.zeros((n, n1 * k1))
    np.put_along_axis(dense_z1, codes[:, None] * k1 + np.arange(k1), z1, axis=1)
    np.testing.assert_allclose(rest, dense_rest.T @ (w[:, None] * dense_rest), rtol=1e-12, atol=1e-12)
    assert np.array_equal(rest, rest.T)
    np.testing.assert_allclose(coupling, (dense_rest.T @ (w[:, None] * dense_z1))[:13], rtol=1e-12, atol=1e-12)
