"""Linear mixed model internals: lme4's term order, start values and the deviance."""

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.design.matrices import build_model_matrices
from mixedfx.design.reterms import lme4_term_order
from mixedfx.lmm.control import LmerControl
from mixedfx.lmm.model import LinearMixedModel
from tests.conftest import crossed_ratings


def test_term_order_keeps_non_increasing_levels():
    assert lme4_term_order([30, 10]) == [0, 1]
    assert lme4_term_order([10, 10, 3]) == [0, 1, 2]


def test_term_order_sorts_decreasing_with_ties_reversed():
    # rev(order(nl)): ties come out in reverse formula order
    assert lme4_term_order([10, 30]) == [1, 0]
    assert lme4_term_order([5, 20, 20]) == [2, 1, 0]


def test_objective_cost_does_not_touch_rows():
    data = mfx.datasets.load("sleepstudy")
    model = LinearMixedModel(build_model_matrices("Reaction ~ Days + (Days | Subject)", data))
    # the deviance depends on the data only through the cross-products formed once
    model.y = None
    model.matrices = None
    assert np.isfinite(model.objective(np.array([1.0, 0.0, 1.0])))


def test_ml_and_reml_criteria_differ_by_the_fixed_effects_terms():
    data = mfx.datasets.load("Dyestuff")
    reml = LinearMixedModel(build_model_matrices("Yield ~ 1 + (1 | Batch)", data), reml=True)
    ml = reml.with_criterion(reml=False)
    theta = np.array([0.8])
    f = reml.factor(theta)
    n, p = reml.n, reml.p
    expected_reml = f.logdet_re + f.logdet_x + (n - p) * (1 + np.log(2 * np.pi * f.pwrss / (n - p)))
    expected_ml = f.logdet_re + n * (1 + np.log(2 * np.pi * f.pwrss / n))
    assert reml.objective(theta) == pytest.approx(expected_reml, rel=1e-12)
    assert ml.objective(theta) == pytest.approx(expected_ml, rel=1e-12)


def test_all_scalar_start_values_follow_group_mean_spread():
    data = mfx.datasets.load("Penicillin")
    model = LinearMixedModel(build_model_matrices("diameter ~ 1 + (1 | plate) + (1 | sample)", data))
    y = data["diameter"].to_numpy(float)
    spread = [np.var(data.groupby(g, observed=True)["diameter"].transform("mean").to_numpy(), ddof=1)
              for g in ("plate", "sample")]
    expected = np.sqrt(np.array(spread) / (np.var(y, ddof=1) - sum(spread)))
    np.testing.assert_allclose(model.start_theta(), expected)


def test_vector_terms_start_at_identity():
    data = mfx.datasets.load("sleepstudy")
    model = LinearMixedModel(build_model_matrices("Reaction ~ Days + (Days | Subject)", data))
    np.testing.assert_array_equal(model.start_theta(), [1.0, 0.0, 1.0])


def test_crossed_scalar_terms_take_the_gradient_path_to_bobyqas_optimum():
    data = crossed_ratings(0, 0.4)
    formula = "y ~ x + (1 | subject) + (1 | item)"
    fast = mfx.lmer(formula, data)
    slow = mfx.lmer(formula, data, control={"use_gradient": False})
    assert (fast.opt_summary.optimizer, slow.opt_summary.optimizer) == ("ai-newton", "nloptwrap")
    assert fast.opt_summary.feval < slow.opt_summary.feval / 4
    assert fast.deviance <= slow.deviance + 1e-6
    np.testing.assert_allclose(fast.theta, slow.theta, rtol=1e-4)


def test_lbfgsb_takes_over_where_newton_steps_do_not_apply(crossed_model, monkeypatch):
    import mixedfx.lmm.model

    monkeypatch.setattr(mixedfx.lmm.model, "information_minimise", lambda *args: (None, 3))
    summary = crossed_model.optimize(LmerControl())
    reference = crossed_model.optimize(LmerControl(use_gradient=False))
    assert summary.optimizer == "L-BFGS-B"
    assert summary.fval <= reference.fval + 1e-6
    np.testing.assert_allclose(summary.x, reference.x, rtol=1e-4)


