"""The parametric bootstrap (lme4's ``bootMer``): simulate, refit (``fit.refit``), evaluate a statistic."""

from __future__ import annotations

import pickle
import sys
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import ndtri
from tqdm import tqdm

from mixedfx.inference.simulate import Simulator
from mixedfx.rbase.rformat import format_num

if TYPE_CHECKING:
    from mixedfx.inference.fitted import MixedFit

__all__ = ["bootstrap", "BootstrapResult", "percent_labels", "tail_probabilities", "progress_bar"]

Statistic = Callable[["MixedFit"], "np.ndarray | pd.Series"]
Draws = list[tuple[np.ndarray, str | None]]
"""Each simulation's statistic (NaN where it failed) and the failure's message (None where it did not)."""


def progress_bar(total: int, desc: str, progress: bool | None) -> tqdm:
    """A tqdm bar on stderr over ``total`` steps: shown when ``progress`` is true, or when None and stderr is a terminal.

    Examples
    --------
    >>> with progress_bar(3, "refits", False) as bar:
    ...     bar.update(3)
    """
    show = sys.stderr.isatty() if progress is None else bool(progress)
    return tqdm(total=int(total), disable=not show, desc=desc)


def tail_probabilities(level: float) -> np.ndarray:
    """Probabilities of a two-sided interval's ends, as lme4: ``a = (1 - level) / 2`` and ``1 - a``."""
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, not {level!r}")
    alpha = (1.0 - level) / 2.0
    return np.array([alpha, 1.0 - alpha])


def percent_labels(level: float) -> list[str]:
    """lme4's column names for a two-sided interval: ``"2.5 %"``, ``"97.5 %"`` for level 0.95."""
    return [f"{text.strip()} %" for text in format_num(list(100 * tail_probabilities(level)), digits=3)]


@dataclass(frozen=True)
class BootstrapResult:
    """A parametric bootstrap (lme4's ``bootMer`` object).

    Attributes
    ----------
    t0 : Series
        The statistic on the fitted model.
    t : DataFrame
        One row per simulation, the statistic's values (NaN where the refit or
        the statistic failed).
    seed : int
        Entropy of the seed sequence the simulations' seeds were spawned from.
    failures : dict of str to int
        Error messages of the failed simulations and how often each occurred.
    """

    t0: pd.Series
    t: pd.DataFrame
    seed: int
    failures: dict[str, int]

    @property
    def n_failed(self) -> int:
        """Number of simulations whose refit or statistic failed."""
        return sum(self.failures.values())

    def confint(self, level: float = 0.95) -> pd.DataFrame:
        """Percentile intervals, as ``boot.ci(type = "perc")`` (R's boot package) computes them.

        The ends are order statistics of the finite values, interpolated on the
        normal quantile scale where ``(R + 1) alpha`` is not whole.

        Parameters
        ----------
        level : float
            Confidence level.

        Returns
        -------
        DataFrame
            One row per statistic, columns named as lme4 (``"2.5 %"``, ``"97.5 %"``).
        """
        ends = _percentile_ends(self.t.to_numpy(dtype=float), tail_probabilities(level))
        return pd.DataFrame(ends, index=self.t0.index, columns=percent_labels(level))


