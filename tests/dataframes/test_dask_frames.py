"""A fit held in memory predicts on a Dask DataFrame lazily, partition by partition, on a LocalCluster."""

from __future__ import annotations

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.errors import DataError
from mixedfx.dataframes.dask_frames import is_dask_frame


def test_lmer_predicts_a_dask_frame_as_its_pandas_rows(slopes, sleep, client):
    frame = dd.from_pandas(sleep, npartitions=7)
    lazy = slopes.predict(frame)
    assert is_dask_frame(frame) and type(lazy).__module__.startswith("dask")
    got = lazy.compute()
    assert isinstance(got, pd.Series) and got.index.equals(sleep.index)
    np.testing.assert_allclose(got.to_numpy(), slopes.predict(sleep), rtol=1e-12)
    population = slopes.predict(frame, re_form="~0").compute()
    np.testing.assert_allclose(population.to_numpy(), slopes.predict(sleep, re_form="~0"), rtol=1e-12)


def test_glmer_predicts_on_the_response_scale_with_an_empty_partition(client):
    cbpp = mfx.datasets.load("cbpp")
    herd = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    frame = dd.from_pandas(cbpp, npartitions=4)
    with_empty = dd.concat([frame, frame[frame["size"] < 0]])  # a partition with no rows
    got = herd.predict(with_empty, type="response").compute()
    np.testing.assert_allclose(got.to_numpy(), herd.predict(cbpp, type="response"), rtol=1e-12)


def test_new_levels_in_a_partition_raise_when_computed(slopes, sleep, client):
    new = sleep.head(4).assign(Subject=pd.Categorical(["999"] * 4))
    lazy = slopes.predict(dd.from_pandas(new, npartitions=2))
    with pytest.raises(DataError, match="allow_new_levels=True"):
        lazy.compute()
    allowed = slopes.predict(dd.from_pandas(new, npartitions=2), allow_new_levels=True).compute()
    np.testing.assert_allclose(allowed.to_numpy(), slopes.predict(new, re_form="~0"), rtol=1e-12)


def test_a_staged_glmer_design_of_a_dask_frame_is_refused_rather_than_collected():
    cbpp = dd.from_pandas(mfx.datasets.load("cbpp"), npartitions=3)
    with pytest.raises(TypeError, match=r"Dask DataFrame, which only lmer and glmer .* pass data.compute\(\)"):
        mfx.glmer_design("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
