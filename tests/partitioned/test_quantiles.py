"""exact_quantiles of a Dask Series in several partitions equals R's type 7 quantile of the same values in memory."""

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from mixedfx.partitioned import quantiles
from mixedfx.partitioned.quantiles import exact_quantiles
from mixedfx.rbase.rmath import quantile7

PROBS = [0.0, 0.1, 0.25, 0.333, 0.5, 0.75, 0.9, 0.999, 1.0]


def _passes(monkeypatch):
    """Count the passes exact_quantiles makes over the partitions."""
    count = [0]
    original = quantiles.reduce_partitions

    def counted(*args, **kwargs):
        count[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(quantiles, "reduce_partitions", counted)
    return count


def _small_bins(monkeypatch, gather=5, bins=4):
    monkeypatch.setattr(quantiles, "GATHER_AT_MOST", gather)
    monkeypatch.setattr(quantiles, "BINS", bins)


def _check(values, partitions=4, probs=PROBS, shuffle=0):
    values = np.asarray(values, dtype=float)
    if shuffle is not None:
        values = np.random.default_rng(shuffle).permutation(values)
    series = dd.from_pandas(pd.Series(values), npartitions=partitions)
    with dask.config.set(scheduler="synchronous"):
        got = exact_quantiles(series, probs)
    expected = quantile7(values, probs)
    assert got.shape == (len(probs),)
    np.testing.assert_array_equal(got, expected)
    return got


@pytest.mark.parametrize("seed", range(3))
def test_random_normals(seed):
    _check(np.random.default_rng(seed).normal(10.0, 3.0, 1001), partitions=5)


@pytest.mark.parametrize("seed", range(3))
def test_random_normals_with_small_bins_narrow_over_several_passes(monkeypatch, seed):
    _small_bins(monkeypatch)
    passes = _passes(monkeypatch)
    _check(np.random.default_rng(seed).normal(size=400), partitions=6)
    assert passes[0] >= 4  # the count and range, several rounds of bins, the gathering


def test_an_even_count_interpolates_between_neighbours(monkeypatch):
    _small_bins(monkeypatch, gather=3, bins=8)
    got = _check(np.arange(1.0, 11.0), partitions=3, probs=[0.5, 0.25, 0.05])
    assert got[0] == 5.5  # R: quantile(1:10, 0.5) == 5.5


def test_heavy_ties_narrowed_over_several_passes(monkeypatch):
    # 10 distinct values, about 40 copies each: the first bins hold more than GATHER_AT_MOST values
    _small_bins(monkeypatch, gather=50, bins=4)
    passes = _passes(monkeypatch)
    values = np.random.default_rng(7).integers(0, 10, 400).astype(float)
    _check(values, partitions=5)
    assert passes[0] >= 3


def test_more_ties_than_gathered_at_a_value_no_quantile_needs(monkeypatch):
    _small_bins(monkeypatch, gather=5, bins=4)
    values = np.concatenate([np.full(30, 3.0), np.random.default_rng(8).normal(size=300)])
    _check(values, partitions=4, probs=[0.1, 0.25, 0.5, 0.75, 0.85])


def test_more_ties_than_gathered_at_the_maximum(monkeypatch):
    _small_bins(monkeypatch, gather=5, bins=4)
    values = np.concatenate([np.ones(200), np.random.default_rng(9).uniform(-2.0, 0.0, 100)])
    got = _check(values, partitions=4)
    assert got[PROBS.index(0.75):].tolist() == [1.0] * 4  # the upper quartile and above are among the ties


def test_missing_values_are_dropped(monkeypatch):
    rng = np.random.default_rng(10)
    values = rng.normal(size=500)
    values[rng.uniform(size=500) < 0.2] = np.nan
    values[:60] = np.nan  # without shuffling, the first partition holds no value at all
    _check(values, partitions=5, shuffle=None)
    _small_bins(monkeypatch)
    _check(values, partitions=5, shuffle=None)


def test_a_single_value_among_missing_ones():
    got = _check([np.nan, np.nan, 4.25, np.nan, np.nan, np.nan], partitions=3, shuffle=None)
    assert got.tolist() == [4.25] * len(PROBS)


def test_a_constant_series():
    _check(np.full(50, -2.5), partitions=4)


def test_all_missing_gives_nan_for_every_probability():
    series = dd.from_pandas(pd.Series([np.nan] * 12), npartitions=3)
    with dask.config.set(scheduler="synchronous"):
        got = exact_quantiles(series, [0.0, 0.5, 1.0])
    assert got.shape == (3,) and np.isnan(got).all()


@pytest.mark.parametrize("small", [False, True])
def test_extreme_outliers(monkeypatch, small):
    if small:
        _small_bins(monkeypatch)
    rng = np.random.default_rng(11)
    values = np.concatenate([rng.normal(size=300), [1e300, -1e300, 1e250, 3e-300]])
    _check(values, partitions=4)
    _check(np.concatenate([values, np.full(40, 1e300)]), partitions=4)


def test_integer_values():
    _check(np.random.default_rng(12).integers(-1000, 1000, 777), partitions=4)


@pytest.mark.parametrize("tied", [0.0, 0.125, 2.0])
def test_more_ties_than_gathered_at_a_needed_quantile_end_in_a_bin_of_one_double(monkeypatch, tied):
    _small_bins(monkeypatch)
    rng = np.random.default_rng(4)
    _check(np.concatenate([np.full(200, tied), rng.normal(size=100), [5.0]]))


def test_values_one_double_apart_and_a_range_wider_than_the_doubles(monkeypatch):
    _check(np.array([1.0, np.nextafter(1.0, 2.0)] * 50))
    rng = np.random.default_rng(5)
    _check(np.concatenate([rng.normal(size=300), [1.7e308, -1.7e308]]))
    _small_bins(monkeypatch)
    _check(np.array([1.0, np.nextafter(1.0, 2.0)] * 50))


def test_infinite_values_take_their_ranks(monkeypatch):
    rng = np.random.default_rng(6)
    _check(np.concatenate([rng.normal(size=300), [np.inf, np.inf, -np.inf]]))
    _small_bins(monkeypatch)
    _check(np.concatenate([rng.normal(size=30), [np.inf], np.full(10, -np.inf)]))
