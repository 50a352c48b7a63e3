"""lme4's optimizer choice in the control objects: the fit runs it and names it, and lands on lme4's optimum."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mixedfx as mfx

PARITY = json.loads((Path(__file__).parents[1] / "reference" / "parity_r.json").read_text())
ALLFIT = json.loads((Path(__file__).parents[1] / "reference" / "allfit_r.json").read_text())
SLEEP = mfx.datasets.load("sleepstudy")
CBPP = mfx.datasets.load("cbpp")


@pytest.mark.parametrize("name", ["nloptwrap", "bobyqa", "Nelder_Mead", "nlminbwrap", "optimx.L-BFGS-B"])
def test_lmer_runs_the_named_optimizer(name: str) -> None:
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", SLEEP, control={"optimizer": name})
    assert fit.optimizer == name
    assert fit.reml_criterion == pytest.approx(float(PARITY["start"]["lmer"]["reml"][0]), abs=2e-3)
    assert fit.convergence_code == 0 and fit.messages == []


def test_glmer_takes_one_optimizer_per_stage() -> None:
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", CBPP, family="binomial",
                    control={"optimizer": ("bobyqa", "Nelder_Mead")})
    assert (fit.optimum.stage1.optimizer, fit.optimizer) == ("bobyqa", "Nelder_Mead")
    loglik = ALLFIT["cases"]["cbpp_binomial"]["fit"]["loglik"]
    assert fit.loglik == pytest.approx(float(loglik[0] if isinstance(loglik, list) else loglik), abs=2e-3)


@pytest.mark.parametrize("bad", ["BOBYQA", ("bobyqa",), ("bobyqa", "Nelder_Mead", "nloptwrap")])
def test_unknown_optimizers_are_refused(bad) -> None:
    with pytest.raises(ValueError, match="optimizer"):
        mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", CBPP, family="binomial",
                  control={"optimizer": bad})
