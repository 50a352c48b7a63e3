"""Small models' criteria as C functions for nlopt."""

import ctypes

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.lmm.compiled_objective import compiled_objective
from mixedfx.optim.optimize import bobyqa

MODELS = [
    ("sleepstudy", "Reaction ~ Days + (Days | Subject)", [0.9, 0.02, 0.3]),  # one term, levels grouped
    ("sleepstudy", "Reaction ~ Days + (1 | Subject)", [1.2]),
    ("Penicillin", "diameter ~ 1 + (1 | plate) + (1 | sample)", [1.5, 3.0]),  # scalar terms, small rest
]


def _value(compiled, theta):
    function = ctypes.CFUNCTYPE(ctypes.c_double, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p,
                                ctypes.c_void_p)(compiled.address)
    theta = np.ascontiguousarray(theta, dtype=float)
    return function(len(theta), theta.ctypes.data, None, compiled.data.ctypes.data)


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize(("data", "formula", "theta"), MODELS)
def test_equals_the_models_objective(data, formula, theta, reml):
    frame = mfx.datasets.load(data)
    design = mfx.lmer_design(formula, frame, weights=np.linspace(0.5, 2.0, len(frame)))
    model = mfx.lmer_model(design, REML=reml)
    dof = model.n - model.p if reml else model.n
    compiled = compiled_objective(model.factorizer.compiled_criterion, dof, model.log_det_weights, reml)
    for point in (theta, np.asarray(theta) * 0.5):
        assert _value(compiled, point) == pytest.approx(model.objective(np.asarray(point)), rel=1e-13)


def test_the_fit_on_the_compiled_objective_is_the_python_runs():
    model = mfx.lmer_model(mfx.lmer_design("diameter ~ 1 + (1 | plate) + (1 | sample)",
                                           mfx.datasets.load("Penicillin")))
    summary = mfx.optimize_lmer(model)
    python = bobyqa(model.objective, model.start_theta(), model.lower)
    np.testing.assert_allclose(summary.x, python.x, rtol=1e-12)
    assert summary.feval == python.feval
