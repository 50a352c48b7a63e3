"""lme4's check settings (check.scaleX, check.conv.singular, check.conv.grad) against lme4 (tests/reference/parity_r.R)."""

from __future__ import annotations

import json
from pathlib import Path

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
