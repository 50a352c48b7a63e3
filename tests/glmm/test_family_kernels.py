"""The compiled binomial (logit) and Poisson (log) families against mixedfx.glmm.families."""

import numpy as np
import pytest

from mixedfx.glmm import families, family_kernels, link_clamps
from mixedfx.glmm.family_kernels import (BINOMIAL_LOGIT, POISSON_LOG, compiled_family, derivatives, dev_resid,
                                       log_likelihood_terms, mean)
from mixedfx.rbase.rmath import DBL_EPSILON

ETA = np.array([-45.0, -30.5, -30.0, -3.0, -0.2, 0.0, 1.7, 29.9, 30.0, 31.0, 60.0])


def test_only_the_compiled_families_have_a_code():
    assert compiled_family(families.binomial()) == BINOMIAL_LOGIT
    assert compiled_family(families.poisson()) == POISSON_LOG
    assert compiled_family(families.binomial("probit")) == 0
    assert compiled_family(families.Gamma()) == 0


@pytest.mark.parametrize("family", [families.binomial(), families.poisson()], ids=["binomial", "poisson"])
def test_mean_derivative_and_variance_are_the_familys(family):
    code = compiled_family(family)
    got = np.array([mean(code, e) for e in ETA])
    mu = family.link.linkinv(ETA)
    np.testing.assert_allclose(got[:, 0], mu, rtol=1e-14)
    np.testing.assert_allclose(got[:, 1], family.link.mu_eta(ETA), rtol=1e-14)
    np.testing.assert_allclose(got[:, 2], family.variance(mu), rtol=1e-14)


def test_the_compiled_clamps_are_the_links_rules():
    assert family_kernels._logit_odds.py_func is link_clamps.logit_odds
    assert family_kernels._clamp_logit_mu_eta.py_func is link_clamps.clamp_logit_mu_eta
    assert family_kernels._log_mean.py_func is link_clamps.log_mean


@pytest.mark.parametrize("family", [families.binomial(), families.poisson()], ids=["binomial", "poisson"])
def test_derivatives_from_the_mean_are_the_variance_held_as_r_holds_mu_eta(family):
    """Both canonical links have d mu / d eta = V(mu), computed from the mean without a second exp."""
    code = compiled_family(family)
    mu = family.link.linkinv(ETA)
    got = np.array([derivatives(code, e, m) for e, m in zip(ETA, mu)])
    var = family.variance(mu)
    np.testing.assert_allclose(got[:, 1], var, rtol=1e-14)
    held = (np.abs(ETA) > 30) if code == BINOMIAL_LOGIT else np.zeros(ETA.size, dtype=bool)
    np.testing.assert_allclose(got[:, 0], np.where(held, DBL_EPSILON, var), rtol=1e-14)
    np.testing.assert_array_equal(got[held, 0], DBL_EPSILON)


@pytest.mark.parametrize("family, y", [(families.binomial(), np.array([0.0, 1.0, 0.25, 1.0, 0.0])),
                                       (families.poisson(), np.array([0.0, 3.0, 1.0, 12.0, 0.0]))],
                         ids=["binomial", "poisson"])
def test_deviance_residuals_are_the_familys(family, y):
    mu = family.link.linkinv(np.array([-2.0, 0.3, -0.5, 2.2, 1.0]))
    wt = np.array([1.0, 2.0, 4.0, 1.0, 0.5])
    got = [dev_resid(compiled_family(family), yi, mi, wi) for yi, mi, wi in zip(y, mu, wt)]
    np.testing.assert_allclose(got, family.dev_resids(y, mu, wt), rtol=1e-13)


def test_binomial_aic_split_gives_the_familys_aic():
    rng = np.random.default_rng(1)
    mu = rng.uniform(0.05, 0.95, 20)
    fam = families.binomial()
    trials = rng.integers(1, 9, 20).astype(float)
    y = rng.integers(0, 9, 20) % (trials + 1) / trials
    for n_trials, weights in [(trials, trials), (np.ones(20), np.ones(20)),
                              (np.ones(20), rng.uniform(0.5, 2.0, 20).round())]:
        yy = np.round(y) if n_trials.max() == 1 else y
        terms = log_likelihood_terms(fam, yy, n_trials, weights)
        assert terms.aic(mu) == pytest.approx(fam.aic(yy, n_trials, mu, weights, 0.0), rel=1e-12)
        deviance = float(fam.dev_resids(yy, mu, weights).sum())
        assert terms.deviance_shift is not None
        assert terms.aic_from_deviance(mu, deviance) == pytest.approx(terms.aic(mu), rel=1e-12)


def test_binomial_aic_from_the_deviance_only_where_successes_are_whole():
    """R rounds weights times proportions to whole successes: then aic and deviance differ by more than a constant."""
    fam = families.binomial()
    y, weights = np.array([0.0, 1.0, 1.0, 0.0]), np.array([1.5, 2.5, 1.0, 2.0])
    terms = log_likelihood_terms(fam, y, np.ones(4), weights)
    mu = np.array([0.2, 0.6, 0.7, 0.4])
    assert terms.deviance_shift is None
    assert terms.aic_from_deviance(mu, 123.0) == terms.aic(mu)


def test_poisson_aic_split_gives_the_familys_aic_and_declines_non_counts():
    fam = families.poisson()
    y = np.array([0.0, 1.0, 4.0, 17.0])
    mu = np.array([0.3, 1.2, 3.5, 15.0])
    wt = np.array([1.0, 2.0, 1.0, 0.5])
    terms = log_likelihood_terms(fam, y, np.ones(4), wt)
    assert terms.aic(mu) == pytest.approx(fam.aic(y, np.ones(4), mu, wt, 0.0), rel=1e-12)
    deviance = float(fam.dev_resids(y, mu, wt).sum())
    assert terms.aic_from_deviance(mu, deviance) == pytest.approx(terms.aic(mu), rel=1e-12)
    assert log_likelihood_terms(fam, y + 0.5, np.ones(4), wt) is None
    assert log_likelihood_terms(families.Gamma(), y + 1.0, np.ones(4), wt) is None
