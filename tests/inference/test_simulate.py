"""simulate(): lme4's names and shapes, determinism by seed, and the moments of the draws."""

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.errors import MixedFxError
from mixedfx.glmm.families import inverse_gaussian, negative_binomial
from mixedfx.linalg.layout import templates
from mixedfx.inference.simulate import _family_draw, simulate

NSIM = 4000


@pytest.fixture(scope="module")
def cbpp_fit():
    return mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=mfx.datasets.load("cbpp"),
                     family="binomial")


@pytest.fixture(scope="module")
def simfeat():
    return mfx.datasets.load("simfeat")


def _marginal_variance(fit, days):
    """Var(y) of sleepstudy rows under (Days | Subject): z' Sigma z + sigma^2."""
    lam = templates(fit.theta, [2])[0]
    sigma_b = fit.sigma**2 * lam @ lam.T
    z = np.column_stack([np.ones(len(days)), days])
    return np.einsum("ij,jk,ik->i", z, sigma_b, z) + fit.sigma**2


def test_names_index_and_seed(slopes, sleep):
    sims = simulate(slopes, nsim=3, seed=42)
    assert list(sims.columns) == ["sim_1", "sim_2", "sim_3"]
    assert sims.index.equals(sleep.index)
    assert sims.attrs["seed"] == 42
    pd.testing.assert_frame_equal(sims, simulate(slopes, nsim=3, seed=42))
    assert not np.allclose(sims.to_numpy(), simulate(slopes, nsim=3, seed=43).to_numpy())
    generator = simulate(slopes, nsim=3, seed=np.random.default_rng(42))
    np.testing.assert_array_equal(generator.to_numpy(), sims.to_numpy())


def test_bad_nsim(slopes):
    with pytest.raises(ValueError, match="nsim"):
        simulate(slopes, nsim=0)


def test_lmm_marginal_moments(slopes, sleep):
    """New random effects each time: mean X beta, variance z' Sigma z + sigma^2, covariance within subjects."""
    sims = simulate(slopes, nsim=NSIM, seed=1).to_numpy()
    mean = slopes.predict(re_form="~0")
    variance = _marginal_variance(slopes, sleep["Days"].to_numpy())
    z = (sims.mean(axis=1) - mean) / np.sqrt(variance / NSIM)
    assert np.abs(z).max() < 4.5
    np.testing.assert_allclose(sims.var(axis=1, ddof=1), variance, rtol=0.12)
    # rows 0 and 9: the same subject at days 0 and 9
    lam = templates(slopes.theta, [2])[0]
    expected = slopes.sigma**2 * np.array([1.0, 0.0]) @ lam @ lam.T @ np.array([1.0, 9.0])
    assert np.cov(sims[0], sims[9])[0, 1] == pytest.approx(expected, rel=0.15)
    assert abs(np.corrcoef(sims[0], sims[10])[0, 1]) < 0.1  # another subject


def test_lmm_conditional_moments(slopes):
    """Conditioning on the term keeps its modes: mean fitted(), variance sigma^2; "~0" draws them again."""
    sims = simulate(slopes, nsim=NSIM, seed=2, re_form="~(Days | Subject)").to_numpy()
    z = (sims.mean(axis=1) - slopes.fitted()) / (slopes.sigma / np.sqrt(NSIM))
    assert np.abs(z).max() < 4.5
    np.testing.assert_allclose(sims.var(axis=1, ddof=1), slopes.sigma**2, rtol=0.12)
    np.testing.assert_array_equal(simulate(slopes, 2, seed=3, re_form="~0").to_numpy(),
                                  simulate(slopes, 2, seed=3).to_numpy())


def test_lmm_prior_weights(simfeat):
    """With prior weights the noise variance is sigma^2 / w."""
    fit = mfx.lmer("y ~ x + f + (1 | g1)", data=simfeat, weights="w")
    sims = simulate(fit, nsim=NSIM, seed=4, re_form="~(1 | g1)").to_numpy()
    w = fit.matrices.weights
    ratio = sims.var(axis=1, ddof=1) / (fit.sigma**2 / w)
    assert ratio.mean() == pytest.approx(1.0, abs=0.02)
    assert np.abs(ratio - 1).max() < 0.2


