"""The exact gradient of glmer's stage-2 deviance against finite differences of the deviance itself."""

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.design.matrices import build_model_matrices
from mixedfx.glmm.model import GeneralizedLinearMixedModel
from tests.conftest import crossed_binomial

MODELS = {
    "cbpp": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial", [0.8]),
    "grouseticks": ("TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)", "poisson",
                    [0.6, 1.1, 0.4]),
    "VerbAgg": ("r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", "binomial", [1.3, 0.5]),
}


def _model(name, n_agq=1, link=None):
    formula, family, theta = MODELS[name]
    matrices = build_model_matrices(formula, mfx.datasets.load(name))
    return GeneralizedLinearMixedModel(matrices, mfx.families.get_family(family, link), n_agq), np.array(theta)


def _central_differences(objective, x, h=1e-5):
    """Richardson-extrapolated central differences: error O(h^4)."""
    def central(step):
        return np.array([(objective(x + step * e) - objective(x - step * e)) / (2 * step) for e in np.eye(len(x))])
    return (4 * central(h) - central(2 * h)) / 3


def _check_gradient(model, theta, beta, eta_start, rtol=1e-5):
    x = np.concatenate([theta, beta])
    value, gradient = model.laplace_value_and_gradient(eta_start)(x)
    objective = model.stage2_objective(eta_start)
    assert value == objective(x)
    scale = np.abs(gradient).max()
    np.testing.assert_allclose(gradient, _central_differences(objective, x), rtol=rtol, atol=rtol * scale)


@pytest.mark.parametrize("name", list(MODELS))
def test_gradient_matches_differences_of_the_deviance(name):
    model, theta = _model(name)
    assert model.has_laplace_gradient
    beta = model.pirls(theta, None, model.eta_start).beta + 0.05
    # from the family's start PIRLS takes several iterations, all of which the gradient follows
    compiled = model.pirls_engines[1].kernel
    run = compiled.run(theta, model.y, model.weights, model.offset + model.X @ beta, model.eta_start, 1e-7, 100)
    assert run.iterations >= 3
    _check_gradient(model, theta, beta, model.eta_start)


@pytest.mark.parametrize("name", list(MODELS))
def test_stage_one_gradient_matches_differences_of_its_deviance(name):
    """Stage 1 solves for beta inside PIRLS: the gradient is over theta and follows beta's solution too."""
    model, theta = _model(name)
    _check_stage_one_gradient(model, theta, model.eta_start)


def test_gradient_follows_a_start_close_to_the_mode():
    """From stage 1's linear predictor (as in a fit) PIRLS stops after two iterations."""
    model, theta = _model("VerbAgg")
    state = model.pirls(theta, None, model.eta_start)
    _check_gradient(model, theta * 1.02, state.beta - 0.01, state.eta)


def _check_stage_one_gradient(model, theta, eta_start):
    objective = model.stage1_objective(eta_start)
    value, gradient = model.laplace_value_and_gradient(eta_start, stage=1)(theta)
    assert value == objective(theta) and gradient.shape == theta.shape
    np.testing.assert_allclose(gradient, _central_differences(objective, theta), rtol=1e-5,
                               atol=1e-5 * np.abs(gradient).max())


def test_gradient_with_a_dense_rest_block():
    matrices = build_model_matrices("z ~ x + (1 | user) + (1 | item)", crossed_binomial())
    model = GeneralizedLinearMixedModel(matrices, mfx.families.binomial(), 1)
    assert model.pirls_engines[0].kernel.dense and model.pirls_engines[1].kernel.dense
    _check_gradient(model, np.array([0.9, 0.4]), np.array([0.1, 0.3]), model.eta_start)
    _check_stage_one_gradient(model, np.array([0.9, 0.4]), model.eta_start)


def test_gradient_with_an_offset_and_prior_weights():
    rng = np.random.default_rng(3)
    group = np.repeat(np.arange(40), 12)
    data = pd.DataFrame({"g": pd.Categorical(group), "x": rng.normal(size=group.size),
                         "exposure": rng.uniform(0.5, 3.0, group.size), "w": rng.integers(1, 4, group.size)})
    data["y"] = rng.poisson(data["exposure"] * np.exp(0.3 * data["x"] + rng.normal(0, 0.5, 40)[group]))
    matrices = build_model_matrices("y ~ x + (1 | g)", data, weights=data["w"].to_numpy(dtype=float),
                                    offset=np.log(data["exposure"].to_numpy()))
    model = GeneralizedLinearMixedModel(matrices, mfx.families.poisson(), 1)
    _check_gradient(model, np.array([0.6]), np.array([0.1, 0.2]), model.eta_start)
    _check_stage_one_gradient(model, np.array([0.6]), model.eta_start)


