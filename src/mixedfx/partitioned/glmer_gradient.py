"""The Laplace deviance's exact gradient for a partitioned glmer: reverse mode through the recorded PIRLS rounds.

The in-memory gradient (:mod:`mixedfx.glmm.laplace_gradient`) goes back through a
run's iterations: between small solves with each iteration's factor it makes
passes over the rows that either sum over them (into the adjoints of u, beta and
theta) or move a per-row adjoint (of the linear predictor) from one iteration's
end to its start. Here each of those passes runs on every partition, by the same
row functions, and only their sums reach the client, which solves:

* each forward round of a recorded run also takes the deviance's adjoint at its
  new linear predictor and pulls it to (u, beta) (:class:`GradientBegin`): the
  last one's, at the run's end, starts the backward pass;
* then one round per iteration, last to first (:class:`GradientStep`): its push
  back to theta, the base and its start's linear predictor (the last
  iteration's with log|M|'s adjoint,
  :func:`~mixedfx.glmm.laplace_gradient.log_determinant_rows`, from the entries
  of ``M^-1`` that rows meet, which the client sends: :func:`inverse_entries`),
  and the previous iteration's pull (the first iteration's round sums the base's
  adjoint into the fixed effects' instead).

So a gradient costs the run's rounds and one more per iteration, whatever the
number of parameters, where finite differences cost a run per parameter. The
partitions' states at each iteration's start stay on the workers (what
:meth:`~mixedfx.partitioned.pirls.PartitionedPirls.recorded_run` returns keeps
them) until the gradient is taken; the working weights and response there are
computed again from them. Scalar terms and the binomial-logit and Poisson-log
families, as in memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg as sla
import scipy.sparse as sp

from mixedfx.glmm.family_kernels import PirlsResponse, compiled_family, means_into, working_values
from mixedfx.glmm.laplace_gradient import (deviance_adjoint, first_block_inverse, log_determinant_rows, pull_rows,
                                           push_rows, row_reach, tangent_sums)
from mixedfx.glmm.model import GeneralizedLinearMixedModel
from mixedfx.glmm.pirls import PirlsError
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.layout import kernel_theta
from mixedfx.partitioned.glmer_rows import GlmerRows
from mixedfx.partitioned.pirls import PartitionedPirlsResult, PartitionState, RecordedRun
from mixedfx.partitioned.store import PartitionValues

__all__ = ["InverseEntries", "inverse_entries", "GradientPieces", "BackwardState", "GradientBegin", "GradientStep",
           "PartitionedLaplaceRuns"]


@dataclass(frozen=True)
class InverseEntries:
    """The entries of ``M^-1`` (random effects) that rows meet, as the client sends them to every partition.

    Attributes
    ----------
    first : ndarray, shape (l_0,)
        The first term's diagonal block.
    keys, across : ndarray, shape (nnz,)
        The coupling block on its pattern: entry (k, i) of the rest's random row k and
        first-term level i under key ``i * q_rest + k``, keys ascending.
    inverse : ndarray, shape (q_rest, q_rest)
        The rest's random block.
    rest_offsets : ndarray, shape (T,)
        Where each term after the first starts among the rest's rows.
    """

    first: np.ndarray
    keys: np.ndarray
    across: np.ndarray
    inverse: np.ndarray
    rest_offsets: np.ndarray

    def positions(self, codes: np.ndarray) -> np.ndarray:
        """Each row's entry in ``across`` for each term after the first (``codes``: (T, n) levels); rows whose
        pair of levels is off the pattern (a term at theta 0, whose entries are 0) get the appended zero's."""
        q_rest = self.inverse.shape[0]
        pos = np.empty((codes.shape[0] - 1, codes.shape[1]), dtype=np.int64)
        for t in range(1, codes.shape[0]):
            keys = codes[0] * q_rest + self.rest_offsets[t] + codes[t]
            at = np.minimum(np.searchsorted(self.keys, keys), max(len(self.keys) - 1, 0))
            found = self.keys[at] == keys if len(self.keys) else np.zeros(len(keys), dtype=bool)
            pos[t - 1] = np.where(found, at, len(self.keys))
        return pos


