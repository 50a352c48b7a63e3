"""PIRLS over partitions kept on the workers: one round of tasks per iteration, only blocks reach the client.

At fixed theta (and, in glmer's second stage, fixed beta) an iteration of
lme4's pwrssUpdate needs from the rows only the blocks of
[Z X z]'W[Z X z] at the working weights W and working response z of the
current linear predictor, and the deviance residuals' sum at the new one.
Each partition keeps its coded rows (:class:`~mixedfx.partitioned.glmer_rows.GlmerRows`)
and its current linear predictor (:class:`PartitionState`); a round
(:func:`partition_step`) moves each partition's eta to the coefficients the
client sends (eta = offset + X beta + Z Lambda u), and returns the deviance
residuals' and the family's AIC terms' sums there together with the blocks at
the working weights of that eta (:func:`~mixedfx.linalg.cross.cross_products`,
the function every fit forms its blocks with), which the next iteration
factors. The client sums them up a tree, factors them
(:func:`~mixedfx.linalg.factorizer.factorize`) and solves for (u, beta).

The loop is :func:`mixedfx.glmm.pirls_loop.pirls_loop`, the one both
in-memory engines run, with step-halving and lme4's stopping rule: a round per
update of the linear predictor (an iteration or a halving). The blocks at a
run's start are formed once per start (:meth:`PartitionedPirls.start_pieces`),
so a run from a start met before begins with a solve, not a round. As in lme4
(and the in-memory fit), every run of a stage starts from that stage's linear
predictor, so the deviance is a function of the parameters alone.

For the Laplace deviance's exact gradient a run records its iterations
(:meth:`PartitionedPirls.recorded_run`: the partitions' states stay on the
workers) and each of its rounds also takes the gradient's first pass
(:attr:`StepOrder.follow`); the backward rounds
(:mod:`~mixedfx.partitioned.glmer_gradient`) go through :meth:`PartitionedPirls.round`
too, so concurrent evaluations' rounds of either kind go together, in step.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.families import Family
from mixedfx.glmm.pirls import PirlsResult, raise_for_status, working_response
from mixedfx.glmm.pirls_loop import pirls_loop
from mixedfx.glmm.pirls_status import NOT_FINITE, NOT_POSITIVE_DEFINITE, OK
from mixedfx.linalg.cross import CrossProducts, add_cross_products, cross_products, settle_coupling, transform_dense
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.factorizer import factorize
from mixedfx.linalg.layout import TermLayout, random_part, templates, term_effects
from mixedfx.partitioned.glmer_rows import GlmerRows
from mixedfx.partitioned.store import PartitionValues

__all__ = ["StepOrder", "StepPieces", "PartitionState", "partition_step", "start_state", "PartitionedPirls",
           "PartitionedPirlsResult", "RecordedIteration", "RecordedRun"]


@dataclass(frozen=True)
class StepOrder:
    """What the client sends each partition for one round.

    Attributes
    ----------
    family : Family
    beta : ndarray, shape (p,)
        The fixed effects of the new linear predictor.
    held_beta : ndarray or None
        Stage 2's beta, held: the working response is taken less ``offset + X held_beta``
        and the blocks have no X columns. None in stage 1 (less the offset; X's columns in the blocks).
    effects : list of ndarray or None
        Each term's random effects b = Lambda u, (levels, k); None keeps each partition's linear predictor.
    follow : object or None
        For a run whose Laplace gradient will be taken: the gradient's first pass at the new linear
        predictor, ``follow.begin(rows, eta)`` (:class:`~mixedfx.partitioned.glmer_gradient.GradientBegin`),
        whose sums come with the round's.
    """

    family: Family
    beta: np.ndarray
    held_beta: np.ndarray | None
    effects: list[np.ndarray] | None
    follow: Any = None

    def apply(self, rows: GlmerRows, state: PartitionState) -> PartitionState:
        """This round on one partition (:func:`partition_step`)."""
        return partition_step(rows, state, self)


@dataclass(frozen=True)
class StepPieces:
    """A partition's sums at its linear predictor (or several partitions', added).

    Attributes
    ----------
    cross : CrossProducts
        The blocks at the working weights and response there.
    deviance : float
        The deviance residuals summed.
    aic : float
        The family's AIC term (-2 log-likelihood) summed.
    finite : bool
        Whether every working weight and response is finite.
    gradient : object or None
        The sums of the order's ``follow`` (:class:`~mixedfx.partitioned.glmer_gradient.GradientPieces`).
    """

    cross: CrossProducts
    deviance: float
    aic: float
    finite: bool
    gradient: Any = None

    def added(self, other: StepPieces) -> StepPieces:
        """Two partitions' sums added."""
        gradient = None if self.gradient is None else self.gradient.added(other.gradient)
        return StepPieces(cross=add_cross_products(self.cross, other.cross), deviance=self.deviance + other.deviance,
                          aic=self.aic + other.aic, finite=self.finite and other.finite, gradient=gradient)


