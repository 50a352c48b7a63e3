"""The parametric bootstrap of a fit from a Dask DataFrame: one pass over the partitions per batch of simulations.

A simulated response ``y* = offset + X beta + Z b* + sigma e / sqrt(w)`` (``b* =
sigma Lambda u*``, u* and e standard normal: :func:`mixedfx.simulate`'s
response) enters its refit only through ``[Z X]' W (y* - offset)`` and
``(y* - offset)' W (y* - offset)``; the blocks of Z and X are the fit's. So a
batch of B simulations is one pass: the client draws each simulation's
random effects b* (:func:`replicate_effects`, from the simulation's own
generator, as the in-memory bootstrap draws them), each partition draws its
rows' noise from a stream of (seed, simulation, partition) alone
(:func:`partition_noise`), forms its rows' B responses and their products
(:func:`partition_response_products`), and a tree sums them. The client then
refits each simulation from the sums
(:meth:`~mixedfx.lmm.model.LinearMixedModel.with_response_products`,
:meth:`~mixedfx.fits.lmer.LmerFit.refit_model`). The draws depend on the seed
and the frame's partitioning only: not on the scheduler, the cluster or the
batch size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfx.design.memory import DOUBLE
from mixedfx.design.newdata import selected_columns
from mixedfx.fits.lmer import LmerFit
from mixedfx.fits.prediction import Predictor
from mixedfx.linalg.cross import response_map
from mixedfx.linalg.layout import templates
from mixedfx.lmm.control import LmerControl
from mixedfx.lmm.model import LinearMixedModel
from mixedfx.optim.checks import spread_message
from mixedfx.optim.optimize import OptSummary
from mixedfx.partitioned.design import PartitionedDesign
from mixedfx.partitioned.passes import CodedPartition, coded_partition, reduce_partitions
from mixedfx.partitioned.request import PassRequest

if TYPE_CHECKING:
    from mixedfx.partitioned.fit import PartitionedLmerFit

__all__ = ["SimulatedLmerFit", "ResponseSimulation", "ReplicateBatch", "replicate_seed", "replicate_effects",
           "partition_noise", "simulated_responses", "partition_response_products", "lazy_simulations",
           "batch_size_for", "bootstrap_refits", "BATCH_BYTES"]

BATCH_BYTES = 32 * 2**20
"""A batch's largest block, a partition's rows x simulations (or the random and fixed effects x simulations), stays
under this many bytes: a worker holds a few such blocks at once, the client one per simulation batch."""


@dataclass(frozen=True)
class ResponseSimulation:
    """What each partition needs to simulate its rows' responses (sent to each worker once per pass).

    Attributes
    ----------
    request : PassRequest
        The model's formula and arguments.
    predictor : Predictor
        The fit's coding without rows (``predictor.matrices``) and fixed effects (``predictor.beta``).
    sigma : float
        The residual standard deviation.
    entropy : int
        The seed sequence's entropy: with the simulation and the partition, it decides the noise drawn.
    """

    request: PassRequest
    predictor: Predictor
    sigma: float
    entropy: int


@dataclass(frozen=True)
class ReplicateBatch:
    """The simulations of one pass: their numbers and their random effects (sent to each worker once).

    Attributes
    ----------
    replicates : ndarray of int, shape (B,)
        The simulations' numbers.
    effects : list of ndarray
        :func:`replicate_effects`' draws for them: per term of the formula, shape (B, levels, k).
    """

    replicates: np.ndarray
    effects: list[np.ndarray]


def replicate_seed(entropy: int, replicate: int) -> np.random.SeedSequence:
    """Simulation ``replicate``'s seed: the child ``SeedSequence(entropy).spawn`` gives it (as the in-memory
    bootstrap's)."""
    return np.random.SeedSequence(entropy, spawn_key=(int(replicate),))


def replicate_effects(fit: LmerFit, entropy: int, replicates: np.ndarray, re_form: str | None = None
                      ) -> list[np.ndarray]:
    """New random effects ``b* = sigma Lambda u*`` for each simulation, drawn on the client.

    Simulation r draws u* from its own generator (:func:`replicate_seed`), term by
    term in the formula's order, as the in-memory bootstrap's simulation r does.
    The terms (or their columns) ``re_form`` names keep their conditional modes
    instead, as :func:`mixedfx.simulate` keeps them.

    Parameters
    ----------
    fit : LmerFit
        The fitted model.
    entropy : int
        The seed sequence's entropy.
    replicates : ndarray of int
        The simulations' numbers.
    re_form : str, optional
        None or ``"~0"``: every term drawn; a formula of bar terms: those keep their modes.

    Returns
    -------
    list of ndarray
        Per term of the formula (``fit.matrices.re_terms``), shape (len(replicates), levels, k).

    Examples
    --------
    >>> import mixedfx as mfx
    >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> [b.shape for b in replicate_effects(fit, 1, np.arange(3))]
    [(3, 18, 2)]
    """
    terms = fit.matrices.re_terms
    kept = selected_columns(fit.matrices, re_form) if re_form is not None else {}
    scaled = [fit.sigma * t for t in templates(fit.theta, fit.ks)]
    draws: list[list[np.ndarray]] = [[] for _ in terms]
    for r in replicates:
        rng = np.random.default_rng(replicate_seed(entropy, r))
        for i, term in enumerate(terms):
            if i in kept:
                draws[i].append(fit.predictor.effects[i] * kept[i])
            else:
                draws[i].append(rng.standard_normal((term.n_levels, term.k)) @ scaled[fit.term_order.index(i)].T)
    return [np.stack(d) if d else np.zeros((0, t.n_levels, t.k)) for d, t in zip(draws, terms)]


