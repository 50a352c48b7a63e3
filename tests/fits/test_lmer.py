"""The fitted linear model's accessors, predictions and invariances."""

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from tests.conformance.cases import load_case


def test_predict_newdata_with_unseen_level_and_population_level(slopes):
    ref = load_case("sleepstudy_slopes")["lme4"]["predict_newdata"]
    newdata = pd.DataFrame(ref["newdata"])
    got = slopes.predict(newdata, allow_new_levels=True)
    np.testing.assert_allclose(got, ref["value"], atol=1e-3)
    fixed = slopes.predict(newdata, re_form="~0")
    np.testing.assert_allclose(fixed, ref["value_fixed_only"], atol=1e-3)


def test_predict_unseen_level_needs_permission(slopes):
    newdata = pd.DataFrame({"Days": [1.0], "Subject": ["999"]})
    with pytest.raises(ValueError, match="allow_new_levels"):
        slopes.predict(newdata)


def test_predict_without_newdata_is_fitted(slopes, sleep):
    np.testing.assert_allclose(slopes.predict(), slopes.fitted())
    np.testing.assert_allclose(slopes.fitted() + slopes.residuals(), sleep["Reaction"].to_numpy())
    population = slopes.predict(re_form="~0")
    np.testing.assert_allclose(population, slopes.fixef["(Intercept)"] + slopes.fixef["Days"] * sleep["Days"])


def test_coef_adds_fixed_and_random_effects(slopes):
    coef = slopes.coef()["Subject"]
    ranef = slopes.ranef()["Subject"]
    np.testing.assert_allclose(coef["Days"], slopes.fixef["Days"] + ranef["Days"])
    np.testing.assert_allclose(coef["(Intercept)"], slopes.fixef["(Intercept)"] + ranef["(Intercept)"])
    assert list(coef.index) == list(ranef.index)


def test_ranef_table_matches_lme4(slopes):
    ref = load_case("sleepstudy_slopes")["lme4"]["ranef"]["Subject"]
    table = slopes.ranef_table()
    assert list(table.columns) == ["grpvar", "term", "grp", "condval", "condsd"]
    days = table[table.term == "Days"]
    np.testing.assert_allclose(days.condval, np.array(ref["values"])[:, 1], atol=0.01)
    np.testing.assert_allclose(days.condsd, np.array(ref["condsd"])[:, 1], rtol=0.005)


def test_summary_coefficients(slopes):
    table = slopes.summary().coefficients
    assert list(table.columns) == ["Estimate", "Std. Error", "t value"]
    np.testing.assert_allclose(table["t value"], table["Estimate"] / table["Std. Error"])


def test_weights_as_column_or_array_and_offset_forms_agree():
    d = mfx.datasets.load("simfeat")
    by_name = mfx.lmer("y ~ x + f + (1 | g1)", data=d, weights="w")
    by_array = mfx.lmer("y ~ x + f + (1 | g1)", data=d, weights=d["w"].to_numpy())
    assert by_array.loglik == pytest.approx(by_name.loglik, abs=1e-8)
    in_formula = mfx.lmer("y ~ x + offset(0.5 * w) + (1 | g1)", data=d)
    as_argument = mfx.lmer("y ~ x + (1 | g1)", data=d, offset=0.5 * d["w"].to_numpy())
    assert as_argument.loglik == pytest.approx(in_formula.loglik, abs=1e-6)
    np.testing.assert_allclose(as_argument.fixef, in_formula.fixef, rtol=1e-6)


def test_data_unchanged_and_row_order_irrelevant(sleep):
    before = sleep.copy()
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep)
    pd.testing.assert_frame_equal(sleep, before)
    shuffled = sleep.sample(frac=1.0, random_state=3)
    other = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=shuffled)
    assert other.loglik == pytest.approx(fit.loglik, abs=1e-7)
    np.testing.assert_allclose(other.fixef, fit.fixef, rtol=1e-6)


def test_dyestuff_figures_users_know():
    fit = mfx.lmer("Yield ~ 1 + (1 | Batch)", data=mfx.datasets.load("Dyestuff"))
    vc = fit.varcorr()
    assert round(vc.vcov[0]) == 1764 and round(vc.vcov[1]) == 2451
    assert fit.fixef["(Intercept)"] == pytest.approx(1527.50, abs=0.005)
    assert np.sqrt(fit.vcov.iloc[0, 0]) == pytest.approx(19.38, abs=0.005)
    assert fit.reml_criterion == pytest.approx(319.7, abs=0.05)


def test_singular_fit_is_reported():
    fit = mfx.lmer("Yield ~ 1 + (1 | Batch)", data=mfx.datasets.load("Dyestuff2"))
    assert fit.is_singular
    assert fit.messages == ["boundary (singular) fit: see help('isSingular')"]


def test_grouping_factor_with_a_level_per_row_is_refused():
    d = mfx.datasets.load("Dyestuff").assign(obs=lambda f: np.arange(len(f)).astype(str))
    with pytest.raises(ValueError, match="number of levels of each grouping factor must be < number of observations"):
        mfx.lmer("Yield ~ 1 + (1 | obs)", data=d)


def test_control_accepts_dict_and_rejects_unknown_settings(sleep):
    fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", data=sleep, control={"theta0": (0.5,)})
    assert fit.opt_summary.x0.tolist() == [0.5]
    with pytest.raises(ValueError, match="unknown control setting"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", data=sleep, control={"tolerance": 1})


def test_predict_with_some_terms_uses_only_those():
    d = mfx.datasets.load("Penicillin")
    fit = mfx.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", data=d)
    rows = d.iloc[:5]
    plate_only = fit.predict(rows, re_form="~(1 | plate)")
    expected = fit.fixef["(Intercept)"] + fit.ranef()["plate"].loc[rows["plate"].astype(str), "(Intercept)"].to_numpy()
    np.testing.assert_allclose(plate_only, expected)
    np.testing.assert_allclose(fit.predict(rows), fit.fitted()[:5])
    np.testing.assert_allclose(fit.predict(re_form="~(1 | plate)")[:5], plate_only)
    with pytest.raises(ValueError, match="does not have, nor a part of one: 1 \\| batch"):
        fit.predict(re_form="~(1 | batch)")


def test_convergence_is_checked_as_lme4_does(sleep):
    stopped = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep, control={"maxeval": 8})
    assert stopped.convergence_code != 0
    assert any(m.startswith("Model failed to converge with max|grad|") for m in stopped.messages)
    unchecked = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep,
                         control={"maxeval": 8, "calc_derivs": False})
    assert not any("max|grad|" in m for m in unchecked.messages)
