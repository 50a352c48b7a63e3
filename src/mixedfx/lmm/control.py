"""lme4's lmerControl: the settings of a linear fit, in one place."""

from __future__ import annotations

from dataclasses import dataclass, field

from mixedfx.optim.checks import CheckSettings, check_control_fields
from mixedfx.optim.choice import optimizer_named
from mixedfx.optim.optimize import OptimizerSettings

__all__ = ["LmerControl"]


@dataclass(frozen=True)
class LmerControl(OptimizerSettings, CheckSettings):
    """Optimiser settings for :func:`mixedfx.lmer` (lme4's ``lmerControl``).

    Attributes
    ----------
    optimizer : str, optional
        lme4's name of the optimiser to run: ``"nloptwrap"`` (lme4's default,
        BOBYQA through nlopt), ``"bobyqa"``, ``"Nelder_Mead"``, ``"nlminbwrap"``,
        ``"nmkbw"``, ``"optimx.L-BFGS-B"`` or an ``"nloptwrap.NLOPT_LN_..."``
        (:mod:`mixedfx.optim.choice`); the fit's ``optimizer`` names it. None
        lets mixedfx choose (see ``use_gradient``).
    xtol_abs, ftol_abs : float
        BOBYQA's absolute tolerances (lme4's nloptwrap defaults).
    maxeval : int
        Most deviance evaluations.
    restart_edge, inward_tol, inward_share
        The checks of a fit that ends on the boundary
        (:class:`mixedfx.optim.optimize.OptimizerSettings`, :mod:`mixedfx.optim.boundary`).
    boundary_tol : float
        Parameters this close to their bound are set onto it when that does not
        raise the deviance (0 turns it off).
    boundary_share : float
        A diagonal theta below this share of its term's largest is set to 0
        where that does not raise the deviance: a gradient method stops short of
        a zero there (a correlation of 0.999 where the optimum is 1); 0 turns it off.
    singular_tol : float
        ``is_singular`` holds when a diagonal theta is below this (lme4's
        ``check.conv.singular`` tolerance).
    check_conv_grad, check_conv_hess, check_conv_singular, check_scale_x (and their ``_tol``)
        lme4's checks and their actions (:class:`mixedfx.optim.checks.CheckSettings`).
    theta0 : sequence of float, optional
        Starting theta in lme4's order; lme4's defaults when omitted.
    calc_derivs : bool
        Check convergence on the finite-difference gradient and Hessian over
        theta, as lme4 (computed when ``messages`` is first read).
    use_gradient : bool
        Where the criterion has an analytic gradient, minimise on it: every term
        scalar on a large crossed design, or vector-valued terms after a scalar first
        term with a sparse coupling, by Newton steps on the average information
        (:mod:`mixedfx.lmm.information`; 5 to 10 evaluations where BOBYQA takes 40
        to 100), other vector-valued terms with a dense coupling (crossed maximal models,
        :mod:`mixedfx.linalg.derivatives`) by L-BFGS-B (40 to 70 evaluations where
        BOBYQA takes 400 to 2000, and lower optima where BOBYQA stalls). A failed
        run is redone with BOBYQA; one that ends with a variance on zero goes
        through lme4's edge check (``restart_edge``), and where the criterion falls
        inward the gradient path starts again from just inside. The fit's
        ``optimizer`` names what ran. False keeps lme4's BOBYQA.
    first_step_share : float
        L-BFGS-B's first step as a share of the largest starting theta (at
        least this share itself): longer first steps land on the bounds more
        often (where BOBYQA must take over), shorter ones cost line-search
        evaluations.
    refit_first_step, refit_least_step : float
        A refit starts BOBYQA from the fit's theta with first steps of this
        share of each value, at least ``refit_least_step``: the new optimum is near.
    """

    optimizer: str | None = None
    boundary_tol: float = 1e-5
    boundary_share: float = 0.01
    singular_tol: float = 1e-4
    theta0: tuple[float, ...] | None = field(default=None)
    calc_derivs: bool = True
    use_gradient: bool = True
    first_step_share: float = 0.1
    refit_first_step: float = 0.1
    refit_least_step: float = 0.02

    def __post_init__(self) -> None:
        super().__post_init__()
        check_control_fields(self)
        if self.optimizer is not None:
            optimizer_named(self.optimizer)
