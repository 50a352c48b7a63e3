"""row_statistics against sums formed row by row in numpy; sums over row splits add up to the sums over all rows."""

import numpy as np
import pytest

from mixedfx.linalg.layout import TermLayout
from mixedfx.linalg.row_statistics import RowStatistics, row_statistics


def _random_terms(rng, n):
    """A two-column term on 9 levels (one level without rows) and a one-column term on 4 levels."""
    codes1 = rng.integers(0, 8, n)  # level 8 never occurs
    codes2 = rng.integers(0, 4, n)
    z1 = np.column_stack([np.ones(n), rng.normal(3.0, 2.0, n)])
    z2 = rng.normal(size=(n, 1))
    return [TermLayout(codes=codes1, z=z1, n_levels=9), TermLayout(codes=codes2, z=z2, n_levels=4)]


def _split(terms, rows):
    return [TermLayout(codes=t.codes[rows], z=t.z[rows], n_levels=t.n_levels) for t in terms]


def _assert_same(a: RowStatistics, b: RowStatistics):
    assert a.n == b.n
    assert a.response_sum == pytest.approx(b.response_sum, rel=1e-12, abs=1e-12)
    assert a.response_squares == pytest.approx(b.response_squares, rel=1e-12)
    assert a.log_weights == pytest.approx(b.log_weights, rel=1e-12, abs=1e-12)
    for name in ("level_sums", "level_counts", "z_squares"):
        left, right = getattr(a, name), getattr(b, name)
        assert len(left) == len(right)
        for x, y in zip(left, right):
            assert x.shape == y.shape
            np.testing.assert_allclose(x, y, rtol=1e-12, atol=1e-12)


def test_row_statistics_match_numpy_sums_over_the_rows():
    rng = np.random.default_rng(11)
    n = 257
    terms = _random_terms(rng, n)
    y = rng.normal(5.0, 3.0, n)
    w = rng.uniform(0.2, 4.0, n)
    stats = row_statistics(terms, y, w)
    assert stats.n == n
    assert stats.response_sum == pytest.approx(sum(float(v) for v in y), rel=1e-12)
    assert stats.response_squares == pytest.approx(sum(float(v) ** 2 for v in y), rel=1e-12)
    assert stats.log_weights == pytest.approx(sum(np.log(float(v)) for v in w), rel=1e-12)
    for t, sums, counts, squares in zip(terms, stats.level_sums, stats.level_counts, stats.z_squares):
        assert sums.shape == counts.shape == (t.n_levels,)
        for level in range(t.n_levels):
            rows = t.codes == level
            assert sums[level] == pytest.approx(y[rows].sum(), rel=1e-12, abs=1e-12)
            assert counts[level] == rows.sum()
        np.testing.assert_allclose(squares, (t.z**2).sum(axis=0), rtol=1e-12)
    assert stats.level_counts[0][8] == 0.0 and stats.level_sums[0][8] == 0.0
    # the response sums do not take weights: the unweighted statistics differ from the weighted only in log_weights
    unweighted = row_statistics(terms, y)
    assert unweighted.log_weights == 0.0
    assert unweighted.response_sum == stats.response_sum
    np.testing.assert_array_equal(unweighted.level_sums[1], stats.level_sums[1])


def test_a_zero_weight_makes_the_log_weights_minus_infinity():
    rng = np.random.default_rng(3)
    terms = _random_terms(rng, 20)
    w = np.ones(20)
    w[5] = 0.0
    assert row_statistics(terms, rng.normal(size=20), w).log_weights == -np.inf


@pytest.mark.parametrize("cut", [1, 100, 256])
def test_statistics_of_two_row_splits_add_up_to_those_of_all_rows(cut):
    rng = np.random.default_rng(cut)
    n = 257
    terms = _random_terms(rng, n)
    y = rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n)
    order = rng.permutation(n)
    first, second = order[:cut], order[cut:]
    parts = (row_statistics(_split(terms, first), y[first], w[first])
             + row_statistics(_split(terms, second), y[second], w[second]))
    _assert_same(parts, row_statistics(terms, y, w))


def test_column_scales_are_root_mean_squares_and_one_for_a_zero_column():
    rng = np.random.default_rng(5)
    n = 60
    z1 = np.column_stack([np.full(n, 2.0), rng.normal(0.0, 50.0, n), np.zeros(n)])
    z2 = rng.normal(size=(n, 1))
    terms = [TermLayout(codes=rng.integers(0, 6, n), z=z1, n_levels=6),
             TermLayout(codes=rng.integers(0, 3, n), z=z2, n_levels=3)]
    scales = row_statistics(terms, rng.normal(size=n)).column_scales()
    assert len(scales) == 2
    expected1 = np.sqrt(np.mean(z1**2, axis=0))
    assert scales[0][0] == pytest.approx(2.0, rel=1e-14)
    assert scales[0][1] == pytest.approx(expected1[1], rel=1e-12)
    assert scales[0][2] == 1.0
    np.testing.assert_allclose(scales[1], np.sqrt(np.mean(z2**2, axis=0)), rtol=1e-12)


def test_column_scales_of_summed_splits_are_those_of_all_rows():
    # the mean divides by all rows, not by either part's
    rng = np.random.default_rng(6)
    n = 90
    z = np.column_stack([np.ones(n), rng.normal(10.0, 4.0, n)])
    codes = rng.integers(0, 5, n)
    y = rng.normal(size=n)
    head = row_statistics([TermLayout(codes=codes[:30], z=z[:30], n_levels=5)], y[:30])
    tail = row_statistics([TermLayout(codes=codes[30:], z=z[30:], n_levels=5)], y[30:])
    np.testing.assert_allclose((head + tail).column_scales()[0], np.sqrt(np.mean(z**2, axis=0)), rtol=1e-12)