def inverse_entries(factor: BlockedFactor, rest_offsets: np.ndarray) -> InverseEntries | None:
    """``M^-1`` where rows meet it, from a scalar-term model's factor (None where ``S^-1`` cannot be formed).

    ``rest_offsets`` (:attr:`InverseEntries.rest_offsets`) says where each term's rows are.

    ``S^-1``, the rest's random block, is formed whole (LAPACK's ``dpotri``; sent to
    every partition, ``q_rest^2`` floats, as in memory where it is formed whole too);
    the first block's diagonal and the coupling on its pattern by
    :func:`~mixedfx.glmm.laplace_gradient.first_block_inverse`, as in memory.

    Examples
    --------
    One term whose two levels' factor entries are 2 and 4: ``M^-1``'s diagonal is 1/4, 1/16.

    >>> from mixedfx.linalg.layout import BlockLayout
    >>> factor = BlockedFactor(l11=np.array([2.0, 4.0]).reshape(2, 1, 1), l_rr=np.ones((1, 1)),
    ...                        layout=BlockLayout(ks=[1], n_levels=[2], p=0), coupling=lambda: np.zeros((1, 2)))
    >>> inverse_entries(factor, np.zeros(1, dtype=np.int64)).first.tolist()
    [0.25, 0.0625]
    """
    q_rest = factor.q_rest
    l11 = np.ascontiguousarray(factor.l11[:, 0, 0])
    inverse = np.zeros((q_rest, q_rest))
    if q_rest:
        inverse, info = sla.lapack.dpotri(factor.l_rr[:q_rest, :q_rest], lower=1)
        if info != 0:
            return None
        inverse = np.tril(inverse) + np.tril(inverse, -1).T
    coupling = factor.l_r1[:q_rest]
    if sp.issparse(coupling):
        by_level = sp.csc_matrix(coupling)
        by_level.sort_indices()
        col_ptr, row_idx, values = by_level.indptr, by_level.indices, by_level.data
    else:  # a dense coupling: every pair on the pattern
        l0 = len(l11)
        col_ptr = np.arange(l0 + 1) * q_rest
        row_idx = np.tile(np.arange(q_rest), l0)
        values = np.asarray(coupling).T.ravel()
    col_ptr, row_idx = col_ptr.astype(np.int64), row_idx.astype(np.int64)
    first, across = first_block_inverse(col_ptr, row_idx, l11, np.ascontiguousarray(values, dtype=float),
                                        np.ascontiguousarray(inverse))
    keys = np.repeat(np.arange(len(l11), dtype=np.int64), np.diff(col_ptr)) * q_rest + row_idx
    return InverseEntries(first=first, keys=keys, across=np.append(across, 0.0), inverse=inverse,
                          rest_offsets=rest_offsets)


@dataclass(frozen=True)
class GradientPieces:
    """A partition's sums in one backward round (or several partitions', added).

    Attributes
    ----------
    xi_bar : ndarray, shape (q + p,)
        The adjoint of the next solve's solution (u, then stage 1's beta).
    theta_bar : ndarray, shape (T,)
        The gradient over theta gathered in this round.
    tangent : ndarray, shape (p,)
        Stage 2's gradient over beta (the first iteration's round only; zeros otherwise).
    """

    xi_bar: np.ndarray
    theta_bar: np.ndarray
    tangent: np.ndarray

    def added(self, other: GradientPieces) -> GradientPieces:
        """Two partitions' sums added."""
        return GradientPieces(self.xi_bar + other.xi_bar, self.theta_bar + other.theta_bar,
                              self.tangent + other.tangent)


@dataclass(frozen=True)
class BackwardState:
    """A partition's per-row adjoints between backward rounds, and its sums of the round that made them.

    Attributes
    ----------
    eta_bar : ndarray, shape (n,)
        The adjoint of the linear predictor at the end of the iteration next back.
    base_bar : ndarray, shape (n,) or None
        The adjoint of the base (offset plus X beta held), summed over the iterations so far; None (zeros) at the
        run's end, whose state keeps this one while the run's result is kept.
    pieces : GradientPieces
    """

    eta_bar: np.ndarray
    base_bar: np.ndarray | None
    pieces: GradientPieces


@dataclass(frozen=True)
class _GradientRows:
    """One partition's rows as the row functions read them, for a stage."""

    response: PirlsResponse
    system_t: np.ndarray
    tangent_t: np.ndarray
    codes: np.ndarray
    zs: np.ndarray
    base: np.ndarray


def _gradient_rows(rows: GlmerRows, code: int, held: np.ndarray | None) -> _GradientRows:
    """``rows`` for a stage: X's columns solved for in stage 1 (``held`` None), held at ``held`` in stage 2."""
    X_t = np.ascontiguousarray(rows.X.T, dtype=float)
    empty = np.zeros((0, X_t.shape[1]))
    base = rows.offset if held is None else rows.offset + rows.X @ held
    return _GradientRows(response=PirlsResponse(code, rows.y, rows.weights),
                         system_t=X_t if held is None else empty, tangent_t=empty if held is None else X_t,
                         codes=np.ascontiguousarray(np.stack([t.codes for t in rows.layouts]), dtype=np.int64),
                         zs=np.ascontiguousarray(np.stack([t.z[:, 0] for t in rows.layouts]), dtype=float),
                         base=np.ascontiguousarray(base, dtype=float))