def test_gradient_where_weights_make_successes_non_integer():
    """R's binomial aic rounds weights times proportions: its derivative is not the deviance residuals'."""
    rng = np.random.default_rng(3)
    group = np.repeat(np.arange(40), 12)
    data = pd.DataFrame({"g": pd.Categorical(group), "x": rng.normal(size=group.size)})
    eta = 0.3 * data["x"] + rng.normal(0, 1, 40)[group]
    data["y"] = (rng.uniform(size=group.size) < 1 / (1 + np.exp(-eta))).astype(float)
    weights = rng.choice([1.0, 1.5, 2.5], group.size)
    with pytest.warns(UserWarning, match="non-integer"):
        matrices = build_model_matrices("y ~ x + (1 | g)", data, weights=weights)
        model = GeneralizedLinearMixedModel(matrices, mfx.families.binomial(), 1)
    assert not np.allclose(model.log_likelihood.a, model.weights * model.y)
    _check_gradient(model, np.array([0.8]), np.array([0.1, 0.2]), model.eta_start)


@pytest.mark.parametrize("family, shift, response", [("binomial", 40.0, 1), ("binomial", -40.0, 0),
                                                     ("poisson", -45.0, 2)])
def test_gradient_where_r_clamps_the_means(family, shift, response):
    """Rows whose linear predictor lies beyond R's clamps have constant means and weights."""
    rng = np.random.default_rng(5)
    group = np.repeat(np.arange(30), 10)
    far = np.zeros(group.size)
    far[:6] = shift  # an offset puts six rows beyond the clamp
    data = pd.DataFrame({"g": pd.Categorical(group), "x": rng.normal(size=group.size)})
    data["y"] = rng.poisson(1.0, group.size) if family == "poisson" else rng.integers(0, 2, group.size)
    data.loc[:5, "y"] = response  # the binomial's as its clamped means say (else PIRLS fails); not the Poisson's
    matrices = build_model_matrices("y ~ x + (1 | g)", data, offset=far)
    model = GeneralizedLinearMixedModel(matrices, mfx.families.get_family(family), 1)
    state = model.pirls(np.array([0.5]), None, model.eta_start)
    clamped = np.abs(state.eta) > 30 if family == "binomial" else np.exp(state.eta) < np.finfo(float).eps
    assert clamped[:6].all()
    _check_gradient(model, np.array([0.5]), state.beta + 0.05, state.eta)


@pytest.mark.parametrize("n_agq, link", [(2, None), (1, "probit")])
def test_no_gradient_for_quadrature_or_other_links(n_agq, link):
    model, _ = _model("cbpp", n_agq, link)
    assert not model.has_laplace_gradient


def test_step_halving_leaves_no_gradient():
    model, theta = _model("cbpp")
    beta = model.pirls(theta, None, model.eta_start).beta
    far = np.full(model.n, 8.0)  # means near 1 everywhere: the first step overshoots
    value, gradient = model.laplace_value_and_gradient(far)(np.concatenate([theta, beta]))
    assert np.isfinite(value) and np.all(np.isnan(gradient))


def test_sparse_inverse_matches_the_dense_inverse_on_the_pattern():
    from mixedfx.glmm.laplace_gradient import _rest_inverse  # noqa: PLC0415

    model, theta = _model("grouseticks")
    compiled = model.pirls_engines[1].kernel
    out = compiled.run(theta, model.y, model.weights, model.offset, model.eta_start, 1e-7, 100)
    factor = compiled.blocked_factor(out)
    q_rest = compiled.layout.q_rest
    lower = factor.l_rr[:q_rest, :q_rest]
    expected = np.linalg.inv(lower @ lower.T)
    assert not compiled.dense
    sparse, ok = _rest_inverse(compiled.structure, out.factor.pattern_values)
    assert ok
    on_pattern = np.abs(lower) > 0
    on_pattern |= on_pattern.T
    np.testing.assert_allclose(sparse[on_pattern], expected[on_pattern], rtol=1e-10, atol=1e-12)
    dense, ok = _rest_inverse(compiled.structure._replace(dense=True), out.factor.pattern_values)
    np.testing.assert_allclose(dense, expected, rtol=1e-10, atol=1e-12)


