"""The compiled PIRLS for scalar-term models against the Python loop it replaces."""


import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.design.matrices import build_model_matrices
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.model import GeneralizedLinearMixedModel
from mixedfx.glmm.pirls import CompiledPirls, PirlsError
from tests.conftest import crossed_binomial
from tests.glmm.engines import python_loop

MODELS = {
    "cbpp": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial", [0.8]),
    "grouseticks": ("TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)", "poisson",
                    [0.6, 1.1, 0.4]),
    "VerbAgg": ("r2 ~ Anger + Gender + btype + situ + (1 | id) + (1 | item)", "binomial", [1.3, 0.5]),
}


def _model(name, control=None):
    formula, family, theta = MODELS[name]
    matrices = build_model_matrices(formula, mfx.datasets.load(name))
    return GeneralizedLinearMixedModel(matrices, mfx.families.get_family(family), 1, control), np.array(theta)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("stage", [1, 2])
def test_compiled_pirls_reaches_the_python_loops_state(name, stage):
    model, theta = _model(name)
    assert isinstance(model.pirls_engines[0], CompiledPirls)
    beta = None if stage == 1 else np.linspace(-0.3, 0.3, model.p)
    fast = model.pirls(theta, beta, model.eta_start)
    slow = python_loop(model).pirls(theta, beta, model.eta_start)
    np.testing.assert_allclose(fast.eta, slow.eta, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.u, slow.u, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.beta, slow.beta, rtol=1e-9, atol=1e-9)
    assert fast.logdet_re == pytest.approx(slow.logdet_re, rel=1e-11)
    assert model.laplace_deviance(fast) == pytest.approx(model.laplace_deviance(slow), rel=1e-11)
    for a, b in [(fast.factor.l11, slow.factor.l11), (fast.factor.l_rr, slow.factor.l_rr)]:
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    l_r1 = fast.factor.l_r1.toarray()
    np.testing.assert_allclose(l_r1, np.asarray(getattr(slow.factor.l_r1, "toarray", lambda: slow.factor.l_r1)()),
                               rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("max_pirls, message", [(1, "did not converge in 1 iterations")])
def test_compiled_failures_raise_the_python_loops_errors(max_pirls, message):
    model, theta = _model("VerbAgg", GlmerControl(max_pirls=max_pirls))
    with pytest.raises(PirlsError, match=message):
        model.pirls(theta, None, model.eta_start)


def test_non_finite_working_values_raise_pirls_error():
    model, theta = _model("cbpp")
    with pytest.raises(PirlsError, match="NaN"):
        model.pirls(theta, None, np.full(model.n, np.nan))


@pytest.mark.parametrize("stage", [1, 2])
def test_dense_rest_mode_reaches_the_python_loops_state(stage):
    matrices = build_model_matrices("z ~ x + (1 | user) + (1 | item)", crossed_binomial())
    model = GeneralizedLinearMixedModel(matrices, mfx.families.binomial(), 1)
    compiled = model.pirls_engines[stage - 1].kernel
    assert compiled.dense and len(compiled.heavy) == 5 and len(compiled.light) > 100
    theta = np.array([0.9, 0.4])
    beta = None if stage == 1 else np.array([0.1, 0.3])
    fast = model.pirls(theta, beta, model.eta_start)
    slow = python_loop(model).pirls(theta, beta, model.eta_start)
    np.testing.assert_allclose(fast.u, slow.u, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.beta, slow.beta, rtol=1e-9, atol=1e-9)
    assert model.laplace_deviance(fast) == pytest.approx(model.laplace_deviance(slow), rel=1e-11)
    np.testing.assert_allclose(fast.factor.l_rr, slow.factor.l_rr, rtol=1e-9, atol=1e-12)


def test_nested_terms_stay_in_sparse_mode():
    model, _ = _model("grouseticks")
    assert not any(engine.kernel.dense for engine in model.pirls_engines)


def test_runs_in_threads_and_copies_by_pickle_agree_with_a_serial_run():
    import pickle  # noqa: PLC0415
    from concurrent.futures import ThreadPoolExecutor  # noqa: PLC0415

    model, theta = _model("VerbAgg")
    thetas = [theta * s for s in (0.8, 0.9, 1.0, 1.1, 1.2, 1.3)]
    serial = [model.laplace_deviance(model.pirls(t, None, model.eta_start)) for t in thetas]
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = list(pool.map(lambda t: model.laplace_deviance(model.pirls(t, None, model.eta_start)), thetas))
    assert threaded == serial
    compiled = model.pirls_engines[0].kernel
    copy = pickle.loads(pickle.dumps(compiled))
    args = (thetas[0], model.y, model.weights, model.offset, model.eta_start, 1e-7, 100)
    np.testing.assert_array_equal(copy.run(*args).u, compiled.run(*args).u)


def test_start_means_given_once_give_the_same_run():
    model, theta = _model("VerbAgg")
    mu_start = model.start_means(model.eta_start)
    given = model.pirls(theta, None, model.eta_start, mu_start)
    computed = model.pirls(theta, None, model.eta_start)
    np.testing.assert_array_equal(given.u, computed.u)
    np.testing.assert_array_equal(given.mu, computed.mu)
    assert model.laplace_deviance(given) == model.laplace_deviance(computed)


@pytest.mark.parametrize("name", ["grouseticks", "VerbAgg"])
def test_passes_sum_in_row_order(name):
    """The column-at-a-time linear predictor and the cross-products are bit-for-bit the row-wise sums."""
    from mixedfx.glmm import scalar_pirls as kernel  # noqa: PLC0415

    model, theta = _model(name)
    structure = model.pirls_engines[0].kernel.structure
    rng = np.random.default_rng(3)
    p, n = structure.X_t.shape
    b, u = rng.normal(size=p), rng.normal(size=structure.u_offsets[-1])
    base = rng.normal(size=n)
    eta = np.empty(n)
    kernel._linear_predictor(structure, theta, base, b, u, eta)
    expected = base.copy()
    for j in range(p):
        expected += structure.X_t[j] * b[j]
    for t, (codes, z) in enumerate(zip(structure.codes, structure.zs)):
        expected += z * theta[t] * u[structure.u_offsets[t] + codes]
    np.testing.assert_array_equal(eta, expected)

    w = rng.uniform(0.1, 1.0, n)
    xy = np.vstack([structure.X_t, rng.normal(size=n)])
    a11, coupling = np.zeros(structure.u_offsets[1]), np.zeros(len(structure.row_idx))
    rest = np.zeros((structure.m,) * 2)
    kernel._accumulate(structure, kernel.PirlsWorkspace(a11=a11, coupling=coupling, rest=rest, w=w, xy=xy,
                                                        weighted=np.empty_like(xy)))
    wz0 = w * structure.zs[0]
    expected_a11, expected_coupling = np.zeros_like(a11), np.zeros_like(coupling)
    np.add.at(expected_a11, structure.codes[0], wz0 * structure.zs[0])  # unbuffered: in row order
    for j in range(p + 1):
        np.add.at(expected_coupling, structure.dense_pos[structure.codes[0]] + j, wz0 * xy[j])
    np.testing.assert_array_equal(a11, expected_a11)
    np.testing.assert_array_equal(coupling[structure.dense_pos[:, None] + np.arange(p + 1)],
                                  expected_coupling[structure.dense_pos[:, None] + np.arange(p + 1)])
    last = structure.rest_offsets[-1] + structure.codes[-1]
    expected_last = np.zeros(structure.m)
    np.add.at(expected_last, last, w * structure.zs[-1] * structure.zs[-1])
    np.testing.assert_array_equal(rest[last, last], expected_last[last])


def test_runs_return_named_results_whichever_door_the_bundles_take():
    """The bundles passed as their fields (as a run passes them) and as NamedTuples give the same run."""
    from mixedfx.glmm import scalar_pirls as kernel  # noqa: PLC0415
    from mixedfx.glmm.pirls_structure import FactorValues  # noqa: PLC0415

    model, theta = _model("grouseticks")
    compiled = model.pirls_engines[0].kernel
    args = (theta, model.y, model.weights, model.offset, model.eta_start, 1e-7, 100)
    out = compiled.run(*args)
    assert isinstance(out, kernel.ScalarPirlsResult) and isinstance(out.factor, FactorValues)
    assert out.status == 0 and out.iterations > 1 and len(out.gradient) == 0
    direct = kernel._pirls(kernel.PirlsResponse(compiled.code, model.y, model.weights), compiled.structure,
                           kernel.PirlsSettings(1e-7, 100, 10), theta, model.offset, model.eta_start,
                           compiled.means(model.eta_start), np.zeros((compiled.m,) * 2), False,
                           kernel.GradientTerms(np.zeros((1, 0)), np.zeros(0), np.zeros(0)))
    for a, b in zip(out[:7] + out.factor + out[8:], direct[:7] + direct.factor + direct[8:]):
        np.testing.assert_array_equal(a, b)
