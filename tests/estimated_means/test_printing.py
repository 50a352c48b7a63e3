"""emmeans' printed summaries against emmeans 1.8.4-1's print (R ends each note with a space; we do not)."""

from __future__ import annotations

import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.estimated_means import emmeans
from tests.estimated_means import REFERENCE


def _r_lines(name: str) -> list[str]:
    return [line.rstrip() for line in REFERENCE["printed"][name]]


@pytest.fixture(scope="module")
def cake() -> pd.DataFrame:
    data = mfx.datasets.load("cake")
    data["temp"] = pd.Categorical(data["temp"].astype(int).astype(str))
    return data


def test_by_groups_print_as_emmeans(cake):
    fit = mfx.lmer("angle ~ recipe * temp + (1 | recipe:replicate)", cake)
    assert str(emmeans(fit, "recipe", by="temp")).splitlines() == _r_lines("cake_emm_by")
    recipe = emmeans(fit, "recipe")
    assert str(recipe.pairs()).splitlines() == _r_lines("cake_pairs")
    assert str(recipe.contrast("trt.vs.ctrl").summary(infer=True)).splitlines() == _r_lines("cake_trt_vs_ctrl")


def test_not_estimable_means_print_as_nonest(cake):
    partial = cake[~((cake["recipe"] == "C") & (cake["temp"] == "175"))]
    fit = mfx.lmer("angle ~ recipe * temp + (1 | recipe:replicate)", partial)
    assert str(emmeans(fit, "recipe", by="temp")).splitlines() == _r_lines("cake_rank_deficient_emm_by")


def test_odds_ratios_print_as_emmeans():
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                    family="binomial")
    printed = str(emmeans(fit, "period").pairs().summary(type="response")).splitlines()
    assert printed == _r_lines("cbpp_pairs_response")
