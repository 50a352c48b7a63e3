"""lme4's glmerControl: the settings of a generalized fit, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from mixedfx.optim.checks import CheckSettings, check_control_fields
from mixedfx.optim.choice import optimizer_named
from mixedfx.optim.optimize import OptimizerSettings

__all__ = ["GlmerControl"]


@dataclass(frozen=True)
class GlmerControl(OptimizerSettings, CheckSettings):
    """Settings for :func:`mixedfx.glmer` (lme4's ``glmerControl``).

    Attributes
    ----------
    tol_pwrss : float
        Relative change of the penalised deviance that ends PIRLS.
    max_pirls : int
        Most PIRLS iterations per evaluation (lme4's maxit; complete separation
        needs about 35).
    optimizer : str or (str, str), optional
        lme4's name of the optimiser for both stages, or one per stage
        (``("bobyqa", "Nelder_Mead")``, lme4's glmer default); the names of
        :class:`mixedfx.lmm.control.LmerControl`'s ``optimizer``. None lets
        mixedfx choose (see ``stage2_newton``, ``use_gradient``).
    xtol_abs, ftol_abs : float
        BOBYQA's absolute tolerances in both stages. ``ftol_abs`` is tighter than
        lmer's: with 1e-8 BOBYQA stops before the gradient passes lme4's
        convergence check (VerbAgg), where lme4's Nelder-Mead goes on.
    maxeval : int
        Most deviance evaluations per stage.
    restart_edge, inward_tol, inward_share
        The checks of a fit that ends on the boundary
        (:class:`mixedfx.optim.optimize.OptimizerSettings`, :mod:`mixedfx.optim.boundary`).
    boundary_tol : float
        Variance parameters this close to 0 are set to 0 when that does not raise
        the deviance.
    boundary_share : float
        A diagonal theta below this share of its term's largest is set to 0
        where that does not raise the deviance: a gradient method stops short of
        a zero there (a correlation of 0.999 where the optimum is 1); 0 turns it off.
    singular_tol : float
        ``is_singular`` holds when a diagonal theta is below this (lme4's
        ``check.conv.singular`` tolerance).
    check_conv_grad, check_conv_hess, check_conv_singular, check_scale_x (and their ``_tol``)
        lme4's checks and their actions (:class:`mixedfx.optim.checks.CheckSettings`).
    calc_derivs : bool
        Compute the Hessian at the optimum for the standard errors (lme4 1.1-31's
        ``deriv12``; from differences of the exact gradient where the deviance has
        one, see :attr:`GeneralizedLinearMixedModel.has_laplace_gradient`).
    stage2_newton : bool
        Start stage 2 with Newton steps (:mod:`mixedfx.optim.newton`), which need a
        fraction of BOBYQA's evaluations, and let stage 1, which then only
        supplies their start, stop early (BFGS steps on the exact gradient, or
        BOBYQA at tolerances of 1e-3); False runs BOBYQA alone at the tolerances
        above in both stages.
    use_gradient : bool
        Use the Laplace deviance's exact gradient where it has one (see
        :attr:`GeneralizedLinearMixedModel.has_laplace_gradient`): BFGS steps for
        stage 1's start, one run per Newton step and the Hessian from gradient
        differences. False keeps finite differences of the deviance throughout,
        lme4's ``deriv12`` for the Hessian included.
    scalar_newton : bool
        Fit a small model (rows x (p + 1)^2 up to
        :data:`mixedfx.glmm.model.SCALAR_NEWTON_MAX_WORK`) with one scalar
        random-effects term on the binomial logit or Poisson log link
        (nAGQ = 1) in one compiled call: lme4's stage 1 over
        theta, then Newton steps on theta and beta together on lme4's stage-2
        deviance, whose optimum and Hessian are lme4's
        (:mod:`mixedfx.glmm.scalar_laplace`; cbpp in about 1 ms). It falls back to
        the two stages below where the steps do not converge, where lme4's PIRLS
        at the optimum comes within a tenth of its tolerance of a third iteration
        (its deviance changes form there), or where theta ends below
        ``singular_tol``; the two stages' end then moves to the exact Laplace
        deviance's optimum where that is lower by more than
        :data:`mixedfx.glmm.model.EXACT_SLACK`. It needs ``stage2_newton``,
        ``use_gradient`` and ``compiled_pirls``.
    exact_laplace : bool
        With ``scalar_newton``: Newton steps on the exact Laplace deviance
        instead, skipping stage 1. They land on its optimum (glmmTMB's), whose
        logLik is as high as lme4's or higher, while lme4's estimates are those
        of PIRLS stopped at its tolerance: cbpp's fixed effects then differ from
        lme4's by up to 6e-4 (0.002 standard errors).
    compiled_pirls : bool
        Run PIRLS compiled where the model allows it (scalar terms; binomial logit
        or Poisson log): no Python between iterations. False runs the Python loop,
        which every model can take (for checking one against the other).
    stage1_start_tol : float
        Where stage 1 only supplies Newton's start: BOBYQA's xtol_abs and
        ftol_abs there (stage 1's optimum differs from stage 2's by more than
        this, and Newton steps converge from anywhere that close).
    stage1_first_step, stage1_gtol : float
        The BFGS steps' first step in theta and their tolerance on stage 1's exact
        gradient, in theta's units (1/30, 0.01 per first step, is about 1e-4 in theta).
    stage2_first_step, stage2_least_step : float
        BOBYQA's first trust region in stage 2 as a share of each starting value,
        at least ``stage2_least_step``: stage 1 ends near the optimum, and a small
        first step saves evaluations (VerbAgg 360 to 273).
    max_halvings : int
        Step-halvings PIRLS tries before it gives up on an iteration (lme4's 10).
    """

    ftol_abs: float = 1e-10
    tol_pwrss: float = 1e-7
    max_pirls: int = 100
    optimizer: str | tuple[str, str] | None = None
    boundary_tol: float = 1e-5
    boundary_share: float = 0.01
    singular_tol: float = 1e-4
    calc_derivs: bool = True
    stage2_newton: bool = True
    use_gradient: bool = True
    scalar_newton: bool = True
    exact_laplace: bool = False
    compiled_pirls: bool = True
    stage1_start_tol: float = 1e-3
    stage1_first_step: float = 0.3
    stage1_gtol: float = 1 / 30
    stage2_first_step: float = 0.05
    stage2_least_step: float = 0.01
    max_halvings: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        check_control_fields(self)
        for name in self.stage_optimizers:
            if name is not None:
                optimizer_named(name)

    @property
    def stage_optimizers(self) -> tuple[str | None, str | None]:
        """The optimiser named for each stage (None where mixedfx chooses)."""
        if isinstance(self.optimizer, tuple | list):
            if len(self.optimizer) != 2:
                raise ValueError(f"optimizer takes one name or one per stage (two), not {self.optimizer!r}")
            return self.optimizer[0], self.optimizer[1]
        return self.optimizer, self.optimizer