def test_fit_derivatives_agree_with_lme4s_finite_differences():
    """The Hessian from gradients is accurate, and deriv12's from values agrees within its rounding error."""
    from mixedfx.optim.optimize import finite_difference_derivatives  # noqa: PLC0415

    model, _ = _model("VerbAgg")
    optimum = model.fit()
    assert optimum.opt.optimizer == "newton" and optimum.opt.feval < 20
    x, runs = optimum.opt.x, model.laplace_value_and_gradient(optimum.eta_start)
    steps = np.eye(len(x)) * 1e-5
    central = np.array([(runs(x + step)[1] - runs(x - step)[1]) / 2e-5 for step in steps])
    objective = model.stage2_objective(optimum.eta_start)
    gradient, hessian = finite_difference_derivatives(objective, x, optimum.opt.fval)
    k = len(model.lower)

    def standard_errors(h):
        return np.sqrt(np.diag(np.linalg.inv(h))[k:])
    np.testing.assert_allclose(standard_errors(optimum.hessian), standard_errors(0.5 * (central + central.T)),
                               rtol=1e-6)
    # deriv12's differences of values near 8000 over steps of 1e-4 carry rounding errors of about 1e-4
    np.testing.assert_allclose(standard_errors(optimum.hessian), standard_errors(hessian), rtol=1e-3)
    np.testing.assert_allclose(optimum.gradient, gradient, atol=2e-5 * np.abs(hessian).max())


def test_models_without_a_gradient_keep_deriv12():
    from mixedfx.optim.optimize import finite_difference_derivatives  # noqa: PLC0415

    model, _ = _model("cbpp", link="probit")
    optimum = model.fit()
    objective = model.stage2_objective(optimum.eta_start)
    gradient, hessian = finite_difference_derivatives(objective, optimum.opt.x, optimum.opt.fval)
    np.testing.assert_array_equal(optimum.hessian, hessian)
    np.testing.assert_array_equal(optimum.gradient, gradient)


def test_runs_remember_the_last_point_and_give_its_state(monkeypatch):
    model, theta = _model("VerbAgg")
    beta = model.pirls(theta, None, model.eta_start).beta
    x = np.concatenate([theta, beta])
    runs = model.laplace_value_and_gradient(model.eta_start)
    expected = model.pirls(theta, beta, model.eta_start)
    compiled = model.pirls_engines[1].kernel
    calls = []
    run = compiled.run
    monkeypatch.setattr(compiled, "run", lambda *args: calls.append(1) or run(*args))
    value, gradient = runs(x)
    state = runs.state(x)
    assert runs(x)[0] == value and len(calls) == 1
    np.testing.assert_array_equal(state.eta, expected.eta)
    np.testing.assert_array_equal(state.beta, beta)
    assert model.laplace_deviance(state) == value
    runs(x + 1e-3)
    assert len(calls) == 2 and runs.state(x).logdet_re == state.logdet_re and len(calls) == 3


def test_stage_one_state_solves_for_beta():
    model, theta = _model("cbpp")
    runs = model.laplace_value_and_gradient(model.eta_start, stage=1)
    runs(theta)
    expected = model.pirls(theta, None, model.eta_start)
    np.testing.assert_array_equal(runs.state(theta).beta, expected.beta)


def test_control_can_keep_finite_differences():
    from mixedfx.glmm.control import GlmerControl
    from mixedfx.optim.optimize import finite_difference_derivatives  # noqa: PLC0415

    matrices = build_model_matrices(MODELS["cbpp"][0], mfx.datasets.load("cbpp"))
    model = GeneralizedLinearMixedModel(matrices, mfx.families.binomial(), 1, GlmerControl(use_gradient=False))
    optimum = model.fit()
    assert optimum.stage1.optimizer == "nloptwrap" and optimum.opt.optimizer == "newton"
    assert optimum.opt.feval > 20  # Newton steps on finite differences of values
    objective = model.stage2_objective(optimum.eta_start)
    gradient, hessian = finite_difference_derivatives(objective, optimum.opt.x, optimum.opt.fval)
    np.testing.assert_array_equal(optimum.hessian, hessian)
    fit = mfx.glmer(MODELS["cbpp"][0], data=mfx.datasets.load("cbpp"), family="binomial",
                    control={"use_gradient": False})
    assert fit._optimum.stage1.optimizer == "nloptwrap"


@pytest.mark.parametrize("stage", [1, 2])
def test_gradients_at_several_points_are_those_of_single_runs(stage):
    model, theta = _model("grouseticks")
    beta = model.pirls(theta, None, model.eta_start).beta
    runs = model.laplace_value_and_gradient(model.eta_start, stage=stage)
    x = theta if stage == 1 else np.concatenate([theta, beta])
    points = [x, x + 1e-3]
    np.testing.assert_allclose(runs.gradients(points), [runs(point)[1] for point in points], rtol=1e-12)


def test_gradients_at_several_points_are_nan_where_steps_were_halved():
    model, theta = _model("cbpp")
    beta = model.pirls(theta, None, model.eta_start).beta
    runs = model.laplace_value_and_gradient(np.full(model.n, 8.0))  # as test_step_halving_leaves_no_gradient
    assert np.isnan(runs.gradients([np.concatenate([theta, beta])])).all()
