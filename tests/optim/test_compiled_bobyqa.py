"""BOBYQA through nlopt's C interface on a compiled objective."""

import numba
import numpy as np
import pytest

from mixedfx.optim.compiled_bobyqa import CompiledObjective, compiled_bobyqa
from mixedfx.optim.optimize import bobyqa


@numba.cfunc("float64(uint32, CPointer(float64), CPointer(float64), voidptr)")
def _bowl(n, x, grad, data):
    centre = numba.carray(data, (2,), np.float64)
    return (x[0] - centre[0]) ** 2 + 3.0 * (x[1] - centre[1]) ** 2 + x[0] * x[1]


def _python_bowl(centre):
    return lambda x: float((x[0] - centre[0]) ** 2 + 3.0 * (x[1] - centre[1]) ** 2 + x[0] * x[1])


LOWER = np.array([0.0, -np.inf])


def test_runs_the_python_run_on_the_compiled_objective():
    centre = np.array([1.0, -2.0])
    compiled = compiled_bobyqa(CompiledObjective(_bowl.address, centre), _python_bowl(centre), np.ones(2), LOWER)
    python = bobyqa(_python_bowl(centre), np.ones(2), LOWER)
    np.testing.assert_allclose(compiled.x, python.x, rtol=1e-12, atol=1e-14)
    assert compiled.feval == python.feval
    assert compiled.return_code == python.return_code > 0
    assert compiled.optimizer == python.optimizer


def test_first_steps_reach_nlopt():
    centre = np.array([1.0, -2.0])
    steps = np.array([0.01, 0.02])
    compiled = compiled_bobyqa(CompiledObjective(_bowl.address, centre), _python_bowl(centre), np.ones(2), LOWER,
                               initial_step=steps)
    python = bobyqa(_python_bowl(centre), np.ones(2), LOWER, initial_step=steps)
    np.testing.assert_allclose(compiled.x, python.x, rtol=1e-12, atol=1e-14)
    assert compiled.feval == python.feval


def test_the_value_reported_is_nlopts_at_its_end():
    # nlopt returns its best point and the value there; the Python objective is not called to check it
    centre = np.array([1.0, -2.0])
    calls = []

    def python(x):
        calls.append(1)
        return _python_bowl(centre)(x)

    compiled = compiled_bobyqa(CompiledObjective(_bowl.address, centre), python, np.ones(2), LOWER)
    assert not calls
    assert compiled.fval == pytest.approx(_python_bowl(centre)(compiled.x), rel=1e-14, abs=1e-14)


def test_maxeval_is_reported():
    centre = np.array([1.0, -2.0])
    result = compiled_bobyqa(CompiledObjective(_bowl.address, centre), _python_bowl(centre), np.ones(2), LOWER,
                             maxeval=6)
    assert result.return_code == 5
    assert result.feval == 6
    assert "maximum number of function evaluations (6)" in result.messages[0]


def test_without_nlopts_c_interface_the_python_run_answers(monkeypatch):
    from mixedfx.optim import compiled_bobyqa as module

    calls = []
    monkeypatch.setattr(module, "_nlopt_linked", lambda: False)
    centre = np.array([1.0, -2.0])

    def python(x):
        calls.append(1)
        return _python_bowl(centre)(x)

    compiled = compiled_bobyqa(CompiledObjective(_bowl.address, centre), python, np.ones(2), LOWER)
    assert len(calls) >= compiled.feval > 0  # every evaluation in Python
    np.testing.assert_allclose(compiled.x, bobyqa(_python_bowl(centre), np.ones(2), LOWER).x, rtol=1e-12)
