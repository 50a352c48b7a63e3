"""R evaluation semantics: column types, functions, factors and contrasts."""

import numpy as np
import pandas as pd
import pytest

from mixedfx.errors import DataError, FormulaError
from mixedfx.formula.evaluate import DataEnv, Factor, as_factor, column_value, evaluate
from mixedfx.formula.syntax import parse_expr


def ev(text, data):
    return evaluate(parse_expr(text), DataEnv(data))


@pytest.fixture
def data():
    return pd.DataFrame({
        "x": [1.0, 2.0, -3.0, 4.0],
        "w": [1.0, np.e, 4.0, 0.5],
        "n": [10, 2, 2, 100000],
        "s": ["b", "a", None, "b"],
        "b": [True, False, True, True],
        "f": pd.Categorical(["lo", "hi", "lo", "mid"], categories=["lo", "mid", "hi"]),
    })


def test_power_inside_I_is_arithmetic(data):
    np.testing.assert_allclose(ev("I(x^2)", data), data["x"] ** 2)
    np.testing.assert_allclose(ev("I(x**3)", data), data["x"] ** 3)
    np.testing.assert_allclose(ev("log(w)", data), np.log(data["w"]))
    np.testing.assert_allclose(ev("exp(x) + sqrt(abs(x))", data), np.exp(data["x"]) + np.sqrt(np.abs(data["x"])))
    np.testing.assert_allclose(ev("offset(0.5 * w)", data), 0.5 * data["w"])
    np.testing.assert_allclose(ev("log(w, base = 2)", data), np.log2(data["w"]))


def test_log_of_negative_is_missing(data):
    assert np.isnan(ev("log(x)", data)[2])


def test_cbind_gives_two_columns(data):
    out = ev("cbind(n, n - x)", data)
    assert out.shape == (4, 2)
    np.testing.assert_allclose(out[:, 1], data["n"] - data["x"])


def test_column_types_map_to_r(data):
    s = column_value(data["s"], "s")
    assert s.levels == ("a", "b") and s.codes.tolist() == [1, 0, -1, 1]
    b = column_value(data["b"], "b")
    assert b.logical and b.levels == ("FALSE", "TRUE")
    f = column_value(data["f"], "f")
    assert f.levels == ("lo", "mid", "hi") and not f.ordered
    assert column_value(data["n"], "n").dtype == np.int64


def test_factor_of_numbers_sorts_numerically_with_r_labels(data):
    f = ev("factor(n)", data)
    assert f.levels == ("2", "10", "100000")  # integers print in full
    g = ev("factor(x * 100000)", data)
    assert g.levels == ("-3e+05", "1e+05", "2e+05", "4e+05")  # doubles print like as.character
    assert ev("as.factor(s)", data).levels == ("a", "b")


def test_factor_drops_unused_levels_and_as_factor_keeps_them(data):
    assert ev("factor(f)", data).levels == ("lo", "mid", "hi")
    sub = data.iloc[[0, 2]]
    assert ev("factor(f)", sub).levels == ("lo",)
    assert ev("as.factor(f)", sub).levels == ("lo", "mid", "hi")


def test_interaction_of_factors(data):
    out = ev("f:s", data)
    assert out.levels == ("lo:b", "mid:b", "hi:a")  # first factor varies slowest, unused dropped
    assert out.codes.tolist() == [0, 2, -1, 1]


def test_comparisons_are_logical(data):
    out = ev("I(x > 0)", data)
    assert out.logical and out.codes.tolist() == [1, 1, 0, 1]
    assert ev("f == 'lo'", data).codes.tolist() == [1, 0, 1, 0]
    np.testing.assert_allclose(ev("as.numeric(f)", data), [1, 3, 1, 2])


def test_arithmetic_on_factor_fails(data):
    with pytest.raises(DataError, match="not meaningful for factors"):
        ev("f + 1", data)


def test_unknown_function_lists_the_supported_ones(data):
    with pytest.raises(FormulaError, match=r"unsupported function rev\(\).*offset, poly, scale, sign"):
        ev("rev(x)", data)


def test_unknown_column_suggests_near_matches(data):
    with pytest.raises(DataError, match="did you mean 'x'"):
        ev("X", data)
    with pytest.raises(DataError, match="the columns are"):
        ev("zzzzzz", data)


def test_constants(data):
    assert ev("TRUE", data) == 1.0
    np.testing.assert_allclose(ev("I(x * pi)", data), data["x"] * np.pi)


def test_factor_recode_reports_unseen_labels():
    f = Factor(np.array([0, 1, -1]), ("a", "z"))
    recoded, unseen = f.recode(("z", "a", "b"))
    assert recoded.codes.tolist() == [1, 0, -1]
    assert unseen == []
    g = Factor(np.array([0, 1]), ("a", "new"))
    assert g.recode(("a",))[1] == ["new"]


def test_as_factor_of_logical_keeps_present_levels():
    logical = Factor(np.array([1, 1]), ("FALSE", "TRUE"), logical=True)
    out = as_factor(logical, "b")
    assert out.levels == ("TRUE",) and not out.logical


def test_column_values_from_arrays_equal_those_from_series(data):
    """The frame reads columns as arrays (dataframes.convert.column_array); a Series gives the same values."""
    for name in data.columns:
        from_series, from_array = column_value(data[name], name), column_value(data[name].array, name)
        if isinstance(from_series, Factor):
            assert (from_array.levels, from_array.logical) == (from_series.levels, from_series.logical)
            np.testing.assert_array_equal(from_array.codes, from_series.codes)
        else:
            assert from_array.dtype == from_series.dtype
            np.testing.assert_array_equal(from_array, from_series)
    x = column_value(data["x"].to_numpy(), "x")
    assert x.dtype == np.float64 and not x.flags.writeable  # never a writeable view of the data
    assert column_value(np.array([1, 2], dtype=np.uint8), "u").dtype == np.int64


def test_categories_of_two_frames_keep_their_own_labels():
    """Category labels are remembered per categories object: equal unordered dtypes in another order differ."""
    first = column_value(pd.Series(pd.Categorical(["a", "b"], categories=["a", "b"])), "f")
    second = column_value(pd.Series(pd.Categorical(["a", "b"], categories=["b", "a"])), "f")
    assert first.levels == ("a", "b") and second.levels == ("b", "a")
    assert second.codes.tolist() == [1, 0]
    mixed = pd.Series(pd.Categorical([1, "1"]))
    for _ in range(2):  # refused every time, not only the first
        with pytest.raises(DataError, match="both read '1'"):
            column_value(mixed, "g")
