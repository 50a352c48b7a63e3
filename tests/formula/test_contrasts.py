"""R's contr.treatment and contr.poly, value for value."""

import numpy as np
import pytest

from mixedfx.formula.contrasts import contr_poly, contr_treatment, contrasts, poly_names
from mixedfx.errors import DataError
from mixedfx.formula.evaluate import Factor


def test_contr_poly_matches_r():
    expected = np.array([[-0.7071068, 0.4082483], [0.0, -0.8164966], [0.7071068, 0.4082483]])
    np.testing.assert_allclose(contr_poly(3), expected, atol=5e-8)
    # R: contr.poly(4)
    expected4 = np.array([[-0.6708204, 0.5, -0.2236068], [-0.2236068, -0.5, 0.6708204],
                          [0.2236068, -0.5, -0.6708204], [0.6708204, 0.5, 0.2236068]])
    np.testing.assert_allclose(contr_poly(4), expected4, atol=5e-8)
    # R: contr.poly(6)[, c(1, 5)]
    np.testing.assert_allclose(contr_poly(6)[:, [0, 4]][:2], [[-0.5976143, -0.0629941], [-0.3585686, 0.3149704]],
                               atol=5e-8)
    assert poly_names(7) == [".L", ".Q", ".C", "^4", "^5", "^6"]


def test_contr_poly_is_orthonormal():
    c = contr_poly(9)
    np.testing.assert_allclose(c.T @ c, np.eye(8), atol=1e-12)
    np.testing.assert_allclose(c.sum(axis=0), 0.0, atol=1e-12)


def test_contr_treatment_and_factor_contrasts():
    np.testing.assert_array_equal(contr_treatment(3), [[0, 0], [1, 0], [0, 1]])
    ordered = Factor(np.array([0, 1, 2]), ("a", "b", "c"), ordered=True)
    matrix, names = contrasts(ordered, "o")
    assert names == [".L", ".Q"]
    np.testing.assert_allclose(matrix, contr_poly(3))
    assert contrasts(Factor(np.array([0, 1]), ("a", "b")), "f")[1] == ["b"]
    with pytest.raises(DataError, match="2 or more levels"):
        contrasts(Factor(np.array([0, 0]), ("a",)), "f")
