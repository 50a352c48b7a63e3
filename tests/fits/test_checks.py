"""lme4's check settings (check.scaleX, check.conv.singular, check.conv.grad) and start values against lme4.

The references are in tests/reference/parity_r.R.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.errors import MixedFxError

CHECKS = json.loads((Path(__file__).parents[1] / "reference" / "parity_r.json").read_text())["checks"]
SLEEP = mfx.datasets.load("sleepstudy")
BIG = SLEEP.assign(DaysBig=SLEEP["Days"] * 1e4)
DYESTUFF2 = mfx.datasets.load("Dyestuff2")


def test_very_different_scales_are_reported_as_lme4_but_not_printed_with_the_fit() -> None:
    fit = mfx.lmer("Reaction ~ DaysBig + (1 | Subject)", BIG)
    assert fit.message_sources["scale_x"] == CHECKS["scale_warning"]
    assert CHECKS["scale_warning"][0] not in str(fit.summary())
    assert mfx.lmer("Reaction ~ Days + (1 | Subject)", SLEEP).messages == CHECKS["scale_quiet"]
    ignored = mfx.lmer("Reaction ~ DaysBig + (1 | Subject)", BIG, control={"check_scale_x": "ignore"})
    assert ignored.messages == CHECKS["scale_ignored"]
    with pytest.raises(MixedFxError, match=CHECKS["scale_stop"]):
        mfx.lmer("Reaction ~ DaysBig + (1 | Subject)", BIG, control={"check_scale_x": "stop"})


def test_the_singular_message_follows_its_action() -> None:
    assert mfx.lmer("Yield ~ 1 + (1 | Batch)", DYESTUFF2).messages == CHECKS["singular_message"]
    ignored = mfx.lmer("Yield ~ 1 + (1 | Batch)", DYESTUFF2, control={"check_conv_singular": "ignore"})
    assert ignored.messages == CHECKS["singular_ignored"] and ignored.is_singular
    with pytest.raises(MixedFxError, match=r"boundary \(singular\) fit"):
        mfx.lmer("Yield ~ 1 + (1 | Batch)", DYESTUFF2, control={"check_conv_singular": "stop"})
    assert CHECKS["singular_stop"].startswith("boundary (singular) fit")


def test_a_stopping_gradient_check_raises_its_message() -> None:
    expected = CHECKS["grad_stop"].split(" = ")[0]
    with pytest.raises(MixedFxError, match=r"Model failed to converge with max\|grad\|"):
        mfx.lmer("Reaction ~ Days + (Days | Subject)", SLEEP,
                 control={"check_conv_grad": "stop", "check_conv_grad_tol": 1e-12})
    assert expected == "Model failed to converge with max|grad|"
    quiet = mfx.lmer("Reaction ~ Days + (Days | Subject)", SLEEP,
                     control={"check_conv_grad": "ignore", "check_conv_grad_tol": 1e-12})
    assert quiet.messages == []


def test_glmer_takes_the_same_checks() -> None:
    cbpp = mfx.datasets.load("cbpp")
    with pytest.raises(MixedFxError, match="max\\|grad\\|"):
        mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial",
                  control={"check_conv_grad": "stop", "check_conv_grad_tol": 1e-14})


def test_start_values_as_lme4() -> None:
    ref = json.loads((Path(__file__).parents[1] / "reference" / "parity_r.json").read_text())["start"]
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", SLEEP, start={"theta": [0.5, 0.0, 0.5]})
    assert fit.opt_summary.x0.tolist() == [0.5, 0.0, 0.5]
    assert fit.reml_criterion == pytest.approx(float(ref["lmer"]["reml"][0]), abs=2e-3)
    cbpp = mfx.datasets.load("cbpp")
    gfit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial",
                     start={"theta": [0.5], "fixef": [-1.0, -1.0, -1.0, -1.0]})
    assert -2 * gfit.loglik == pytest.approx(float(ref["glmer"]["deviance"][0]), abs=2e-3)
    assert gfit.update(". ~ . - period", start=None).nobs == 56


@pytest.mark.parametrize(("start", "error", "words"), [
    ([1.0, 0.0], ValueError, "needs 3 finite values"),
    ({"theta": [1.0, 0.0, 1.0], "fixef": [250.0, 10.0]}, ValueError, "start takes 'theta', not 'fixef'"),
    ({"theta": ["a", 0, 1]}, TypeError, "must be numbers"),
    ([1.0, np.nan, 1.0], ValueError, "finite"),
])
def test_bad_starts_are_refused(start, error: type, words: str) -> None:
    with pytest.raises(error, match=words):
        mfx.lmer("Reaction ~ Days + (Days | Subject)", SLEEP, start=start)
