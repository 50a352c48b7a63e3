"""R's model-frame features at the design level: '.' in a formula, subset=, na_action="exclude".

References: tests/reference/frame_r.R (lme4 1.1-31) writing frame_r.json; its "design" section
holds what the model frame determines (names, rows, counts), its "fit" section the fits' numbers.
R's row numbers are 1-based, the data's index labels here 0-based.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.design.frame import model_frame
from mixedfx.design.matrices import build_model_matrices, pad_to_input, used_rows
from mixedfx.errors import DataError, FormulaError
from mixedfx.formula.update import update_formula

REF = json.loads((Path(__file__).parents[1] / "reference" / "frame_r.json").read_text())
DESIGN, FIT = REF["design"], REF["fit"]
NA_ROWS = [r - 1 for r in DESIGN["exclude"]["na_rows"]]


def _numbers(values):
    return np.array([np.nan if v == "NA" else float(v) for v in values])


@pytest.fixture(scope="module")
def sleep():
    return mfx.datasets.load("sleepstudy")


@pytest.fixture(scope="module")
def sleep_na(sleep):
    data = sleep.copy()
    data.loc[NA_ROWS, "Reaction"] = np.nan
    return data


@pytest.fixture(scope="module")
def cbpp():
    return mfx.datasets.load("cbpp")


# ----------------------------------------------------------------------------- '.'
def test_dot_is_every_other_column_grouping_factor_included(sleep):
    ref = DESIGN["dot"]
    mm = build_model_matrices(ref["formula"], sleep)
    assert mm.x_names == ref["x_names"]
    assert mm.X.shape == (ref["nobs"], len(ref["x_names"]))
    explicit = build_model_matrices("Reaction ~ Days + Subject + (1 | Subject)", sleep)
    np.testing.assert_array_equal(mm.X, explicit.X)
    assert mm.formula_text == ref["formula"]
    frame = model_frame(ref["formula"], sleep)
    assert list(frame.values) == ref["frame_names"]


def test_dot_follows_the_data_column_order(sleep):
    ref = DESIGN["dot_reordered"]
    data = sleep[["Subject", "Days", "Reaction"]].assign(DaysSq=sleep["Days"] ** 2)
    mm = build_model_matrices(ref["formula"], data)
    assert mm.x_names == ref["x_names"]
    assert mm.X.shape[0] == ref["nobs"]


def test_dot_leaves_out_the_response_symbols_and_keeps_them_in_the_spec(sleep):
    mm = build_model_matrices("log(Reaction) ~ . + (1 | Subject)", sleep)
    assert mm.x_names[:2] == ["(Intercept)", "Days"] and "Reaction" not in mm.x_names
    assert mm.formula_text == "log(Reaction) ~ . + (1 | Subject)"
    assert mm.spec.fixed.terms.term_labels == ["Days", "Subject"]
    assert mm.spec.formula.response_name == "log(Reaction)"


def test_dot_columns_take_part_in_na_handling(sleep):
    data = sleep.assign(extra=np.where(np.arange(len(sleep)) == 7, np.nan, 1.0))
    mm = build_model_matrices("Reaction ~ . + (1 | Subject)", data)
    assert mm.n_dropped_na == 1 and 7 not in mm.rows
    assert "extra" in mm.dropped or "extra" in mm.x_names


def test_dot_minus_a_column_and_powers(sleep):
    data = sleep.assign(extra=np.linspace(0, 1, len(sleep)))
    mm = build_model_matrices("Reaction ~ .^2 - Subject + (1 | Subject)", data[["Reaction", "Days", "extra", "Subject"]])
    assert mm.spec.fixed.terms.term_labels[:3] == ["Days", "extra", "Days:extra"]
    assert "Subject309" not in mm.x_names


def test_dot_errors(sleep):
    with pytest.raises(FormulaError, match="needs the data"):
        build_model_matrices("Reaction ~ Days + (. | Subject)", sleep)
    with pytest.raises(FormulaError, match="duplicated name"):
        build_model_matrices("Reaction ~ . + (1 | Subject)", pd.concat([sleep, sleep[["Days"]]], axis=1))
    with pytest.raises(FormulaError, match="no text name"):
        build_model_matrices("Reaction ~ . + (1 | Subject)", sleep.rename(columns={"Days": 0}))


def test_update_semantics_of_dot_are_unchanged():
    assert update_formula("Reaction ~ Days + (Days | Subject)", ". ~ . - Days") == "Reaction ~ (Days | Subject)"
    with pytest.raises(FormulaError):  # R: "'.' in formula and no 'data' argument"
        update_formula("Reaction ~ . + (1 | Subject)", ". ~ . - Days")


# ----------------------------------------------------------------------------- subset
def test_subset_query_keeps_r_rows(sleep):
    ref = DESIGN["subset"]
    mm = build_model_matrices(ref["formula"], sleep, subset=ref["query"])
    assert mm.X.shape[0] == ref["nobs"] and mm.x_names == ref["x_names"]
    assert list(mm.rows) == [r - 1 for r in ref["rows"]]
    np.testing.assert_array_equal(mm.y, sleep["Reaction"].to_numpy()[mm.rows])
    np.testing.assert_array_equal(mm.X[:, 1], sleep["Days"].to_numpy()[mm.rows])
    assert len(mm.re_terms[0].levels) == 18 and mm.n_dropped_na == 0


def test_subset_mask_array_series_and_query_agree(sleep):
    query = DESIGN["subset"]["query"]
    by_query = build_model_matrices("Reaction ~ Days + (1 | Subject)", sleep, subset=query)
    mask = sleep["Days"] > 2
    for subset in (mask, mask.to_numpy(), list(mask), mask.sample(frac=1.0, random_state=1)):
        mm = build_model_matrices("Reaction ~ Days + (1 | Subject)", sleep, subset=subset)
        assert list(mm.rows) == list(by_query.rows)
        np.testing.assert_array_equal(mm.X, by_query.X)


def test_subset_positions_keep_their_order(sleep):
    ref = DESIGN["subset_positions"]
    positions = np.array(ref["r_positions"]) - 1
    mm = build_model_matrices("Reaction ~ Days + (Days | Subject)", sleep, subset=positions)
    assert mm.X.shape[0] == ref["nobs"]
    assert list(mm.rows) == [r - 1 for r in ref["rows"]]
    np.testing.assert_array_equal(mm.y, sleep["Reaction"].to_numpy()[positions])


def test_subset_drops_unused_factor_levels(cbpp):
    ref = DESIGN["cbpp_subset"]
    mm = build_model_matrices(ref["formula"], cbpp, subset=ref["query"])
    assert mm.x_names == ref["x_names"]
    assert mm.y.shape == (ref["nobs"], 2)
    assert list(mm.rows) == [r - 1 for r in ref["rows"]]


def test_subset_comes_before_na_handling(sleep_na):
    outside = build_model_matrices("Reaction ~ Days + (1 | Subject)", sleep_na, subset="Days > 2 and Days < 9")
    assert outside.n_dropped_na == 0  # the missing rows 2, 49, 50 have Days 2, 9, 0
    inside = build_model_matrices("Reaction ~ Days + (1 | Subject)", sleep_na, subset="Days > 5")
    assert inside.n_dropped_na == 1 and 49 not in inside.rows
    weights = np.ones(len(sleep_na))
    weights[0] = np.nan  # Days 0: outside the subset, so not an error
    mm = build_model_matrices("Reaction ~ Days + (1 | Subject)", sleep_na, subset="Days > 2", weights=weights)
    assert mm.weights.shape == (125,)  # 126 rows with Days > 2, row 49 missing


def test_subset_transforms_learn_on_every_row(sleep):
    mm = build_model_matrices("Reaction ~ scale(Days) + (1 | Subject)", sleep, subset="Days > 2")
    days = sleep["Days"].to_numpy(dtype=float)
    expected = (days - days.mean()) / days.std(ddof=1)
    np.testing.assert_allclose(mm.X[:, 1], expected[mm.rows])


def test_subset_errors(sleep):
    form = "Reaction ~ Days + (1 | Subject)"
    with pytest.raises(ValueError, match="180 rows"):
        build_model_matrices(form, sleep, subset=np.ones(10, dtype=bool))
    with pytest.raises(DataError, match="Dayz.*columns Reaction, Days, Subject"):
        build_model_matrices(form, sleep, subset="Dayz > 2")
    with pytest.raises(DataError, match="True or False"):
        build_model_matrices(form, sleep, subset="Days + 1")
    with pytest.raises(DataError, match="keeps no rows"):
        build_model_matrices(form, sleep, subset="Days > 100")
    with pytest.raises(DataError, match="keeps no rows"):
        build_model_matrices(form, sleep, subset=[])
    with pytest.raises(ValueError, match="outside the data's rows 0 to 179"):
        build_model_matrices(form, sleep, subset=[0, 180])
    with pytest.raises(ValueError, match="outside"):
        build_model_matrices(form, sleep, subset=[-1, 3])
    with pytest.raises(ValueError, match="repeat"):
        build_model_matrices(form, sleep, subset=[1, 1, 2])
    with pytest.raises(TypeError, match="booleans .* or integers"):
        build_model_matrices(form, sleep, subset=np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="query string"):
        build_model_matrices(form, sleep, subset=True)
    with pytest.raises(ValueError, match="index does not match"):
        build_model_matrices(form, sleep, subset=pd.Series(True, index=range(1, 181)))


def test_na_in_a_subset_mask_is_a_missing_row(sleep):
    mask = (sleep["Days"] > 2).astype("boolean")
    mask[4] = pd.NA
    mm = build_model_matrices("Reaction ~ Days + (1 | Subject)", sleep, subset=mask, na_action="exclude")
    assert mm.n_dropped_na == 1 and len(mm.input_rows) == 126 and 4 in mm.input_rows and 4 not in mm.rows
    with pytest.raises(DataError, match="missing values in subset"):
        build_model_matrices("Reaction ~ Days + (1 | Subject)", sleep, subset=mask, na_action="fail")


# ----------------------------------------------------------------------------- na_action="exclude"
def test_exclude_builds_what_omit_builds_and_records_the_input_rows(sleep_na):
    ref = DESIGN["exclude"]
    ex = build_model_matrices(ref["formula"], sleep_na, na_action="exclude")
    om = build_model_matrices(ref["formula"], sleep_na, na_action="omit")
    np.testing.assert_array_equal(ex.X, om.X)
    np.testing.assert_array_equal(ex.y, om.y)
    assert list(ex.rows) == list(om.rows) and ex.X.shape[0] == ref["nobs"]
    assert ex.na_action == "exclude" and om.na_action == "omit"
    assert list(ex.input_rows) == [r - 1 for r in ref["rows"]] and len(ex.input_rows) == ref["n_input"]
    assert sorted(set(range(ref["n_input"])) - set(ex.kept)) == NA_ROWS
    assert build_model_matrices(ref["formula"], sleep_na, na_action="na.exclude").na_action == "exclude"


def test_pad_to_input_puts_nan_at_the_excluded_rows(sleep_na):
    ex = build_model_matrices(DESIGN["exclude"]["formula"], sleep_na, na_action="exclude")
    padded = pad_to_input(ex.y, ex)
    assert padded.shape == (180,)
    assert list(np.flatnonzero(np.isnan(padded))) == NA_ROWS
    np.testing.assert_array_equal(padded, sleep_na["Reaction"].to_numpy())
    two = pad_to_input(np.column_stack([ex.y, ex.y]), ex)
    assert two.shape == (180, 2) and np.isnan(two[NA_ROWS]).all()
    om = build_model_matrices(DESIGN["exclude"]["formula"], sleep_na)
    assert pad_to_input(om.y, om) is om.y
    with pytest.raises(ValueError, match="one entry per kept row"):
        pad_to_input(np.zeros(180), ex)


def test_exclude_with_subset_pads_to_the_subset_rows(sleep_na):
    ref = DESIGN["exclude_subset"]
    mm = build_model_matrices(DESIGN["exclude"]["formula"], sleep_na, na_action="exclude", subset=ref["query"])
    assert mm.X.shape[0] == ref["nobs"]
    assert list(mm.input_rows) == [r - 1 for r in ref["rows"]]
    padded = pad_to_input(mm.y, mm)
    assert padded.shape == (ref["n_input"],)
    assert list(np.flatnonzero(np.isnan(padded)) + 1) == ref["na_at"]


def test_exclude_with_subset_binomial(cbpp):
    ref = DESIGN["cbpp_exclude"]
    data = cbpp.copy()
    data["incidence"] = data["incidence"].astype(float)
    data.loc[[r - 1 for r in ref["na_rows"]], "incidence"] = np.nan
    mm = build_model_matrices(DESIGN["cbpp_subset"]["formula"], data, subset=DESIGN["cbpp_subset"]["query"],
                              na_action="exclude")
    assert mm.y.shape == (ref["nobs"], 2)
    assert list(mm.input_rows) == [r - 1 for r in ref["rows"]]
    padded = pad_to_input(mm.y, mm)
    assert padded.shape == (ref["n_input"], 2)
    assert list(np.flatnonzero(np.isnan(padded[:, 0])) + 1) == ref["na_at"]


def test_padding_and_unpadding_a_fit_matches_r(sleep_na):
    """A fit's padded results keep their kept rows through used_rows, and pad back to R's."""
    fit = mfx.lmer(DESIGN["exclude"]["formula"], sleep_na, na_action="exclude")
    mm = fit.model.matrices
    for values, name in ((fit.fitted(), "fitted"), (fit.residuals(), "residuals")):
        kept = used_rows(values, mm)
        assert kept.shape == (len(mm.rows),) and np.isfinite(kept).all()
        padded = pad_to_input(kept, mm)
        expected = _numbers(FIT["exclude"][name])
        assert np.array_equal(np.isnan(padded), np.isnan(expected))
        np.testing.assert_allclose(padded, expected, rtol=1e-5, atol=1e-3)


def test_dot_fit_matches_r(sleep):
    fit = mfx.lmer(DESIGN["dot"]["formula"], sleep)
    assert list(fit.fixef.index) == FIT["dot"]["fixef_names"]
    np.testing.assert_allclose(np.asarray(fit.fixef), _numbers(FIT["dot"]["fixef"]), rtol=1e-8)


def test_unknown_na_action_names_exclude(sleep):
    with pytest.raises(ValueError, match="'omit' or 'fail', not 'pass' \\(or 'exclude'"):
        build_model_matrices("Reaction ~ Days + (1 | Subject)", sleep, na_action="pass")
