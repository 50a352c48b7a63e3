"""Fits from polars, pyarrow and interchange-protocol frames equal the fit from the pandas frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

import mixedfx as mfx
from mixedfx.dataframes.convert import as_pandas, column_array
from mixedfx.errors import DataError

FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def reference(sleep):
    return mfx.lmer(FORMULA, sleep)


class _InterchangeOnly:
    """An object that speaks only the dataframe interchange protocol."""

    def __init__(self, frame: pa.Table) -> None:
        self._frame = frame

    def __dataframe__(self, nan_as_null: bool = False, allow_copy: bool = True):
        return self._frame.__dataframe__(nan_as_null=nan_as_null, allow_copy=allow_copy)


class _ArrowStreamOnly:
    """An object that speaks only the Arrow PyCapsule stream protocol."""

    def __init__(self, table: pa.Table) -> None:
        self._table = table

    def __arrow_c_stream__(self, requested_schema=None):
        return self._table.__arrow_c_stream__(requested_schema)


def _frames(sleep: pd.DataFrame) -> dict[str, object]:
    polars = pl.from_pandas(sleep)
    table = pa.Table.from_pandas(sleep, preserve_index=False)
    return {"polars": polars, "polars_lazy": polars.lazy(), "pyarrow": table,
            "interchange": _InterchangeOnly(table), "arrow_stream": _ArrowStreamOnly(table)}


@pytest.mark.parametrize("kind", ["polars", "polars_lazy", "pyarrow", "interchange", "arrow_stream"])
def test_fit_from_other_frames_equals_the_pandas_fit(kind, sleep, reference):
    fit = mfx.lmer(FORMULA, _frames(sleep)[kind])
    np.testing.assert_allclose(fit.fixef, reference.fixef, rtol=1e-10)
    np.testing.assert_allclose(fit.theta, reference.theta, rtol=1e-8)
    assert list(fit.ranef()["Subject"].index) == list(reference.ranef()["Subject"].index)
    assert isinstance(fit.fitted(), np.ndarray) and isinstance(fit.fixef, pd.Series)


def test_polars_enum_is_an_ordered_factor_in_its_level_order():
    levels = ["high", "low", "mid"]
    rng = np.random.default_rng(4)
    frame = pl.DataFrame({"y": rng.normal(size=60), "dose": pl.Series(np.tile(levels, 20), dtype=pl.Enum(["low", "mid", "high"])),
                          "g": [f"g{i % 6}" for i in range(60)]})
    assert list(as_pandas(frame)["dose"].cat.categories) == ["low", "mid", "high"]
    fit = mfx.lmer("y ~ dose + (1 | g)", frame)
    assert list(fit.fixef.index) == ["(Intercept)", "dose.L", "dose.Q"]
    unordered = mfx.lmer("y ~ dose + (1 | g)", frame.with_columns(pl.col("dose").cast(pl.String)))
    assert list(unordered.fixef.index) == ["(Intercept)", "doselow", "dosemid"]


def test_string_column_is_a_factor_with_sorted_levels():
    frame = pl.DataFrame({"y": np.arange(12.0) % 5, "x": ["b", "c", "a"] * 4, "g": ["u", "v"] * 6})
    fit = mfx.glmer("y ~ x + (1 | g)", frame, family="poisson")
    assert list(fit.fixef.index) == ["(Intercept)", "xb", "xc"]


def test_glmer_and_predict_take_polars_newdata(sleep, reference):
    new = pl.DataFrame({"Days": [0.0, 5.0], "Subject": ["308", "309"]})
    np.testing.assert_allclose(reference.predict(new), reference.predict(new.to_pandas()))


def test_pandas_passes_through_unchanged(sleep):
    assert as_pandas(sleep) is sleep


def test_augment_takes_polars_newdata_and_returns_pandas(reference):
    new = pl.DataFrame({"Days": [0.0, 5.0], "Subject": ["308", "309"]})
    out = reference.augment(new)
    assert isinstance(out, pd.DataFrame)
    np.testing.assert_allclose(out[".fitted"], reference.predict(new.to_pandas()))


def _mixed_frame() -> pd.DataFrame:
    return pd.DataFrame({
        "x": [1.5, 2.5, np.nan], "n": np.array([3, 1, 2], dtype=np.int32), "b": [True, False, True],
        "f": pd.Categorical(["u", "v", "u"]), "s": ["a", None, "c"], "i": pd.array([1, None, 3], dtype="Int64"),
    })


@pytest.mark.parametrize("name", ["x", "n", "b", "f", "s", "i"])
def test_column_array_holds_the_columns_values(name):
    frame = _mixed_frame()
    values = column_array(frame, name)
    assert pd.Series(values).equals(frame[name].reset_index(drop=True))
    if isinstance(values, np.ndarray):
        with pytest.raises(ValueError, match="read-only"):
            values[0] = values[1]  # a view of the user's data is never written to
        assert frame[name].iloc[0] == _mixed_frame()[name].iloc[0]


def test_column_array_refuses_a_repeated_name():
    frame = pd.DataFrame(np.zeros((2, 2)), columns=["a", "a"])
    with pytest.raises(DataError, match="more than one column named 'a'"):
        column_array(frame, "a")


def test_column_array_follows_columns_added_renamed_and_removed():
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})
    assert column_array(frame, "b").tolist() == [3.0, 4.0]
    frame.insert(0, "c", [5.0, 6.0])  # every later column moves one place
    assert column_array(frame, "b").tolist() == [3.0, 4.0] and column_array(frame, "c").tolist() == [5.0, 6.0]
    frame = frame.rename(columns={"a": "z"})
    assert column_array(frame, "z").tolist() == [1.0, 2.0]
    with pytest.raises(KeyError):
        column_array(frame, "a")
    del frame["c"]
    assert column_array(frame, "b").tolist() == [3.0, 4.0]
    frame["b2"] = frame["b"]
    frame.columns = ["z", "b", "b"]
    with pytest.raises(DataError, match="more than one column named 'b'"):
        column_array(frame, "b")


def test_column_array_refuses_a_first_level_label_of_several_columns():
    frame = pd.DataFrame(np.zeros((1, 2)), columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")]))
    with pytest.raises(DataError, match="more than one column named 'a'"):
        column_array(frame, "a")
