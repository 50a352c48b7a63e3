"""A linear mixed model from a Dask frame: the model's levels from the first pass, its blocks from the second.

:func:`partitioned_lmer_model` runs both passes (:mod:`mixedfx.partitioned.passes`),
the first also gathering what the formula's ``poly()``, ``scale()``, ``bs()`` and
``ns()`` learn from, which may take more passes before the second
(:mod:`mixedfx.partitioned.transforms`), and hands
:class:`~mixedfx.lmm.model.LinearMixedModel` the summed blocks. The columns of X
are decided as lme4 decides them, on all rows: the model is first coded with
every column, the rank read off the summed X'X
(:func:`~mixedfx.design.rank.gram_rank_keep`), and the dependent columns then
dropped from the blocks (:func:`~mixedfx.linalg.cross.transform_dense`). lme4's
input checks run on the totals. The model's matrices hold
:class:`~mixedfx.design.remote_rows.RemoteRows` in place of its rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from mixedfx.design.checks import (check_covariance_size, check_grouping_factors, check_lmer_response,
                                   check_residual_variation)
from mixedfx.design.matrices import ModelMatrices, build_model_matrices
from mixedfx.design.rank import gram_rank_keep
from mixedfx.design.remote_rows import RemoteRows
from mixedfx.errors import DataError
from mixedfx.linalg.cross import settle_coupling, transform_dense
from mixedfx.linalg.layout import TermLayout
from mixedfx.linalg.memory import check_dense_blocks
from mixedfx.linalg.merge import TermMerge, merge_shared_groups
from mixedfx.lmm.model import LinearMixedModel, ModelBlocks
from mixedfx.partitioned.passes import PartitionBlocks, add_blocks, partition_blocks, reduce_partitions
from mixedfx.partitioned.request import PassRequest
from mixedfx.partitioned.transforms import witnesses_and_transforms

__all__ = ["PartitionedDesign", "partitioned_lmer_model", "prototype_matrices", "kept_matrices", "remote_matrices",
           "column_deviations"]


@dataclass(frozen=True)
class PartitionedDesign:
    """What a fit from partitioned data keeps besides its model: the passes' inputs and totals.

    Attributes
    ----------
    request : PassRequest
        The formula and arguments every pass reads.
    prototype : ModelMatrices
        The model's columns, levels and codings without rows, X's kept columns
        only: what codes a partition's rows (:func:`mixedfx.design.newdata.new_data_matrices`).
    totals : PartitionBlocks
        The second pass's sums, every column of X.
    keep : list of int
        X's columns kept by the rank check.
    """

    request: PassRequest
    prototype: ModelMatrices
    totals: PartitionBlocks
    keep: list[int]

    def x_deviations(self) -> np.ndarray:
        """Standard deviations (denominator n - 1) of X's kept columns other than 0/1 ones (lme4's check.scaleX)."""
        totals = self.totals
        return column_deviations(totals.x_sums, totals.x_gram, totals.x_binary, totals.statistics.n, self.keep)


def column_deviations(x_sums: np.ndarray, x_gram: np.ndarray, x_binary: np.ndarray, n: int,
                      keep: list[int]) -> np.ndarray:
    """Standard deviations (denominator n - 1) of X's columns ``keep`` other than 0/1 ones, from X's sums and X'X.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [1.0, 4.0], [1.0, 6.0]])
    >>> column_deviations(X.sum(axis=0), X.T @ X, np.array([True, False]), 3, [0, 1]).tolist()
    [2.0]
    """
    keep = np.asarray(keep, dtype=np.int64)
    continuous = keep[~x_binary[keep]]
    mean = x_sums[continuous] / n
    spread = np.maximum(np.diag(x_gram)[continuous] - n * mean**2, 0.0)
    return np.sqrt(spread / max(n - 1, 1))


def _without_rows(matrices: ModelMatrices) -> ModelMatrices:
    """The matrices with no rows left: what each partition's coding reads (sent to every worker)."""
    p = len(matrices.x_names)
    terms = [replace(t, codes=np.zeros(0, dtype=np.int64), z=np.zeros((0, t.k))) for t in matrices.re_terms]
    return replace(matrices, y=np.zeros(0), X=np.zeros((0, p)), offset=np.zeros(0),
                   weights=None if matrices.weights is None else np.zeros(0), re_terms=terms, rows=pd.RangeIndex(0))


def prototype_matrices(frame: Any, request: PassRequest) -> tuple[PassRequest, ModelMatrices]:
    """The model's coding without rows, every column of X kept: built from each level's first row, after one pass
    over the partitions (:func:`~mixedfx.partitioned.passes.partition_witnesses`) and those the formula's stateful
    calls need (:func:`~mixedfx.partitioned.transforms.witnesses_and_transforms`).

    Returns
    -------
    request : PassRequest
        ``request`` with what the stateful calls learned, for every later pass.
    prototype : ModelMatrices

    Raises
    ------
    DataError
        No rows left after the NA action.
    """
    witnesses, request = witnesses_and_transforms(frame, request)
    return request, _prototype(witnesses, request)


