"""Cross-product blocks summed over row splits, and rescaled Z columns, against one pass over all the rows."""

from itertools import pairwise

import numpy as np
import pytest
import scipy.sparse as sp

from mixedfx.linalg.cross import (
    add_cross_products,
    by_slots,
    coupling_is_sparse,
    cross_products,
    response_map,
    scale_columns,
    settle_coupling,
)
from mixedfx.linalg.layout import TermLayout


def _dense(a):
    return a.toarray() if sp.issparse(a) else np.asarray(a)


def _split(terms, rows):
    return [TermLayout(codes=t.codes[rows], z=t.z[rows], n_levels=t.n_levels) for t in terms]


def _full_gram(terms, X, y, w):
    """[Z X y]' W [Z X y] formed densely in numpy."""
    M = np.column_stack([t.matrix.toarray() for t in terms] + [X, y])
    return M.T @ (M * w[:, None])


def _assembled(cp):
    """The whole symmetric matrix the blocks describe."""
    ks, levels = cp.layout.ks, cp.layout.n_levels
    q1 = ks[0] * levels[0]
    order = cp.layout.order
    out = np.zeros((order, order))
    for level in range(levels[0]):
        s = slice(level * ks[0], (level + 1) * ks[0])
        out[s, s] = cp.a11[level]
    out[q1:, :q1] = _dense(cp.a_r1)
    out[:q1, q1:] = _dense(cp.a_r1).T
    out[q1:, q1:] = cp.a_rr
    return out


