"""The compiled PIRLS for vector-valued terms with a dense coupling against the Python loop it replaces."""

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.design.matrices import build_model_matrices
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.model import GeneralizedLinearMixedModel
from mixedfx.glmm.pirls import CompiledPirls, PirlsError, PythonPirls
from tests.conftest import crossed_binomial
from tests.glmm.engines import python_loop

MAXIMAL = "z ~ spkr*prec*load + (1 + spkr + prec | subj) + (1 + spkr + prec | item)"
MODELS = {
    # two crossed three-column terms (the maximal model)
    "maximal": (MAXIMAL, "maximal_2k", "binomial",
                [0.88, 0.26, 0.28, 0.19, -0.23, 0.05, 0.98, -0.12, 0.12, 0.13, 0.28, 0.02]),
    # one vector-valued term
    "one_term": ("TICKS ~ YEAR + (1 + cHEIGHT | BROOD)", "grouseticks", "poisson", [0.8, 0.002, 0.01]),
    # a scalar first term, then a vector-valued one
    "scalar_first": ("TICKS ~ YEAR + (1 | BROOD) + (1 + cHEIGHT | LOCATION)", "grouseticks", "poisson",
                     [0.6, 0.4, 0.002, 0.01]),
}


def _model(name, control=None):
    formula, data, family, theta = MODELS[name]
    matrices = build_model_matrices(formula, mfx.datasets.load(data))
    return GeneralizedLinearMixedModel(matrices, mfx.families.get_family(family), 1, control), np.array(theta)


@pytest.mark.parametrize("name", list(MODELS))
@pytest.mark.parametrize("stage", [1, 2])
def test_compiled_pirls_reaches_the_python_loops_state(name, stage):
    model, theta = _model(name)
    engine = model.pirls_engines[stage - 1]
    assert isinstance(engine, CompiledPirls) and engine.name == "PIRLS (compiled, vector-valued terms)"
    beta = None if stage == 1 else np.linspace(-0.3, 0.3, model.p)
    fast = model.pirls(theta, beta, model.eta_start)
    slow = python_loop(model).pirls(theta, beta, model.eta_start)
    np.testing.assert_allclose(fast.eta, slow.eta, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.u, slow.u, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.beta, slow.beta, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fast.dev_resids, slow.dev_resids, rtol=1e-9, atol=1e-12)
    assert fast.logdet_re == pytest.approx(slow.logdet_re, rel=1e-11)
    assert model.laplace_deviance(fast) == pytest.approx(model.laplace_deviance(slow), rel=1e-11)
    for a, b in [(fast.factor.l11, slow.factor.l11), (fast.factor.l_rr, slow.factor.l_rr),
                 (fast.factor.l_r1, slow.factor.l_r1)]:
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_a_fit_by_the_compiled_loop_is_the_python_loops_fit():
    formula, data, family, _ = MODELS["one_term"]
    frame = mfx.datasets.load(data)
    fast = mfx.glmer(formula, frame, family=family)
    slow = mfx.glmer(formula, frame, family=family, control={"compiled_pirls": False})
    assert fast.opt_summary.factorizer == "PIRLS (compiled, vector-valued terms)"
    assert slow.opt_summary.factorizer == "PIRLS (Python)"
    assert fast.loglik == pytest.approx(slow.loglik, abs=1e-6)
    np.testing.assert_allclose(fast.fixef, slow.fixef, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(fast.theta, slow.theta, rtol=1e-3, atol=1e-5)


def test_a_sparse_coupling_keeps_thepython_loop():
    matrices = build_model_matrices("z ~ x + (1 + x | user) + (1 + x | item)", crossed_binomial())
    model = GeneralizedLinearMixedModel(matrices, mfx.families.binomial(), 1)
    assert all(isinstance(engine, PythonPirls) for engine in model.pirls_engines)


def test_a_family_without_a_compiled_form_keeps_thepython_loop():
    formula, data, _, _ = MODELS["one_term"]
    matrices = build_model_matrices(formula, mfx.datasets.load(data).assign(TICKS=lambda d: d["TICKS"] + 1.0))
    model = GeneralizedLinearMixedModel(matrices, mfx.families.get_family("Gamma"), 1)
    assert all(isinstance(engine, PythonPirls) for engine in model.pirls_engines)


def test_failures_raise_the_python_loops_errors():
    model, theta = _model("one_term", GlmerControl(max_pirls=1))
    with pytest.raises(PirlsError, match="did not converge in 1 iterations"):
        model.pirls(theta, None, model.eta_start)
    with pytest.raises(PirlsError, match="NaN"):
        model.pirls(theta, None, np.full(model.n, np.nan))


def test_runs_in_threads_and_copies_by_pickle_agree_with_a_serial_run():
    model, theta = _model("scalar_first")
    thetas = [theta * s for s in (0.8, 0.9, 1.0, 1.1, 1.2, 1.3)]
    serial = [model.laplace_deviance(model.pirls(t, None, model.eta_start)) for t in thetas]
    with ThreadPoolExecutor(max_workers=3) as pool:
        threaded = list(pool.map(lambda t: model.laplace_deviance(model.pirls(t, None, model.eta_start)), thetas))
    assert threaded == serial
    engine = model.pirls_engines[0]
    copy = pickle.loads(pickle.dumps(engine))
    np.testing.assert_array_equal(copy.run(theta, model.offset, None, model.eta_start).u,
                                  engine.run(theta, model.offset, None, model.eta_start).u)