def _prototype(witnesses: pd.DataFrame, request: PassRequest) -> ModelMatrices:
    """The model built from the witness rows, every column of X kept."""
    if not len(witnesses):
        raise DataError("no rows left after removing rows with missing values in the model's variables")
    built = build_model_matrices(request.formula, witnesses, weights=request.weights, offset=request.offset,
                                 contrasts=request.contrasts, transforms=request.transforms)
    names = list(built.spec.fixed.names)
    spec = replace(built.spec, keep=tuple(range(len(names))))
    return _without_rows(replace(built, x_names=names, dropped=[], messages=[], spec=spec))


def kept_matrices(prototype: ModelMatrices, keep: list[int]) -> ModelMatrices:
    """The prototype with X's dependent columns dropped (all but ``keep``), and lme4's message for them."""
    names = list(prototype.spec.fixed.names)
    dropped = [name for j, name in enumerate(names) if j not in set(keep)]
    messages = []
    if dropped:
        plural = ("column / coefficient", "columns / coefficients")[len(dropped) > 1]
        messages.append(f"fixed-effect model matrix is rank deficient so dropping {len(dropped)} {plural}")
    return _without_rows(replace(prototype, x_names=[names[j] for j in keep], dropped=dropped, messages=messages,
                                 spec=replace(prototype.spec, keep=tuple(keep)), X=np.zeros((0, len(keep)))))


def remote_matrices(prototype: ModelMatrices, n: int, n_dropped_na: int, x_gram: np.ndarray) -> ModelMatrices:
    """The model's matrices with its ``n`` rows on the workers (``x_gram``: X'X of the kept columns)."""
    terms = [replace(t, codes=RemoteRows((n,), f"the codes of ({t.text})"),
                     z=RemoteRows((n, t.k), f"the model matrix of ({t.text})")) for t in prototype.re_terms]
    return replace(prototype, y=RemoteRows((n,), "the response"),
                   X=RemoteRows((n, len(prototype.x_names)), "the fixed-effects matrix"),
                   offset=RemoteRows((n,), "the offset"),
                   weights=None if prototype.weights is None else RemoteRows((n,), "the weights"),
                   re_terms=terms, rows=RemoteRows((n,), "the row labels"), n_dropped_na=n_dropped_na,
                   remote_x_gram=x_gram)


def _structure(matrices: ModelMatrices) -> tuple[list[TermLayout], TermMerge | None]:
    """The terms' layouts (lme4's order) on the remote rows, and how terms on one grouping factor merge."""
    terms = matrices.ordered_terms
    merge = merge_shared_groups([TermLayout(codes=np.zeros(0, dtype=np.int64), z=np.zeros((0, t.k)),
                                            n_levels=t.n_levels) for t in terms], [t.group for t in terms])
    layouts = [TermLayout(codes=t.codes, z=t.z, n_levels=t.n_levels) for t in terms]
    if merge is not None:
        n = matrices.X.shape[0]
        merged = [replace(m, codes=RemoteRows((n,), "merged codes"), z=RemoteRows((n, m.k), "merged model matrix"))
                  for m in merge.layouts]
        merge = TermMerge(layouts=merged, members=merge.members, ks=merge.ks)
    return layouts, merge


def partitioned_lmer_model(frame: Any, request: PassRequest, reml: bool) -> tuple[LinearMixedModel,
                                                                                    PartitionedDesign]:
    """The linear mixed model of a Dask frame's rows, from two passes over its partitions.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
    request : PassRequest
        Without the learned transforms, which the passes add first
        (:func:`~mixedfx.partitioned.transforms.witnesses_and_transforms`).
    reml : bool

    Returns
    -------
    model : LinearMixedModel
        Its criterion, optimisation and estimates need no rows.
    design : PartitionedDesign
        What later passes (fitted values, residuals) need: the request with the learned transforms.

    Raises
    ------
    FormulaError, DataError, MixedFxError
        As :func:`mixedfx.lmer` raises them for the same rows in memory.
    """
    request, prototype = prototype_matrices(frame, request)
    totals = reduce_partitions(frame, partition_blocks, add_blocks, request, prototype)
    keep = gram_rank_keep(totals.x_gram)
    p = len(prototype.x_names)
    selection = np.zeros((p + 1, len(keep) + 1))
    selection[keep, np.arange(len(keep))] = 1.0
    selection[p, -1] = 1.0
    kept = kept_matrices(prototype, keep)
    matrices = remote_matrices(kept, totals.statistics.n, totals.n_dropped_na, totals.x_gram[np.ix_(keep, keep)])
    layouts, merge = _structure(matrices)
    cross = transform_dense(totals.cross, selection)
    cross = settle_coupling(cross, layouts if merge is None else merge.layouts)
    check_lmer_response(matrices, row_sizes=(totals.response_largest, totals.weights_scale))
    check_residual_variation(matrices, cross.xy_gram)
    terms = matrices.ordered_terms
    check_grouping_factors(terms, totals.statistics.n, allow_n=False)
    check_covariance_size(terms)
    coupling = cross.a_r1
    check_dense_blocks(terms, len(keep), coupling_nnz=coupling.nnz if sp.issparse(coupling) else coupling.size)
    model = LinearMixedModel(matrices, reml, ModelBlocks(cross=cross, statistics=totals.statistics,
                                                         layouts=layouts, merge=merge))
    return model, PartitionedDesign(request=request, prototype=kept, totals=totals, keep=keep)
