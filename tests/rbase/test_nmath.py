"""R's log-densities against their closed forms, and at the edges where R's C code decides the value.

The families' AIC tests (tests/glmm/test_families.py) check them against R itself.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import gammaln

from mixedfx.rbase.nmath import dbinom_log, dgamma_log, dpois_log

# sizes on each side of stirlerr's switches (15, 35, 80, 500)
SIZES = [1.0, 7.0, 15.0, 16.0, 36.0, 81.0, 501.0, 2000.0]


@pytest.mark.parametrize("n", SIZES)
def test_dbinom_is_the_binomial_probability(n):
    x = np.unique(np.round(np.linspace(0.0, n, 9)))
    for p in (0.03, 0.5, 0.97):
        want = (gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1) + x * np.log(p) + (n - x) * np.log1p(-p))
        np.testing.assert_allclose(dbinom_log(x, np.full_like(x, n), np.full_like(x, p)), want, rtol=1e-12)


def test_dbinom_edges():
    got = dbinom_log(np.array([-1.0, 4.0, 0.0, 3.0, 0.0, 3.0, 1.0]), np.array([3.0, 3.0, 3.0, 3.0, 0.0, 3.0, 3.0]),
                     np.array([0.5, 0.5, 0.0, 1.0, 0.5, 0.0, 1.5]))
    np.testing.assert_array_equal(got, [-np.inf, -np.inf, 0.0, 0.0, 0.0, -np.inf, np.nan])


@pytest.mark.parametrize("lam", [1e-3, 0.7, 12.0, 480.0])
def test_dpois_is_the_poisson_probability(lam):
    x = np.array(SIZES + [0.0, 3.0])
    want = -lam + x * np.log(lam) - gammaln(x + 1)
    np.testing.assert_allclose(dpois_log(x, np.full_like(x, lam)), want, rtol=1e-12)


def test_dpois_edges():
    got = dpois_log(np.array([1.5, -1.0, np.inf, 0.0, 2.0, 1.0]), np.array([2.0, 2.0, 2.0, 0.0, 0.0, -1.0]))
    np.testing.assert_array_equal(got, [-np.inf, -np.inf, -np.inf, 0.0, -np.inf, np.nan])


@pytest.mark.parametrize("shape", [0.3, 1.0, 2.5, 40.0])
def test_dgamma_is_the_gamma_density(shape):
    x = np.array([0.01, 0.5, 1.0, 3.0, 25.0])
    scale = np.array([0.2, 1.0, 2.0, 1.0, 10.0])
    want = (shape - 1) * np.log(x) - x / scale - math.lgamma(shape) - shape * np.log(scale)
    np.testing.assert_allclose(dgamma_log(x, shape, scale), want, rtol=1e-12)


def test_dgamma_at_zero_and_outside():
    zero, scale = np.zeros(3), np.full(3, 2.0)
    assert dgamma_log(zero, 0.5, scale).tolist() == [np.inf] * 3
    assert dgamma_log(zero, 1.0, scale).tolist() == [-math.log(2.0)] * 3
    assert dgamma_log(zero, 3.0, scale).tolist() == [-np.inf] * 3
    np.testing.assert_array_equal(dgamma_log(np.array([-1.0, 1.0]), 2.0, np.array([1.0, 0.0])), [-np.inf, np.nan])


def test_dgamma_shape_one_given_as_a_python_float():
    assert float(dgamma_log(np.array(1.0), 1.0, np.array(1.0))) == -1.0
