"""Values kept per partition where the partitions live: on a cluster's workers, or in this process without one.

A generalized model reads its rows once per PIRLS iteration. Rather than
reading the Dask frame again each time, each partition's coded model rows are
made once (:meth:`PartitionValues.from_frame`) and kept where they were made:
on the workers, as ``distributed`` futures, when a distributed client is
active; as plain values otherwise (Dask's local schedulers run in this
process anyway). Each later round maps every partition's values to new ones
(:meth:`PartitionValues.map`, run where the values are), several requests in
one task per partition (:meth:`PartitionValues.map_batch`), or sums a piece of
each up a tree (:meth:`PartitionValues.reduce`); only the sums reach the client.
Values no longer needed are dropped from the workers by :meth:`PartitionValues.release`.

A partition's value is referred to as (value or future, path): a batch's
task returns one list per partition, and each request's values are items of
those lists, read where the lists are.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from mixedfx.partitioned.passes import active_client

__all__ = ["PartitionValues", "FAN_IN"]

FAN_IN = 16
"""Partial results a reduction's task combines: the sums over up to 16 partitions take one hop, whose cost (the
scheduler's latency) dominates a round over small partitions."""

Ref = tuple[Any, tuple[int, ...]]


class PartitionValues:
    """One value per partition, kept where the partitions are computed.

    Parameters
    ----------
    refs : list of (object, tuple of int)
        Each partition's value: a future of a distributed client (or the value
        itself), and the path of indices to it inside that (empty for the whole).
    client : distributed.Client or None
        The client holding the futures; None for values in this process.
    fan_in : int
        Partial results combined per task at each level of a reduction's tree.

    Examples
    --------
    >>> import pandas as pd, dask.dataframe as dd
    >>> frame = dd.from_pandas(pd.DataFrame({"x": [1.0, 2.0, 3.0]}), npartitions=2)
    >>> sums = PartitionValues.from_frame(frame, lambda part: float(part.x.sum()))
    >>> sums.reduce(lambda value: value, lambda a, b: a + b)
    6.0
    >>> sums.map(lambda value, factor: value * factor, 10.0).reduce(lambda value: value, lambda a, b: a + b)
    60.0
    """

    def __init__(self, refs: list[Ref], client: Any, fan_in: int = FAN_IN) -> None:
        self.refs, self.client, self.fan_in = refs, client, fan_in

    def __len__(self) -> int:
        return len(self.refs)

    @classmethod
    def from_frame(cls, frame: Any, on_partition: Callable[..., Any], *args: object) -> PartitionValues:
        """``on_partition(part, *args)`` for every partition of a Dask frame, kept where it was computed."""
        import dask  # noqa: PLC0415 - Dask is an optional extra, loaded for partitioned data only

        shared = [dask.delayed(a, traverse=False) for a in args]
        tasks = [dask.delayed(on_partition)(part, *shared) for part in frame.to_delayed()]
        client = active_client()
        values = client.compute(tasks) if client is not None else list(dask.compute(*tasks))
        return cls([(value, ()) for value in values], client)

    def _run(self, function: Callable[..., Any], *args: object) -> Any:
        """``function(*args)`` where the partitions are (a future on a cluster; futures in ``args`` are read)."""
        if self.client is None:
            return function(*args)
        return self.client.submit(function, *args, pure=False)

    def map(self, on_value: Callable[..., Any], *args: object) -> PartitionValues:
        """``on_value(value, *args)`` for each partition's value, run where the value is (on a cluster, the new
        futures run as the scheduler gets to them)."""
        return PartitionValues([(self._run(_apply, on_value, ref, args), ()) for ref in self.refs], self.client,
                               self.fan_in)

    def map_batch(self, requests: Sequence[tuple[Sequence[PartitionValues], tuple]],
                  on_values: Callable[..., Any]) -> tuple[list[PartitionValues], PartitionValues]:
        """``on_values(value, *others, *args)`` for each request ``(others, args)``, one task per partition for all.

        ``others`` are values of the same partitions (each partition's read where it is).

        Returns
        -------
        per_request : list of PartitionValues
            Each request's results.
        batch : PartitionValues
            Each partition's list of the requests' results (what :meth:`reduce` sums over the batch).
        """
        tasks = [self._run(_apply_batch, on_values, ref,
                           [([values.refs[j] for values in others], args) for others, args in requests])
                 for j, ref in enumerate(self.refs)]
        per_request = [PartitionValues([(task, (i,)) for task in tasks], self.client, self.fan_in)
                       for i in range(len(requests))]
        return per_request, PartitionValues([(task, ()) for task in tasks], self.client, self.fan_in)

    def release(self) -> None:
        """Let the workers drop these values; no-op for values in this process. They cannot be read afterwards,
        and a cluster keeps them while values computed from them are held (its scheduler keeps their lineage)."""
        if self.client is not None:
            for value, _ in self.refs:
                value.release()

    def reduce(self, piece: Callable[[Any], Any], combine: Callable[[Any, Any], Any]) -> Any:
        """``piece(value)`` of every partition, combined pairwise up a tree; the total, on the client.

        Parameters
        ----------
        piece : callable
            What of a partition's value is summed.
        combine : callable
            Combines two pieces (associative).
        """
        if self.client is None:
            return _combine_refs(combine, piece, self.refs)
        # each piece is taken where its partition's value is: only the pieces travel to the sums
        level = [self._run(_apply, piece, ref, ()) for ref in self.refs]
        while len(level) > 1:
            level = [self._run(_combine_refs, combine, None, [(value, ()) for value in level[i:i + self.fan_in]])
                     for i in range(0, len(level), self.fan_in)]
        return level[0].result()


def _read(ref: Ref) -> Any:
    value, path = ref
    for index in path:
        value = value[index]
    return value


def _apply(on_value: Callable[..., Any], ref: Ref, args: tuple) -> Any:
    return on_value(_read(ref), *args)


def _apply_batch(on_values: Callable[..., Any], ref: Ref, requests: list[tuple[list[Ref], tuple]]) -> list[Any]:
    value = _read(ref)
    return [on_values(value, *[_read(other) for other in others], *args) for others, args in requests]


def _combine_refs(combine: Callable[[Any, Any], Any], piece: Callable[[Any], Any] | None, refs: list[Ref]) -> Any:
    values = [_read(ref) for ref in refs]
    if piece is not None:
        values = [piece(value) for value in values]
    total = values[0]
    for other in values[1:]:
        total = combine(total, other)
    return total