@dataclass(frozen=True)
class PartitionState:
    """A partition's linear predictor and its sums there (None before the first round reads them), and what
    its order's ``follow`` keeps for the gradient (:class:`~mixedfx.partitioned.glmer_gradient.BackwardState`)."""

    eta: np.ndarray
    pieces: StepPieces | None = None
    backward: Any = None


def start_state(rows: GlmerRows) -> PartitionState:
    """A partition's state at the family's start (lme4's first PIRLS start)."""
    return PartitionState(eta=rows.eta_start)


def partition_step(rows: GlmerRows, state: PartitionState, order: StepOrder) -> PartitionState:
    """One round on one partition: the new linear predictor (or the current one), and its sums.

    Parameters
    ----------
    rows : GlmerRows
    state : PartitionState
        The partition's current linear predictor.
    order : StepOrder

    Returns
    -------
    PartitionState
    """
    family, X = order.family, rows.X
    eta = state.eta
    if order.effects is not None:
        eta = rows.offset + X @ order.beta + random_part([t.codes for t in rows.layouts],
                                                         [t.z for t in rows.layouts], order.effects)
    base = rows.offset if order.held_beta is None else rows.offset + X @ order.held_beta
    mu = family.link.linkinv(eta)
    resid = family.dev_resids(rows.y, mu, rows.weights)
    deviance = float(resid.sum())
    if rows.aic_shift is not None:
        aic = deviance + rows.aic_shift
    else:
        aic = family.aic(rows.y, rows.n_trials, mu, rows.weights, deviance)
    with np.errstate(all="ignore"):
        work_y, work_w = working_response(family, rows.y, rows.weights, eta, base)
    finite = bool(np.all(np.isfinite(work_y)) and np.all(np.isfinite(work_w)))
    columns = X if order.held_beta is None else np.zeros((X.shape[0], 0))
    if not finite:
        work_y, work_w = np.zeros_like(work_y), np.ones_like(work_w)
    cross = cross_products(rows.layouts, columns, work_y, work_w)
    backward = None if order.follow is None else order.follow.begin(rows, eta)
    pieces = StepPieces(cross=cross, deviance=deviance, aic=aic, finite=finite,
                        gradient=None if backward is None else backward.pieces)
    return PartitionState(eta=eta, pieces=pieces, backward=backward)


def _apply_order(rows: GlmerRows, *values_then_order: object) -> object:
    """A round's order on one partition's rows and its values (the order comes last)."""
    *values, order = values_then_order
    return order.apply(rows, *values)


def _batch_pieces(states: list) -> list:
    return [state.pieces for state in states]


def _add_batch_pieces(a: list, b: list) -> list:
    return [x.added(y) for x, y in zip(a, b)]


STARTS_KEPT = 2
"""Starts whose sums a stage's engine keeps: the stage's own and the one a run from the optimum's modes starts at."""


class _Pending:
    """A round asked for: the partitions' values it reads and its order, and (once run) its outcome or the error."""

    def __init__(self, values: tuple[PartitionValues, ...], order: object) -> None:
        self.values, self.order = values, order
        self.done = False
        self.result: tuple[PartitionValues, Any] | BaseException | None = None

    def outcome(self) -> tuple[PartitionValues, Any]:
        if isinstance(self.result, BaseException):
            raise self.result
        return self.result


@dataclass(frozen=True)
class PartitionedPirlsResult(PirlsResult):
    """PIRLS's state over partitions: ``eta`` holds each partition's linear predictor where it is kept
    (:class:`~mixedfx.partitioned.store.PartitionValues` of :class:`PartitionState`); ``mu`` and
    ``dev_resids`` are not gathered, their sums are here."""

    deviance_sum: float = field(default=0.0)
    aic_sum: float = field(default=0.0)

    @property
    def dev(self) -> float:
        """Sum of the deviance residuals (squared)."""
        return self.deviance_sum


