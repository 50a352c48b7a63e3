"""The compiled information steps of one-term models against the Python steps and BOBYQA."""

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.linalg.one_term import factor_one_term
from mixedfx.lmm.information import CONVERGED, SMALLEST_THETA, average_information
from mixedfx.lmm.one_term_steps import NOT_CONVERGED, one_term_information, one_term_steps

FORMULAS = ["Reaction ~ Days + (1 | Subject)", "Reaction ~ Days + (Days | Subject)",
            "Reaction ~ Days + I(Days^2) + (Days + I(Days^2) | Subject)"]


def _model(sleep, formula, reml=True, weights=None):
    model = mfx.lmer_model(mfx.lmer_design(formula, sleep, weights=weights), REML=reml)
    return model._rescaled if model.theta_scales is not None else model


def _steps(model, x0, smallest=None):
    smallest = np.full(model.ks[0], SMALLEST_THETA) if smallest is None else smallest
    return one_term_steps(*model.factorizer.blocks, np.array(x0, dtype=float), smallest,
                          model.p if model.reml else 0, model._dof, model.log_det_weights, model.reml)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("formula", FORMULAS)
def test_information_matches_the_python_information(sleep, formula, weighted):
    weights = np.random.default_rng(3).uniform(0.5, 2.0, len(sleep)) if weighted else None
    model = _model(sleep, formula, weights=weights)
    rng = np.random.default_rng(4)
    theta = np.where(model.lower == 0.0, rng.uniform(0.3, 1.5, model.lower.size),
                     rng.normal(0.0, 0.4, model.lower.size))
    point = model._criterion_point(theta, None, with_gradient=False)
    sigma2 = point.factor.pwrss / model._dof
    _, l11, l_r1, l_rr = factor_one_term(*model.factorizer.blocks, theta)
    compiled = one_term_information(*model.factorizer.blocks[:2], l11, l_r1, l_rr, theta, point.factor.pwrss, sigma2)
    expected = average_information(model.cross, point, sigma2)
    np.testing.assert_allclose(compiled, expected, rtol=1e-9, atol=1e-12 * np.abs(expected).max())


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("formula", FORMULAS)
def test_steps_reach_bobyqa_s_optimum_in_a_few_evaluations(sleep, formula, reml):
    model = _model(sleep, formula, reml)
    reference = model.optimize(mfx.LmerControl(use_gradient=False))
    code, theta, value, evaluations = _steps(model, model.start_theta())
    assert code == CONVERGED and evaluations <= 8 < reference.feval
    assert value <= reference.fval + 1e-8
    assert value == pytest.approx(model.objective(theta), rel=1e-12)


def test_steps_give_up_near_a_zero_variance(sleep):
    model = _model(sleep, FORMULAS[1])
    code, theta, value, evaluations = _steps(model, [1.0, 0.2, 1e-6])
    assert code == NOT_CONVERGED and evaluations == 1
    np.testing.assert_array_equal(theta, [1.0, 0.2, 1e-6])


def test_steps_on_unscaled_columns_follow_the_rescaled_twin(sleep):
    # Newton steps on the covariances do not see Z's column scales: on the raw blocks, from the twin's start
    # and thresholds carried over, they take the twin's steps to its optimum
    model = mfx.lmer_model(mfx.lmer_design(FORMULAS[2], sleep))
    scales = model.theta_scales
    twin = model._rescaled
    start = twin.start_theta()
    code, theta, value, evaluations = _steps(twin, start)
    diagonal = [0, 3, 5]
    raw = _steps(model, start / scales, SMALLEST_THETA / scales[diagonal])
    assert raw[0] == code == CONVERGED and raw[3] == evaluations
    np.testing.assert_allclose(raw[1] * scales, theta, rtol=1e-7)
    assert raw[2] == pytest.approx(value, rel=1e-12)
    # a threshold carried over stops the raw steps where the twin's would stop
    near_zero = start.copy()
    near_zero[5] = 0.5 * SMALLEST_THETA
    assert _steps(twin, near_zero)[0] == NOT_CONVERGED
    assert _steps(model, near_zero / scales, SMALLEST_THETA / scales[diagonal])[0] == NOT_CONVERGED


def test_a_converged_fit_does_not_build_the_rescaled_twin(sleep):
    model = mfx.lmer_model(mfx.lmer_design(FORMULAS[2], sleep))
    summary = mfx.optimize_lmer(model)
    assert summary.optimizer == "ai-newton" and "_rescaled" not in model.__dict__
    assert summary.fval == pytest.approx(model.objective(summary.x), rel=1e-12)


def test_a_fit_takes_the_steps_and_falls_back_where_they_do_not_apply(sleep):
    model = mfx.lmer_model(mfx.lmer_design(FORMULAS[2], sleep))
    fit = mfx.optimize_lmer(model)
    assert fit.optimizer == "ai-newton" and fit.feval <= 8
    # from a start with a variance next to zero the steps stop at once: L-BFGS-B runs from that start, as
    # without them, and reaches the same optimum
    start = (1.0, 0.0, 0.0, 1e-6, 0.0, 1.0)
    stalled = mfx.optimize_lmer(model, control={"theta0": start})
    without = mfx.optimize_lmer(model, control={"theta0": start, "use_gradient": False})
    assert stalled.optimizer == "L-BFGS-B" and stalled.fval <= without.fval + 1e-6
    assert stalled.fval == pytest.approx(fit.fval, abs=1e-6)


def test_verbose_fits_print_each_evaluation(sleep, capsys):
    # lme4's trace is its optimiser's: a verbose fit takes the model's own path, each evaluation printed
    fit = mfx.lmer(FORMULAS[2], data=sleep, control={"verbose": 1})
    quiet = mfx.lmer(FORMULAS[2], data=sleep)
    assert fit.opt_summary.optimizer == "L-BFGS-B" and quiet.opt_summary.optimizer == "ai-newton"
    assert capsys.readouterr().err.count("iteration:") >= fit.opt_summary.feval
    assert quiet.opt_summary.fval <= fit.opt_summary.fval + 1e-8


def test_small_terms_keep_lme4s_path(sleep):
    assert mfx.lmer(FORMULAS[1], data=sleep).opt_summary.optimizer == "nloptwrap"
