"""Dask data frames: row-wise results computed partition by partition, lazily, on the cluster.

A fit held in memory predicts on data that is not: each partition is a pandas
frame, and what a fit computes for it (``fit.predict(partition)``) becomes that
partition of a lazy Dask Series with the partition's index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["is_dask_frame", "map_partition_rows"]


def is_dask_frame(data: Any) -> bool:
    """Whether ``data`` is a Dask DataFrame (told without importing Dask).

    Examples
    --------
    >>> import pandas as pd
    >>> is_dask_frame(pd.DataFrame({"y": [1.0]}))
    False
    """
    return type(data).__module__.split(".")[0] == "dask" and hasattr(data, "map_partitions")


def map_partition_rows(frame: Any, rows_of: Callable[[pd.DataFrame], np.ndarray], name: str) -> Any:
    """A lazy Dask Series of ``rows_of(partition)``: one float per row, on the partition's index.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
    rows_of : callable
        Maps a pandas partition to one value per row (it must pickle: a bound
        method of a fit does).
    name : str
        The Series' name.

    Returns
    -------
    dask.dataframe.Series
        Nothing is computed until ``.compute()`` (or ``persist``); empty
        partitions give empty pieces.
    """
    def on_partition(part: pd.DataFrame) -> pd.Series:
        values = rows_of(part) if len(part) else np.empty(0)
        return pd.Series(np.asarray(values, dtype=float), index=part.index, name=name)

    return frame.map_partitions(on_partition, meta=pd.Series(dtype=float, name=name))
