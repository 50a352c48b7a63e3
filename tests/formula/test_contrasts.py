"""R's contrasts, value for value, and the names R gives their columns."""

import numpy as np
import pytest

from mixedfx.formula.contrasts import (contr_helmert, contr_poly, contr_sas, contr_sum, contr_treatment, contrasts,
                                       poly_names)
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


def test_other_codings_match_r():
    # R: contr.sum(4), contr.helmert(4), contr.SAS(3), contr.treatment(4, base = 3)
    np.testing.assert_array_equal(contr_sum(4), [[1, 0, 0], [0, 1, 0], [0, 0, 1], [-1, -1, -1]])
    np.testing.assert_array_equal(contr_helmert(4), [[-1, -1, -1], [1, -1, -1], [0, 2, -1], [0, 0, 3]])
    np.testing.assert_array_equal(contr_sas(3), [[1, 0], [0, 1], [0, 0]])
    np.testing.assert_array_equal(contr_treatment(4, base=3), [[1, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]])


def test_named_codings_give_r_column_names():
    f = Factor(np.array([0, 1, 2, 3]), ("lo", "mid", "hi", "top"))
    assert contrasts(f, "g", "contr.helmert")[1] == ["1", "2", "3"]
    assert contrasts(f, "g", "contr.SAS")[1] == ["lo", "mid", "hi"]
    assert contrasts(f, "g", "contr.poly")[1] == [".L", ".Q", ".C"]
    assert contrasts(f, "g", ("contr.treatment", {"base": 4}))[1] == ["lo", "mid", "hi"]
    matrix, names = contrasts(f, "g", np.arange(4.0))
    assert matrix.shape == (4, 1) and names == ["1"]
