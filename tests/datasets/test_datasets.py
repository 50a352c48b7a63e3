"""Bundled data sets load with their schema applied."""

import pandas as pd
import pytest

from mixedfx import datasets


def test_every_shared_data_set_is_bundled():
    assert {"sleepstudy", "Dyestuff", "Dyestuff2", "Pastes", "Penicillin", "InstEval", "cake", "cbpp",
            "grouseticks", "simfeat", "VerbAgg"} <= set(datasets.names())


@pytest.mark.parametrize("name", datasets.names())
def test_load_applies_schema(name):
    schema = datasets.describe(name)
    frame = datasets.load(name)
    assert frame.attrs["name"] == schema["name"]
    assert len(frame) == schema["nrow"]
    for col, spec in schema["columns"].items():
        if spec["type"] == "factor":
            assert isinstance(frame[col].dtype, pd.CategoricalDtype)
            assert list(frame[col].cat.categories) == spec["levels"]
            assert frame[col].cat.ordered == spec["ordered"]
        else:
            assert pd.api.types.is_numeric_dtype(frame[col])


def test_name_lookup_is_case_insensitive_and_unknown_names_list_choices():
    assert datasets.load("SLEEPSTUDY").attrs["name"] == "sleepstudy"
    with pytest.raises(ValueError, match="available: .*sleepstudy"):
        datasets.load("sleepstudies")
