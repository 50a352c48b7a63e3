"""glance() and augment() of linear fits against broom.mixed 0.2.9.4 (tests/reference/tidy_r.R)."""

from __future__ import annotations

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.tidy import augment, glance
from tests.tidy import REFERENCE, assert_table, glance_reference

# sleepstudy's optimum is lme4's to 1e-8
EXACT_RTOL = 1e-6
# the ML and the weighted fits' criteria agree with lme4's to 1e-11 but their optima are flat: theta (and sigma)
# differ by about 1e-5, and residuals near zero by that much of their column's scale
FLAT_OPTIMUM_RTOL = 1e-4


@pytest.fixture(scope="module")
def weighted(sleep):
    data = sleep.assign(w=1 + sleep["Days"] % 3)
    return mfx.lmer("Reaction ~ Days + (Days | Subject)", data, weights="w", offset=data["Days"].to_numpy() / 10)


def test_glance_reml_gives_the_reml_criterion(slopes):
    assert_table(glance(slopes), glance_reference(REFERENCE["slopes"]["glance"]), EXACT_RTOL)


def test_glance_ml_gives_the_deviance(sleep):
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep, REML=False)
    assert_table(glance(fit), glance_reference(REFERENCE["slopes_ml"]["glance"]), FLAT_OPTIMUM_RTOL)


def test_glance_crossed_and_weighted(weighted):
    fit = mfx.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", mfx.datasets.load("Penicillin"))
    assert_table(glance(fit), glance_reference(REFERENCE["penicillin"]["glance"]), EXACT_RTOL)
    assert_table(glance(weighted), glance_reference(REFERENCE["weighted"]["glance"]), EXACT_RTOL)


def test_augment(slopes):
    table = augment(slopes)
    assert_table(table, REFERENCE["slopes"]["augment"], EXACT_RTOL)
    assert table.index.equals(slopes.model_frame().index)


def test_augment_weights_and_offset(weighted):
    assert_table(augment(weighted), REFERENCE["weighted"]["augment"], FLAT_OPTIMUM_RTOL)


def test_augment_new_data(slopes, sleep):
    new = sleep.iloc[[3, 100]].assign(Days=[0.5, 20.0])
    table = augment(slopes, newdata=new)
    assert list(table.columns) == [*new.columns, ".fitted"]
    np.testing.assert_array_equal(table[".fitted"], slopes.predict(new))
