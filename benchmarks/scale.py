"""Fit lmer to data larger than one process should hold: a Dask frame generated on the workers.

Usage (from the repository root, ``mixedfx[dask]`` installed)::

    python benchmarks/scale.py [--panel-rows 100_000_000] [--crossed-rows 20_000_000]
                               [--subset-rows 5_000_000] [--workers 2] [--memory-limit 4GB]
                               [--partition-rows 1_000_000] [--skip panel crossed subset]

Three runs on a ``distributed.LocalCluster`` (worker processes, one thread each):

* ``panel``: a longitudinal panel, ``y ~ time * arm + (time | subject)``, a hundred
  times per subject (1M subjects in 100M rows), each partition a block of subjects;
* ``crossed``: a ratings table, ``y ~ x + (1 | user) + (1 | item)``, users and
  items crossed over every partition;
* ``subset``: the first ``--subset-rows`` rows of the panel, made the same way,
  fitted from the Dask frame and in memory, with the largest differences of
  criterion (relative) and fixed effects (run last: the in-memory fit raises
  the client's peak memory).

Every partition is generated on a worker (``dask.dataframe.from_map``), from
its own seed, whenever a pass reads it: no process ever holds all rows. Each run
prints rows, partitions, passes over them, the fit's time (and the summary's,
whose scaled residuals take three more passes), and the peak resident memory of
the client and of each worker process. Times are never asserted anywhere.
"""

from __future__ import annotations

import argparse
import resource
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

PANEL_TIMES = 100
PANEL = "y ~ time * arm + (time | subject)"
CROSSED = "y ~ x + (1 | user) + (1 | item)"
USERS, ITEMS = 100_000, 5_000  # the dense rest of the factor is items x items


@dataclass(frozen=True)
class PanelPart:
    """One partition of the panel: ``subjects`` subjects from ``first``, seeded by the partition's number."""

    index: int
    first: int
    subjects: int


def panel_partition(part: PanelPart) -> pd.DataFrame:
    rng = np.random.default_rng(1_000 + part.index)
    subject = np.repeat(np.arange(part.first, part.first + part.subjects), PANEL_TIMES)
    time_ = np.tile(np.arange(PANEL_TIMES, dtype=float), part.subjects)
    effects = rng.multivariate_normal([0.0, 0.0], [[4.0, 0.3], [0.3, 0.25]], size=part.subjects)
    arm = rng.integers(0, 3, part.subjects)
    local = subject - part.first
    y = (10 + 0.8 * time_ + 0.5 * arm[local] + effects[local, 0] + effects[local, 1] * time_
         + rng.normal(scale=1.5, size=subject.size))
    return pd.DataFrame({"subject": subject, "time": time_,
                         "arm": pd.Categorical.from_codes(arm[local], ["a0", "a1", "a2"]), "y": y})


def crossed_partition(index: int, rows: int) -> pd.DataFrame:
    effects = np.random.default_rng(7)  # the same users' and items' effects in every partition
    user_effect, item_effect = effects.normal(scale=0.6, size=USERS), effects.normal(scale=0.4, size=ITEMS)
    rng = np.random.default_rng(2_000 + index)
    user, item = rng.integers(0, USERS, rows), rng.integers(0, ITEMS, rows)
    x = rng.normal(size=rows)
    y = 3.5 + 0.25 * x + user_effect[user] + item_effect[item] + rng.normal(scale=0.9, size=rows)
    return pd.DataFrame({"user": user, "item": item, "x": x, "y": y})


def panel_frame(rows: int, partition_rows: int):
    import dask.dataframe as dd

    per_part = max(partition_rows // PANEL_TIMES, 1)
    subjects = rows // PANEL_TIMES
    parts = [PanelPart(i, first, min(per_part, subjects - first))
             for i, first in enumerate(range(0, subjects, per_part))]
    return dd.from_map(panel_partition, parts, meta=panel_partition(PanelPart(0, 0, 1)).iloc[:0],
                       enforce_metadata=False)


def crossed_frame(rows: int, partition_rows: int):
    import dask.dataframe as dd

    sizes = [min(partition_rows, rows - start) for start in range(0, rows, partition_rows)]
    return dd.from_map(crossed_partition, list(range(len(sizes))), sizes,
                       meta=crossed_partition(0, 1).iloc[:0], enforce_metadata=False)


def peak_mb() -> float:
    """This process's peak resident memory (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PassCounter:
    """Counts the passes over a Dask frame's partitions while it is active: every pass reads them through the
    frame's ``to_delayed``, as the tests count them (tests/partitioned/test_transforms.py)."""

    def __init__(self, frame) -> None:
        self.kind, self.count = type(frame), 0
        self.original = self.kind.to_delayed

    def __enter__(self) -> PassCounter:
        original = self.original

        def counted(frame, *args, **kwargs):
            self.count += 1
            return original(frame, *args, **kwargs)

        self.kind.to_delayed = counted
        return self

    def __exit__(self, *exc) -> None:
        self.kind.to_delayed = self.original


def run(name: str, formula: str, frame, client) -> object:
    import mixedfx as mfx

    with PassCounter(frame) as fit_passes:
        start = time.perf_counter()
        fit = mfx.lmer(formula, frame)
        fitted = time.perf_counter() - start
    with PassCounter(frame) as summary_passes:
        start = time.perf_counter()
        text = str(fit.summary())
        summarised = time.perf_counter() - start
    workers = client.run(peak_mb)
    print(f"\n=== {name}: {formula}")
    print(f"rows {fit.nobs:,}, partitions {frame.npartitions}, passes {fit_passes.count} for the fit "
          f"+ {summary_passes.count} for the summary's residual quantiles")
    print(f"fit {fitted:.1f} s, summary {summarised:.1f} s")
    print(f"peak memory: client {peak_mb():.0f} MB; workers " + ", ".join(f"{v:.0f} MB" for v in workers.values()))
    print(text)
    return fit


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--panel-rows", type=int, default=100_000_000)
    parser.add_argument("--crossed-rows", type=int, default=20_000_000)
    parser.add_argument("--subset-rows", type=int, default=5_000_000)
    parser.add_argument("--partition-rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--memory-limit", default="4GB")
    parser.add_argument("--skip", nargs="*", default=[], choices=["panel", "crossed", "subset"])
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    import mixedfx as mfx

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      memory_limit=args.memory_limit) as cluster, Client(cluster) as client:
        if "panel" not in args.skip:
            run("panel", PANEL, panel_frame(args.panel_rows, args.partition_rows), client)
        if "crossed" not in args.skip:
            run("crossed", CROSSED, crossed_frame(args.crossed_rows, args.partition_rows), client)
        if "subset" not in args.skip:  # last: the in-memory fit raises the client's peak
            frame = panel_frame(args.subset_rows, args.partition_rows)
            there = run("subset", PANEL, frame, client)
            start = time.perf_counter()
            here = mfx.lmer(PANEL, frame.compute())
            print(f"in memory: {time.perf_counter() - start:.1f} s; criterion relative difference "
                  f"{abs(there.opt_summary.fval - here.opt_summary.fval) / abs(here.opt_summary.fval):.1e}, "
                  f"largest fixed-effect difference {np.max(np.abs(there.fixef - here.fixef)):.1e}")

if __name__ == "__main__":
    main()