def partition_noise(entropy: int, replicate: int, partition: int, n: int) -> np.ndarray:
    """The standard normal noise of simulation ``replicate`` on the ``n`` kept rows of partition ``partition``.

    Its stream depends on (entropy, replicate, partition) alone.

    Examples
    --------
    >>> bool(np.all(partition_noise(1, 0, 2, 3) == partition_noise(1, 0, 2, 5)[:3]))
    True
    """
    return np.random.default_rng(np.random.SeedSequence(entropy, spawn_key=(int(replicate), int(partition)))
                                 ).standard_normal(int(n))


def simulated_responses(coded: CodedPartition, partition: int, simulation: ResponseSimulation,
                        batch: ReplicateBatch) -> np.ndarray:
    """A coded partition's simulated responses, offset included: shape (kept rows, simulations of the batch)."""
    frame, order, replicates = coded.frame, simulation.predictor.matrices.term_order, batch.replicates
    n = len(frame.kept)
    responses = (coded.X @ simulation.predictor.beta + frame.offset)[:, None] + np.zeros((1, len(replicates)))
    for i, b in enumerate(batch.effects):
        layout = coded.layouts[order.index(i)]
        for a in range(layout.k):
            responses += layout.z[:, a, None] * b[:, layout.codes, a].T
    noise = np.column_stack([partition_noise(simulation.entropy, r, partition, n) for r in replicates])
    scale = np.full(n, simulation.sigma) if frame.weights is None else simulation.sigma / np.sqrt(frame.weights)
    return responses + scale[:, None] * noise


def partition_response_products(part: pd.DataFrame, partition: int, simulation: ResponseSimulation,
                                batch: ReplicateBatch) -> tuple[np.ndarray, np.ndarray]:
    """One partition's part of each simulated response's cross-products.

    Parameters
    ----------
    part : pandas.DataFrame
        The partition.
    partition : int
        Its position in the frame.
    simulation : ResponseSimulation
    batch : ReplicateBatch

    Returns
    -------
    products : ndarray, shape (q + p, B)
        ``[Z X]' W (y* - offset)`` per simulation (rows as :func:`~mixedfx.linalg.cross.response_map`'s).
    squares : ndarray, shape (B,)
        ``(y* - offset)' W (y* - offset)`` per simulation.
    """
    coded = coded_partition(part, simulation.request, simulation.predictor.matrices)
    frame = coded.frame
    size = sum(t.k * t.n_levels for t in coded.factored) + coded.X.shape[1]
    if not len(frame.kept):
        return np.zeros((size, len(batch.replicates))), np.zeros(len(batch.replicates))
    less_offset = simulated_responses(coded, partition, simulation, batch) - frame.offset[:, None]
    weighted = less_offset if frame.weights is None else frame.weights[:, None] * less_offset
    products = response_map(coded.factored, coded.X, frame.weights) @ less_offset
    return np.asarray(products), np.einsum("ib,ib->b", less_offset, weighted)


def lazy_simulations(fit: PartitionedLmerFit, nsim: int, seed: int | None = None,
                     re_form: str | None = None) -> Any:
    """Responses simulated from a fit on its Dask DataFrame's rows, as a lazy Dask DataFrame.

    Column ``sim_<r + 1>`` holds the response simulation r of :func:`mixedfx.bootstrap`
    with the same seed refits (the same random effects and per-partition noise streams).

    Parameters
    ----------
    fit : PartitionedLmerFit
    nsim : int
        Simulations (the columns; the client holds their random effects, the workers a
        partition's rows x nsim at a time).
    seed : int, optional
        Seed of the draws (the same seed gives the same draws).
    re_form : str, optional
        As for :func:`replicate_effects`.

    Returns
    -------
    dask.dataframe.DataFrame
        Columns ``sim_1`` .. ``sim_<nsim>``, on the kept rows' index (lme4 simulates the rows used).
    """
    if not isinstance(nsim, (int, np.integer)) or isinstance(nsim, bool) or nsim < 1:
        raise ValueError(f"nsim must be a positive whole number, not {nsim!r}")
    if seed is not None and (not isinstance(seed, (int, np.integer)) or isinstance(seed, bool)):
        raise TypeError(f"seed must be a whole number or None for a fit from a Dask DataFrame, not {seed!r}")
    import dask  # noqa: PLC0415 - Dask is an optional extra, loaded for partitioned data only

    entropy = int(np.random.SeedSequence(seed).entropy)
    replicates = np.arange(int(nsim))
    simulation = ResponseSimulation(request=fit.design.request, predictor=fit.predictor, sigma=fit.sigma,
                                    entropy=entropy)
    batch = ReplicateBatch(replicates=replicates, effects=replicate_effects(fit, entropy, replicates, re_form))
    names = [f"sim_{r + 1}" for r in replicates]
    return fit.data.map_partitions(_simulated_partition, dask.delayed(simulation, traverse=False),
                                   dask.delayed(batch, traverse=False),
                                   meta=pd.DataFrame({name: pd.Series(dtype=float) for name in names}))


