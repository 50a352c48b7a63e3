"""R's rounding and quantiles, checked against what R computes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mixedfx.rbase.rmath import quantile7, r_round, zapsmall

NA = math.nan


@pytest.mark.parametrize(
    ("x", "digits", "want"),
    [(2.5, 0, 2.0), (-1.5, 0, -2.0), (0.15, 1, 0.1), (2.675, 2, 2.67), (1814.85047, 1, 1814.9),
     (1234.5678, -2, 1200.0), (0.125, 2, 0.12)],
)
def test_round(x, digits, want):
    assert r_round(x, digits) == want


def test_round_passes_through_special_values():
    assert math.isnan(r_round(NA, 2)) and r_round(math.inf, 2) == math.inf and r_round(0.0, 3) == 0.0


def test_zapsmall_rounds_relative_to_the_largest():
    np.testing.assert_array_equal(zapsmall([1.0, 1e-20], 7), [1.0, 0.0])
    # R < 4.4: digits - log10(max) = 1.74 decimal places, rounded to 2
    np.testing.assert_array_equal(zapsmall([1814.85047, 1777.96804], 5), [1814.85, 1777.97])
    assert np.isnan(zapsmall([NA, 1.5])[0])


def test_quantile_type7():
    np.testing.assert_allclose(quantile7(range(1, 11)), [1, 3.25, 5.5, 7.75, 10])
    np.testing.assert_allclose(quantile7([3.0, NA, 1.0], [0.5]), [2.0])
    assert np.isnan(quantile7([NA, NA], [0.25, 0.5])).all()  # R: NA for each
