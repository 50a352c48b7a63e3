"""Terms on one grouping factor, factored merged, against the same terms factored apart."""

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.linalg.cross import cross_products
from mixedfx.linalg.factorizer import factorizer_for
from mixedfx.linalg.merge import MergedFactorizer
from mixedfx.lmm.gradient import template_gradient

_FORMULAS = ["rt ~ spkr * prec + (1 + spkr + prec || subj) + (1 + load || item)",
             # a vector-valued term beside a scalar one on the same factor, and a term of its own
             "rt ~ spkr * prec + (1 + spkr | subj) + (0 + load | subj) + (1 + prec | item)"]


def _models(formula, reml=True):
    """The model (merged) and a factoriser of the same terms kept apart."""
    data = mfx.datasets.load("maximal_2k")
    model = mfx.lmer_model(mfx.lmer_design(formula, data), REML=reml)
    apart = factorizer_for(cross_products(model.layouts, model.matrices.X, model.y, model.matrices.weights))
    return model, apart


def _theta(model, seed):
    rng = np.random.default_rng(seed)
    return np.where(model.lower == 0.0, rng.uniform(0.1, 0.6, model.lower.size), rng.normal(0.0, 0.2, model.lower.size))


@pytest.mark.parametrize("formula", _FORMULAS)
def test_merged_factor_gives_the_terms_numbers(formula):
    model, apart = _models(formula)
    assert isinstance(model.factorizer, MergedFactorizer)
    theta = _theta(model, 1)
    merged, separate = model.factor(theta), apart.factor(theta)
    assert model.factorizer.criterion_parts(theta) == pytest.approx(apart.criterion_parts(theta), rel=1e-10)
    for got, want in zip(merged.solve_coefficients(), separate.solve_coefficients()):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-10)
    for got, want in zip(merged.conditional_covariance_blocks(), separate.conditional_covariance_blocks()):
        np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("reml", [True, False])
def test_merged_gradient_matches_finite_differences(reml):
    model, _ = _models(_FORMULAS[1], reml)
    assert model.factorizer.gradient == "vector"
    theta = _theta(model, 2)
    size = model.cross.layout.q_rest + (model.p if reml else 0)
    factor, derivatives = model.factorizer.factor_with_derivatives(theta, size)
    gradient = template_gradient(derivatives, factor.pwrss, model.n - model.p if reml else model.n)
    h = 1e-5
    expected = np.array([(model.objective(theta + h * e) - model.objective(theta - h * e)) / (2 * h)
                         for e in np.eye(theta.size)])
    np.testing.assert_allclose(gradient, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())


def test_merged_model_takes_a_new_response():
    model, _ = _models(_FORMULAS[0])
    data = mfx.datasets.load("maximal_2k").assign(rt=lambda d: d["rt"] * 0.5 + np.arange(len(d)) % 7)
    fresh = mfx.lmer_model(mfx.lmer_design(_FORMULAS[0], data))
    theta = _theta(model, 3)
    assert model.with_response(data["rt"].to_numpy()).objective(theta) == pytest.approx(fresh.objective(theta),
                                                                                        rel=1e-10)


def test_uncorrelated_fit_on_the_gradient_is_not_above_bobyqa():
    formula = _FORMULAS[0]
    model, _ = _models(formula)
    fit = mfx.optimize_lmer(model)
    assert fit.factorizer.endswith("terms on one grouping factor merged")
    bobyqa = model.optimize(mfx.LmerControl(use_gradient=False))
    assert fit.optimizer == "L-BFGS-B" and fit.fval <= bobyqa.fval + 1e-6


@pytest.fixture(scope="module")
def both_ways():
    """(Days || Subject), factored merged, and the same model with its second term on a copy of Subject (apart)."""
    data = mfx.datasets.load("sleepstudy").assign(Subject2=lambda d: d["Subject"])
    merged = mfx.lmer("Reaction ~ Days + (Days || Subject)", data=data)
    apart = mfx.lmer("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject2)", data=data)
    return merged, apart


def test_what_a_fit_reports_does_not_depend_on_the_merge(both_ways):
    merged, apart = both_ways
    assert merged.opt_summary.factorizer.endswith("merged") and not apart.opt_summary.factorizer.endswith("merged")
    assert merged.loglik == pytest.approx(apart.loglik, abs=1e-6)
    np.testing.assert_allclose(merged.theta, apart.theta, rtol=1e-5)
    np.testing.assert_allclose(merged.fixef, apart.fixef, rtol=1e-7)
    np.testing.assert_allclose(merged.fitted(), apart.fitted(), rtol=1e-7)
    np.testing.assert_allclose(merged.predict(re_form="~(1 | Subject)"),
                               apart.predict(re_form="~(1 | Subject)"), rtol=1e-7)
    mine, theirs = merged.ranef(condvar=True), apart.ranef(condvar=True)
    np.testing.assert_allclose(mine["Subject"].to_numpy(),
                               np.column_stack([theirs["Subject"].to_numpy(), theirs["Subject2"].to_numpy()]),
                               rtol=1e-5, atol=1e-6)
    # conditional variances: the merged term's 2 x 2 blocks hold the two terms' variances on the diagonal
    variances = np.asarray(mine["Subject"].attrs["condvar"])
    np.testing.assert_allclose(variances[:, 0, 0], np.asarray(theirs["Subject"].attrs["condvar"])[:, 0, 0], rtol=1e-5)
    np.testing.assert_allclose(variances[:, 1, 1], np.asarray(theirs["Subject2"].attrs["condvar"])[:, 0, 0], rtol=1e-5)
    for ddf in ("Satterthwaite", "Kenward-Roger"):
        np.testing.assert_allclose(merged.coef_table(ddf=ddf).to_numpy(dtype=float),
                                   apart.coef_table(ddf=ddf).to_numpy(dtype=float), rtol=1e-4)
