"""hatvalues, cooks_distance and influence against lme4 1.1-31 (tests/reference/influence_r.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.linalg as sla

import mixedfx as mfx
from mixedfx.inference.influence import Influence, cooks_distance, dfbeta, dfbetas, hatvalues, influence
from mixedfx.linalg.layout import templates
from tests.conftest import crossed_ratings

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "influence_r.json").read_text())
# hat values and Cook's distances of a fit are exact algebra at the estimates
EXACT_RTOL = 1e-5
# a glmer optimum agrees with lme4's to within 0.02 standard errors, which moves these by about 1e-4
GLMER_HAT_RTOL, GLMER_COOKS_RTOL = 1e-3, 5e-3
# refit-based numbers: the conformance tolerances of fixed effects (0.002 se), variances (0.5 % in sd)
# and correlations (0.005)
FIXED_SE_TOL, SD_RTOL, CORRELATION_TOL = 0.002, 0.005, 0.005


def _numbers(values: list) -> np.ndarray:
    return np.array(values, dtype=float)


@pytest.fixture(scope="module")
def first60(sleep):
    return sleep.iloc[:60]


@pytest.fixture(scope="module")
def by_subject(slopes) -> Influence:
    return influence(slopes, groups="Subject")


@pytest.fixture(scope="module")
def by_case(first60) -> tuple:
    fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", first60)
    return fit, influence(fit)


def _brute_force_hat(fit) -> np.ndarray:
    """diag(M A^-1 M') with A formed densely from Z, Lambda, X and the prior weights."""
    mm = fit.matrices
    blocks = []
    for term, tmpl in zip(fit.re_terms, templates(fit.theta, fit.ks)):
        z = np.zeros((len(term.codes), term.n_levels * term.k))
        for j in range(term.k):
            z[np.arange(len(term.codes)), term.codes * term.k + j] = term.z[:, j]
        blocks.append(z @ sla.block_diag(*[tmpl] * term.n_levels))
    sqrt_w = np.ones(fit.nobs) if mm.weights is None else np.sqrt(mm.weights)
    m = np.hstack([*blocks, mm.X]) * sqrt_w[:, None]
    q = m.shape[1] - mm.X.shape[1]
    a = m.T @ m + np.diag(np.r_[np.ones(q), np.zeros(mm.X.shape[1])])
    return np.einsum("ij,ji->i", m, np.linalg.solve(a, m.T))


def _check_refits(result: Influence, ref: dict, fit) -> None:
    """Deleted-unit estimates within the conformance tolerances of lme4's."""
    assert list(result.deleted) == ref["deleted"] or len(result.deleted) == len(ref["deleted"])
    se = np.sqrt(np.diag(fit.vcov.to_numpy()))
    fixed = result.fixed_effects_deleted.to_numpy()
    assert np.max(np.abs(fixed - _numbers(ref["fixed_deleted"])) / se) < FIXED_SE_TOL
    names = list(result.var_cov_comps.index)
    assert names == ref["var_cov_names"]
    ours, theirs = result.var_cov_comps_deleted.to_numpy(), _numbers(ref["var_cov_deleted"])
    for j, name in enumerate(names):
        if "C[" in name:  # a covariance: compare on the correlation scale
            row, col = name.split("C[")[1].rstrip("]").split(",")
            prefix = name.split("C[")[0]
            scale = np.sqrt(theirs[:, names.index(f"{prefix}v[{row}]")] * theirs[:, names.index(f"{prefix}v[{col}]")])
            assert np.max(np.abs(ours[:, j] - theirs[:, j]) / scale) < CORRELATION_TOL
        else:  # a variance: 0.5 % in its square root
            assert np.max(np.abs(np.sqrt(ours[:, j] / theirs[:, j]) - 1)) < SD_RTOL
    vcov = np.array([result.vcov_deleted[key].to_numpy().ravel(order="F") for key in result.deleted])
    np.testing.assert_allclose(vcov, _numbers(list(ref["vcov_deleted"].values())), rtol=0.01)
    assert result.converged.tolist() == ref["converged"]


def test_hatvalues_and_cooks_distance_match_lme4(slopes, first60) -> None:
    for fit, ref in ((slopes, REFERENCE["slopes"]),
                     (mfx.lmer("Reaction ~ Days + (1 | Subject)", first60), REFERENCE["cases"])):
        np.testing.assert_allclose(hatvalues(fit), _numbers(ref["hat"]), rtol=EXACT_RTOL)
        np.testing.assert_allclose(cooks_distance(fit), _numbers(ref["cooks"]), rtol=EXACT_RTOL)


def test_glmer_hatvalues_match_lme4() -> None:
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                    family="binomial")
    with pytest.warns(UserWarning, match="may not make sense for GLMMs"):
        hat = hatvalues(fit)
    with pytest.warns(UserWarning, match="may not make sense for GLMMs") as caught:
        cooks = cooks_distance(fit)
    assert len(caught) == 1
    np.testing.assert_allclose(hat, _numbers(REFERENCE["cbpp"]["hat"]), rtol=GLMER_HAT_RTOL)
    np.testing.assert_allclose(cooks, _numbers(REFERENCE["cbpp"]["cooks"]), rtol=GLMER_COOKS_RTOL)


