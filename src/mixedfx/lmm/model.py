"""The linear mixed model: profiled deviance over theta and its optimisation."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import cached_property, partial
from typing import TYPE_CHECKING

import numpy as np

from mixedfx.design.matrices import ModelMatrices
from mixedfx.design.remote_rows import RemoteRows
from mixedfx.design.reterms import ReTerm
from mixedfx.lmm.control import LmerControl
from mixedfx.lmm.criterion import LOG_2PI, profiled_criterion
from mixedfx.lmm.information import (SMALLEST_THETA, CONVERGED, CriterionPoint, average_information,
                                    information_minimise)
from mixedfx.linalg.cross import (CrossProducts, cross_products, response_map, scale_columns, transform_dense,
                                  with_response)
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.factorizer import factorizer_for
from mixedfx.linalg.layout import (TermLayout, kernel_theta, rescaled_terms, term_layouts, theta_lower_bounds,
                                   theta_scales)
from mixedfx.linalg.merge import MergedFactorizer, TermMerge, merge_shared_groups
from mixedfx.linalg.row_statistics import RowStatistics, row_statistics
from mixedfx.linalg.threads import limited_blas
from mixedfx.optim.boundary import leave_boundary, settle_on_boundary
from mixedfx.optim.choice import optimizer_named
from mixedfx.optim.trace import traced
from mixedfx.optim.optimize import OptSummary, bobyqa, lbfgsb
from mixedfx.lmm.gradient import GradientWorkspace, criterion_gradient, spherical_effects, template_gradient

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = ["ModelBlocks", "LinearMixedModel"]

@dataclass(frozen=True)
class ModelBlocks:
    """A model's cross-product blocks and row sums, formed away from this process (a distributed pass).

    Attributes
    ----------
    cross : CrossProducts
        The blocks of the factored terms, X's kept columns only.
    statistics : RowStatistics
        The row sums.
    layouts : list of TermLayout
        The terms (lme4's order); their rows are not read.
    merge : TermMerge or None
        How terms on one grouping factor are factored as one (:func:`mixedfx.linalg.merge.merge_shared_groups`).
    """

    cross: CrossProducts
    statistics: RowStatistics
    layouts: list[TermLayout]
    merge: TermMerge | None


class LinearMixedModel:
    """A linear mixed model ready to evaluate its profiled deviance.

    Building it forms the cross-product blocks (the one pass over the rows);
    :meth:`objective` then costs nothing that grows with the number of rows.

    Parameters
    ----------
    matrices : ModelMatrices
        The model's matrices from :func:`mixedfx.design.matrices.build_model_matrices`.
    reml : bool
        Optimise the REML criterion (True) or the deviance (False).
    """

    def __init__(self, matrices: ModelMatrices, reml: bool = True, blocks: ModelBlocks | None = None) -> None:
        self.matrices = matrices
        self.reml = reml
        self.order = matrices.term_order
        self.terms: list[ReTerm] = matrices.ordered_terms
        self.n, self.p = matrices.X.shape
        groups = [t.group for t in self.terms]
        if blocks is None:
            self.layouts = term_layouts(self.terms)
            merge = merge_shared_groups(self.layouts, groups)
            self.factored_layouts = self.layouts if merge is None else merge.layouts
            self.cross = cross_products(self.factored_layouts, matrices.X, self.y, matrices.weights)
            self.statistics = row_statistics(self.layouts, matrices.y, matrices.weights)
        else:
            self.layouts = blocks.layouts
            merge = blocks.merge
            self.factored_layouts = self.layouts if merge is None else merge.layouts
            self.cross, self.statistics = blocks.cross, blocks.statistics
        """The terms the factorisation sees: those on one grouping factor merged (:mod:`mixedfx.linalg.merge`)."""
        self.merge = merge
        """How terms on one grouping factor are factored as one (None where none share a factor)."""
        self.factorizer = factorizer_for(self.cross)
        if merge is not None:
            self.factorizer = MergedFactorizer(self.factorizer, merge)
        self.blas_threads = self.factorizer.blas_threads
        """BLAS threads for the criterion and its derivatives (None: BLAS's own; :mod:`mixedfx.linalg.threads`)."""
        self.last_factor: tuple[CrossProducts, bytes, BlockedFactor] | None = None
        """Where the last gradient-path optimisation ended on the point it evaluated last: that point's blocks,
        theta (as bytes) and factor, which :meth:`factor` returns there instead of factoring again. The factor
        lives in that optimisation's workspace, which nothing writes to once it has ended."""
        self.ks = [t.k for t in self.terms]
        self.lower = theta_lower_bounds(self.ks)
        self.log_det_weights = self.statistics.log_weights
        self.blocks = blocks
        """The blocks this model was given (a distributed pass), None where it formed them from its rows."""

    @cached_property
    def y(self) -> np.ndarray:
        """The response less the offset, one value per row."""
        return np.asarray(self.matrices.y, dtype=float) - self.matrices.offset

    def with_criterion(self, reml: bool) -> LinearMixedModel:
        """The same model (sharing its cross-products) optimising REML or ML."""
        other = copy.copy(self)
        other.reml = reml
        self._carry_rescaled(other, lambda rescaled: rescaled.with_criterion(reml))
        return other

    def _carry_rescaled(self, other: LinearMixedModel, change: Callable[[LinearMixedModel], LinearMixedModel]) -> None:
        """Give ``other`` (a changed copy) the same change of this model's rescaled twin, if that was built:
        the copy must not keep the twin of the unchanged model, and the change costs less than a rebuild."""
        rescaled = self.__dict__.get("_rescaled")
        other.__dict__.pop("_rescaled", None)
        if rescaled is not None:
            other.__dict__["_rescaled"] = change(rescaled)

    @cached_property
    def _rescaled(self) -> LinearMixedModel:
        """The model on Z's columns divided by their root mean squares (:attr:`theta_scales`), made once:
        from the rows where this model has them, else by scaling the blocks."""
        scales = self.statistics.column_scales()
        if self.blocks is None:
            in_formula_order = [scales[self.order.index(i)] for i in range(len(scales))]
            terms = rescaled_terms(self.matrices.re_terms, in_formula_order)
            return LinearMixedModel(replace(self.matrices, re_terms=terms), self.reml)
        statistics = replace(self.statistics, z_squares=[z / s**2 for z, s in zip(self.statistics.z_squares, scales)])
        blocks = replace(self.blocks, cross=scale_columns(self.cross, self._factored_scales()), statistics=statistics)
        return LinearMixedModel(self.matrices, self.reml, blocks)

    def _factored_scales(self) -> list[np.ndarray]:
        """The columns' scales (:meth:`RowStatistics.column_scales`) per term the factorisation sees."""
        scales = self.statistics.column_scales()
        merge = self.merge
        return scales if merge is None else [np.concatenate([scales[i] for i in m]) for m in merge.members]

    @cached_property
    def _response_map(self) -> np.ndarray | sp.csr_matrix:
        """[Z X]' W, formed on first use: what a new response's cross-products need."""
        return response_map(self.factored_layouts, self.matrices.X, self.matrices.weights)

    def with_response(self, y: np.ndarray) -> LinearMixedModel:
        """The same model for another response (same X, Z, weights and offset).

        Only the response's cross-products are formed: one sparse product with
        [Z X]' W, no pass building Z or X.

        Parameters
        ----------
        y : ndarray, shape (n,)
            The new response (offset not subtracted).

        Returns
        -------
        LinearMixedModel
        """
        y = np.asarray(y, dtype=float)
        if y.shape != (self.n,):
            raise ValueError(f"the new response has shape {y.shape}; the model has {self.n} observations")
        less_offset = y - self.matrices.offset
        w = self.matrices.weights
        wy = less_offset if w is None else w * less_offset
        other = self._with_response_cross(with_response(self.cross, self._response_map @ less_offset,
                                                        float(less_offset @ wy)), y)
        other.y = less_offset
        self._carry_rescaled(other, lambda rescaled: rescaled.with_response(y))
        return other

    def with_response_products(self, products: np.ndarray, yy: float) -> LinearMixedModel:
        """The same model for a response known by its cross-products alone (formed where its rows are).

        Parameters
        ----------
        products : ndarray, shape (q + p,)
            [Z X]' W (y - offset) for the new response y, rows ordered as :func:`~mixedfx.linalg.cross.response_map`'s
            over the factored terms.
        yy : float
            (y - offset)' W (y - offset).

        Returns
        -------
        LinearMixedModel
            Its response is :class:`~mixedfx.design.remote_rows.RemoteRows`: what reads it raises
            :class:`~mixedfx.errors.RowsElsewhereError`.
        """
        products = np.asarray(products, dtype=float)
        if products.shape != (self.cross.layout.order - 1,):
            raise ValueError(f"products has shape {products.shape}; this model has {self.cross.layout.order - 1} "
                             "random and fixed effects")
        other = self._with_response_cross(with_response(self.cross, products, float(yy)),
                                          RemoteRows((self.n,), "the new response"))
        other.y = other.matrices.y
        if "_rescaled" in self.__dict__:  # its Z columns are divided by their scales, so are its products
            divisors = np.concatenate([np.tile(s, n) for s, n in zip(self._factored_scales(),
                                                                      self.cross.layout.n_levels)] + [np.ones(self.p)])
            self._carry_rescaled(other, lambda rescaled: rescaled.with_response_products(products / divisors, yy))
        return other

    def _with_response_cross(self, cross: CrossProducts, y: np.ndarray | RemoteRows) -> LinearMixedModel:
        """A copy with another response's blocks (X's and Z's shared) and its factoriser."""
        other = copy.copy(self)
        other.matrices = replace(self.matrices, y=y)
        other.cross = cross
        other.factorizer = self.factorizer.with_cross(cross)
        other.__dict__.pop("_rescaled", None)
        return other

    def with_fixed_effect(self, j: int, value: float) -> LinearMixedModel:
        """The model with the j-th fixed effect held at ``value`` (its column moved into the offset).

        The cross-products are transformed, not formed again from the rows.

        Parameters
        ----------
        j : int
            Column of X.
        value : float
            The coefficient's fixed value.

        Returns
        -------
        LinearMixedModel
            With p - 1 fixed effects.
        """
        X = self.matrices.X
        keep = [i for i in range(self.p) if i != j]
        T = np.zeros((self.p + 1, self.p))
        T[keep, np.arange(self.p - 1)] = 1.0
        T[self.p, -1] = 1.0
        T[j, -1] = -value
        other = copy.copy(self)
        other.__dict__.pop("_response_map", None)
        names = [self.matrices.x_names[i] for i in keep]
        if self.blocks is None:
            other.matrices = replace(self.matrices, X=X[:, keep], x_names=names,
                                     offset=self.matrices.offset + value * X[:, j])
            other.y = self.y - value * X[:, j]
        else:  # the rows stay on the workers: the blocks say all the criterion needs
            gram = self.matrices.x_gram
            other.matrices = replace(self.matrices, X=RemoteRows((self.n, self.p - 1), "the fixed-effects matrix"),
                                     x_names=names, remote_x_gram=gram[np.ix_(keep, keep)])
        other.p = self.p - 1
        other.cross = transform_dense(self.cross, T)
        other.factorizer = self.factorizer.with_cross(other.cross)
        self._carry_rescaled(other, lambda rescaled: rescaled.with_fixed_effect(j, value))
        return other

    def factor(self, theta: np.ndarray) -> BlockedFactor:
        """The blocked Cholesky factor at ``theta`` (lme4's order)."""
        theta = np.asarray(theta, dtype=float)
        kept = self.last_factor
        if kept is not None and kept[0] is self.cross and kept[1] == theta.tobytes():
            return kept[2]
        return self.factorizer.factor(theta)

    def deviance_from_factor(self, factor: BlockedFactor, reml: bool | None = None) -> float:
        """Profiled deviance (ML) or REML criterion from a factorisation."""
        return self.criterion(factor.logdet_re, factor.logdet_x, factor.pwrss, self.reml if reml is None else reml)

    def criterion(self, logdet_re: float, logdet_x: float, pwrss: float, reml: bool) -> float:
        """The profiled deviance (ML) or REML criterion from a factor's parts.

        ML: ``log|L_Z|^2 + n (1 + log(2 pi pwrss / n))``; REML adds ``log|R_X|^2``
        and takes ``n - p`` for n; both less log|W| of the prior weights.
        """
        return float(profiled_criterion(logdet_re, logdet_x, pwrss, self.n - self.p if reml else self.n,
                                        self.log_det_weights, reml))

    def deviance_at_scale(self, theta: np.ndarray, sigma: float, reml: bool | None = None) -> float:
        """The deviance (or REML criterion) at theta and a given sigma, not profiled over sigma.

        lme4's ``devfun2`` (profiles) and lmerTest's ``devfun_vp`` (Satterthwaite):
        ``log|L_Z|^2 + pwrss / sigma^2 + n log(2 pi sigma^2) - log|W|``; REML adds
        ``log|R_X|^2`` and takes ``n - p`` for n. At the profiled sigma it equals
        :meth:`criterion`.

        Raises
        ------
        numpy.linalg.LinAlgError
            Where the factorisation fails.
        """
        reml = self.reml if reml is None else reml
        factor = self.factor(theta)
        dof = self.n - self.p if reml else self.n
        value = (factor.logdet_re + factor.pwrss / sigma**2 + dof * (LOG_2PI + 2.0 * math.log(sigma))
                 - self.log_det_weights)
        return float(value + factor.logdet_x) if reml else float(value)

    @property
    def has_gradient(self) -> bool:
        """Whether :meth:`objective_and_gradient` applies: where the factoriser has a gradient (its ``gradient``:
        crossed scalar terms, or vector-valued terms but for sparse products after a vector-valued first term)."""
        return self.factorizer.gradient is not None

    def objective_and_gradient(self, theta: np.ndarray,
                               workspace: GradientWorkspace | None = None) -> tuple[float, np.ndarray]:
        """The criterion and its gradient over theta (only where :attr:`has_gradient`).

        ``inf`` and a NaN gradient where the factorisation fails.
        """
        theta = np.asarray(theta, dtype=float)
        return _value_and_gradient(self._criterion_point(theta, workspace), theta)

    @property
    def _dof(self) -> int:
        """The criterion's residual degrees of freedom."""
        return self.n - self.p if self.reml else self.n

    def _criterion_point(self, theta: np.ndarray, workspace: GradientWorkspace | None,
                         with_gradient: bool = True) -> CriterionPoint | None:
        """The criterion (and its gradient) with what a step needs at theta; None where the factorisation fails.

        With a workspace, the point's factor lives in it until the next call.
        """
        vector = with_gradient and self.factorizer.gradient == "vector"
        try:
            if vector:
                size = self.cross.layout.q_rest + (self.p if self.reml else 0)
                factor, derivatives = self.factorizer.factor_with_derivatives(theta, size)
            else:
                factor = self.factorizer.factor(theta, None if workspace is None else workspace.rest)
        except np.linalg.LinAlgError:
            return None
        point = CriterionPoint(theta, self.deviance_from_factor(factor), factor)
        if vector:
            return replace(point, gradient=template_gradient(derivatives, factor.pwrss, self._dof))
        if not with_gradient:
            return point
        u = spherical_effects(self.cross, factor, theta)
        return replace(point, u=u,
                       gradient=criterion_gradient(self.factorizer, factor, theta, self.reml, self._dof, workspace, u))

    def objective(self, theta: np.ndarray) -> float:
        """The criterion the fit minimises; ``inf`` where the factorisation fails."""
        try:
            parts = self.factorizer.criterion_parts(theta)
        except np.linalg.LinAlgError:
            return np.inf
        return self.criterion(*parts, self.reml)

    def start_theta(self) -> np.ndarray:
        """lme4's starting values (mkLmerDevfun).

        When every term is ``(1 | f)`` on distinct factors, theta_i =
        sqrt(v_i / (var(y) - sum v)), v_i the variance over the rows of the group
        means of the response by the i-th factor; otherwise (or when the
        denominator is not positive) 1 on the diagonal and 0 below it.
        """
        scalar = all(list(t.z_names) == ["(Intercept)"] for t in self.terms)
        distinct = len({t.group for t in self.terms}) == len(self.terms)
        if not (scalar and distinct):
            return np.where(self.lower == 0.0, 1.0, 0.0)
        stats = self.statistics
        n, mean = stats.n, stats.response_sum / stats.n
        # the variance over the rows of each row's group mean, and of the response (levels without rows left out)
        spreads = [(np.sum(sums**2 / counts if counts.min() > 0 else sums[counts > 0] ** 2 / counts[counts > 0])
                    - n * mean**2) / (n - 1) for sums, counts in zip(stats.level_sums, stats.level_counts)]
        residual = (stats.response_squares - n * mean**2) / (n - 1) - sum(spreads)
        if not residual > 0:
            return np.ones(len(spreads))
        return np.sqrt(np.asarray(spreads) / residual)

    def optimize(self, control: LmerControl, optimizer: Callable[..., OptSummary] | None = None,
                 initial_step: np.ndarray | None = None, from_optimum: bool = False) -> OptSummary:
        """Minimise the criterion over theta as lme4's ``optimizeLmer`` does.

        Without ``optimizer``: ``control.optimizer`` where it names one, else
        steps on the analytic gradient where the model has one and
        ``control.use_gradient`` holds (see :class:`LmerControl`), BOBYQA otherwise. ``initial_step``, when given, is
        BOBYQA's first step per parameter (smaller steps suit a start near the optimum, as a refit's).
        ``from_optimum`` says the start is another fit's optimum (a refit's): a one-term model then takes the
        compiled Newton steps (:mod:`mixedfx.lmm.one_term_steps`) whatever the term's width. lme4's refit is
        BOBYQA from there, a path no fit of its own follows, so the steps' optimum (as low or lower) stands.
        """
        with limited_blas(self.blas_threads):
            return self._optimize(control, optimizer, initial_step, from_optimum=from_optimum)

    @cached_property
    def theta_scales(self) -> np.ndarray | None:
        """Per theta entry, its Z column's root mean square where the columns' scales differ (else None).

        Such a model is optimised on rescaled columns (:func:`mixedfx.linalg.layout.theta_scales`):
        lme4 (and the optimisers) land far from the optimum, or fail, on the raw scale.
        """
        return theta_scales(self.statistics.column_scales())

    def _optimize(self, control: LmerControl, optimizer: Callable[..., OptSummary] | None,
                  initial_step: np.ndarray | None, start: np.ndarray | None = None,
                  on_one_scale: bool = False, from_optimum: bool = False) -> OptSummary:
        """:meth:`optimize`'s work: ``start`` overrides ``control.theta0``; ``on_one_scale`` skips the check of the
        columns' scales (the rescaled twin's are one scale by construction)."""
        if optimizer is None and control.optimizer is not None:
            optimizer = optimizer_named(control.optimizer)
        if start is not None:
            x0 = start
        else:
            x0 = np.asarray(control.theta0, dtype=float) if control.theta0 is not None else self.start_theta()
        if x0.shape != self.lower.shape:
            raise ValueError(f"control.theta0 has {x0.size} values; this model has {self.lower.size} "
                             f"covariance parameters")
        scales = None if on_one_scale else self.theta_scales
        if scales is not None:
            step = None if initial_step is None else initial_step * scales
            # lme4's start (1 on the diagonal) is meant for the rescaled columns; a given start is carried over
            given = None if control.theta0 is None and start is None else x0 * scales
            summary, spent = self._steps_on_rescaled_columns(control, optimizer, x0 if given is None else given,
                                                             scales, from_optimum)
            if summary is None:
                summary = self._rescaled._optimize(control, optimizer, step, given, on_one_scale=True)
                summary = replace(summary, feval=summary.feval + spent)
            return replace(summary, x0=summary.x0 / scales, x=summary.x / scales, factorizer=self.factorizer.name)
        options = control.optimizer_options
        objective = traced(self.objective, control.verbose)
        summary, spent, restart, on_gradient = None, 0, optimizer or bobyqa, False
        if self._takes_gradient_path(control, optimizer):
            trial = self._gradient_minimise(x0, control)
            # on a bound the gradient vanishes (the criterion is even in each theta), so a gradient
            # method cannot tell a minimum there from a saddle: lme4's edge check below decides,
            # and where moving inward helps the gradient path starts again from inside
            if trial.return_code > 0:
                summary, restart, on_gradient = trial, partial(self._inward_restart, control=control), True
            spent = trial.feval
        elif self._takes_compiled_steps(control, optimizer, from_optimum):  # a refit of a term of one or two columns
            summary, spent = self._compiled_steps(x0, np.full(self.ks[0], SMALLEST_THETA))
            restart, on_gradient = partial(self._inward_restart, control=control), summary is not None
        if summary is None:
            first = options if initial_step is None else dict(options, initial_step=initial_step)
            if optimizer is None and not control.verbose and self.factorizer.compiled_criterion is not None:
                summary = self._compiled_bobyqa(objective, x0, first)
            else:
                summary = (optimizer or bobyqa)(objective, x0, self.lower, **first)
            summary = replace(summary, feval=summary.feval + spent) if spent else summary
        return self._checked_at_boundary(summary, objective, restart, on_gradient, control)

    def _checked_at_boundary(self, summary: OptSummary, objective: Callable[[np.ndarray], float],
                             restart: Callable[..., OptSummary], on_gradient: bool, control: LmerControl) -> OptSummary:
        """lme4's edge check and the restarts from variances near zero (:func:`~mixedfx.optim.boundary.leave_boundary`),
        then the parameters next to zero set onto it (:func:`~mixedfx.optim.boundary.settle_on_boundary`)."""
        summary = leave_boundary(summary, objective, self.lower, self.ks, control,
                                 (control.refit_first_step, control.refit_least_step), optimizer=restart,
                                 collinear=on_gradient)
        summary = settle_on_boundary(summary, objective, self.lower, self.ks, control.boundary_tol,
                                     control.boundary_share)
        name = self.factorizer.name
        return summary if summary.factorizer == name else replace(summary, factorizer=name)

    def _takes_gradient_path(self, control: LmerControl, optimizer: Callable[..., OptSummary] | None) -> bool:
        """Whether the optimisation starts on the analytic gradient (no optimiser named, the gradient asked for and
        available)."""
        return optimizer is None and control.use_gradient and self.has_gradient

    def _takes_compiled_steps(self, control: LmerControl, optimizer: Callable[..., OptSummary] | None,
                              from_optimum: bool) -> bool:
        """Whether the optimisation starts with :mod:`mixedfx.lmm.one_term_steps`: where the factoriser takes them
        (``information_steps``) on the gradient path, or, from another fit's optimum, wherever they can run."""
        if control.verbose or not control.use_gradient or optimizer is not None:
            return False
        return (self.factorizer.information_steps == "one term, compiled"
                or (from_optimum and self.factorizer.compiled_steps))

    def _steps_on_rescaled_columns(self, control: LmerControl, optimizer: Callable[..., OptSummary] | None,
                                   start: np.ndarray, scales: np.ndarray,
                                   from_optimum: bool = False) -> tuple[OptSummary | None, int]:
        """The rescaled twin's compiled Newton steps (from ``start``, on its scale), run on this model's blocks.

        Newton steps on the covariances do not see the columns' scales (the start,
        and the stop near a zero variance, are carried over by ``scales``), so the
        twin (:attr:`_rescaled`) is built only where its criterion is evaluated: by the
        boundary checks where they act. Returns the checked summary on the twin's
        scale, or None (with the evaluations spent) where the steps do not apply or
        do not converge: the twin then optimises from the start.
        """
        if not self._takes_compiled_steps(control, optimizer, from_optimum):
            return None, 0
        diagonal = self.lower == 0.0  # the template's diagonal entries, in order
        summary, spent = self._compiled_steps(start / scales, SMALLEST_THETA / scales[diagonal])
        if summary is None:
            return None, spent
        summary = replace(summary, x0=start, x=summary.x * scales)

        def twin_objective(theta: np.ndarray) -> float:
            return self._rescaled.objective(theta)

        def twin_restart(*args, **options) -> OptSummary:
            return self._rescaled._inward_restart(*args, control=control, **options)

        return self._checked_at_boundary(summary, twin_objective, twin_restart, True, control), spent

    def _compiled_bobyqa(self, objective: Callable[[np.ndarray], float], x0: np.ndarray, options: dict) -> OptSummary:
        """BOBYQA with nlopt calling the compiled criterion itself (:mod:`mixedfx.optim.compiled_bobyqa`)."""
        from mixedfx.lmm.compiled_objective import compiled_objective  # noqa: PLC0415 - numba loads when used
        from mixedfx.optim.compiled_bobyqa import compiled_bobyqa  # noqa: PLC0415

        compiled = compiled_objective(self.factorizer.compiled_criterion, self._dof, self.log_det_weights, self.reml)
        return compiled_bobyqa(compiled, objective, x0, self.lower, **options, factorizer=self.factorizer.name)

    def _inward_restart(self, objective: Callable[[np.ndarray], float], x: np.ndarray, lower: np.ndarray, *,
                        control: LmerControl, **options) -> OptSummary:
        """:func:`~mixedfx.optim.optimize.restart_from_edge`'s optimiser after the gradient path: that path again,
        from a point moved off the bounds (where the gradient vanishes) by a tenth of its first step; BOBYQA where
        the model has no gradient (a refit's steps on a term of one or two columns).
        """
        if not self.has_gradient:
            return bobyqa(objective, x, lower, **options)
        inside = np.where(x <= lower, lower + 0.1 * _first_step(x, control.first_step_share), x)
        summary = self._gradient_minimise(inside, control)
        if summary.return_code < 0:
            return bobyqa(objective, x, lower, **options)
        return summary

    def _gradient_minimise(self, x0: np.ndarray, control: LmerControl) -> OptSummary:
        """Newton steps on the average information from ``x0``, or L-BFGS-B where they do not apply.

        Both on the analytic gradient.
        """
        x0 = np.asarray(x0, dtype=float)
        steps = self.factorizer.information_steps
        if steps == "one term, compiled":
            # verbose prints each evaluation as lme4 does: its own path, without the steps
            summary, spent = (None, 0) if control.verbose else self._compiled_steps(x0, np.full(self.ks[0],
                                                                                                 SMALLEST_THETA))
            if summary is not None:
                return summary
            # the steps failing, the model's own path from the start, as without them
            return self._evaluated_minimise(x0, control, steps=False, spent=spent)
        return self._evaluated_minimise(x0, control, steps=steps is not None)

    def _evaluated_minimise(self, x0: np.ndarray, control: LmerControl, steps: bool, spent: int = 0) -> OptSummary:
        """:mod:`mixedfx.lmm.information`'s steps (where ``steps``), then L-BFGS-B from the lowest point they met,
        with arrays kept across their evaluations; ``spent`` evaluations made before are counted."""
        workspace = GradientWorkspace(self.cross.a_rr.shape[0])
        last: dict[str, CriterionPoint | None] = {}
        best = {"theta": x0, "value": np.inf}

        point_at = traced(lambda theta, with_gradient: self._criterion_point(theta, workspace, with_gradient),
                          control.verbose, value_of=lambda point: np.inf if point is None else point.value)

        def evaluate(theta: np.ndarray, with_gradient: bool = True) -> CriterionPoint | None:
            point = last["point"] = point_at(theta, with_gradient)
            if point is not None and point.value < best["value"]:
                best.update(theta=np.array(theta, dtype=float), value=point.value)
            return point

        def value_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
            return _value_and_gradient(evaluate(theta), theta)

        summary = None
        if steps:
            summary, used = information_minimise(evaluate, partial(average_information, self.cross), x0, self._dof,
                                                 self.ks)
            spent += used
        if summary is None:
            # from the lowest point the steps reached: nearer the optimum than the start
            start = best["theta"]
            summary = lbfgsb(value_and_gradient, start, self.lower,
                             first_step=_first_step(start, control.first_step_share), maxeval=control.maxeval)
            summary = replace(summary, x0=x0, feval=summary.feval + spent)
        point = last.get("point")
        if point is not None and point.theta.tobytes() == summary.x.tobytes():
            # the optimum was the last point evaluated: factor() takes its factor (in the workspace,
            # which nothing writes to any more) rather than factoring again
            self.last_factor = (self.cross, summary.x.tobytes(), point.factor)
        return summary

    def _compiled_steps(self, x0: np.ndarray, smallest: np.ndarray) -> tuple[OptSummary | None, int]:
        """:func:`mixedfx.lmm.one_term_steps.one_term_steps` from ``x0``, stopping where a diagonal entry of the
        template falls below ``smallest``: its summary (None where the steps did not converge) and its evaluations."""
        from mixedfx.lmm.one_term_steps import one_term_steps  # noqa: PLC0415 - numba loads when used

        code, theta, value, evaluations = one_term_steps(*self.factorizer.blocks, kernel_theta(x0), smallest,
                                                         self.p if self.reml else 0, self._dof,
                                                         self.log_det_weights, self.reml)
        if code != CONVERGED:
            return None, evaluations
        return OptSummary(optimizer="ai-newton", x0=x0, x=theta, fval=float(value), feval=evaluations,
                          return_code=CONVERGED, factorizer=self.factorizer.name), evaluations

def _first_step(theta: np.ndarray, share: float) -> float:
    """L-BFGS-B's first step from ``theta``: a share of its largest value (of the share itself near zero)."""
    return share * max(float(np.max(theta)), share)


def _value_and_gradient(point: CriterionPoint | None, theta: np.ndarray) -> tuple[float, np.ndarray]:
    """A point's value and gradient; ``inf`` and NaN where its factorisation failed (None)."""
    return (np.inf, np.full(theta.shape, np.nan)) if point is None else (point.value, point.gradient)
