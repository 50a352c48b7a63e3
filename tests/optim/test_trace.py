"""lme4's verbose: each evaluation printed as nloptwrap prints it (tests/reference/parity_r.R)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.optim.trace import traced

VERBOSE = json.loads((Path(__file__).parents[1] / "reference" / "parity_r.json").read_text())["verbose"]


def test_lmer_verbose_prints_lme4s_lines(capsys: pytest.CaptureFixture) -> None:
    mfx.lmer("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff"), verbose=1)
    assert capsys.readouterr().err.splitlines()[: len(VERBOSE)] == VERBOSE


def test_quiet_by_default_and_glmer_prints_too(capsys: pytest.CaptureFixture) -> None:
    mfx.lmer("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff"))
    assert capsys.readouterr().err == ""
    mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
              family="binomial", verbose=2)
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "iteration: 1" and err[1].startswith("\tx = (") and err[2].startswith("\tf(x) = ")


def test_traced_keeps_the_criterions_other_attributes() -> None:
    class Criterion:
        evaluations = 7

        def __call__(self, x):
            return float(np.sum(x)), np.ones_like(x)

    out = io.StringIO()
    wrapped = traced(Criterion(), 1, out)
    assert wrapped(np.array([1.0, 2.0]))[0] == 3.0 and wrapped.evaluations == 7
    assert out.getvalue() == "iteration: 1\n\tf(x) = 3.000000\n"
    assert traced(len, 0) is len


def test_verbose_must_be_a_whole_number() -> None:
    with pytest.raises(TypeError, match="verbose"):
        mfx.lmer("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff"), verbose="yes")