@pytest.mark.parametrize("formula, weighted", [
    ("y ~ x + (1 | subject) + (1 | item)", False),   # scalar crossed terms, sparse coupling
    ("y ~ x + (x | subject) + (1 | item)", True),    # a vector-valued first term, prior weights
])
def test_hatvalues_agree_with_the_dense_hat_matrix(formula: str, weighted: bool) -> None:
    data = crossed_ratings(3, 0.5)
    weights = np.random.default_rng(1).uniform(0.5, 2.0, len(data)) if weighted else None
    fit = mfx.lmer(formula, data, weights=weights)
    np.testing.assert_allclose(hatvalues(fit), _brute_force_hat(fit), rtol=1e-9)
    # the trace is the effective number of parameters: between p and p + q
    assert fit.matrices.X.shape[1] < hatvalues(fit).sum() < fit.matrices.X.shape[1] + sum(fit.ngrps.values()) * 2


def test_influence_by_group_matches_lme4(slopes, by_subject: Influence) -> None:
    ref = REFERENCE["slopes"]["influence"]
    assert list(by_subject.components()) == ref["names"]
    assert by_subject.groups == "Subject" and list(by_subject.deleted) == ref["deleted"]
    np.testing.assert_allclose(by_subject.fixed_effects, _numbers(ref["fixed_effects"]), rtol=1e-6)
    _check_refits(by_subject, ref, slopes)
    np.testing.assert_allclose(dfbetas(by_subject), _numbers(ref["dfbetas"]), atol=FIXED_SE_TOL)
    np.testing.assert_allclose(cooks_distance(by_subject), _numbers(ref["cooks"]), rtol=0.01, atol=1e-4)
    np.testing.assert_allclose(by_subject.dfbeta(), _numbers(ref["dfbeta"]),
                               atol=FIXED_SE_TOL * np.sqrt(np.diag(slopes.vcov)).max())


def test_influence_by_observation_matches_lme4(by_case: tuple) -> None:
    fit, result = by_case
    ref = REFERENCE["cases"]["influence"]
    assert result.groups == "case" and list(result.components())[1] == "fixed.effects[-case]"
    assert list(result.deleted) == [str(i) for i in range(60)]  # the data's row labels (R's are 1 to 60)
    _check_refits(result, ref, fit)
    np.testing.assert_allclose(result.dfbetas(), _numbers(ref["dfbetas"]), atol=FIXED_SE_TOL)
    np.testing.assert_allclose(result.cooks_distance(), _numbers(ref["cooks"]), rtol=0.01, atol=1e-5)


def test_dfbeta_of_the_variance_components(by_subject: Influence) -> None:
    table = dfbeta(by_subject, which="var.cov")
    ref = _numbers(REFERENCE["slopes"]["influence"]["dfbeta_var_cov"])
    # differences of variances near 650 and 35: within 1 % of the full fit's values
    assert np.all(np.abs(table.to_numpy() - ref) < 0.01 * by_subject.var_cov_comps.abs().to_numpy())
    with pytest.raises(ValueError, match="which must be"):
        dfbeta(by_subject, which="random")


def test_influence_components_and_arguments(slopes, by_subject: Influence, sleep) -> None:
    assert by_subject["fixed.effects[-Subject]"] is by_subject.fixed_effects_deleted
    assert isinstance(by_subject["vcov[-Subject]"]["308"], pd.DataFrame)
    assert (by_subject.function_evals > 0).all()
    with pytest.raises(TypeError, match="hatvalues needs a fit"):
        hatvalues("a fit")
    with pytest.raises(KeyError, match="not a column"):
        influence(slopes, groups="Patient")
    with pytest.raises(TypeError, match="one column"):
        influence(slopes, groups=["Subject", "Days"])
    # data given explicitly: a subset of the subjects
    few = sleep[sleep["Subject"].astype(str).isin(["308", "309", "310", "330"])]
    result = influence(mfx.lmer("Reaction ~ Days + (1 | Subject)", few), groups="Subject", data=few)
    assert list(result.deleted) == ["308", "309", "310", "330"]


def test_influence_of_a_glmer_fit() -> None:
    cbpp = mfx.datasets.load("cbpp")
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    result = influence(fit, groups="herd")
    assert result.fixed_effects_deleted.shape == (15, 4)
    assert list(result.var_cov_comps.index) == ["sigma^2", "v[(Intercept)]"]
    assert result.var_cov_comps.iloc[0] == 1.0
    # deleting a herd moves the estimates by less than the full fit's standard errors
    assert np.all(np.abs(result.dfbetas().to_numpy()) < 1.5)


def test_influence_with_two_grouping_factors_matches_lme4() -> None:
    fit = mfx.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", mfx.datasets.load("Penicillin"))
    result = influence(fit, groups="sample")
    ref = REFERENCE["penicillin"]["influence"]
    assert list(result.deleted) == ref["deleted"]
    _check_refits(result, ref, fit)
    np.testing.assert_allclose(result.cooks_distance(), _numbers(ref["cooks"]), rtol=0.01)
    # lme4's dfbetas fails with a single fixed effect; here it is the change over each refit's standard error
    np.testing.assert_allclose(result.dfbetas().to_numpy().ravel(),
                               dfbeta(result).to_numpy().ravel()
                               / np.sqrt([result.vcov_deleted[k].iloc[0, 0] for k in result.deleted]))
