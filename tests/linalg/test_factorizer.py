"""The blocked Cholesky factorisation against a dense numpy factorisation."""

import numpy as np
import pytest
import scipy.linalg as sla


from mixedfx.linalg.cross import cross_products
from mixedfx.linalg.factorizer import (
    BlockedFactorizer,
    ScalarSparseFactorizer,
    VectorDenseFactorizer,
    VectorRestFactorizer,
    factorize,
    factorizer_for,
)
from mixedfx.linalg.layout import lambda_template, TermLayout, theta_lower_bounds


def _random_problem(rng, n, term_specs, p=2, weighted=False, nested=False):
    """Terms as (n_levels, k); nested=True makes term 2's levels nest in term 1's."""
    terms = []
    for i, (n_levels, k) in enumerate(term_specs):
        if nested and i == 1:
            parent = terms[0].codes
            codes = parent * (n_levels // term_specs[0][0]) + rng.integers(0, n_levels // term_specs[0][0], n)
        else:
            codes = rng.integers(0, n_levels, n)
            codes[:n_levels] = np.arange(n_levels)  # every level present
        z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
        terms.append(TermLayout(codes=codes, z=z, n_levels=n_levels))
    X = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
    y = rng.normal(size=n) * 2 + X @ rng.normal(size=p)
    w = rng.uniform(0.5, 2.0, n) if weighted else None
    return terms, X, y, w


def _random_theta(rng, ks):
    lower = theta_lower_bounds(ks)
    theta = rng.uniform(0.2, 1.5, len(lower))
    theta[np.isinf(lower)] = rng.normal(scale=0.5, size=np.isinf(lower).sum())
    return theta


def _dense_z_lambda(terms, theta):
    """Dense Z and Lambda of the terms at theta."""
    n = len(terms[0].codes)
    zs, lams, start = [], [], 0
    for t in terms:
        zfull = np.zeros((n, t.q))
        for r in range(t.k):
            zfull[np.arange(n), t.codes * t.k + r] = t.z[:, r]
        zs.append(zfull)
        size = t.k * (t.k + 1) // 2
        lams.append(np.kron(np.eye(t.n_levels), lambda_template(theta[start: start + size], t.k)))
        start += size
    return np.hstack(zs), sla.block_diag(*lams)


def _dense_reference(terms, X, y, w, theta):
    n = len(y)
    Z, lam = _dense_z_lambda(terms, theta)
    q = Z.shape[1]
    big = np.hstack([Z @ lam, X, y[:, None]])
    wv = np.ones(n) if w is None else w
    M = big.T @ (big * wv[:, None])
    M[:q, :q] += np.eye(q)
    L = np.linalg.cholesky(M)
    p = X.shape[1]
    sol = np.linalg.solve(M[:-1, :-1], M[:-1, -1])
    lz = L[:q, :q]
    condvar = np.linalg.inv(lz @ lz.T)
    return dict(
        logdet_re=2 * np.log(np.diag(L)[:q]).sum(),
        logdet_x=2 * np.log(np.diag(L)[q: q + p]).sum(),
        pwrss=L[-1, -1] ** 2,
        u=sol[:q],
        beta=sol[q:],
        r_x=L[q: q + p, q: q + p],
        condvar=condvar,
    )


def _assert_factor_matches(f, ref):
    """Log-determinants, residual and coefficients of a blocked factor equal the dense reference's."""
    assert f.logdet_re == pytest.approx(ref["logdet_re"], rel=1e-10)
    assert f.logdet_x == pytest.approx(ref["logdet_x"], rel=1e-10)
    assert f.pwrss == pytest.approx(ref["pwrss"], rel=1e-10)
    beta, u = f.solve_coefficients()
    np.testing.assert_allclose(beta, ref["beta"], rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(u, ref["u"], rtol=1e-9, atol=1e-10)


CASES = {
    "scalar": [(30, 1)],
    "vector": [(25, 2)],
    "vector3": [(12, 3)],
    "crossed_scalar": [(40, 1), (15, 1)],
    "crossed_vector": [(30, 2), (10, 1)],
    "crossed_vector_rest": [(30, 1), (10, 2)],
    "three_terms": [(50, 1), (20, 2), (6, 1)],
    "nested": [(10, 1), (30, 1)],
    "crossed_both_vector": [(30, 3), (10, 2)],
    "maximal": [(20, 4), (12, 4)],
}


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", sorted(CASES))
def test_blocked_factor_matches_dense(name, weighted):
    rng = np.random.default_rng([sorted(CASES).index(name), int(weighted)])
    specs = CASES[name]
    terms, X, y, w = _random_problem(rng, 400, specs, p=3, weighted=weighted, nested=name == "nested")
    theta = _random_theta(rng, [k for _, k in specs])
    ref = _dense_reference(terms, X, y, w, theta)
    f = factorize(cross_products(terms, X, y, w), theta)
    _assert_factor_matches(f, ref)
    np.testing.assert_allclose(np.abs(np.diag(f.r_x)), np.abs(np.diag(ref["r_x"])), rtol=1e-10)
    start = 0
    for (n_levels, k), blocks in zip(specs, f.conditional_covariance_blocks()):
        assert blocks.shape == (n_levels, k, k)
        for lev in range(n_levels):
            s = start + lev * k
            np.testing.assert_allclose(blocks[lev], ref["condvar"][s: s + k, s: s + k], rtol=1e-8, atol=1e-12)
        start += n_levels * k


def test_zero_theta_gives_fixed_effects_least_squares():
    rng = np.random.default_rng(1)
    terms, X, y, _ = _random_problem(rng, 200, [(20, 1), (5, 1)])
    f = factorize(cross_products(terms, X, y), np.zeros(2))
    beta, u = f.solve_coefficients()
    ols, rss, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(beta, ols, rtol=1e-10)
    np.testing.assert_allclose(u, 0.0, atol=1e-12)
    assert f.pwrss == pytest.approx(rss[0], rel=1e-10)
    assert f.logdet_re == pytest.approx(0.0, abs=1e-12)


def test_sparse_coupling_block_used_for_large_crossed_terms():
    rng = np.random.default_rng(2)
    terms, X, y, _ = _random_problem(rng, 3000, [(600, 1), (200, 1)])
    cp = cross_products(terms, X, y)
    assert cp.sparse_coupling
    theta = np.array([0.7, 1.3])
    ref = _dense_reference(terms, X, y, None, theta)
    f = factorize(cp, theta)
    assert f.pwrss == pytest.approx(ref["pwrss"], rel=1e-10)
    assert f.logdet_re == pytest.approx(ref["logdet_re"], rel=1e-10)


@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_coupling_with_heavy_levels_matches_dense(weighted):
    # a few first-term levels (heavy users) meet most second-term levels: their columns take the
    # dense BLAS update, the rest the sparse loop
    rng = np.random.default_rng(3)
    terms, X, y, w = _random_problem(rng, 4000, [(500, 1), (120, 1)], p=2, weighted=weighted)
    heavy_rows = np.arange(3000, 3000 + 4 * 120)
    terms[0].codes[heavy_rows] = np.repeat(np.arange(4), 120)
    terms[1].codes[heavy_rows] = np.tile(np.arange(120), 4)
    cp = cross_products(terms, X, y, w)
    assert cp.sparse_coupling and len(ScalarSparseFactorizer(cp).schur.heavy) >= 4
    theta = np.array([0.9, 0.6])
    ref = _dense_reference(terms, X, y, w, theta)
    _assert_factor_matches(factorize(cp, theta), ref)


def test_vector_terms_take_the_batched_kind_on_a_dense_coupling_and_sparse_products_else():
    rng = np.random.default_rng(4)
    dense_terms, X, y, _ = _random_problem(rng, 400, [(20, 4), (12, 2)])
    assert factorizer_for(cross_products(dense_terms, X, y)).name == VectorDenseFactorizer.name
    terms, X, y, w = _random_problem(rng, 3000, [(600, 2), (200, 1)], weighted=True)
    cp = cross_products(terms, X, y, w)
    assert cp.sparse_coupling and factorizer_for(cp).name == BlockedFactorizer.name
    theta = _random_theta(rng, [2, 1])
    _assert_factor_matches(factorize(cp, theta), _dense_reference(terms, X, y, w, theta))


@pytest.mark.parametrize("heavy", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_vector_rest_after_a_scalar_first_term_matches_dense(weighted, heavy):
    # (x | d) + (x2 + x3 | e) + (1 | s): the InstEval slopes shape, with a sparse coupling; a few levels of s
    # meet most rows of the rest when heavy (their columns go through BLAS)
    rng = np.random.default_rng([5, int(weighted), int(heavy)])
    terms, X, y, w = _random_problem(rng, 3000, [(700, 1), (150, 2), (40, 3)], weighted=weighted)
    if heavy:
        rows = np.arange(2000, 2000 + 4 * 150)
        terms[0].codes[rows] = np.repeat(np.arange(4), 150)
        terms[1].codes[rows] = np.tile(np.arange(150), 4)
    cp = cross_products(terms, X, y, w)
    factorizer = factorizer_for(cp)
    assert cp.sparse_coupling and factorizer.name == VectorRestFactorizer.name
    assert (len(factorizer.block_schur.heavy) >= 4) == heavy
    theta = _random_theta(rng, [1, 2, 3])
    theta[3] = 0.0  # a zero diagonal: Lambda singular
    ref = _dense_reference(terms, X, y, w, theta)
    _assert_factor_matches(factorizer.factor(theta), ref)
    assert factorizer.criterion_parts(theta) == pytest.approx((ref["logdet_re"], ref["logdet_x"], ref["pwrss"]),
                                                              rel=1e-10)


def test_lower_bounds_and_template_layout():
    np.testing.assert_array_equal(theta_lower_bounds([1, 2]), [0.0, 0.0, -np.inf, 0.0])
    t = lambda_template(np.array([1.0, 2.0, 3.0]), 2)
    np.testing.assert_array_equal(t, [[1.0, 0.0], [2.0, 3.0]])


def _dense_system(terms, X, w, theta):
    """Dense Z, Lambda and the factor L of [Lambda'Z'WZ Lambda + I, .; X'WZ Lambda, X'WX] (no response)."""
    Z, lam = _dense_z_lambda(terms, theta)
    wv = np.ones(X.shape[0]) if w is None else w
    big = np.hstack([Z @ lam, X])
    M = big.T @ (big * wv[:, None])
    M[: Z.shape[1], : Z.shape[1]] += np.eye(Z.shape[1])
    return Z, lam, np.linalg.cholesky(M), wv


@pytest.mark.parametrize("name", sorted(CASES))
def test_products_and_solves_with_the_blocks_match_dense(name):
    from mixedfx.linalg.layout import lambda_transposed_times, templates

    rng = np.random.default_rng([sorted(CASES).index(name), 7])
    specs = CASES[name]
    terms, X, y, w = _random_problem(rng, 400, specs, p=3, weighted=True, nested=name == "nested")
    ks = [k for _, k in specs]
    theta = _random_theta(rng, ks)
    cp = cross_products(terms, X, y, w)
    Z, lam, L, wv = _dense_system(terms, X, w, theta)
    zx = np.hstack([Z, X])
    columns = rng.normal(size=(zx.shape[1], 3))
    np.testing.assert_allclose(cp.times(columns), zx.T @ (wv[:, None] * (zx @ columns)), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(cp.times(columns[:, 0]), zx.T @ (wv * (zx @ columns[:, 0])), rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(cp.response_products(), zx.T @ (wv * y), rtol=1e-10, atol=1e-9)
    q = Z.shape[1]
    np.testing.assert_allclose(lambda_transposed_times(columns, templates(theta, ks), [n for n, _ in specs]),
                               np.vstack([lam.T @ columns[:q], columns[q:]]), rtol=1e-12, atol=1e-12)
    factor = factorize(cp, theta)
    np.testing.assert_allclose(factor.solve_lower(columns), np.linalg.solve(L, columns), rtol=1e-8, atol=1e-10)
