"""What r2, icc and variance_components do beyond the R cases: tolerance, refusals, random slopes, cost."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.errors import MixedFxError
from mixedfx.glmm.families import binomial, poisson
from mixedfx.linalg.layout import templates
from mixedfx.performance import icc, r2, variance_components
from mixedfx.performance.variance_components import NO_RANDOM_WARNING, SINGULAR_WARNING


def test_tolerance_zero_computes_the_random_variance_of_a_singular_fit():
    fit = mfx.lmer("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff2"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no singular warning
        value = r2(fit, tolerance=0.0)
    assert fit.theta[0] == 0.0
    assert value.tolist() == [0.0, 0.0]


def test_singular_icc_is_nan_with_the_warning():
    fit = mfx.lmer("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff2"))
    with pytest.warns(UserWarning, match="Some variance components equal zero") as record:
        value = icc(fit)
    assert str(record[0].message) == SINGULAR_WARNING
    assert value.isna().all() and list(value.index) == ["adjusted", "unadjusted"] and value.name == "ICC"


def test_random_slope_variance_is_the_mean_quadratic_form_over_the_rows(slopes):
    cov = slopes.sigma**2 * (templates(slopes.theta, slopes.ks)[0] @ templates(slopes.theta, slopes.ks)[0].T)
    rows = slopes.matrices.X  # (Intercept), Days: the term's columns
    expected = np.mean(np.einsum("ij,jk,ik->i", rows, cov, rows))
    assert variance_components(slopes)["random"] == pytest.approx(expected, rel=1e-12)


def test_only_the_first_term_of_a_grouping_factor_counts(sleep):
    both = mfx.lmer("Reaction ~ Days + (Days || Subject)", sleep)
    intercept_variance = both.sigma**2 * both.theta[0] ** 2
    assert variance_components(both)["random"] == pytest.approx(intercept_variance, rel=1e-12)


def test_a_slope_the_fixed_part_lacks_is_warned_and_left_out(sleep):
    fit = mfx.lmer("Reaction ~ 1 + (Days | Subject)", sleep)
    with pytest.warns(UserWarning, match="Random slopes not present as fixed effects"):
        parts = variance_components(fit)
    assert parts["random"] == pytest.approx(fit.sigma**2 * fit.theta[0] ** 2, rel=1e-12)


def test_observation_level_variance_is_dispersion():
    cbpp = mfx.datasets.load("cbpp")
    cbpp = cbpp.assign(obs=pd.Categorical([str(i) for i in range(len(cbpp))]))
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)", cbpp, family="binomial")
    parts = variance_components(fit)
    obs_term = [t.group for t in fit.re_terms].index("obs")
    assert parts["dispersion"] == pytest.approx(fit.theta[obs_term] ** 2, rel=1e-12)
    assert parts["residual"] == pytest.approx(np.pi**2 / 3 + parts["dispersion"], rel=1e-12)


def test_only_observation_level_terms_give_nan_as_insight_gives_nothing():
    cbpp = mfx.datasets.load("cbpp")
    cbpp = cbpp.assign(obs=pd.Categorical([str(i) for i in range(len(cbpp))]))
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | obs)", cbpp, family="binomial")
    with pytest.warns(UserWarning, match="one level per observation") as record:
        value = r2(fit)
    assert str(record[0].message) == NO_RANDOM_WARNING
    assert value.isna().all()


@pytest.mark.parametrize("formula, data, family, named", [
    ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "cbpp", binomial("cauchit"), "cauchit"),
    ("count ~ 1 + (1 | g1)", "simfeat", poisson("identity"), "identity"),
])
def test_links_performance_does_not_support_are_refused(formula, data, family, named):
    fit = mfx.glmer(formula, mfx.datasets.load(data), family=family)
    with pytest.raises(MixedFxError, match=f"{fit.family.name} family with the {named} link"):
        r2(fit)
    with pytest.raises(MixedFxError, match=named):
        icc(fit)


def test_not_a_fit_is_a_type_error():
    with pytest.raises(TypeError, match="needs a fit from lmer, glmer or glmer_nb"):
        r2("a fit")


def test_large_model_needs_no_matrix_of_the_random_effects():
    data = mfx.datasets.load("InstEval")
    fit = mfx.lmer("y ~ service + lectage + studage + (1 | s) + (1 | d) + (1 | dept:service)", data)
    tracemalloc.start()
    try:
        r2(fit)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # a few vectors of the 73k rows; Z (73k x 4,100) densely would be 2.4 GB
    assert peak < 40 * fit.nobs * 8
