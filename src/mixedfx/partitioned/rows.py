"""A partitioned fit's row-wise results, computed partition by partition as lazy Dask Series.

Each partition applies the model's NA action again (as the passes did) and
codes its kept rows with the fit's columns and levels; fitted values and
residuals then come out on those rows' index. Under ``na_action="exclude"``
the dropped rows stay, with NaN, as R's ``naresid`` pads them.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    """What a partition needs to compute one of a fit's row-wise values (sent to each worker once).

    Attributes
    ----------
    request : PassRequest
        The model's formula and arguments.
    predictor : Predictor
        The fit's linear predictor on rows without rows of its own.
    what : {"fitted", "response", "pearson"}
        Fitted values, or response or Pearson residuals.
    scale : float
        What residuals are divided by (1, or sigma for scaled residuals).
    """

    request: PassRequest
    predictor: Predictor
    what: str
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.what not in ROW_VALUES:
            raise ValueError(f"what must be one of {', '.join(ROW_VALUES)}, not {self.what!r}")

    def on_partition(self, part: pd.DataFrame) -> pd.Series:
        """One partition's values on its kept rows (every row under ``na_action="exclude"``, NaN where dropped)."""
        frame = partition_frame(part, self.request)
        values = np.empty(len(frame.kept))
        if len(frame.kept):
            rows = part.iloc[frame.kept]
            fitted = self.predictor.linear_predictor(rows)  # with the formula's offset() terms
            if self.request.offset is not None:
                fitted = fitted + np.asarray(rows[self.request.offset], dtype=float)
            values = fitted
            if self.what != "fitted":
                values = (np.asarray(frame.y, dtype=float) - fitted) / self.scale
                if self.what == "pearson" and frame.weights is not None:
                    values = values * np.sqrt(frame.weights)
        if self.request.na_action == "exclude":
            padded = np.full(len(part), np.nan)
            padded[frame.kept] = values
            return pd.Series(padded, index=part.index, name=self.what)
        return pd.Series(values, index=part.index[frame.kept], name=self.what)

    def values(self, part: pd.DataFrame) -> np.ndarray:
        """One partition's values as an array (what :func:`~mixedfx.partitioned.quantiles.exact_quantiles` reads)."""
        return self.on_partition(part).to_numpy()


def lazy_row_values(frame: Any, row_values: RowValues) -> Any:
    """A lazy Dask Series of ``row_values`` over the frame's partitions.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
        The fitted frame.
    row_values : RowValues
        Goes into the task graph once, however many partitions read it.

    Returns
    -------
    dask.dataframe.Series
    """
    import dask  # noqa: PLC0415 - Dask is an optional extra, loaded for partitioned data only

    return frame.map_partitions(_on_partition, dask.delayed(row_values, traverse=False),
                                meta=pd.Series(dtype=float, name=row_values.what))


def _on_partition(part: pd.DataFrame, row_values: RowValues) -> pd.Series:
    return row_values.on_partition(part)
