"""A partitioned fit's row-wise results, computed partition by partition as lazy Dask Series.

Each partition applies the model's NA action again (as the passes did) and
codes its kept rows with the fit's columns and levels; fitted values and
residuals then come out on those rows' index. Under ``na_action="exclude"``
the dropped rows stay, with NaN, as R's ``naresid`` pads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from mixedfx.fits.prediction import Predictor
from mixedfx.partitioned.passes import partition_frame
from mixedfx.partitioned.request import PassRequest

__all__ = ["RowValues", "ROW_VALUES", "lazy_row_values"]

ROW_VALUES = ("fitted", "response", "pearson")
"""What :func:`lazy_row_values` computes: fitted values, response or Pearson residuals."""


@dataclass(frozen=True)
class RowValues:
    """What a partition needs to compute a fit's row-wise values (sent to the workers with each task).

    Attributes
    ----------
    request : PassRequest
        The model's formula and arguments.
    predictor : Predictor
        The fit's linear predictor on rows without rows of its own.
    scale : float
        What residuals are divided by (1, or sigma for scaled residuals).
    """

    request: PassRequest
    predictor: Predictor
    scale: float = 1.0

    def on_partition(self, part: pd.DataFrame, what: str) -> pd.Series:
        """One partition's values (``what`` of :data:`ROW_VALUES`) on its kept rows (every row under "exclude")."""
        frame = partition_frame(part, self.request)
        values = np.empty(len(frame.kept))
        if len(frame.kept):
            rows = part.iloc[frame.kept]
            fitted = self.predictor.linear_predictor(rows)  # with the formula's offset() terms
            if self.request.offset is not None:
                fitted = fitted + np.asarray(rows[self.request.offset], dtype=float)
            values = fitted
            if what != "fitted":
                values = (np.asarray(frame.y, dtype=float) - fitted) / self.scale
                if what == "pearson" and frame.weights is not None:
                    values = values * np.sqrt(frame.weights)
        if self.request.na_action == "exclude":
            padded = np.full(len(part), np.nan)
            padded[frame.kept] = values
            return pd.Series(padded, index=part.index, name=what)
        return pd.Series(values, index=part.index[frame.kept], name=what)


def lazy_row_values(frame: Any, row_values: RowValues, what: str) -> Any:
    """A lazy Dask Series of ``row_values`` over the frame's partitions.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
        The fitted frame.
    row_values : RowValues
    what : {"fitted", "response", "pearson"}

    Returns
    -------
    dask.dataframe.Series
    """
    if what not in ROW_VALUES:
        raise ValueError(f"what must be one of {', '.join(ROW_VALUES)}, not {what!r}")
    return frame.map_partitions(partial(_values, row_values=row_values, what=what),
                                meta=pd.Series(dtype=float, name=what))


def _values(part: pd.DataFrame, row_values: RowValues, what: str) -> pd.Series:
    return row_values.on_partition(part, what)
