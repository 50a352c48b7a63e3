"""The compiled factor of vector-valued terms with a dense coupling against a dense numpy factorisation."""

import numpy as np
import pytest

from mixedfx.linalg.cross import cross_products
from mixedfx.linalg.factorizer import VectorDenseFactorizer, factorizer_for
from mixedfx.linalg.layout import templates
from mixedfx.linalg.vector_dense import apply_rest_templates, solve_dense, stacked_templates
from tests.linalg.test_factorizer import _assert_factor_matches, _dense_reference, _random_problem, _random_theta


@pytest.mark.parametrize("specs", [[(30, 3), (10, 2)], [(20, 4), (12, 4), (5, 1)], [(30, 1), (10, 2)]])
def test_factor_and_compiled_solve_match_dense(specs):
    rng = np.random.default_rng(len(specs))
    terms, X, y, w = _random_problem(rng, 400, specs, p=3, weighted=True)
    theta = _random_theta(rng, [k for _, k in specs])
    factorizer = VectorDenseFactorizer(cross_products(terms, X, y, w))
    factor = factorizer.factor(theta)
    ref = _dense_reference(terms, X, y, w, theta)
    _assert_factor_matches(factor, ref)
    assert np.all(np.triu(factor.l_rr, 1) == 0.0)
    u, b = np.zeros(len(ref["u"])), np.zeros(X.shape[1])
    solve_dense(factor.l11, factor.l_r1, factor.l_rr, u, b)
    np.testing.assert_allclose(b, ref["beta"], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(u, ref["u"], rtol=1e-9, atol=1e-10)


def test_a_workspace_holds_the_rest_factor():
    rng = np.random.default_rng(7)
    terms, X, y, w = _random_problem(rng, 300, [(25, 2), (8, 3)], p=2)
    factorizer = factorizer_for(cross_products(terms, X, y, w))
    assert factorizer.name == VectorDenseFactorizer.name
    theta = _random_theta(rng, [2, 3])
    workspace = np.full(factorizer.cross.a_rr.shape, np.nan)
    factor = factorizer.factor(theta, workspace)
    assert factor.l_rr is workspace
    np.testing.assert_array_equal(workspace, factorizer.factor(theta).l_rr)


def test_stacked_templates_pad_each_term_template():
    theta = np.array([1.0, 0.5, 2.0, 3.0, 0.1, -0.2, 0.3, 0.4, 0.5, 0.6])
    ks = [2, 1, 3]
    stacked = stacked_templates(theta, np.array(ks, dtype=np.int64))
    assert stacked.shape == (3, 3, 3)
    for tmpl, k, padded in zip(templates(theta, ks), ks, stacked):
        np.testing.assert_array_equal(padded[:k, :k], tmpl)
        assert not padded[k:].any() and not padded[:, k:].any()


@pytest.mark.parametrize("transpose", [False, True])
def test_rest_templates_act_level_by_level(transpose):
    rng = np.random.default_rng(3)
    tmpls = [np.tril(rng.normal(size=(2, 2))), np.tril(rng.normal(size=(3, 3)))]
    n_levels = [4, 2]
    a = rng.normal(size=(4 * 2 + 2 * 3 + 3, 5))
    lam = np.zeros((a.shape[0],) * 2)
    lam[:8, :8] = np.kron(np.eye(4), tmpls[0])
    lam[8:14, 8:14] = np.kron(np.eye(2), tmpls[1])
    lam[14:, 14:] = np.eye(3)
    expected = (lam.T if transpose else lam) @ a
    np.testing.assert_allclose(apply_rest_templates(a, tmpls, n_levels, transpose), expected, rtol=1e-13, atol=1e-14)