class PartitionedPirls:
    """PIRLS for one stage over partitions kept on the workers.

    Parameters
    ----------
    rows : PartitionValues
        Each partition's :class:`GlmerRows`.
    family : Family
    layouts : list of TermLayout
        The terms (their sizes; their rows are on the workers), lme4's order.
    p : int
        Fixed effects.
    control : GlmerControl
    """

    def __init__(self, rows: PartitionValues, family: Family, layouts: list[TermLayout], p: int,
                 control: GlmerControl) -> None:
        self.rows, self.family, self.layouts, self.p = rows, family, layouts, p
        self.control = control
        self.ks = [t.k for t in layouts]
        self.n_levels = [t.n_levels for t in layouts]
        self.name = "PIRLS (partitioned, a round of tasks per iteration)"
        self.rounds = 0
        """Rounds of tasks over the partitions run so far (one per PIRLS iteration or halving, one per start)."""
        self._turn = threading.Condition()
        self._queue: list[_Pending] = []
        self._running = False
        self._active = 0  # evaluations under way in :meth:`evaluation`, whose next rounds a round waits for
        self._local = threading.local()
        self._start_lock = threading.Lock()
        self._starts: list[tuple[PartitionValues, StepPieces]] = []  # the last STARTS_KEPT starts' sums, newest last

    @contextmanager
    def evaluation(self) -> Iterator[None]:
        """Count this thread's evaluation (a run, a gradient) among those whose rounds go in step.

        While evaluations run in threads (the optimiser's points asked for
        together), a round waits until every one of them has asked for its next
        round or ended, and they all go in one: their runs advance in step
        rather than a round apart. Re-entrant within a thread.
        """
        depth = getattr(self._local, "depth", 0)
        self._local.depth = depth + 1
        if depth == 0:
            self._count_active(1)
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                self._count_active(-1)

    def _count_active(self, change: int) -> None:
        with self._turn:
            self._active += change
            self._turn.notify_all()

    @contextmanager
    def _waiting_outside(self) -> Iterator[None]:
        """Not counted among the evaluations a round waits for while this thread waits on something else."""
        counted = getattr(self._local, "depth", 0) > 0
        if counted:
            self._count_active(-1)
        try:
            yield
        finally:
            if counted:
                self._count_active(1)

    def round(self, values: tuple[PartitionValues, ...], order: Any) -> tuple[PartitionValues, Any]:
        """One round: ``order.apply(rows, *values)`` on each partition, and the results' ``pieces`` summed.

        A :class:`StepOrder` moves a partition's :class:`PartitionState` (``values``:
        the states); the Laplace gradient's orders go back through a run's
        iterations (:mod:`mixedfx.partitioned.glmer_gradient`). Rounds of
        concurrent evaluations (the optimiser's points asked for together, see
        :meth:`evaluation`) go together, one task per partition for all of them:
        the scheduler's cost per task, not the arithmetic, bounds a round over
        small partitions.
        """
        pending = _Pending(values, order)
        time.sleep(0)  # let threads just started register first: their first rounds then go with this one
        with self._turn:
            self._queue.append(pending)
            self._turn.notify_all()
            while not pending.done and (self._running or len(self._queue) < max(self._active, 1)):
                self._turn.wait()
            if pending.done:
                return pending.outcome()
            self._running, batch, self._queue = True, self._queue, []
        try:
            outcomes: list[tuple[PartitionValues, Any]] | BaseException = self._run_batch(batch)
        except BaseException as error:  # every waiting evaluation hears of it
            outcomes = error
        with self._turn:
            for i, waiting in enumerate(batch):
                waiting.result = outcomes if isinstance(outcomes, BaseException) else outcomes[i]
                waiting.done = True
            self._running = False
            self._turn.notify_all()
        return pending.outcome()

    def _run_batch(self, batch: list[_Pending]) -> list[tuple[PartitionValues, Any]]:
        self.rounds += 1
        moved, together = self.rows.map_batch([(p.values, (p.order,)) for p in batch], _apply_order)
        return list(zip(moved, together.reduce(_batch_pieces, _add_batch_pieces)))

    def start_pieces(self, start: PartitionValues, held: np.ndarray | None) -> StepPieces:
        """The sums at a run's start, for the first iteration: a round the first time a start is met.

        The sums at the last :data:`STARTS_KEPT` starts are kept (a fit's last
        stage runs from its start, once from the optimum's modes, then again from
        its start for the Hessian). The blocks at the start are formed once over [Z X c], c the working
        response less the offset; stage 2's, less ``offset + X beta`` for a held
        beta and without X, are the columns [Z (c - X beta)] of those
        (:func:`~mixedfx.linalg.cross.transform_dense`): so every later run from
        that start begins with a solve, not a round.
        """
        with self._waiting_outside():
            self._start_lock.acquire()
        try:
            known = [pieces for values, pieces in self._starts if values is start]
            if known:
                pieces = known[0]
            else:
                order = StepOrder(family=self.family, beta=np.zeros(self.p), held_beta=None, effects=None)
                pieces = self.round((start,), order)[1]
                self._starts = [*self._starts, (start, pieces)][-STARTS_KEPT:]
        finally:
            self._start_lock.release()
        if held is None:
            return pieces
        T = np.zeros((self.p + 1, 1))
        T[: self.p, 0], T[self.p, 0] = -held, 1.0
        return replace(pieces, cross=transform_dense(pieces.cross, T))

    def run(self, theta: np.ndarray, beta: np.ndarray | None, start: PartitionValues) -> PartitionedPirlsResult:
        """PIRLS at theta (stage 2: at ``beta`` held) from the partitions' states ``start``.

        Raises
        ------
        PirlsError
        """
        return self.recorded_run(theta, beta, start, None)[0]

    def recorded_run(self, theta: np.ndarray, beta: np.ndarray | None, start: PartitionValues,
                     follow: Callable[[np.ndarray], Any] | None) -> tuple[PartitionedPirlsResult, RecordedRun | None]:
        """:meth:`run`, and with ``follow`` its iterations (None where a step was halved: the path is not smooth).

        ``follow(u)`` is each update's :attr:`StepOrder.follow` at the random
        effects u. The iterations hold the partitions' states at their starts,
        kept on the workers while the record is.

        Raises
        ------
        PirlsError
        """
        ctrl = self.control
        track = follow is not None
        state = _RunState(self, theta, beta, start, follow)
        u, b = np.zeros(sum(k * n for k, n in zip(self.ks, self.n_levels))), np.zeros(self.p if beta is None else 0)
        with self.evaluation():
            status, _, smooth = _iterations(state, u, b, ctrl.tol_pwrss, ctrl.max_pirls, ctrl.max_halvings, track)
        raise_for_status(status, ctrl.max_pirls)
        factor, pieces = state.factor, state.pieces
        result = PartitionedPirlsResult(state.states, None, u, b if beta is None else beta, None, factor.logdet_re,
                                        lambda: factor, deviance_sum=pieces.deviance, aic_sum=pieces.aic)
        return result, RecordedRun(state.recorded, pieces.gradient) if track and smooth else None


