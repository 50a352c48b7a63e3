"""fit.update and R's update.formula, against lme4 (tests/reference/update_drop1_r.R)."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.errors import FormulaError, MixedFxError
from mixedfx.formula.update import update_formula

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "update_drop1_r.json").read_text())
SLEEP = mfx.datasets.load("sleepstudy")
CHANGES = {"minus_days": (". ~ . - Days", {}), "plus_square": (". ~ . + I(Days^2)", {}), "ml": (None, {"REML": False}),
           "uncorrelated": (". ~ Days + (Days || Subject)", {})}


@pytest.mark.parametrize("case", list(CHANGES))
def test_update_refits_as_lme4(case: str) -> None:
    ref = REFERENCE["update"][case]
    formula, changed = CHANGES[case]
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", SLEEP).update(formula, **changed)
    assert fit.formula_text == ref["formula"]
    assert fit.loglik == pytest.approx(float(ref["loglik"][0]), abs=2e-3)
    np.testing.assert_allclose(fit.fixef, [float(v) for v in ref["fixef"]], rtol=1e-4)


def test_update_of_a_glmer_keeps_its_family() -> None:
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                    family="binomial").update(". ~ . - period")
    ref = REFERENCE["update_glmer"]
    assert fit.formula_text == ref["formula"]
    assert fit.loglik == pytest.approx(float(ref["loglik"][0]), abs=2e-3)


def test_update_takes_new_data_and_keeps_other_arguments() -> None:
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", SLEEP, REML=False)
    smaller = fit.update(data=SLEEP.iloc[:90])
    assert smaller.nobs == 90 and not smaller.reml


def test_a_pickled_fit_updates_with_data_given() -> None:
    fit = pickle.loads(pickle.dumps(mfx.lmer("Reaction ~ Days + (1 | Subject)", SLEEP)))
    with pytest.raises(MixedFxError, match="pass data="):
        fit.update(". ~ . - Days")
    assert fit.update(". ~ . - Days", data=SLEEP).formula_text == "Reaction ~ (1 | Subject)"


def test_update_refuses_arguments_the_function_lacks_and_stage_built_fits() -> None:
    fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", SLEEP)
    with pytest.raises(TypeError, match="lmer\\(\\) has no argument 'family'"):
        fit.update(family="binomial")
    model = mfx.lmer_model(mfx.lmer_design("Reaction ~ Days + (1 | Subject)", SLEEP))
    with pytest.raises(MixedFxError, match="stage by stage"):
        mfx.lmer_fit(model, mfx.optimize_lmer(model)).update(". ~ . - Days")


@pytest.mark.parametrize(("old", "change", "expected"), [
    # each as R 4.2's update() prints it
    ("Reaction ~ Days + (Days | Subject)", ". ~ . - Days", "Reaction ~ (Days | Subject)"),
    ("Reaction ~ Days + (Days | Subject)", ". ~ . + I(Days^2)", "Reaction ~ Days + (Days | Subject) + I(Days^2)"),
    ("y ~ a*b + (1|g)", ". ~ . - a:b", "y ~ a + b + (1 | g)"),
    ("y ~ x + offset(o) + (1|g)", ". ~ . - x", "y ~ (1 | g) + offset(o)"),
    ("y ~ offset(o) + x + (1|g)", ". ~ . + z", "y ~ x + (1 | g) + z + offset(o)"),
    ("y ~ x + (x||g)", ". ~ . - x", "y ~ (x || g)"),
    ("y ~ x", ". ~ . - 1", "y ~ x - 1"),
    ("y ~ x", ". ~ . - x - 1", "y ~ 1 - 1"),
    ("y ~ x", "log(.) ~ .", "log(y) ~ x"),
    ("y ~ x + (1|g)", ". ~ 0 + .", "y ~ x + (1 | g) - 1"),
    ("y ~ x*z + (1|g)", ". ~ . - x", "y ~ z + (1 | g) + x:z"),
    ("y ~ x + (1|g)", "~ . + (1|h)", "y ~ x + (1 | g) + (1 | h)"),
])
def test_update_formula_matches_r(old: str, change: str, expected: str) -> None:
    assert update_formula(old, change) == expected


def test_update_formula_errors() -> None:
    with pytest.raises(FormulaError, match="no '~'"):
        update_formula("y ~ x", "x + z")
    with pytest.raises(FormulaError, match="has none"):
        update_formula("~ x", "log(.) ~ .")
    with pytest.raises(TypeError, match="must be a string"):
        update_formula("y ~ x", 3)