def _assert_same_blocks(a, b):
    assert a.sparse_coupling == b.sparse_coupling
    assert a.layout == b.layout
    np.testing.assert_allclose(a.a11, b.a11, rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(_dense(a.a_r1), _dense(b.a_r1), rtol=1e-11, atol=1e-9)
    np.testing.assert_allclose(a.a_rr, b.a_rr, rtol=1e-11, atol=1e-9)


def _small_model(rng, n=400):
    """A slope term on 25 levels, a scalar term on 6 and three columns of X: the coupling is dense."""
    terms = [TermLayout(codes=rng.integers(0, 25, n), z=np.column_stack([np.ones(n), rng.normal(size=n)]),
                        n_levels=25),
             TermLayout(codes=rng.integers(0, 6, n), z=np.ones((n, 1)), n_levels=6)]
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
    return terms, X, rng.normal(size=n), rng.uniform(0.5, 2.0, n)


def _crossed_model(rng, n=4000, first=1500, second=700):
    """Scalar crossed terms with many levels: the coupling is stored sparse."""
    terms = [TermLayout(codes=rng.integers(0, first, n), z=np.ones((n, 1)), n_levels=first),
             TermLayout(codes=rng.integers(0, second, n), z=np.ones((n, 1)), n_levels=second)]
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    return terms, X, rng.normal(size=n), rng.uniform(0.5, 2.0, n)


def _sum_of_splits(terms, X, y, w, cuts):
    edges = [0, *cuts, len(y)]
    parts = [cross_products(_split(terms, slice(a, b)), X[a:b], y[a:b], w[a:b]) for a, b in pairwise(edges)]
    total = parts[0]
    for part in parts[1:]:
        total = add_cross_products(total, part)
    return parts, settle_coupling(total, terms)


@pytest.mark.parametrize("weighted", [False, True])
def test_small_model_with_dense_coupling_sums_to_one_pass(weighted):
    rng = np.random.default_rng(21)
    terms, X, y, w = _small_model(rng)
    assert by_slots(terms, X.shape[1])
    w = w if weighted else np.ones(len(y))
    _, settled = _sum_of_splits(terms, X, y, w, [150])
    whole = cross_products(terms, X, y, w if weighted else None)
    assert not whole.sparse_coupling
    _assert_same_blocks(settled, whole)
    np.testing.assert_allclose(_assembled(settled), _full_gram(terms, X, y, w), rtol=1e-11, atol=1e-9)


def test_crossed_model_with_sparse_coupling_sums_to_one_pass():
    rng = np.random.default_rng(22)
    terms, X, y, w = _crossed_model(rng)
    assert not by_slots(terms, X.shape[1])
    parts, settled = _sum_of_splits(terms, X, y, w, [1000, 2500])
    whole = cross_products(terms, X, y, w)
    assert whole.sparse_coupling and all(p.sparse_coupling for p in parts)
    _assert_same_blocks(settled, whole)
    np.testing.assert_allclose(_assembled(settled), _full_gram(terms, X, y, w), rtol=1e-11, atol=1e-9)


@pytest.mark.parametrize("cut", [10_000, 1_500])
def test_parts_whose_sum_is_dense_settle_into_a_dense_coupling(cut):
    # 200 x 200 crossed levels: a part of few rows meets few enough pairs to be sparse, all rows too many
    rng = np.random.default_rng(23)
    n = 20_000
    terms = [TermLayout(codes=rng.integers(0, 200, n), z=np.ones((n, 1)), n_levels=200),
             TermLayout(codes=rng.integers(0, 200, n), z=np.ones((n, 1)), n_levels=200)]
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y, w = rng.normal(size=n), np.ones(n)
    assert not by_slots(terms, X.shape[1])
    parts, settled = _sum_of_splits(terms, X, y, w, [cut])
    whole = cross_products(terms, X, y)
    assert parts[0].sparse_coupling and not whole.sparse_coupling  # the case this test is about
    assert parts[1].sparse_coupling == (cut == n // 2)  # halves: both sparse; else a sparse and a dense part
    size = (200 + X.shape[1] + 1) * 200
    assert not coupling_is_sparse(size, np.count_nonzero(_dense(whole.a_r1)))
    _assert_same_blocks(settled, whole)


def test_single_term_sums_to_one_pass():
    rng = np.random.default_rng(24)
    n = 300
    terms = [TermLayout(codes=rng.integers(0, 12, n), z=np.column_stack([np.ones(n), rng.normal(size=n)]),
                        n_levels=12)]
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y, w = rng.normal(size=n), rng.uniform(0.5, 2.0, n)
    _, settled = _sum_of_splits(terms, X, y, w, [100, 101])
    _assert_same_blocks(settled, cross_products(terms, X, y, w))


def _scaled_terms(terms, scales):
    return [TermLayout(codes=t.codes, z=t.z / s, n_levels=t.n_levels) for t, s in zip(terms, scales)]


def test_scale_columns_with_dense_coupling_equals_the_blocks_of_the_divided_columns():
    rng = np.random.default_rng(25)
    terms, X, y, w = _small_model(rng)
    scales = [np.array([2.0, 0.25]), np.array([7.0])]
    scaled = scale_columns(cross_products(terms, X, y, w), scales)
    _assert_same_blocks(scaled, cross_products(_scaled_terms(terms, scales), X, y, w))


def test_scale_columns_with_sparse_coupling_equals_the_blocks_of_the_divided_columns():
    rng = np.random.default_rng(26)
    terms, X, y, w = _crossed_model(rng)
    scales = [np.array([3.0]), np.array([0.5])]
    before = cross_products(terms, X, y, w)
    assert before.sparse_coupling
    scaled = scale_columns(before, scales)
    _assert_same_blocks(scaled, cross_products(_scaled_terms(terms, scales), X, y, w))


def test_scale_columns_of_a_single_slope_term():
    rng = np.random.default_rng(27)
    n = 200
    terms = [TermLayout(codes=rng.integers(0, 10, n), z=np.column_stack([np.ones(n), rng.normal(100.0, 30.0, n)]),
                        n_levels=10)]
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n)
    scales = [np.array([1.0, 104.0])]
    scaled = scale_columns(cross_products(terms, X, y), scales)
    _assert_same_blocks(scaled, cross_products(_scaled_terms(terms, scales), X, y))


@pytest.mark.parametrize("n_levels", [12, 300])
def test_response_map_is_dense_when_small_and_gives_the_cross_products_either_way(n_levels):
    rng = np.random.default_rng(n_levels)
    n = 4 * n_levels
    codes = np.repeat(np.arange(n_levels), 4)
    term = TermLayout(codes=codes, z=np.column_stack([np.ones(n), rng.normal(size=n)]), n_levels=n_levels)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    w, y = rng.uniform(0.5, 2.0, n), rng.normal(size=n)
    mapped = response_map([term], X, w)
    assert sp.issparse(mapped) == (n_levels > 12)
    zx = np.hstack([_dense(term.matrix), X])
    np.testing.assert_allclose(mapped @ y, zx.T @ (w * y), rtol=1e-12)
