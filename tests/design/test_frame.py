"""The model frame: missing values, weights, offsets, response forms, grouping factors."""

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.errors import DataError, FormulaError
from mixedfx.design.frame import model_frame


@pytest.fixture
def data():
    rng = np.random.default_rng(7)
    n = 12
    return pd.DataFrame({
        "y": rng.normal(size=n),
        "x": rng.normal(size=n),
        "w": rng.uniform(0.5, 2.0, size=n),
        "g": ["a", "b", "c"] * 4,
        "h": [3, 10, 2] * 4,
        "f": pd.Categorical(["p", "q"] * 5 + ["r", "p"], categories=["p", "q", "r"]),
        "unused": [np.nan] * n,
    })


def test_missing_values_in_used_variables_drop_rows(data):
    data.loc[1, "x"] = np.nan
    data.loc[4, "g"] = None
    data.loc[7, "y"] = np.nan
    frame = model_frame("y ~ x + (1 | g)", data, weights="w")
    assert frame.n_dropped_na == 3
    assert list(frame.rows) == [0, 2, 3, 5, 6, 8, 9, 10, 11]
    assert frame.y.shape == (9,)
    np.testing.assert_allclose(frame.y, data["y"].to_numpy()[frame.rows])


def test_unused_columns_do_not_drop_rows(data):
    assert model_frame("y ~ x + (1 | g)", data).n_dropped_na == 0


def test_missing_after_evaluation_drops_rows(data):
    data.loc[3, "w"] = -1.0  # log(-1) is NaN, which R's model frame drops
    frame = model_frame("y ~ log(w) + (1 | g)", data)
    assert frame.n_dropped_na == 1 and 3 not in frame.rows


def test_missing_offset_argument_drops_rows(data):
    offset = np.zeros(len(data))
    offset[5] = np.nan
    frame = model_frame("y ~ x + (1 | g)", data, offset=offset)
    assert frame.n_dropped_na == 1 and 5 not in frame.rows


def test_na_fail_names_the_variables(data):
    data.loc[2, "x"] = np.nan
    with pytest.raises(DataError, match=r"missing values in x .*na_action='omit'"):
        model_frame("y ~ x + (1 | g)", data, na_action="fail")
    with pytest.raises(ValueError, match="na_action"):
        model_frame("y ~ x + (1 | g)", data, na_action="drop")


def test_levels_only_in_dropped_rows_disappear(data):
    data.loc[10, "x"] = np.nan  # the only "r" row of f
    frame = model_frame("y ~ x + f + (1 | g)", data)
    assert frame.values["f"].levels == ("p", "q")


def test_caller_data_is_not_modified(data):
    data.loc[1, "x"] = np.nan
    data["b"] = [True, False] * 6
    before = data.copy(deep=True)
    model_frame("y ~ x + b + factor(h) + f + (1 + x | g) + (1 | h)", data, weights="w", offset=np.ones(len(data)))
    pd.testing.assert_frame_equal(data, before)


def test_weights_and_offsets(data):
    frame = model_frame("y ~ x + offset(0.5 * w) + (1 | g)", data, weights=data["w"].to_numpy(),
                        offset=np.full(len(data), 2.0))
    np.testing.assert_allclose(frame.offset, 0.5 * data["w"] + 2.0)
    np.testing.assert_allclose(frame.weights, data["w"])
    assert model_frame("y ~ x + (1 | g)", data).weights is None
    np.testing.assert_array_equal(model_frame("y ~ x + (1 | g)", data).offset, 0.0)


@pytest.mark.parametrize(
    ("weights", "error", "fragment"),
    [("wt", DataError, "did you mean 'w'"), (np.ones(3), DataError, "3 values"), (5.0, TypeError, "column name"),
     ("g", DataError, "must be numeric")],
)
def test_bad_weights(data, weights, error, fragment):
    with pytest.raises(error, match=fragment):
        model_frame("y ~ x + (1 | g)", data, weights=weights)


def test_negative_weights_fail(data):
    data.loc[0, "w"] = -1.0
    with pytest.raises(DataError, match="negative weights"):
        model_frame("y ~ x + (1 | g)", data, weights="w")


def test_response_forms():
    cbpp = mfx.datasets.load("cbpp")
    frame = model_frame("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp)
    assert frame.y.shape == (56, 2)
    np.testing.assert_allclose(frame.y.sum(axis=1), cbpp["size"])
    verb = mfx.datasets.load("VerbAgg")
    y = model_frame("r2 ~ Anger + (1 | id)", verb).y
    np.testing.assert_array_equal(y, (verb["r2"] == "Y").to_numpy(dtype=float))


def test_grouping_factors_follow_lme4(data):
    frame = model_frame("y ~ x + (1 | h) + (1 | g:f) + (1 | as.factor(h))", data)
    assert frame.groups[0].levels == ("2", "3", "10")  # numeric variables: numeric order
    assert frame.groups[1].levels[:3] == ("a:p", "a:q", "b:p")
    assert frame.groups[2].levels == ("2", "3", "10")
    assert frame.groups[0].codes.tolist()[:3] == [1, 2, 0]


@pytest.mark.parametrize(
    ("args", "error"),
    [(("y ~ x + (1 | g)", [[1, 2]]), TypeError), (("y ~ x + (1 | g)", pd.DataFrame({"y": []})), DataError),
     (("~ x + (1 | g)", None), FormulaError), (("y ~ x + (1 | nope)", None), DataError)],
)
def test_frame_errors(data, args, error):
    formula, frame_data = args
    with pytest.raises(error):
        model_frame(formula, data if frame_data is None else frame_data)