def _percentile_ends(t: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """boot's ``norm.inter`` for every column of ``t`` at once, shape (columns, len(alpha))."""
    t = np.where(np.isfinite(t), t, np.nan)
    ordered = np.sort(t, axis=0)  # NaN last
    count = np.isfinite(t).sum(axis=0)[:, None]
    rank = (count + 1) * alpha[None, :]
    k = np.trunc(rank).astype(int)
    if np.any((rank <= 1) | (rank >= count)):
        warnings.warn("extreme order statistics used as endpoints", stacklevel=3)
    cols = np.arange(t.shape[1])[:, None]
    low = ordered[np.clip(k - 1, 0, None), cols]
    high = ordered[np.clip(np.minimum(k, count - 1), 0, None), cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        z_k, z_k1 = ndtri(k / (count + 1)), ndtri((k + 1) / (count + 1))
        inner = low + (ndtri(alpha)[None, :] - z_k) / (z_k1 - z_k) * (high - low)
    first, last = ordered[0][:, None], ordered[np.maximum(count - 1, 0), cols]
    out = np.where(k == rank, low, inner)
    out = np.where(k == 0, first, out)
    out = np.where(k >= count, last, out)
    return np.where(count > 0, out, np.nan)


def _values(value: ArrayLike | pd.Series) -> np.ndarray:
    """A statistic's value as a 1-D float array (what :func:`_as_series` holds, without forming the Series)."""
    if isinstance(value, pd.Series):
        return value.to_numpy(dtype=float)
    array = np.atleast_1d(np.asarray(value, dtype=float))
    if array.ndim != 1:
        raise ValueError(f"the statistic must return a 1-D array or a Series, not shape {array.shape}")
    return array


def _as_series(value: ArrayLike | pd.Series) -> pd.Series:
    """A statistic's value as a float Series."""
    return value.astype(float) if isinstance(value, pd.Series) else pd.Series(_values(value))


def _statistic_of(refit: Callable[[], MixedFit], func: Statistic, width: int) -> tuple[np.ndarray, str | None]:
    """``func`` on the fit ``refit()`` makes; NaN and the message where either fails."""
    try:
        value = _values(func(refit()))
        if value.shape != (width,):
            raise ValueError(f"the statistic returned {value.size} values on a refit and {width} on the fit")
        return value, None
    except Exception as error:  # noqa: BLE001 - lme4's bootMer records every failure and goes on
        return np.full(width, np.nan), f"{type(error).__name__}: {error}"


def _run(fit: MixedFit, func: Statistic, re_form: str | None,
         seeds: list[np.random.SeedSequence], width: int) -> Draws:
    """Simulate, refit and evaluate ``func`` for each seed; NaN and the message where that fails."""
    simulator = Simulator(fit, re_form=re_form)

    def refit(seed: np.random.SeedSequence) -> MixedFit:
        return fit.refit(simulator.draw(np.random.default_rng(seed), 1)[..., 0])

    return [_statistic_of(partial(refit, seed), func, width) for seed in seeds]


def _run_in_batches(batches: Iterator[list[Callable[[], MixedFit]]], func: Statistic, width: int,
                    bar: tqdm) -> Draws:
    """``func`` on each refit of each batch, the bar counting each batch as it comes."""
    out: Draws = []
    for batch in batches:
        out += [_statistic_of(refit, func, width) for refit in batch]
        bar.update(len(batch))
    return out


def _in_task_order(futures: list, completed: Callable, bar: tqdm) -> list[Draws]:
    """The futures' results in the order submitted, the bar counting each one's draws as it completes.

    ``completed`` is the executor's ``as_completed`` (concurrent.futures' or Dask's); it
    yields the futures given, which are hashable in both.
    """
    position = {future: j for j, future in enumerate(futures)}
    parts: dict[int, Draws] = {}
    for future in completed(futures):
        parts[position[future]] = future.result()
        bar.update(len(parts[position[future]]))
    return [parts[j] for j in range(len(futures))]


def _map_tasks(tasks: list[tuple], n_jobs: int, bar: tqdm) -> list[Draws]:
    """:func:`_run` on each task, here or on ``n_jobs`` processes; results in task order, the bar counting draws."""
    if n_jobs <= 1:
        out = []
        for task in tasks:
            out.append(_run(*task))
            bar.update(len(out[-1]))
        return out
    with ProcessPoolExecutor(max_workers=n_jobs) as pool:
        return _in_task_order([pool.submit(_run, *task) for task in tasks], as_completed, bar)


def _map_on_cluster(tasks: list[tuple], client: Any, bar: tqdm) -> list[Draws]:
    """:func:`_run` on each task on a Dask cluster's workers, the fit sent to each worker once."""
    from distributed import as_completed as completed_on_cluster

    # a key of its own: under the fit's content hash, a bootstrap right after another of the same fit can be
    # handed the key the first is releasing, and its tasks fail with "lost dependencies"
    fit = client.scatter(tasks[0][0], broadcast=True, hash=False)
    futures = [client.submit(_run, fit, *task[1:], pure=False) for task in tasks]
    return _in_task_order(futures, completed_on_cluster, bar)


def _cluster_workers(client: Any) -> int:
    """How many workers a Dask client's cluster has (a TypeError for anything else)."""
    if not all(hasattr(client, name) for name in ("submit", "scatter", "scheduler_info")):
        raise TypeError(f"client must be a dask.distributed Client, not {type(client).__name__}")
    return max(1, len(client.scheduler_info().get("workers", {})))


def bootstrap(fit: MixedFit, func: Statistic, nsim: int, seed: int | None = None, n_jobs: int = 1,
              progress: bool | None = None, re_form: str | None = None, client: Any = None,
              batch_size: int | None = None) -> BootstrapResult:
    """Parametric bootstrap of a statistic (lme4's ``bootMer``).

    Each simulation draws a response from the fitted model
    (:class:`mixedfx.inference.simulate.Simulator`), refits the model to it
    (``fit.refit``, lme4's ``refit``) and evaluates ``func`` on the refit.
    A fit from a Dask DataFrame draws and refits its simulations itself
    (its ``bootstrap_refits``: a batch of them per pass over the partitions,
    :mod:`mixedfx.partitioned.bootstrap`); ``func`` is evaluated here alike.

    Parameters
    ----------
    fit : LmerFit or GlmerFit
        The fitted model.
    func : callable
        Maps a fit to a 1-D array or a Series (its index names the columns of
        the result). Must be picklable (a module-level function) when
        ``n_jobs > 1``; with ``client``, Dask's cloudpickle takes lambdas too.
    nsim : int
        Number of simulations.
    seed : int, optional
        Seed of the simulations. Simulation i draws from its own generator,
        spawned from this seed, so the result does not depend on ``n_jobs``
        or on the cluster.
    n_jobs : int
        Processes to run the simulations on (1: this process).
    client : distributed.Client, optional
        Run the simulations on this Dask cluster's workers instead (the
        ``mixedfx[dask]`` extra); not with ``n_jobs > 1``.
    progress : bool, optional
        Show a progress bar (tqdm); by default when stderr is a terminal.
    re_form : str, optional
        Passed to the simulation: None (new random effects for every term,
        lme4's default) or a formula of terms that keep their conditional modes.
    batch_size : int, optional
        For a fit from a Dask DataFrame: simulations per pass over its partitions
        (by default as many as keep each partition's block of simulated responses modest).

    Returns
    -------
    BootstrapResult
    """
    if not isinstance(nsim, (int, np.integer)) or nsim < 1:
        raise ValueError(f"nsim must be a positive whole number, not {nsim!r}")
    t0 = _as_series(func(fit))
    sequence = np.random.SeedSequence(seed)
    seeds = sequence.spawn(int(nsim))
    if client is not None and n_jobs > 1:
        raise ValueError("give either n_jobs (processes here) or client (a Dask cluster), not both")
    workers = _cluster_workers(client) if client is not None else n_jobs
    batches = getattr(fit, "bootstrap_refits", None)  # a fit whose rows stay on a cluster's workers
    if batch_size is not None and batches is None:
        raise ValueError("batch_size applies to fits from a Dask DataFrame only; use n_jobs or client here")
    if batches is not None and n_jobs > 1:
        raise ValueError("a fit from a Dask DataFrame runs its simulations on Dask; give client=, not n_jobs")
    if n_jobs > 1:
        try:
            pickle.dumps(func)
        except (pickle.PicklingError, AttributeError, TypeError) as error:
            raise TypeError("with n_jobs > 1, func must be picklable (a module-level function, "
                            f"not a lambda or a local function): {error}") from None
    chunks = np.array_split(np.arange(nsim), max(1, nsim // 10) if workers <= 1 else min(nsim, 4 * workers))
    tasks = [(fit, func, re_form, [seeds[i] for i in chunk], len(t0)) for chunk in chunks]
    with progress_bar(nsim, "bootstrap", progress) as bar:
        if batches is not None:
            results = _run_in_batches(batches(int(nsim), int(sequence.entropy), re_form=re_form, client=client,
                                              batch_size=batch_size), func, len(t0), bar)
        else:
            parts = _map_on_cluster(tasks, client, bar) if client is not None else _map_tasks(tasks, n_jobs, bar)
            results = [item for part in parts for item in part]
    failures = dict(Counter(message for _, message in results if message is not None))
    if failures:
        warnings.warn(f"some bootstrap runs failed ({sum(failures.values())}/{nsim})", stacklevel=2)
    t = pd.DataFrame(np.vstack([value for value, _ in results]), columns=t0.index)
    return BootstrapResult(t0=t0, t=t, seed=int(sequence.entropy), failures=failures)