@dataclass(frozen=True)
class RecordedRun:
    """A run's iterations and the sums of its last round's ``follow``, for the Laplace gradient.

    Attributes
    ----------
    iterations : list of RecordedIteration
    end_gradient : object
        The last update's :attr:`StepPieces.gradient`.
    """

    iterations: list[RecordedIteration]
    end_gradient: Any


@dataclass(frozen=True)
class RecordedIteration:
    """What the Laplace gradient needs of one partitioned PIRLS iteration (its rows' part stays on the workers).

    Attributes
    ----------
    states : PartitionValues
        The partitions' :class:`PartitionState` at the iteration's start.
    factor : BlockedFactor
        The factor at the working weights there.
    u : ndarray
        The random effects it solved for.
    """

    states: PartitionValues
    factor: BlockedFactor
    u: np.ndarray


class _RunState:
    """A partitioned run's state beyond (u, beta), and its steps for :func:`mixedfx.glmm.pirls_loop.pirls_loop`."""

    def __init__(self, engine: PartitionedPirls, theta: np.ndarray, beta: np.ndarray | None,
                 start: PartitionValues, follow: Callable[[np.ndarray], Any] | None) -> None:
        self.engine, self.theta, self.follow = engine, theta, follow
        self.held = None if beta is None else np.asarray(beta, dtype=float)
        self.templates = templates(theta, engine.ks)
        self.states = start
        self.pieces: StepPieces | None = None
        self.factor: BlockedFactor | None = None
        self.recorded: list[RecordedIteration] = []

    def order(self, u: np.ndarray | None, b: np.ndarray | None) -> StepOrder:
        engine = self.engine
        effects = None if u is None else term_effects(u, self.templates, engine.n_levels)
        beta = self.held if self.held is not None else (np.zeros(engine.p) if b is None else b.copy())
        follow = None if self.follow is None or u is None else self.follow(u.copy())
        return StepOrder(family=engine.family, beta=beta, held_beta=self.held, effects=effects, follow=follow)

    def solve(self, u: np.ndarray, b: np.ndarray) -> int:
        """The factor of the blocks at the current linear predictor (a round at a run's start), and (u, b)."""
        if self.pieces is None:
            self.pieces = self.engine.start_pieces(self.states, self.held)
        if not self.pieces.finite:
            return NOT_FINITE
        try:
            self.factor = factorize(settle_coupling(self.pieces.cross, self.engine.layouts), self.theta)
        except np.linalg.LinAlgError:
            return NOT_POSITIVE_DEFINITE
        b[:], u[:] = self.factor.solve_coefficients()
        return OK

    def update(self, u: np.ndarray, b: np.ndarray) -> float:
        """A round: each partition's linear predictor at (u, b), its sums and blocks; the penalised deviance."""
        self.states, self.pieces = self.engine.round((self.states,), self.order(u, b))
        return float(self.pieces.deviance + u @ u)

    def record(self, u: np.ndarray) -> None:
        """Keep the iteration's start (the partitions' states), its factor and its solution, for the gradient."""
        self.recorded.append(RecordedIteration(self.states, self.factor, u.copy()))


_iterations = pirls_loop(_RunState.solve, _RunState.update, _RunState.record)
