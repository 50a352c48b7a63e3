"""pass_request: the columns a model on a Dask frame reads, the column sets whose values are its levels, and refusals."""

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.errors import FormulaError, MixedFxError
from mixedfx.partitioned.request import pass_request


def _frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "y": rng.normal(size=n),
        "x": rng.integers(0, 4, n),                          # numeric, used as factor(x) or as a number
        "u": rng.normal(size=n),
        "a": rng.choice(["a1", "a2", "a3"], n),             # text
        "b": rng.choice(["b1", "b2", "b3", "b4"], n),
        "g": pd.Categorical(rng.choice(["g1", "g2", "g3", "g4", "g5"], n)),
        "flag": rng.uniform(size=n) < 0.5,
        "w": rng.uniform(0.5, 2.0, n),
        "off": rng.normal(size=n),
        "unused": rng.normal(size=n),
    })


DATA = _frame()
DTYPES = dd.from_pandas(DATA, npartitions=2).dtypes


def _sets(request):
    return {frozenset(s) for s in request.level_sets}


def test_factor_of_a_numeric_column_makes_it_a_level_set_and_a_plain_number_does_not():
    request = pass_request("y ~ factor(x) + u + (1 | g)", DTYPES)
    assert set(request.columns) == {"y", "x", "u", "g"}
    assert _sets(request) == {frozenset({"g"}), frozenset({"x"})}
    plain = pass_request("y ~ x + u + (1 | g)", DTYPES)
    assert set(plain.columns) == {"y", "x", "u", "g"} and _sets(plain) == {frozenset({"g"})}


def test_factor_in_a_random_slope_and_a_text_column_in_the_fixed_part():
    request = pass_request("y ~ a + (factor(x) | g)", DTYPES)
    assert set(request.columns) == {"y", "a", "x", "g"}
    assert _sets(request) == {frozenset({"g"}), frozenset({"a"}), frozenset({"x"})}


def test_an_interaction_grouping_is_one_level_set_of_both_columns():
    request = pass_request("y ~ u + (1 | a:b)", DTYPES)
    assert set(request.columns) == {"y", "u", "a", "b"}
    assert _sets(request) == {frozenset({"a", "b"})}


def test_nested_grouping_gives_the_outer_factor_and_the_pair():
    request = pass_request("y ~ u + (1 | a/b)", DTYPES)
    assert set(request.columns) == {"y", "u", "a", "b"}
    assert _sets(request) == {frozenset({"a"}), frozenset({"a", "b"})}


def test_a_bool_column_is_a_level_set():
    request = pass_request("y ~ flag + (1 | g)", DTYPES)
    assert _sets(request) == {frozenset({"g"}), frozenset({"flag"})}


def test_a_dot_reads_every_column_and_its_non_numeric_ones_are_level_sets():
    request = pass_request("y ~ . + (1 | g)", DTYPES)
    assert set(request.columns) == set(DATA.columns)
    assert _sets(request) == {frozenset({"g"}), frozenset({"a"}), frozenset({"b"}), frozenset({"flag"})}


def test_weights_and_offset_columns_are_read_but_are_not_levels():
    request = pass_request("y ~ u + (1 | g)", DTYPES, weights="w", offset="off", na_action="exclude")
    assert request.weights == "w" and request.offset == "off" and request.na_action == "exclude"
    assert set(request.columns) == {"y", "u", "g", "w", "off"}
    assert _sets(request) == {frozenset({"g"})}
    assert "unused" not in request.columns


@pytest.mark.parametrize("formula", [
    "y ~ factor(x) + u + (1 | g)",
    "log(w) ~ a * u + offset(off) + (u | a:b)",
    "y ~ flag + (1 | a/b) + (0 + u | g)",
])
def test_the_requested_columns_build_the_in_memory_design(formula):
    request = pass_request(formula, DTYPES, weights="w")
    whole = mfx.lmer_design(formula, DATA, weights="w")
    only = mfx.lmer_design(formula, DATA[list(request.columns)], weights="w")
    np.testing.assert_array_equal(only.X, whole.X)
    np.testing.assert_array_equal(only.y, whole.y)
    assert [t.levels for t in only.re_terms] == [t.levels for t in whole.re_terms]
    # every grouping factor's columns form one level set
    sets = _sets(request)
    for term in whole.re_terms:
        assert frozenset(term.group.split(":")) in sets


def test_weights_or_offset_given_as_values_are_refused():
    with pytest.raises(TypeError, match="name a column"):
        pass_request("y ~ u + (1 | g)", DTYPES, weights=np.ones(len(DATA)))
    with pytest.raises(TypeError, match="name a column"):
        pass_request("y ~ u + (1 | g)", DTYPES, offset=DATA["off"].to_numpy())


def test_an_unknown_weights_or_offset_column_is_refused():
    with pytest.raises(MixedFxError, match="nope"):
        pass_request("y ~ u + (1 | g)", DTYPES, weights="nope")
    with pytest.raises(MixedFxError, match="missing"):
        pass_request("y ~ u + (1 | g)", DTYPES, offset="missing")


@pytest.mark.parametrize("formula", [
    "y ~ poly(u, 2) + (1 | g)", "y ~ scale(u) + (1 | g)", "y ~ a + (scale(u) | g)", "y ~ ns(u, df = 3) + (1 | g)",
])
def test_transforms_read_their_column_as_a_number(formula):
    request = pass_request(formula, DTYPES)
    assert "u" in request.columns and frozenset({"u"}) not in _sets(request)
    assert not request.transforms.params  # learned by the passes


def test_a_formula_without_random_effects_or_not_a_string_is_refused():
    with pytest.raises(FormulaError):
        pass_request("y ~ u", DTYPES)
    with pytest.raises(TypeError):
        pass_request(None, DTYPES)


def test_categorical_columns_with_unknown_categories_are_refused():
    unknown = DTYPES.copy()
    unknown["g"] = pd.CategoricalDtype(["__UNKNOWN_CATEGORIES__"])
    with pytest.raises(MixedFxError, match=r"categorize\(columns=\['g'\]\)"):
        pass_request("y ~ u + (1 | g)", unknown)
    # as a Dask frame reports it
    lazy = dd.from_pandas(DATA, npartitions=2)
    lazy = lazy.assign(g=lazy["g"].cat.as_unknown())
    with pytest.raises(MixedFxError, match="categorize"):
        pass_request("y ~ g + (1 | a)", lazy.dtypes)
    # a column the model does not read may stay unknown; known categories are levels
    request = pass_request("y ~ u + (1 | a)", lazy.dtypes)
    assert "g" not in request.columns
    assert frozenset({"g"}) in _sets(pass_request("y ~ u + (1 | g)", DTYPES))