def test_newdata_levels(slopes, sleep):
    new = pd.DataFrame({"Days": [0.0, 5.0, 0.0, 5.0], "Subject": ["308", "308", "new1", "new2"]}, index=list("abcd"))
    with pytest.raises(ValueError, match="new level"):
        simulate(slopes, 2, newdata=new)
    sims = simulate(slopes, NSIM, seed=5, newdata=new, allow_new_levels=True)
    assert list(sims.index) == list("abcd")
    values = sims.to_numpy()
    # each level gets its own draw: rows of one subject are correlated, of different subjects not
    assert np.corrcoef(values[0], values[1])[0, 1] > 0.3
    assert abs(np.corrcoef(values[2], values[3])[0, 1]) < 0.1
    np.testing.assert_allclose(values.var(axis=1, ddof=1), _marginal_variance(slopes, new["Days"].to_numpy()),
                               rtol=0.12)
    conditional = simulate(slopes, NSIM, seed=6, newdata=new.iloc[:2], re_form="~(Days | Subject)")
    np.testing.assert_allclose(conditional.mean(axis=1), slopes.predict(new.iloc[:2]), atol=2.0)


def test_binomial_cbind(cbpp_fit):
    sims = simulate(cbpp_fit, nsim=NSIM, seed=7, re_form="~(1 | herd)")
    assert list(sims.columns[:2]) == [("sim_1", "incidence"), ("sim_1", "V2")]
    size = mfx.datasets.load("cbpp")["size"].to_numpy()
    successes = sims.xs("incidence", axis=1, level=1).to_numpy()
    np.testing.assert_array_equal(successes + sims.xs("V2", axis=1, level=1).to_numpy(), size[:, None] + 0 * successes)
    mu = cbpp_fit.fitted()
    z = (successes.mean(axis=1) - size * mu) / np.sqrt(size * mu * (1 - mu) / NSIM)
    assert np.abs(z).max() < 4.5
    np.testing.assert_allclose(successes.var(axis=1, ddof=1), size * mu * (1 - mu), rtol=0.15)
    with pytest.raises(MixedFxError, match="trials"):
        simulate(cbpp_fit, newdata=mfx.datasets.load("cbpp"))


def test_binomial_marginal_mean(cbpp_fit):
    """New herd effects: the mean proportion integrates the herd variance (below the conditional spread)."""
    sims = simulate(cbpp_fit, nsim=NSIM, seed=8)
    successes = sims.xs("incidence", axis=1, level=1).to_numpy()
    size = mfx.datasets.load("cbpp")["size"].to_numpy()
    eta = cbpp_fit.predict(re_form="~0")
    sd = cbpp_fit.varcorr()["sdcor"].iloc[0]
    nodes, weights = np.polynomial.hermite_e.hermegauss(30)
    expected = (1 / (1 + np.exp(-(eta[:, None] + sd * nodes[None, :])))) @ (weights / weights.sum())
    np.testing.assert_allclose(successes.mean(axis=1) / size, expected, atol=0.02)


def test_poisson_and_gamma(simfeat):
    poisson = mfx.glmer("count ~ x + f + offset(log(expo)) + (1 | g1)", data=simfeat, family="poisson")
    sims = simulate(poisson, nsim=2000, seed=9, re_form="~(1 | g1)").to_numpy()
    mu = poisson.fitted()
    assert np.all(sims == np.round(sims))
    np.testing.assert_allclose(sims.mean(axis=1), mu, atol=5 * np.sqrt(mu.max() / 2000))
    assert (sims.var(axis=1, ddof=1) / mu).mean() == pytest.approx(1.0, abs=0.03)
    gamma = mfx.glmer("pos ~ x + f + (1 | g1)", data=simfeat, family=mfx.families.Gamma("log"))
    sims = simulate(gamma, nsim=2000, seed=10, re_form="~(1 | g1)").to_numpy()
    mu = gamma.fitted()
    assert (sims.mean(axis=1) / mu).mean() == pytest.approx(1.0, abs=0.01)
    assert (sims.var(axis=1, ddof=1) / (gamma.sigma**2 * mu**2)).mean() == pytest.approx(1.0, abs=0.03)


@pytest.mark.parametrize("kind, family, variance", [
    ("negative_binomial", negative_binomial(2.5), lambda mu, s, w: mu + mu**2 / 2.5),
    ("inverse_gaussian", inverse_gaussian(), lambda mu, s, w: s**2 * mu**3 / w),
    ("gaussian", mfx.families.gaussian("log"), lambda mu, s, w: s**2 / w),
])
def test_family_draws(kind, family, variance):
    rng = np.random.default_rng(11)
    mu = np.repeat(np.array([[0.5], [2.0], [6.0]]), 40_000, axis=1)
    w = np.array([[1.0], [2.0], [0.5]]) if kind != "negative_binomial" else np.ones((3, 1))
    draws = _family_draw(kind, family, mu, w, 0.7, rng, False)
    np.testing.assert_allclose(draws.mean(axis=1), mu[:, 0], rtol=0.03)
    np.testing.assert_allclose(draws.var(axis=1), variance(mu[:, 0], 0.7, w[:, 0]), rtol=0.06)
