"""theta and the variance components: the maps both ways and the score's chain rule."""

import numpy as np
import pytest

from mixedfx.lmm.variance_parameters import covariance_entries, covariance_score, theta_of_covariances

KS = [3, 1, 2]


def _theta(seed):
    rng = np.random.default_rng(seed)
    parts = []
    for k in KS:
        template = np.tril(rng.normal(size=(k, k)))
        template[np.diag_indices(k)] = rng.uniform(0.2, 2.0, k)
        parts.append(template.T[np.triu_indices(k)])  # the lower triangle column-major
    return np.concatenate(parts)


@pytest.mark.parametrize("seed", range(4))
def test_theta_comes_back_from_its_covariances(seed):
    theta = _theta(seed)
    psi = np.empty(theta.size + 1)
    covariance_entries(theta, KS, 1.7, psi)
    psi[-1] = 1.7
    back = np.empty(theta.size)
    assert theta_of_covariances(psi, KS, back)
    np.testing.assert_allclose(back, theta, rtol=1e-12)


def test_a_covariance_that_is_not_positive_definite_is_refused():
    # Sigma = [[1, 2], [2, 1]] has a negative eigenvalue
    assert not theta_of_covariances(np.array([1.0, 2.0, 1.0, 1.0]), [2], np.empty(3))
    assert not theta_of_covariances(np.array([1.0, 0.0, 1.0, 0.0]), [2], np.empty(3))


@pytest.mark.parametrize("seed", range(4))
def test_the_score_over_psi_is_the_chain_rule_of_the_gradient(seed):
    # f(psi) any smooth function; the profiled criterion is f at theta with sigma^2 at f's stationary point:
    # here f is linear in sigma^2's log, so take the profiled form directly
    rng = np.random.default_rng(seed + 10)
    weights = rng.normal(size=_theta(0).size)
    sigma2 = 0.8

    def f(psi):  # a smooth function of psi, stationary in sigma^2 nowhere in particular
        return float(weights @ np.tanh(psi[:-1] / psi[-1]) + np.log(psi[-1]) ** 2)

    theta = _theta(seed)
    psi = np.empty(theta.size + 1)
    covariance_entries(theta, KS, sigma2, psi)
    psi[-1] = sigma2
    h = 1e-6
    score_psi = np.array([(f(psi + h * e) - f(psi - h * e)) / (2 * h) for e in np.eye(psi.size)])

    def along_theta(t):  # f with theta moved and sigma^2 held
        moved = np.empty(psi.size)
        covariance_entries(t, KS, sigma2, moved)
        moved[-1] = sigma2
        return f(moved)

    gradient = np.array([(along_theta(theta + h * e) - along_theta(theta - h * e)) / (2 * h) for e in np.eye(theta.size)])
    out = np.empty(psi.size)
    assert covariance_score(theta, gradient, KS, sigma2, psi, out)
    # the covariance entries' derivatives come back exactly; sigma^2's follows from stationarity, which f lacks
    np.testing.assert_allclose(out[:-1], score_psi[:-1], rtol=1e-5, atol=1e-7)


def test_a_singular_template_has_no_score():
    assert not covariance_score(np.array([1.0, 0.5, 0.0]), np.ones(3), [2], 1.0, np.ones(3), np.empty(4))