def _simulated_partition(part: pd.DataFrame, simulation: ResponseSimulation, batch: ReplicateBatch,
                         partition_info: dict | None = None) -> pd.DataFrame:
    """One partition's simulated responses (Dask passes the partition's position as ``partition_info``)."""
    coded = coded_partition(part, simulation.request, simulation.predictor.matrices)
    partition = 0 if partition_info is None else partition_info["number"]
    values = simulated_responses(coded, partition, simulation, batch)
    return pd.DataFrame(values, index=part.index[coded.frame.kept],
                        columns=[f"sim_{r + 1}" for r in batch.replicates])


def _add_products(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray,
                                                                                              np.ndarray]:
    return a[0] + b[0], a[1] + b[1]


def batch_size_for(largest_partition: int, effects: int) -> int:
    """Simulations per pass: as many as keep a partition's rows x simulations, and the ``effects`` (random and
    fixed) x simulations the pass sums, under :data:`BATCH_BYTES`.

    Examples
    --------
    >>> batch_size_for(1_000_000, 500), batch_size_for(60, 40)
    (4, 69905)
    """
    return max(1, BATCH_BYTES // (DOUBLE * max(int(largest_partition), int(effects), 1)))


def bootstrap_refits(fit: PartitionedLmerFit, nsim: int, entropy: int, re_form: str | None = None,
                     client: Any = None, batch_size: int | None = None) -> Iterator[list[Callable[[], LmerFit]]]:
    """The simulations' refits, a batch per pass over the fit's partitions (what :func:`mixedfx.bootstrap` reads).

    Parameters
    ----------
    fit : PartitionedLmerFit
        A fit from a Dask DataFrame (persist the frame, ``ddf.persist()``, so that
        each pass reads the partitions from the workers' memory).
    nsim : int
        Simulations.
    entropy : int
        The seed sequence's entropy.
    re_form : str, optional
        None (or ``"~0"``): new random effects for every term, lme4's default; a
        formula of bar terms: those keep their conditional modes (:func:`replicate_effects`).
    client : distributed.Client, optional
        Run the passes on this cluster; by default on the Dask frame's scheduler.
    batch_size : int, optional
        Simulations per pass; by default :func:`batch_size_for` the largest partition
        (the most kept rows, recorded by the fit's pass) and the number of effects.

    Yields
    ------
    list of callable
        Per batch, each simulation's refit (a :class:`SimulatedLmerFit`), made when called.
    """
    model = fit.model
    size = model.cross.layout.order - 1
    if batch_size is None:
        batch_size = batch_size_for(fit.design.totals.largest_partition, size)
    elif not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive whole number, not {batch_size!r}")
    import dask  # noqa: PLC0415 - Dask is an optional extra, loaded for partitioned data only

    simulation = ResponseSimulation(request=fit.design.request, predictor=fit.predictor, sigma=fit.sigma,
                                    entropy=int(entropy))
    for start in range(0, int(nsim), int(batch_size)):
        replicates = np.arange(start, min(int(nsim), start + int(batch_size)))
        batch = ReplicateBatch(replicates=replicates, effects=replicate_effects(fit, entropy, replicates, re_form))
        with dask.config.set(scheduler=client) if client is not None else nullcontext():
            products, squares = reduce_partitions(fit.data, partition_response_products, _add_products, simulation,
                                                  batch, numbered=True)
        yield [partial(_refit, fit, products[:, j], squares[j]) for j in range(len(replicates))]


def _refit(fit: PartitionedLmerFit, products: np.ndarray, squares: float) -> LmerFit:
    return fit.refit_model(fit.model.with_response_products(products, squares))


class SimulatedLmerFit(LmerFit):
    """A fit to a response simulated on a Dask DataFrame's partitions, from its summed products alone.

    Its estimates, ``VarCorr``, ``logLik``, tests and intervals read as any fit's;
    what reads the rows or the simulated response (residuals, the summary's
    residual quantiles: ``summary(show_resids=False)`` prints the rest) raises
    :class:`~mixedfx.errors.RowsElsewhereError`.
    """

    def __init__(self, model: LinearMixedModel, opt: OptSummary, control: LmerControl,
                 design: PartitionedDesign) -> None:
        super().__init__(model, opt, control)
        self.design = design
        """The fitted frame's passes' totals (X's columns for lme4's scale check)."""

    def _scale_x_message(self, tol: float) -> str | None:
        return spread_message(self.design.x_deviations(), tol)

    def _refit_of(self, model: LinearMixedModel, opt: OptSummary, control: LmerControl) -> SimulatedLmerFit:
        return SimulatedLmerFit(model, opt, control, self.design)
