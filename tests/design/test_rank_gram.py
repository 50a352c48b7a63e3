"""gram_rank_keep on X'X keeps the columns that rank_keep (R's qr on X) keeps, for exact dependencies and full rank."""

import numpy as np
import pytest

from mixedfx.design.rank import gram_rank_keep, rank_keep


def _dummies(codes, levels):
    return (codes[:, None] == np.arange(levels)[None, :]).astype(float)


def _check(X, expected=None):
    kept = gram_rank_keep(X.T @ X)
    assert kept == rank_keep(X)
    if expected is not None:
        assert kept == expected
    return kept


@pytest.mark.parametrize("seed", range(5))
def test_full_rank_random_columns_are_all_kept(seed):
    rng = np.random.default_rng(seed)
    n, p = 200, 6
    X = rng.normal(size=(n, p)) * rng.uniform(0.01, 100.0, p)[None, :]
    X[:, 0] = 1.0
    _check(X, list(range(p)))


@pytest.mark.parametrize("seed", range(5))
def test_duplicated_columns_are_dropped(seed):
    rng = np.random.default_rng(10 + seed)
    base = rng.normal(size=(150, 4))
    X = np.column_stack([base[:, 0], base[:, 1], base[:, 0], base[:, 2], 3.0 * base[:, 1], base[:, 3]])
    _check(X, [0, 1, 3, 5])


@pytest.mark.parametrize("seed", range(5))
def test_sums_of_other_columns_are_dropped(seed):
    rng = np.random.default_rng(20 + seed)
    a, b, c = rng.normal(size=(3, 120))
    X = np.column_stack([np.ones(120), a, b, a + b, c, 2.0 * a - 0.5 * c + 1.0, rng.normal(size=120)])
    _check(X, [0, 1, 2, 4, 6])


def test_zero_columns_are_dropped_wherever_they_are():
    rng = np.random.default_rng(30)
    a, b = rng.normal(size=(2, 80))
    zero = np.zeros(80)
    _check(np.column_stack([zero, a, zero, b, zero]), [1, 3])
    _check(np.column_stack([zero, zero]), [])


def test_a_dummy_set_with_an_intercept_drops_its_last_dummy():
    rng = np.random.default_rng(31)
    n = 90
    g = rng.integers(0, 4, n)
    X = np.column_stack([np.ones(n), _dummies(g, 4), rng.normal(size=n)])
    _check(X, [0, 1, 2, 3, 5])


@pytest.mark.parametrize("seed", range(4))
def test_two_dummy_sets_and_their_interaction_with_an_intercept(seed):
    rng = np.random.default_rng(40 + seed)
    n = 240
    f, g = rng.integers(0, 3, n), rng.integers(0, 4, n)
    df, dg = _dummies(f, 3), _dummies(g, 4)
    interaction = np.column_stack([df[:, i] * dg[:, j] for j in range(4) for i in range(3)])
    X = np.column_stack([np.ones(n), df, dg, interaction])
    kept = _check(X)
    # 1 + 2 + 3 + 2 * 3 independent columns: the cell means of a 3 x 4 table
    assert len(kept) == 12 == np.linalg.matrix_rank(X)


def test_an_empty_level_gives_a_zero_dummy_that_is_dropped():
    rng = np.random.default_rng(50)
    n = 60
    g = rng.choice([0, 1, 3], n)  # level 2 never occurs
    x = rng.normal(size=n)
    X = np.column_stack([np.ones(n), _dummies(g, 4)[:, 1:], x, x * _dummies(g, 4)[:, 1]])
    _check(X, [0, 1, 3, 4, 5])


def test_integer_valued_columns_with_a_scaled_copy_and_a_large_offset():
    rng = np.random.default_rng(51)
    n = 100
    days = rng.integers(0, 10, n).astype(float)
    year = 2000.0 + days
    X = np.column_stack([np.ones(n), days, year, rng.normal(size=n)])
    _check(X, [0, 1, 3])
