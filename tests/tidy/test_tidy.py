"""tidy() of linear fits against broom.mixed 0.2.9.4 (tests/reference/tidy_r.R)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.tidy import tidy
from tests.tidy import REFERENCE, assert_table

SLOPES = REFERENCE["slopes"]
ALL_EFFECTS = ["ran_pars", "fixed", "ran_vals", "ran_coefs"]
# sleepstudy's optimum is lme4's to 1e-8: every estimate and its algebra agree to that
EXACT_RTOL = 1e-6
# profile intervals are the roots of an interpolated profile: 5e-6 from lme4's here
PROFILE_RTOL = 1e-4
# Penicillin's and the weighted fit's criteria agree with lme4's to 1e-11, but their optima are flat: theta
# differs by about 1e-5 (where each optimiser stops), and so do the estimates that follow from it
FLAT_OPTIMUM_RTOL = 1e-4


@pytest.mark.parametrize(("case", "arguments"), [
    ("tidy", {}),
    ("all_effects", {"effects": ALL_EFFECTS}),
    ("fixed_only", {"effects": "fixed"}),
    ("wald", {"conf_int": True}),
    ("wald_90", {"conf_int": True, "conf_level": 0.9}),
    ("ran_pars_wald", {"effects": "ran_pars", "conf_int": True}),
    ("ran_vals_wald", {"effects": "ran_vals", "conf_int": True}),
    ("vcov", {"effects": ["ran_pars", "fixed"], "scales": ["vcov", None]}),
    ("satterthwaite", {"conf_int": True, "ddf": "Satterthwaite"}),
    ("kenward_roger", {"conf_int": True, "ddf": "Kenward-Roger"}),
    ("ddf_lme4", {"conf_int": True, "ddf": "lme4"}),
])
def test_sleepstudy_tables(slopes, case, arguments):
    assert_table(tidy(slopes, **arguments), SLOPES[case], EXACT_RTOL)


def test_profile_intervals(slopes):
    assert_table(tidy(slopes, conf_int=True, conf_method="profile"), SLOPES["profile"], EXACT_RTOL,
                 column_rtol={"conf.low": PROFILE_RTOL, "conf.high": PROFILE_RTOL})


def test_ddf_with_profile_keeps_t_intervals_for_fixed_effects(slopes):
    with pytest.warns(UserWarning, match="t on the table's df"):
        table = tidy(slopes, conf_int=True, conf_method="profile", ddf="Satterthwaite")
    assert_table(table, SLOPES["satterthwaite_profile"], EXACT_RTOL,
                 column_rtol={"conf.low": PROFILE_RTOL, "conf.high": PROFILE_RTOL})


def test_ran_coefs_intervals_are_missing_with_a_warning(slopes):
    with pytest.warns(UserWarning, match="ran_coefs"):
        table = tidy(slopes, "ran_coefs", conf_int=True)
    assert_table(table, SLOPES["ran_coefs_conf"], EXACT_RTOL)


def test_two_terms_on_one_factor(sleep):
    fit = mfx.lmer("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", sleep)
    assert_table(tidy(fit, ALL_EFFECTS), REFERENCE["uncorrelated"]["tidy"], EXACT_RTOL)


def test_three_by_three_names_in_lower_triangle_order(sleep):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = mfx.lmer("Reaction ~ Days + (Days + I(Days^2) | Subject)", sleep)
    table = tidy(fit, "ran_pars")
    assert list(table["group"]) == REFERENCE["three"]["groups"]
    assert list(table["term"]) == REFERENCE["three"]["terms"]


def test_penicillin_crossed():
    fit = mfx.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", mfx.datasets.load("Penicillin"))
    with pytest.warns(UserWarning, match="ran_coefs"):
        table = tidy(fit, ALL_EFFECTS, conf_int=True, conf_level=0.9)
    assert_table(table, REFERENCE["penicillin"]["tidy"], FLAT_OPTIMUM_RTOL)


def test_weights_and_offset(sleep):
    data = sleep.assign(w=1 + sleep["Days"] % 3)
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data, weights="w", offset=data["Days"].to_numpy() / 10)
    assert_table(tidy(fit), REFERENCE["weighted"]["tidy"], FLAT_OPTIMUM_RTOL)


def test_effects_in_any_order_give_broom_mixed_row_order(slopes):
    assert tidy(slopes, ["ran_coefs", "fixed", "ran_vals", "ran_pars"]).equals(tidy(slopes, ALL_EFFECTS))


def test_one_scale_name_for_ran_pars(slopes):
    assert tidy(slopes, scales="vcov").equals(tidy(slopes, scales=["vcov", None]))


@pytest.mark.filterwarnings("ignore:extreme order statistics")  # 20 draws: the 2.5 % quantile is the least
def test_bootstrap_intervals_contain_the_estimates(slopes):
    table = tidy(slopes, conf_int=True, conf_method="boot", nsim=20, seed=1)
    assert list(table.columns) == SLOPES["wald"]["columns"]
    low, estimate, high = (table[c].to_numpy() for c in ("conf.low", "estimate", "conf.high"))
    assert np.all(np.isfinite(low) & np.isfinite(high))
    assert np.all((low <= estimate) & (estimate <= high))


@pytest.mark.parametrize(("arguments", "message"), [
    ({"effects": "random"}, "unknown effect type 'random': effects are fixed, ran_pars, ran_vals, ran_coefs"),
    ({"effects": []}, "unknown effect type"),
    ({"scales": "sd"}, "unrecognized ran_pars scale 'sd'"),
    ({"scales": ["vcov"]}, "scales has 1 entries for 2 effects"),
    ({"conf_int": True, "conf_method": "exact"}, "conf_method must be one of 'Wald', 'profile', 'boot'"),
    ({"effects": "ran_vals", "conf_int": True, "conf_method": "profile"}, "only Wald intervals"),
    ({"scales": "vcov", "conf_int": True, "conf_method": "profile"}, "on the sd/cor scale"),
    ({"ddf": "Welch"}, "ddf must be one of"),
])
def test_bad_arguments_say_what_is_allowed(slopes, arguments, message):
    with pytest.raises(ValueError, match=message) as raised:
        tidy(slopes, **arguments)
    assert len(str(raised.value)) < 300
