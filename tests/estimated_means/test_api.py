"""emmeans' arguments: specs as names or formula text, by, at, custom contrasts, and the errors for bad ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.estimated_means import EmmList, emmeans
from tests.estimated_means import assert_table

RTOL = 1e-6


@pytest.fixture(scope="module")
def cake_fit():
    data = mfx.datasets.load("cake")
    data["temp"] = pd.Categorical(data["temp"].astype(int).astype(str))
    return mfx.lmer("angle ~ recipe * temp + (1 | recipe:replicate)", data)


def test_formula_specs_give_the_means_and_their_contrasts(cake_fit):
    both = emmeans(cake_fit, "pairwise ~ recipe | temp")
    assert isinstance(both, EmmList)
    assert_table(both.emmeans.summary(), "cake_kr", "emm_by", RTOL)
    assert_table(both.contrasts.summary(), "cake_kr", "pairs_by", RTOL)
    assert str(both).startswith("$emmeans\n")
    assert_table(emmeans(cake_fit, "~ recipe", by="temp").summary(), "cake_kr", "emm_by", RTOL)


def test_by_none_makes_one_family_of_every_row(cake_fit):
    by_temp = emmeans(cake_fit, "recipe", by="temp")
    one_family = by_temp.pairs(by=None).summary()
    assert len(one_family) == 153  # all pairs of the 18 means
    assert one_family.attrs["notes"][-1] == "P value adjustment: tukey method for comparing a family of 18 estimates"


def test_at_restricts_a_factor_to_some_levels(cake_fit):
    two = emmeans(cake_fit, "recipe", at={"temp": ["175", "225"]}).summary()
    cells = emmeans(cake_fit, "recipe", by="temp").summary()
    chosen = cells[cells["temp"].isin(["175", "225"])].groupby("recipe", observed=True)["emmean"].mean()
    np.testing.assert_allclose(two["emmean"], chosen.to_numpy(), rtol=1e-12)


def test_custom_contrast_coefficients(cake_fit):
    recipe = emmeans(cake_fit, "recipe")
    custom = recipe.contrast({"A vs B and C": [1.0, -0.5, -0.5]}).summary()
    means = recipe.summary()["emmean"].to_numpy()
    np.testing.assert_allclose(custom["estimate"], [means[0] - means[1:].mean()], rtol=1e-12)
    assert list(custom["contrast"]) == ["A vs B and C"]


def test_contrasts_of_contrasts_number_their_column(cake_fit):
    pairs = emmeans(cake_fit, "recipe", by="temp").pairs()
    twice = pairs.contrast("consec", by="contrast", adjust="none").summary()
    assert list(twice.columns[:2]) == ["contrast1", "contrast"]


def test_data_given_for_a_fit_without_it(cake_fit):
    data = cake_fit.call.data
    assert_table(emmeans(cake_fit, "recipe", by="temp", data=data).summary(), "cake_kr", "emm_by", RTOL)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"specs": "flavour"}, "not 'flavour'; the predictors are: recipe, temp"),
    ({"specs": "recipe", "by": "oven"}, "not 'oven'"),
    ({"specs": "recipe", "at": {"oven": 1}}, "at names 'oven', which the fixed effects do not use"),
    ({"specs": "recipe", "at": {"temp": ["300"]}}, "not among its levels: 175, 185"),
    ({"specs": "recipe", "ddf": "Wald"}, "ddf must be one of 'Kenward-Roger', 'Satterthwaite' or 'asymptotic'"),
    ({"specs": "recipe", "type": "odds"}, "type must be one of link, response"),
    ({"specs": "recipe", "level": 95}, "level must be a number between 0 and 1"),
])
def test_bad_arguments_name_the_bad_value(cake_fit, kwargs, message):
    with pytest.raises(ValueError, match=message):
        emmeans(cake_fit, **kwargs)


def test_bad_contrast_method_and_adjustment(cake_fit):
    recipe = emmeans(cake_fit, "recipe")
    with pytest.raises(ValueError, match="method must be one of pairwise, revpairwise.*not 'pairs'"):
        recipe.contrast("pairs")
    with pytest.raises(ValueError, match="adjust must be one of .*not 'turkey'"):
        recipe.pairs(adjust="turkey")
    with pytest.raises(ValueError, match="ref='D' is not one of the levels: A, B, C"):
        recipe.contrast("trt.vs.ctrl", ref="D")
    with pytest.raises(ValueError, match="needs 3 coefficients"):
        recipe.contrast({"x": [1, -1]})


def test_covariate_at_needs_numbers(slopes):
    with pytest.raises(ValueError, match="at\\['Days'\\] must be numbers"):
        emmeans(slopes, "Days", at={"Days": ["zero"]})


def test_generalized_models_refuse_small_sample_df():
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                    family="binomial")
    with pytest.raises(ValueError, match="a generalized model's inference is asymptotic"):
        emmeans(fit, "period", ddf="Kenward-Roger")
