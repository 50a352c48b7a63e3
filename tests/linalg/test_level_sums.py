"""The compiled level sums against numpy's bincount definition."""

import numpy as np

from mixedfx.linalg.level_sums import level_products


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
