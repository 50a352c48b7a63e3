"""Row products through scipy's BLAS against numpy's."""

import numpy as np
import pytest

from mixedfx.linalg.row_products import cross_product


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return rng.normal(size=(500, 3)), rng.normal(size=(500, 4)), rng.normal(size=500)


def test_cross_products_match_numpy(arrays):
    a, b, v = arrays
    np.testing.assert_allclose(cross_product(a), a.T @ a, rtol=1e-12)
    np.testing.assert_array_equal(cross_product(a), cross_product(a).T)
    np.testing.assert_allclose(cross_product(a, b), a.T @ b, rtol=1e-12)
    np.testing.assert_allclose(cross_product(a, v), a.T @ v, rtol=1e-12)
    assert cross_product(v, 2 * v) == pytest.approx(2 * v @ v, rel=1e-12)
    # column slices and integer arrays are converted, not refused
    np.testing.assert_allclose(cross_product(b[:, 1:3], np.arange(500)), b[:, 1:3].T @ np.arange(500), rtol=1e-12)


def test_empty_operands_give_empty_products(arrays):
    a, _, v = arrays
    assert cross_product(np.zeros((500, 0))).shape == (0, 0)
    assert cross_product(np.zeros((500, 0)), v).shape == (0,)
    assert cross_product(a, np.zeros((500, 0))).shape == (3, 0)