def _step_rows(rows: _GradientRows, eta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """An iteration's (eta, mu, w, wy) at its start's linear predictor, as the compiled PIRLS records them."""
    n = len(eta)
    eta = np.ascontiguousarray(eta, dtype=float)
    mu, w, wy = np.empty(n), np.empty(n), np.empty(n)
    means_into(rows.response.family_code, eta, mu)
    working_values(rows.response, eta, mu, rows.base, w, wy)
    return eta, mu, w, wy


@dataclass(frozen=True)
class _Backward:
    """What every backward round of one gradient sends: the stage and the model's sizes."""

    code: int
    theta: np.ndarray
    held: np.ndarray | None
    u_offsets: np.ndarray
    n_system: int

    def pulled(self, rows: _GradientRows, eta_bar: np.ndarray, u_next: np.ndarray,
               theta_bar: np.ndarray) -> np.ndarray:
        """The pull of ``eta_bar`` at an iteration's end into (u, b) (and ``theta_bar``)."""
        reach, levels = row_reach(self.theta, rows.codes, rows.zs, self.u_offsets)
        xi_bar = np.zeros(self.u_offsets[-1] + self.n_system)
        pull_rows(rows.system_t, rows.zs, levels, reach, eta_bar, u_next, xi_bar, theta_bar,
                  np.empty((4, self.u_offsets[-1])))
        return xi_bar


@dataclass(frozen=True)
class GradientBegin:
    """The gradient's first pass, in each forward round of a recorded run (:attr:`~mixedfx.partitioned.pirls.StepOrder.follow`):
    the deviance's adjoint at the new linear predictor and its pull at the random effects ``u`` it came from.

    Only the last update's is used (the run's end); computing it in every update costs a pass over the
    rows, not a round.
    """

    backward: _Backward
    u: np.ndarray

    def begin(self, rows: GlmerRows, eta: np.ndarray) -> BackwardState:
        """One partition's part at its new linear predictor ``eta``."""
        back = self.backward
        gradient_rows = _gradient_rows(rows, back.code, back.held)
        n = len(eta)
        eta_end = np.ascontiguousarray(eta, dtype=float)
        mu_end = np.empty(n)
        means_into(back.code, eta_end, mu_end)
        eta_bar = np.empty(n)
        deviance_adjoint(back.code, rows.log_likelihood.a, rows.log_likelihood.b, eta_end, mu_end, eta_bar)
        theta_bar = np.zeros(len(back.theta))
        xi_bar = back.pulled(gradient_rows, eta_bar, self.u, theta_bar)
        return BackwardState(eta_bar=eta_bar, base_bar=None,
                             pieces=GradientPieces(xi_bar, theta_bar, np.zeros(gradient_rows.tangent_t.shape[0])))


@dataclass(frozen=True)
class GradientStep:
    """The backward round of iteration i: its push given ``lam``, then iteration i - 1's pull (or, for the
    first iteration, the base's adjoint summed into the fixed effects').

    Attributes
    ----------
    backward : _Backward
    lam : ndarray
        ``M_i^-1`` times the adjoint of iteration i's solution.
    u_next : ndarray
        Iteration i's solution.
    u_before : ndarray or None
        Iteration i - 1's solution; None for the first iteration.
    inverse : InverseEntries or None
        ``M_i^-1`` where rows meet it, for the last iteration (whose log|M| the deviance holds); None for the others.
    """

    backward: _Backward
    lam: np.ndarray
    u_next: np.ndarray
    u_before: np.ndarray | None
    inverse: InverseEntries | None

    def apply(self, rows: GlmerRows, start: PartitionState, end: PartitionState,
              previous: BackwardState | None = None) -> BackwardState:
        """One partition's part: ``start`` and ``end`` are its states at iteration i's start and end, ``previous``
        the round before's (for the last iteration, the run's end holds it)."""
        back = self.backward
        previous = end.backward if previous is None else previous
        gradient_rows = _gradient_rows(rows, back.code, back.held)
        n = len(start.eta)
        eta_bar = previous.eta_bar.copy()
        base_bar = np.zeros(n) if previous.base_bar is None else previous.base_bar.copy()
        theta_bar = np.zeros(len(back.theta))
        step_rows = _step_rows(gradient_rows, start.eta)
        w_bar = np.zeros(n)
        inverse = self.inverse
        if inverse is not None:
            log_determinant_rows(back.theta, gradient_rows.codes, gradient_rows.zs, inverse.rest_offsets,
                                 inverse.positions(gradient_rows.codes), inverse.first, inverse.across,
                                 inverse.inverse, step_rows[2], w_bar, theta_bar)
        reach, levels = row_reach(back.theta, gradient_rows.codes, gradient_rows.zs, back.u_offsets)
        push_rows(gradient_rows.response, gradient_rows.system_t, gradient_rows.zs, levels, reach, self.lam,
                  self.u_next, step_rows, np.ascontiguousarray(end.eta, dtype=float), gradient_rows.base, w_bar,
                  eta_bar, base_bar, theta_bar, np.empty(n))
        tangent = np.zeros(gradient_rows.tangent_t.shape[0])
        if self.u_before is None:
            tangent_sums(gradient_rows.tangent_t, base_bar, tangent)
            xi_bar = np.zeros(len(self.lam))
        else:
            xi_bar = back.pulled(gradient_rows, eta_bar, self.u_before, theta_bar)
        return BackwardState(eta_bar=eta_bar, base_bar=base_bar, pieces=GradientPieces(xi_bar, theta_bar, tangent))


class PartitionedLaplaceRuns:
    """:class:`mixedfx.glmm.laplace.LaplaceRuns` for a partitioned model: a stage's Laplace deviance and its
    exact gradient at a point, by one recorded PIRLS run and the backward rounds.

    Parameters
    ----------
    model : GeneralizedLinearMixedModel
        A :class:`~mixedfx.partitioned.glmer_model.PartitionedGeneralizedModel` of scalar terms, the
        binomial-logit or Poisson-log family.
    eta_start : PartitionValues
        The partitions' states each run starts from.
    stage : {1, 2}
    """

    def __init__(self, model: GeneralizedLinearMixedModel, eta_start: PartitionValues, stage: int) -> None:
        self.model, self.stage, self._start = model, stage, eta_start
        self._engine = model.pirls_engines[stage - 1]
        self._code = compiled_family(model.family)
        self._u_offsets = np.concatenate([[0], np.cumsum(model.n_levels)]).astype(np.int64)
        self._rest_offsets = np.concatenate([[0, 0], np.cumsum(model.n_levels[1:])])[: len(model.n_levels)].astype(
            np.int64)
        self._failed = np.full(len(model.lower) + (model.p if stage == 2 else 0), np.nan)
        self._last: tuple[bytes, PartitionedPirlsResult | None, np.ndarray] | None = None

    def _run(self, pars: np.ndarray) -> tuple[PartitionedPirlsResult | None, np.ndarray]:
        point = np.asarray(pars, dtype=float)
        key = point.tobytes()
        last = self._last
        if last is not None and last[0] == key:
            return last[1], last[2]
        theta, held = self.model.split(point) if self.stage == 2 else (point, None)
        back = _Backward(code=self._code, theta=kernel_theta(theta), held=held, u_offsets=self._u_offsets,
                         n_system=0 if held is not None else self.model.p)
        with self._engine.evaluation():  # the run and its backward rounds go in step with concurrent evaluations'
            try:
                result, record = self._engine.recorded_run(theta, held, self._start,
                                                           lambda u: GradientBegin(back, u))
            except PirlsError:
                result, gradient = None, self._failed
            else:
                gradient = self._failed if record is None else self._gradient(back, result, record)
        self._last = (key, result, gradient)
        return result, gradient

    def _gradient(self, back: _Backward, result: PartitionedPirlsResult, record: RecordedRun) -> np.ndarray:
        """Back through the recorded iterations, a round each (see the module's docstring)."""
        iterations = record.iterations
        last = len(iterations) - 1
        inverse = inverse_entries(iterations[last].factor, self._rest_offsets)
        if inverse is None:
            return self._failed
        theta_bar = record.end_gradient.theta_bar.copy()
        xi_bar = record.end_gradient.xi_bar.copy()
        xi_bar[: len(iterations[last].u)] += 2.0 * iterations[last].u
        previous: tuple[PartitionValues, ...] = ()
        for i in range(last, -1, -1):
            lam = iterations[i].factor.solve(xi_bar)
            end = iterations[i + 1].states if i < last else result.eta
            order = GradientStep(back, lam, iterations[i].u, iterations[i - 1].u if i else None,
                                 inverse if i == last else None)
            state, pieces = self._engine.round((iterations[i].states, end, *previous), order)
            previous = (state,)
            theta_bar += pieces.theta_bar
            xi_bar = pieces.xi_bar
        return np.concatenate([theta_bar, pieces.tangent])

    def __call__(self, pars: np.ndarray) -> tuple[float, np.ndarray]:
        result, gradient = self._run(pars)
        if result is None:
            return np.inf, self._failed
        return self.model.laplace_deviance(result), gradient

    def state(self, pars: np.ndarray) -> PartitionedPirlsResult:
        """PIRLS's state at ``pars`` (from the last run where it was there).

        Raises
        ------
        PirlsError
            Where PIRLS failed there.
        """
        result = self._run(pars)[0]
        if result is None:
            theta, held = self.model.split(pars) if self.stage == 2 else (np.asarray(pars, dtype=float), None)
            return self.model.pirls(theta, held, self._start)  # raises PIRLS's error
        return result
