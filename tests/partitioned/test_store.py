"""Values kept per partition: mapped where they are, in batches, and summed up a tree (with and without a cluster)."""

import time

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

from mixedfx.partitioned.store import PartitionValues


def _frame(partitions):
    return dd.from_pandas(pd.DataFrame({"x": np.arange(40.0)}), npartitions=partitions)


def _sum(part):
    return float(part.x.sum())


def _scaled(value, factor):
    return value * factor


def _plus(value, other, shift):
    return value + other + shift


def _total(values):
    return values.reduce(lambda value: value, lambda a, b: a + b)


def _check_values(partitions):
    values = PartitionValues.from_frame(_frame(partitions), _sum)
    assert len(values) == partitions and _total(values) == 780.0
    assert _total(values.map(_scaled, 2.0)) == 1560.0
    doubled = values.map(_scaled, 2.0)
    per_request, together = values.map_batch([((values,), (1.0,)), ((doubled,), (0.0,))], _plus)
    assert _total(per_request[0]) == 780.0 * 2 + partitions and _total(per_request[1]) == 780.0 * 3
    assert together.reduce(lambda pair: np.array(pair), np.add).tolist() == [780.0 * 2 + partitions, 780.0 * 3]
    # a batch's items are read where the batch is: mapping them again works as on any value
    assert _total(per_request[1].map(_scaled, 0.5)) == 780.0 * 1.5


@pytest.mark.parametrize("partitions", [1, 5, 20])  # 20 partitions: two levels of the tree
def test_on_a_cluster(partitions, client):
    _check_values(partitions)


def test_without_a_cluster():
    with dask.config.set(scheduler="synchronous"):
        values = PartitionValues.from_frame(_frame(3), _sum)
        assert values.client is None
        _check_values(3)


def test_released_values_leave_the_workers_once_nothing_computed_from_them_is_held(client):
    values = PartitionValues.from_frame(_frame(3), _sum)
    doubled = values.map(_scaled, 2.0)
    keys = {value.key for value, _ in values.refs}
    values.release()
    assert _total(doubled) == 1560.0  # what was computed from them stays readable
    del doubled
    deadline = time.monotonic() + 10.0
    while keys & set(client.who_has()) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not keys & set(client.who_has())
