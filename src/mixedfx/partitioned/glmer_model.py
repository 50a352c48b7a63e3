"""A generalized linear mixed model of a Dask frame's rows, its PIRLS run by rounds over the partitions.

:func:`partitioned_glmer_model` reads the frame twice: the witness rows give the
model's levels and codings (:func:`~mixedfx.partitioned.design.prototype_matrices`),
then each partition codes its rows for the family
(:func:`~mixedfx.partitioned.glmer_rows.partition_glmer_rows`) and keeps them on
its worker. X's rank comes from the summed X'X as for ``lmer``, lme4's checks
run on the totals, and :class:`PartitionedGeneralizedModel` is the in-memory
:class:`~mixedfx.glmm.model.GeneralizedLinearMixedModel` with its PIRLS
replaced by :class:`~mixedfx.partitioned.pirls.PartitionedPirls`: lme4's two
stages, their optimisers, starts and boundary checks are the in-memory
model's, on the same deviance. Where Z's or X's columns' scales are widely
spread, it optimises, as the in-memory fit does, on rescaled columns
(:meth:`~mixedfx.glmm.model.GeneralizedLinearMixedModel.rescaling`, decided on
the columns' sums of squares the rows' summary holds): a round makes rescaled
copies of the kept rows on the workers, dropped when the fit is done.

Passes over the Dask frame: two (the witness rows, then the rows coded and
kept), and before them those the formula's ``poly()``, ``scale()``, ``bs()`` and
``ns()`` learn from (:mod:`mixedfx.partitioned.transforms`). Rounds of tasks
over the kept rows: each evaluation of the deviance is a PIRLS run from its
stage's start (a round per iteration and step-halving, about 3 to 5; the blocks
at the start are formed once per stage). For scalar terms with the
binomial-logit or Poisson-log family, the exact gradient the in-memory fit
follows costs one more round per iteration of the run
(:mod:`~mixedfx.partitioned.glmer_gradient`), so the fit takes the in-memory
fit's path; elsewhere finite differences. The evaluations the optimiser asks
for together (the Hessian's gradients, a Newton step's finite differences) run
in threads whose rounds go in step
(:meth:`~mixedfx.partitioned.pirls.PartitionedPirls.round`): about 65 rounds
for cbpp's fit (about 100 on finite differences). ``model.rounds`` counts them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from mixedfx.design.checks import check_covariance_size, check_factor_response, check_grouping_factors
from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.rank import gram_rank_keep
from mixedfx.design.remote_rows import RemoteRows, rows_elsewhere
from mixedfx.errors import MixedFxError
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.families import Family
from mixedfx.glmm.family_kernels import compiled_family
from mixedfx.glmm.model import GeneralizedLinearMixedModel, GlmmOptimum
from mixedfx.glmm.pirls import PirlsResult
from mixedfx.linalg.layout import TermLayout, templates, term_effects
from mixedfx.linalg.memory import check_dense_blocks
from mixedfx.optim.optimize import OptSummary
from mixedfx.partitioned.glmer_gradient import PartitionedLaplaceRuns
from mixedfx.partitioned.design import column_deviations, kept_matrices, prototype_matrices, remote_matrices
from mixedfx.partitioned.glmer_rows import (RowsSummary, add_summaries, check_varying_response, keep_columns,
                                            partition_glmer_rows, rescaled_rows, rows_summary)
from mixedfx.partitioned.pirls import (PartitionedPirls, PartitionedPirlsResult, StepOrder, partition_step,
                                      start_state)
from mixedfx.partitioned.request import PassRequest
from mixedfx.partitioned.store import PartitionValues

__all__ = ["PartitionedGeneralizedModel", "partitioned_glmer_model", "PARTITIONED_FAMILIES", "check_partitioned"]

PARTITIONED_FAMILIES = ("binomial", "poisson")
"""Families a fit from a Dask frame takes: their log-likelihood adds up over rows (the others' dispersion does not)."""

DERIVATIVE_THREADS = 16
"""Evaluations run at once where the optimiser asks for many together: each waits on its rounds' tasks, so
their latencies overlap (the cluster's workers decide how much of the work does)."""


def check_partitioned(family: Family, n_agq: int) -> None:
    """Refuse what a fit from a Dask frame does not do yet, saying to fit the rows in memory for it.

    Raises
    ------
    MixedFxError
    """
    if family.name not in PARTITIONED_FAMILIES:
        raise MixedFxError(f"glmer on a Dask DataFrame takes the binomial and poisson families, not {family.name}: "
                           "fit the rows in memory (data=ddf.compute()) for it")
    if n_agq > 1:
        raise MixedFxError(f"glmer on a Dask DataFrame takes nAGQ 0 or 1, not {n_agq} (adaptive Gauss-Hermite "
                           "quadrature): fit the rows in memory (data=ddf.compute()) for it")


class PartitionedGeneralizedModel(GeneralizedLinearMixedModel):
    """:class:`~mixedfx.glmm.model.GeneralizedLinearMixedModel` whose rows stay in a Dask frame's partitions.

    Its deviances, stages, optimisers and rescaling of widely spread columns are the in-memory model's
    (:meth:`~mixedfx.glmm.model.GeneralizedLinearMixedModel.fit`); PIRLS runs
    by rounds of tasks over the partitions (:class:`~mixedfx.partitioned.pirls.PartitionedPirls`),
    each run of a stage from that stage's start, kept on the workers.

    Parameters
    ----------
    matrices : ModelMatrices
        The model's matrices, :class:`~mixedfx.design.remote_rows.RemoteRows` in place of rows.
    family : Family
    n_agq : int
        0 or 1.
    control : GlmerControl
    rows : PartitionValues
        Each partition's :class:`~mixedfx.partitioned.glmer_rows.GlmerRows`.
    summary : RowsSummary
        X's sums and X'X (every column), Z's columns' sums of squares and the row counts.
    keep : list of int
        X's columns kept by the rank check.
    request : PassRequest
        The formula and arguments each pass over the frame reads.
    prototype : ModelMatrices
        The coding without rows, X's kept columns (what codes a partition's rows).
    """

    def __init__(self, matrices: ModelMatrices, family: Family, n_agq: int, control: GlmerControl,
                 rows: PartitionValues, summary: RowsSummary, keep: list[int], request: PassRequest,
                 prototype: ModelMatrices) -> None:
        # the in-memory constructor reads the rows: its structure is taken here, on the remote rows
        self._take_structure(matrices, family, n_agq, control,
                             [TermLayout(codes=t.codes, z=t.z, n_levels=t.n_levels) for t in matrices.ordered_terms])
        # what in-memory code reads of the family's response raises RowsElsewhereError, saying what to do
        self.y = matrices.y
        self.weights = RemoteRows((self.n,), "the prior weights")
        self.n_trials = RemoteRows((self.n,), "the binomial trials")
        self.log_likelihood = None
        self.blas_threads = None
        self.rows, self.summary, self.keep = rows, summary, keep
        self.rows_request, self.prototype = request, prototype
        self.eta_start = rows.map(start_state)
        # one engine per stage, as in memory: each keeps the blocks at its stage's start
        self.pirls_engines = (PartitionedPirls(rows, family, self.layouts, self.p, control),
                              PartitionedPirls(rows, family, self.layouts, self.p, control))
        self.rescaled_rounds = 0
        """Rounds the fits on rescaled columns ran (:meth:`rescaled`), counted in :attr:`rounds`."""

    @property
    def rounds(self) -> int:
        """Rounds of tasks over the partitions PIRLS has run (both stages' engines, and those of the models on
        rescaled columns its fits optimised on)."""
        return sum(engine.rounds for engine in self.pirls_engines) + self.rescaled_rounds

    def pirls(self, theta: np.ndarray, beta: np.ndarray | None, eta_start: PartitionValues,
              mu_start: None = None) -> PirlsResult:
        """PIRLS at theta (at ``beta`` held in stage 2) from the partitions' states ``eta_start``.

        Raises
        ------
        PirlsError
        """
        if beta is None:
            return self.pirls_engines[0].run(theta, None, eta_start)
        return self.pirls_engines[1].run(theta, np.asarray(beta, dtype=float), eta_start)

    @property
    def _has_gradient(self) -> bool:
        """The in-memory condition on the rows here: scalar terms, the binomial-logit or Poisson-log family, and a
        log-likelihood of per-row terms in every partition."""
        return (all(k == 1 for k in self.ks) and compiled_family(self.family) != 0
                and self.summary.per_row_log_likelihood)

    def laplace_value_and_gradient(self, eta_start: PartitionValues, stage: int = 2) -> PartitionedLaplaceRuns:
        """A stage's Laplace deviance and its exact gradient, by rounds over the partitions
        (:mod:`~mixedfx.partitioned.glmer_gradient`)."""
        return PartitionedLaplaceRuns(self, eta_start, stage)

    def start_means(self, eta_start: PartitionValues) -> None:
        """Nothing: each partition computes its means at each round."""
        return None

    def laplace_deviance(self, state: PartitionedPirlsResult) -> float:
        """lme4's Laplace deviance: log|L|^2 + ||u||^2 + the family's AIC term (summed over the partitions)."""
        return float(state.logdet_re + state.u @ state.u + state.aic_sum)

    def column_scales(self) -> tuple[list[np.ndarray], np.ndarray]:
        """The root mean squares of Z's columns per term (lme4's order) and of X's kept columns, from the sums of
        squares the rows' summary holds: :meth:`GeneralizedLinearMixedModel.fit` rescales on them as in memory."""
        z_scales, x_scales = self.summary.column_scales()
        return z_scales, x_scales[self.keep]

    def rescaled(self, z_scales: list[np.ndarray], x_scales: np.ndarray) -> PartitionedGeneralizedModel:
        """This model on Z's columns divided by ``z_scales`` (per term, lme4's order) and X's by ``x_scales``: one
        round over the kept rows making rescaled copies of them on the workers."""
        every_x_scale = np.ones(len(self.summary.x_sums))
        every_x_scale[self.keep] = x_scales
        summary = self.summary.rescaled(z_scales, every_x_scale)
        matrices = replace(self.matrices, remote_x_gram=summary.x_gram[np.ix_(self.keep, self.keep)])
        return PartitionedGeneralizedModel(matrices, self.family, self.n_agq, self.control,
                                           self.rows.map(rescaled_rows, z_scales, x_scales), summary, self.keep,
                                           self.rows_request, self.prototype)

    def _fit_rescaled(self, rescaled: GeneralizedLinearMixedModel, scales: np.ndarray, x_scales: np.ndarray,
                      theta0: np.ndarray | None, optimizer: Callable[..., OptSummary] | None,
                      beta0: np.ndarray | None) -> GlmmOptimum:
        """The in-memory model's fit on rescaled columns, its rounds added to this model's; then the rescaled rows
        leave the workers.

        Distributed keeps a value while anything computed from it is held: the
        optimum's linear predictors are therefore made again on this model's
        rows, from the estimates (the same up to rounding), and its stage-2 start
        (which only a profile would read) is dropped.
        """
        try:
            optimum = super()._fit_rescaled(rescaled, scales, x_scales, theta0, optimizer, beta0)
        finally:
            self.rescaled_rounds += rescaled.rounds
        state = optimum.state
        effects = term_effects(state.u, templates(optimum.theta, self.ks), self.n_levels)
        order = StepOrder(family=self.family, beta=state.beta, held_beta=None, effects=effects)
        (eta,), _ = self.rows.map_batch([((self.eta_start,), (order,))], partition_step)
        rescaled.rows.release()
        return replace(optimum, state=replace(state, eta=eta), eta_start=None)

    def _derivative_workers(self, seconds: float, batch: int) -> int:
        """Evaluations run at once: the rounds of many wait on the cluster together."""
        return max(1, min(batch, DERIVATIVE_THREADS))

    def working_response(self, eta: Any, base: Any) -> tuple[np.ndarray, np.ndarray]:
        """Not available here: the working response is formed partition by partition, on the workers."""
        raise rows_elsewhere("the working response and weights of every row (hat values, influence)")

    def with_response(self, y: np.ndarray) -> GeneralizedLinearMixedModel:
        """Not available: a new response would need its own pass (add it as a column and fit again)."""
        raise MixedFxError("a new response for a fit from a Dask DataFrame: add it as a column of the frame and "
                           "fit it with mfx.glmer(...)")

    def x_deviations(self) -> np.ndarray:
        """Standard deviations of X's kept non-0/1 columns (lme4's check.scaleX)."""
        s = self.summary
        return column_deviations(s.x_sums, s.x_gram, s.x_binary, s.n, self.keep)


def partitioned_glmer_model(frame: Any, request: PassRequest, family: Family, n_agq: int,
                            control: GlmerControl) -> PartitionedGeneralizedModel:
    """The generalized model of a Dask frame's rows, its rows coded once and kept on the workers.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
    request : PassRequest
    family : Family
        Binomial or Poisson (:data:`PARTITIONED_FAMILIES`).
    n_agq : int
        0 or 1.
    control : GlmerControl

    Returns
    -------
    PartitionedGeneralizedModel

    Raises
    ------
    FormulaError, DataError, MixedFxError
        As :func:`mixedfx.glmer` raises them for the same rows in memory, and for
        families and nAGQ the partitioned fit does not take.
    """
    check_partitioned(family, n_agq)
    request, prototype = prototype_matrices(frame, request)
    check_factor_response(prototype, family)
    rows = PartitionValues.from_frame(frame, partition_glmer_rows, request, prototype, family)
    summary = rows.reduce(rows_summary, add_summaries)
    check_varying_response(summary, prototype.response_name)
    keep = gram_rank_keep(summary.x_gram)
    if len(keep) < len(prototype.x_names):
        rows = rows.map(keep_columns, keep)
    kept = kept_matrices(prototype, keep)
    matrices = remote_matrices(kept, summary.n, summary.n_dropped_na, summary.x_gram[np.ix_(keep, keep)])
    terms = matrices.ordered_terms
    check_grouping_factors(terms, summary.n, allow_n=True)
    check_covariance_size(terms)
    check_dense_blocks(terms, len(keep))
    return PartitionedGeneralizedModel(matrices, family, n_agq, control, rows, summary, keep, request, kept)