def test_a_variance_on_zero_stands_where_moving_inward_does_not_help():
    data = crossed_ratings(2, 0.0)
    model = LinearMixedModel(build_model_matrices("y ~ x + (1 | subject) + (1 | item)", data))
    summary = model.optimize(LmerControl())
    bobyqa_alone = model.optimize(LmerControl(use_gradient=False))
    # the Newton steps hand over near zero; L-BFGS-B ends on the bound, which lme4's edge check keeps
    assert (summary.optimizer, summary.x[1], bobyqa_alone.x[1]) == ("L-BFGS-B", 0.0, 0.0)
    assert summary.fval <= bobyqa_alone.fval + 1e-8
    np.testing.assert_allclose(summary.x, bobyqa_alone.x, rtol=1e-4)


def test_a_saddle_on_the_bound_is_left_from_inside(monkeypatch):
    import mixedfx.lmm.model

    data = crossed_ratings(1, 0.0)
    model = LinearMixedModel(build_model_matrices("y ~ x + (1 | subject) + (1 | item)", data))
    monkeypatch.setattr(mixedfx.lmm.model, "information_minimise", lambda *args: (None, 0))
    trial = model._gradient_minimise(model.start_theta(), LmerControl(maxeval=1000))
    assert trial.x[1] == 0.0  # L-BFGS-B stops where the gradient vanishes
    summary = model.optimize(LmerControl())
    bobyqa_alone = model.optimize(LmerControl(use_gradient=False))
    # lme4's edge check finds the criterion falling inward; the gradient path goes on from inside
    assert summary.optimizer == "L-BFGS-B" and summary.feval > trial.feval
    assert summary.x[1] > 0.01
    assert summary.fval <= bobyqa_alone.fval + 1e-6
    np.testing.assert_allclose(summary.x, bobyqa_alone.x, rtol=1e-3)


def test_an_inward_restart_that_fails_hands_over_to_bobyqa(crossed_model, monkeypatch):
    from mixedfx.optim.optimize import OptSummary

    x = np.array([0.6, 0.0])
    failed = OptSummary(optimizer="L-BFGS-B", x0=x, x=x, fval=np.inf, feval=2, return_code=-1)
    monkeypatch.setattr(crossed_model, "_gradient_minimise", lambda *args: failed)
    summary = crossed_model._inward_restart(crossed_model.objective, x, crossed_model.lower,
                                            control=LmerControl(maxeval=1000), maxeval=1000, xtol_abs=1e-8,
                                            ftol_abs=1e-8)
    assert summary.optimizer == "nloptwrap" and summary.x[1] > 0.0


def test_small_terms_and_small_designs_keep_bobyqa(sleep):
    # BOBYQA follows lme4's path to lme4's point: three covariance parameters or fewer keep it
    slopes = LinearMixedModel(build_model_matrices("Reaction ~ Days + (Days | Subject)", sleep))
    assert not slopes.has_gradient and slopes.factorizer.information_steps is None
    assert slopes.optimize(LmerControl()).optimizer == "nloptwrap"
    data = mfx.datasets.load("Penicillin")
    penicillin = LinearMixedModel(build_model_matrices("diameter ~ 1 + (1 | plate) + (1 | sample)", data))
    assert not penicillin.has_gradient
    assert mfx.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", data).opt_summary.optimizer == "nloptwrap"


def test_the_gradient_path_keeps_its_last_factor_for_the_fit(crossed_model):
    model = crossed_model.with_response(crossed_model.y)
    summary = model.optimize(LmerControl())
    cross, key, last = model.last_factor
    assert cross is model.cross and key == summary.x.tobytes()
    other = model.with_response(model.y + 1.0)  # a copy on other blocks never takes it
    assert other.factor(summary.x) is not last
    assert model.factor(summary.x) is last
    fresh = model.factorizer.factor(summary.x)
    np.testing.assert_allclose(last.l_rr, fresh.l_rr, rtol=1e-12, atol=1e-12)
    # nothing writes to the optimisation's workspace afterwards: a fit made later still reads it
    mfx.lmer_fit(model, summary).fixef
    np.testing.assert_allclose(model.factor(summary.x).l_rr, fresh.l_rr, rtol=1e-12, atol=1e-12)
