"""The two passes over a Dask frame's partitions that an exact linear mixed model needs.

1. :func:`partition_witnesses`: each partition's complete rows that carry a
   level not yet seen in it (per column set of :class:`PassRequest`), so the
   client sees every level of every factor and grouping factor from a few rows.
2. :func:`partition_blocks`: each partition's cross-product blocks, row sums
   and X's column moments, coded against the model built from those rows:
   the same :func:`~mixedfx.linalg.cross.cross_products` an in-memory fit
   calls once on all its rows. :func:`add_blocks` sums two partitions' parts;
   :func:`reduce_partitions` sums them all by a tree on the cluster.

Both passes apply the NA action partition by partition, as a fit in memory applies it to all rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from mixedfx.design.frame import ModelFrame, model_frame
from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.newdata import new_data_matrices
from mixedfx.linalg.cross import CrossProducts, add_cross_products, cross_products
from mixedfx.linalg.layout import TermLayout
from mixedfx.linalg.merge import merge_shared_groups
from mixedfx.linalg.row_products import cross_product
from mixedfx.linalg.row_statistics import RowStatistics, row_statistics
from mixedfx.partitioned.request import PassRequest

__all__ = ["PartitionBlocks", "CodedPartition", "coded_partition", "partition_frame", "partition_witnesses",
           "add_witnesses", "partition_blocks", "add_blocks", "reduce_partitions", "active_client"]


@dataclass(frozen=True)
class PartitionBlocks:
    """What one partition (or several, summed) adds to the model.

    Attributes
    ----------
    cross : CrossProducts
        The blocks of the factored terms over every column of X.
    statistics : RowStatistics
        The model's row sums.
    x_sums : ndarray, shape (p,)
        Each column of X summed.
    x_gram : ndarray, shape (p, p)
        X'X without weights (R's rank check reads X, not W^1/2 X).
    x_binary : ndarray of bool, shape (p,)
        Whether the column holds only 0 and 1 (lme4's ``check.scaleX`` leaves those out).
    response_largest : float
        The largest absolute response (0 without rows).
    positive_weights : int
        Rows with a positive prior weight.
    positive_log_weights : float
        Their weights' logs summed.
    n_dropped_na : int
        Rows dropped for missing values.
    largest_partition : int
        The most rows a partition keeps (what sizes a bootstrap's batches).
    """

    cross: CrossProducts
    statistics: RowStatistics
    x_sums: np.ndarray
    x_gram: np.ndarray
    x_binary: np.ndarray
    response_largest: float
    positive_weights: int
    positive_log_weights: float
    n_dropped_na: int
    largest_partition: int = 0

    @property
    def weights_scale(self) -> float | None:
        """The positive prior weights' geometric mean (None without weights, or none positive)."""
        if not self.positive_weights:
            return None
        return float(np.exp(self.positive_log_weights / self.positive_weights))


def partition_frame(part: pd.DataFrame, request: PassRequest) -> ModelFrame:
    """The partition's model frame under the request's NA action (a partition left without rows is allowed),
    its stateful calls evaluated with what they learned from all partitions."""
    return model_frame(request.formula, part[list(request.columns)], weights=request.weights,
                       offset=request.offset, na_action=request.na_action, allow_no_rows=True,
                       transforms=request.transforms)


def partition_witnesses(part: pd.DataFrame, request: PassRequest) -> pd.DataFrame:
    """The partition's complete rows (the model's columns) that first carry each level of each level set.

    Examples
    --------
    >>> d = pd.DataFrame({"y": [1.0, 2, 3, None], "g": list("aabc")})
    >>> from mixedfx.partitioned.request import pass_request
    >>> partition_witnesses(d, pass_request("y ~ 1 + (1 | g)", d.dtypes))["g"].tolist()  # c's row is incomplete
    ['a', 'b']
    """
    return _first_of_each_level(part[list(request.columns)].iloc[partition_frame(part, request).kept], request)


def add_witnesses(a: pd.DataFrame, b: pd.DataFrame, request: PassRequest) -> pd.DataFrame:
    """Two partitions' witness rows, with only the first row of each level kept."""
    return _first_of_each_level(pd.concat([a, b]), request)


def _first_of_each_level(rows: pd.DataFrame, request: PassRequest) -> pd.DataFrame:
    first = np.zeros(len(rows), dtype=bool)
    for columns in request.level_sets:
        first |= ~rows.duplicated(subset=list(columns)).to_numpy()
    return rows[first]


@dataclass(frozen=True)
class CodedPartition:
    """A partition's kept rows coded with a model's columns and levels.

    Attributes
    ----------
    frame : ModelFrame
        The partition's model frame (response, weights, offset on the kept rows).
    X : ndarray, shape (n, p)
        The fixed-effects columns the prototype keeps.
    layouts : list of TermLayout
        The random-effects terms in lme4's order.
    factored : list of TermLayout
        The terms the factorisation sees (those on one grouping factor merged).
    """

    frame: ModelFrame
    X: np.ndarray
    layouts: list[TermLayout]
    factored: list[TermLayout]


def coded_partition(part: pd.DataFrame, request: PassRequest, prototype: ModelMatrices) -> CodedPartition:
    """The partition's kept rows coded with the prototype's levels and columns (its rows are not read).

    Examples
    --------
    >>> from mixedfx.design.matrices import build_model_matrices
    >>> from mixedfx.partitioned.request import pass_request
    >>> d = pd.DataFrame({"y": [1.0, 2, None, 4], "x": [0.0, 1, 2, 3], "g": list("abab")})
    >>> coded = coded_partition(d, pass_request("y ~ x + (1 | g)", d.dtypes), build_model_matrices("y ~ x + (1 | g)", d))
    >>> coded.X[:, 1].tolist(), coded.layouts[0].codes.tolist()
    ([0.0, 1.0, 3.0], [0, 1, 1])
    """
    frame = partition_frame(part, request)
    if len(frame.kept):
        coded = new_data_matrices(prototype, part.iloc[frame.kept])
        X = np.asarray(coded.X, dtype=float)
        by_term = {t.index: (np.asarray(t.codes, dtype=np.int64), np.asarray(t.z, dtype=float))
                   for t in coded.re_terms}
    else:
        X = np.zeros((0, len(prototype.spec.keep)))
        by_term = {i: (np.zeros(0, dtype=np.int64), np.zeros((0, len(t.z_names))))
                   for i, t in enumerate(prototype.re_terms)}
    layouts = [TermLayout(codes=by_term[i][0], z=by_term[i][1], n_levels=prototype.re_terms[i].n_levels)
               for i in prototype.term_order]
    merge = merge_shared_groups(layouts, [prototype.re_terms[i].group for i in prototype.term_order])
    return CodedPartition(frame=frame, X=X, layouts=layouts, factored=layouts if merge is None else merge.layouts)


def partition_blocks(part: pd.DataFrame, request: PassRequest, prototype: ModelMatrices) -> PartitionBlocks:
    """The partition's part of the model's blocks, coded with the prototype's levels and columns.

    Parameters
    ----------
    part : pandas.DataFrame
        One partition.
    request : PassRequest
    prototype : ModelMatrices
        The model built from the witness rows, every column of X kept (its rows are not read).

    Returns
    -------
    PartitionBlocks
    """
    coded = coded_partition(part, request, prototype)
    frame, X = coded.frame, coded.X
    n, p = X.shape
    y, w = np.asarray(frame.y, dtype=float), frame.weights
    cross = cross_products(coded.factored, X, y - frame.offset, w)
    positive = np.zeros(0) if w is None else w[w > 0]
    return PartitionBlocks(cross=cross, statistics=row_statistics(coded.layouts, y, w),
                           x_sums=X.sum(axis=0), x_gram=np.asarray(cross_product(X)).reshape(p, p),
                           x_binary=np.all((X == 0.0) | (X == 1.0), axis=0),
                           response_largest=float(np.max(np.abs(y))) if n else 0.0,
                           positive_weights=int(positive.size), positive_log_weights=float(np.log(positive).sum()),
                           n_dropped_na=frame.n_dropped_na, largest_partition=n)


def add_blocks(a: PartitionBlocks, b: PartitionBlocks) -> PartitionBlocks:
    """Two partitions' parts summed."""
    return PartitionBlocks(cross=add_cross_products(a.cross, b.cross), statistics=a.statistics + b.statistics,
                           x_sums=a.x_sums + b.x_sums, x_gram=a.x_gram + b.x_gram, x_binary=a.x_binary & b.x_binary,
                           response_largest=max(a.response_largest, b.response_largest),
                           positive_weights=a.positive_weights + b.positive_weights,
                           positive_log_weights=a.positive_log_weights + b.positive_log_weights,
                           n_dropped_na=a.n_dropped_na + b.n_dropped_na,
                           largest_partition=max(a.largest_partition, b.largest_partition))


def reduce_partitions(frame: Any, on_partition: Callable[..., Any], combine: Callable[[Any, Any], Any],
                      *args: object, fan_in: int = 2, numbered: bool = False) -> Any:
    """``on_partition(part, *args)`` on every partition, combined pairwise up a tree on the cluster.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
    on_partition : callable
        Maps a pandas partition (and ``args``) to a partial result.
    combine : callable
        Combines two partial results (associative).
    *args
        Passed to every ``on_partition`` call; large ones are sent to the cluster once.
    fan_in : int
        Partial results combined per task at each level of the tree.
    numbered : bool
        Call ``on_partition(part, i, *args)`` instead, with i the partition's position in the frame.

    Returns
    -------
    The combined result, computed (by the active Dask client, if any).
    """
    import dask  # noqa: PLC0415 - Dask is an optional extra, loaded for partitioned data only

    client = active_client()
    # on a cluster the arguments go to each worker once, not inside the task graph
    shared = [a if a is None else client.scatter(a, broadcast=True, hash=False) if client is not None
              else dask.delayed(a, traverse=False) for a in args]
    level = [dask.delayed(on_partition)(part, *([i] if numbered else []), *shared)
             for i, part in enumerate(frame.to_delayed())]
    while len(level) > 1:
        level = [dask.delayed(_combine_all)(combine, *level[i:i + fan_in]) for i in range(0, len(level), fan_in)]
    return dask.compute(level[0])[0]


def active_client() -> Any:
    """The distributed client Dask computes with now, if it computes with one."""
    import dask  # noqa: PLC0415 - optional extra

    owner = getattr(dask.base.get_scheduler(), "__self__", None)  # a client's bound ``get``
    return owner if hasattr(owner, "scatter") else None


def _combine_all(combine: Callable[[Any, Any], Any], first: Any, *rest: Any) -> Any:
    for other in rest:
        first = combine(first, other)
    return first
