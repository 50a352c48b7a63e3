"""What every fitted mixed model shares: random effects, variance components, predictions."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from mixedfx.design.matrices import ModelMatrices, pad_to_input
from mixedfx.design.reterms import ReTerm
from mixedfx.errors import DataError, MixedFxError
from mixedfx.fits.analysis import FitAnalysis
from mixedfx.fits.call import FitCall
from mixedfx.fits.getme import ModelTerms, get_me, model_frame, model_matrix, terms as model_terms
from mixedfx.fits.labels import names_index
from mixedfx.fits.prediction import Predictor
from mixedfx.fits.random_effects import RandomEffects
from mixedfx.fits.summary import FitSummary
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.lmm.control import LmerControl
from mixedfx.lmm.model import LinearMixedModel
from mixedfx.optim.checks import scale_x_message
from mixedfx.optim.optimize import OptSummary
from mixedfx.rbase.rmath import quantile7
from mixedfx.report.text import DIGITS, SummaryOptions, check_components, format_print

if TYPE_CHECKING:  # a linear fit never loads the generalized models
    from mixedfx.glmm.control import GlmerControl
    from mixedfx.glmm.model import GeneralizedLinearMixedModel

__all__ = ["MixedModelFit", "FitSummary", "SINGULAR_MESSAGE"]

SINGULAR_MESSAGE = "boundary (singular) fit: see help('isSingular')"
_CHECK_NAMES = {"scale_x": "scale_x", "singular": "conv_singular", "convergence": "conv_grad", "hessian": "conv_hess"}


class MixedModelFit(FitAnalysis, RandomEffects):
    """Accessors shared by linear and generalized fits (lme4's ``merMod``).

    Subclasses set the estimates in their constructor and provide ``sigma``,
    ``loglik``, ``vcov``, the response-scale methods, :meth:`refit` and
    :meth:`reoptimize`, and the checks behind :attr:`messages`
    (``_convergence_messages``, ``_vcov_messages``).

    The model, its control settings and the optimiser's record are public
    (:attr:`model`, :attr:`control`, :attr:`opt_summary`): inference and report
    code reads a fit through these and the documented accessors only.
    """

    def __init__(self, model: LinearMixedModel | GeneralizedLinearMixedModel, opt: OptSummary,
                 theta: np.ndarray, beta: np.ndarray | None, u: np.ndarray | None, factor: BlockedFactor | None,
                 control: LmerControl | GlmerControl, call: FitCall | None = None) -> None:
        self._call, self._model, self._control, self._opt = call, model, control, opt
        self._theta = np.asarray(theta, dtype=float)
        if factor is not None:  # else the subclass forms the estimates at theta when first read (LmerFit)
            self._beta = np.asarray(beta, dtype=float)
            self._u = u
            self._factor = factor
        # the diagonal entries (lower bound 0, theta_lower_bounds); a few values: Python floats decide faster
        tol = control.singular_tol
        self._singular = any(value < tol for value, bound in zip(self._theta.tolist(), model.lower.tolist())
                             if bound == 0.0)

    # --- the model and its pieces -----------------------------------------------
    @property
    def call(self) -> FitCall | None:
        """The call that made the fit (lme4's ``fit@call``); None for a fit built stage by stage."""
        return self._call

    def update(self, formula: str | None = None, **changed: Any) -> MixedModelFit:
        """The model fitted again with a changed formula or arguments, as lme4's ``update``.

        Parameters
        ----------
        formula : str, optional
            The change, with ``.`` for the fitted formula's sides: ``". ~ . - Days"``,
            ``". ~ . + (1 | item)"`` (R's ``update.formula``).
        **changed
            Arguments of the fitting function to change (``data=``, ``REML=``,
            ``weights=``, ``control=``, ``family=`` ...).

        Returns
        -------
        LmerFit or GlmerFit

        Raises
        ------
        MixedFxError
            A fit built stage by stage (no call to repeat).

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> fit.update(". ~ . - Days").formula_text
        'Reaction ~ (Days | Subject)'
        >>> fit.update(REML=False).reml
        False
        """
        if self._call is None:
            raise MixedFxError("this fit was built stage by stage and has no call to update; fit it with "
                               "mfx.lmer, mfx.glmer or mfx.glmer_nb to use update")
        return self._call.update(formula, **changed)

    def get_me(self, name: str | Sequence[str]) -> Any:
        """lme4's ``getME(fit, name)``: ``"X"``, ``"Z"``, ``"Lambda"``, ``"L"``, ``"theta"``, ``"devcomp"`` ...

        See :func:`mixedfx.fits.getme.get_me` for every name and what it returns.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> fit.get_me("Z").shape, fit.get_me("cnms")
        ((180, 36), {'Subject': ['(Intercept)', 'Days']})
        """
        return get_me(self, name)

    def model_frame(self, data: pd.DataFrame | None = None) -> pd.DataFrame:
        """R's ``model.frame(fit)``: the variables of the rows used (:func:`mixedfx.fits.getme.model_frame`).

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> list(fit.model_frame().columns)
        ['Reaction', 'Days', 'Subject']
        """
        return model_frame(self, data)

    def model_matrix(self, type: str = "fixed") -> Any:  # noqa: A002 - lme4's argument name
        """lme4's ``model.matrix(fit, type)``: ``"fixed"`` (X), ``"random"`` (Z) or ``"randomListRaw"``.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> fit.model_matrix().shape, fit.model_matrix("random").shape
        ((180, 2), (180, 36))
        """
        return model_matrix(self, type)

    @property
    def model(self) -> LinearMixedModel | GeneralizedLinearMixedModel:
        """The model that was optimised (its objective, its matrices, its factoriser or PIRLS engines)."""
        return self._model

    @property
    def control(self) -> LmerControl | GlmerControl:
        """The control settings the fit used."""
        return self._control

    @property
    def matrices(self) -> ModelMatrices:
        """The model's matrices (lme4's ``getME(fit, "X")``, ``"y"``, the terms...)."""
        return self._model.matrices

    @property
    def re_terms(self) -> list[ReTerm]:
        """The random-effects terms in lme4's order (the order of theta, ranef and VarCorr)."""
        return self._model.terms

    @property
    def terms(self) -> ModelTerms:
        """R's ``terms(fit)`` of the fixed part: its variables, term labels, intercept and offsets.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("angle ~ recipe * temp + (1 | replicate)", mfx.datasets.load("cake"))
        >>> fit.terms.term_labels, fit.terms.intercept
        (['recipe', 'temp', 'recipe:temp'], True)
        """
        return model_terms(self)

    @property
    def term_order(self) -> list[int]:
        """For each term in lme4's order, its position in the formula's terms (``matrices.re_terms``)."""
        return self._model.order

    @property
    def ks(self) -> list[int]:
        """Columns per random-effects term, lme4's order."""
        return [t.k for t in self.re_terms]

    @property
    def uses_scale(self) -> bool:
        """Whether the model has a residual scale parameter sigma (lme4's ``useSc``)."""
        return True

    @property
    def data_name(self) -> str | None:
        """The data's name as the summary prints it (the DataFrame's ``attrs["name"]``)."""
        return self.matrices.data_name

    @property
    def weights_name(self) -> str | None:
        """The weights as the summary names them (their column, or "weights")."""
        return self.matrices.weights_name

    @property
    def offset_name(self) -> str | None:
        """"offset" where an offset argument was given."""
        return self.matrices.offset_name

    def refit(self, newresp) -> MixedModelFit:
        """The same model fitted to a new response, reusing its structure (lme4's ``refit``)."""
        raise NotImplementedError

    def reoptimize(self, optimizer: str) -> MixedModelFit:
        """The same model optimised again from its start by another optimiser (what :func:`mixedfx.all_fit` runs).

        Parameters
        ----------
        optimizer : str
            A name of :data:`mixedfx.optim.optimize.OPTIMIZERS`.
        """
        raise NotImplementedError

    def _response_array(self, newresp) -> np.ndarray:
        """A new response as floats on the fitted rows; pandas objects are aligned by their index."""
        mm = self.matrices
        if isinstance(newresp, (pd.Series, pd.DataFrame)):
            if len(newresp) != self.nobs:
                newresp = newresp.loc[mm.rows]
            newresp = newresp.to_numpy()
        try:
            y = np.asarray(newresp, dtype=float)
        except (TypeError, ValueError):
            raise TypeError("newresp must be numbers, one per fitted row") from None
        expected = np.shape(mm.y)
        if y.shape != expected:
            what = "a two-column (successes, failures) response" if len(expected) == 2 else "a vector"
            raise ValueError(f"newresp has shape {y.shape}; this model needs {what} of shape {expected}")
        bad = ~np.isfinite(y) if y.ndim == 1 else ~np.isfinite(y).all(axis=1)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DataError(f"newresp has {int(bad.sum())} missing or infinite values (the first in row {row}); "
                            "refit needs a finite value for every fitted row")
        return y

    # --- description -------------------------------------------------------
    @property
    def formula_text(self) -> str:
        """The formula as lme4 prints it."""
        return self.matrices.formula_text

    @property
    def formula(self) -> str:
        """The model formula (as lme4 prints it)."""
        return self.formula_text

    @property
    def nobs(self) -> int:
        """Number of observations used (rows with missing values excluded)."""
        return self.matrices.X.shape[0]

    @property
    def ngrps(self) -> dict[str, int]:
        """Levels per grouping factor, in lme4's order."""
        out: dict[str, int] = {}
        for term in self.re_terms:
            out.setdefault(term.group, len(term.levels))
        return out

    @cached_property
    def message_sources(self) -> dict[str, list[str]]:
        """lme4's messages for this fit, keyed by the check that gave them (as lme4's ``wmsgs``).

        ``"rank"`` (X's dropped columns), ``"scale_x"`` (lme4's ``check.scaleX``,
        which lme4 does not print with the fit), ``"singular"`` (a variance on its
        bound), ``"convergence"`` and ``"hessian"`` (lme4's checkConv on the
        gradient and on the Hessian), ``"vcov"`` (a glmer covariance that fell back
        to R_X). Each check runs once, when this is first read; a check whose
        control action is ``"ignore"`` says nothing.
        """
        checks = self._control
        singular = self._singular and checks.check_conv_singular != "ignore"
        scale = None if checks.check_scale_x == "ignore" else self._scale_x_message(checks.check_scale_x_tol)
        return {"rank": list(self.matrices.messages), "scale_x": [scale] if scale else [],
                "singular": [SINGULAR_MESSAGE] if singular else [], **self._convergence_messages(),
                "vcov": self._vcov_messages()}

    def _scale_x_message(self, tol: float) -> str | None:
        """lme4's check.scaleX on the fixed-effects matrix."""
        return scale_x_message(self.matrices.X, tol)

    @property
    def messages(self) -> list[str]:
        """Messages and warnings lme4 would give for this fit, in lme4's order."""
        return [m for source in self.message_sources.values() for m in source]

    def stop_on_checks(self) -> None:
        """Raise for each check whose control action is ``"stop"`` and that has something to say.

        Raises
        ------
        MixedFxError
            With the check's messages (lme4's ``stop``).
        """
        checks = self._control
        actions = {"scale_x": checks.check_scale_x, "singular": checks.check_conv_singular,
                   "convergence": checks.check_conv_grad, "hessian": checks.check_conv_hess}
        if "stop" not in actions.values():
            return
        for source, messages in self.message_sources.items():
            if actions.get(source) == "stop" and messages:
                raise MixedFxError("; ".join(messages) + f" (control check_{_CHECK_NAMES[source]} is 'stop')")

    def _convergence_messages(self) -> dict[str, list[str]]:
        """lme4's checkConv on the fit, gradient and Hessian apart (none by default)."""
        return {"convergence": [], "hessian": []}

    def _vcov_messages(self) -> list[str]:
        """What computing the fixed effects' covariance had to say (none by default)."""
        return []

    @property
    def optimizer(self) -> str:
        """The optimiser's name as lme4 prints it."""
        return self._opt.optimizer

    @property
    def convergence_code(self) -> int:
        """lme4's optimiser convergence code (0 when it converged)."""
        return self._opt.convergence_code

    @property
    def optimizer_messages(self) -> list[str]:
        """Warnings from the optimiser itself."""
        return list(self._opt.messages)

    @property
    def opt_summary(self) -> OptSummary:
        """Starting point, final point and evaluation count of the (last) optimisation."""
        return self._opt

    # --- parameters --------------------------------------------------------
    @property
    def theta(self) -> np.ndarray:
        """Relative covariance factor parameters, lme4's order."""
        return self._theta.copy()

    @property
    def is_singular(self) -> bool:
        """lme4's isSingular: a variance parameter on (or within 1e-4 of) its bound."""
        return self._singular

    @property
    def fixef(self) -> pd.Series:
        """Fixed-effect estimates, by R's coefficient names."""
        return pd.Series(self._beta.copy(), index=names_index(self.matrices.x_names), name="Estimate")

    @property
    def sigma(self) -> float:
        """Residual standard deviation (1 for families without a dispersion parameter)."""
        raise NotImplementedError

    @property
    def loglik(self) -> float:
        """Log-likelihood at the estimates."""
        raise NotImplementedError

    @property
    def df(self) -> int:
        """Parameters counted by logLik: fixed effects, theta and (where estimated) the scale."""
        return len(self._beta) + len(self._theta) + int(self.uses_scale)

    @property
    def deviance(self) -> float:
        """-2 log-likelihood."""
        return -2.0 * self.loglik

    @property
    def aic(self) -> float:
        """Akaike information criterion."""
        return -2.0 * self.loglik + 2.0 * self.df

    @property
    def bic(self) -> float:
        """Bayesian information criterion."""
        return -2.0 * self.loglik + np.log(self.nobs) * self.df

    @property
    def df_resid(self) -> int:
        """Residual degrees of freedom: nobs minus the parameters logLik counts."""
        return self.nobs - self.df

    def sdcor(self) -> pd.Series:
        """Standard deviations and correlations with lme4's ``oldNames = FALSE`` labels.

        Returns
        -------
        Series
            ``sd_(Intercept)|Subject``, ``cor_Days.(Intercept)|Subject``,
            ``sd_Days|Subject``, ... in theta's order, then ``sigma`` where the
            model has a residual scale (the variance rows of :meth:`confint`).
        """
        from mixedfx.inference.sdcor import parameter_vector

        values = parameter_vector(self)
        return values.iloc[: len(values) - len(self._beta)].rename("sdcor")

    # --- inference -----------------------------------------------------------
    def confint(self, method: str = "profile", level: float = 0.95, parm=None, nsim: int = 500,
                seed=None, n_jobs: int = 1, progress: bool | None = None, client=None) -> pd.DataFrame:
        """Confidence intervals, as lme4's ``confint`` (see :func:`mixedfx.inference.confint.confint`).

        Parameters
        ----------
        method : {"profile", "Wald", "boot"}
        level : float
        parm : names or positions, optional
            Parameters to include (all by default).
        nsim, seed, n_jobs, progress, client
            For ``method="boot"``: draws, random seed, processes, progress bar, a Dask client.

        Returns
        -------
        DataFrame
            Rows named as lme4's (``sd_(Intercept)|Subject``, ..., ``sigma``, fixed
            effects); columns ``2.5 %`` and ``97.5 %`` (from ``level``).
        """
        from mixedfx.inference.confint import confint

        return confint(self, method, level, parm, nsim, seed, n_jobs, progress, client)

    def profile(self, which=None, **options):
        """The likelihood profile of each parameter, as lme4's ``profile`` (see :mod:`mixedfx.inference.profile`)."""
        from mixedfx.inference.profile import profile

        return profile(self, which, **options)

    def simulate(self, nsim: int = 1, seed=None, re_form: str | None = None, newdata: pd.DataFrame | None = None,
                 allow_new_levels: bool = False) -> pd.DataFrame:
        """Responses simulated from the fitted model, as lme4's ``simulate`` (columns sim_1, ...).

        ``re_form=None`` draws new random effects (lme4's default for simulate); a
        formula of bar terms conditions on those terms' fitted modes.
        """
        from mixedfx.inference.simulate import simulate

        return simulate(self, nsim, seed, re_form, newdata, allow_new_levels)

    def bootstrap(self, func, nsim: int, seed=None, n_jobs: int = 1, progress: bool | None = None,
                  re_form: str | None = None, client=None, batch_size: int | None = None):
        """Parametric bootstrap of ``func(fit)``, as lme4's ``bootMer`` (see :func:`mixedfx.inference.bootstrap`)."""
        from mixedfx.inference.bootstrap import bootstrap

        return bootstrap(self, func, nsim, seed, n_jobs, progress, re_form, client, batch_size)

    # --- predictions -------------------------------------------------------
    def fitted(self) -> np.ndarray:
        """Fitted values (a glmer's on the response scale), as lme4's ``fitted``.

        One per kept row; under ``na_action="exclude"`` one per input row, NaN
        where a row was dropped (R's ``naresid``), as are :meth:`residuals` and
        ``predict()`` without new data.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> round(float(fit.fitted()[0]), 2)
        253.66
        """
        return pad_to_input(self._fitted(), self.matrices)

    def residuals(self, type: str | None = None, scaled: bool = False) -> np.ndarray:  # noqa: A002 - lme4's name
        """Residuals, as lme4's ``residuals(fit, type, scaled)``.

        Parameters
        ----------
        type : str, optional
            lmer: ``"response"`` (y - fitted, the default) or ``"pearson"``
            (times the square roots of the prior weights); glmer: ``"deviance"``
            (the default), ``"pearson"``, ``"response"`` or ``"working"``.
        scaled : bool
            Divide by sigma (1 for families without a dispersion parameter).

        Returns
        -------
        ndarray

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> round(float(fit.residuals(scaled=True)[0]), 4)
        -0.1604
        """
        res = self._residuals(type or self._residual_type)
        return pad_to_input(res / self.sigma if scaled else res, self.matrices)

    def residual_quantiles(self) -> np.ndarray:
        """The scaled Pearson residuals' minimum, quartiles and maximum, as the summary prints them.

        R's ``quantile(residuals(fit, "pearson") / sigma(fit), na.rm = TRUE)``; NaN
        for each where no residual is left.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> fit.residual_quantiles().round(4).tolist()
        [-3.9536, -0.4634, 0.0231, 0.4634, 5.1793]
        """
        scaled = np.asarray(self.residuals(type="pearson"), dtype=float) / self.sigma
        scaled = scaled[~np.isnan(scaled)]  # rows an na.exclude fit padded
        return quantile7(scaled) if scaled.size else np.full(5, np.nan)

    def hatvalues(self) -> np.ndarray:
        """lme4's ``hatvalues(fit)``: the diagonal of the penalised fit's hat matrix, one per row used.

        See :func:`mixedfx.inference.influence.hatvalues` (for a glmer, as lme4, with a warning).

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> round(float(fit.hatvalues()[0]), 4), round(float(fit.cooks_distance()[0]), 4)
        (0.2293, 0.005)
        """
        from mixedfx.inference.influence import hatvalues

        return hatvalues(self)

    def cooks_distance(self) -> np.ndarray:
        """lme4's ``cooks.distance(fit)``, one per row used (:func:`mixedfx.inference.influence.cooks_distance`)."""
        from mixedfx.inference.influence import cooks_distance

        return cooks_distance(self)

    @cached_property
    def predictor(self) -> Predictor:
        """The fit's linear predictor (:class:`~mixedfx.fits.prediction.Predictor`)."""
        effects = self._term_effects()
        return Predictor(self.matrices, self._beta, [effects[self.term_order.index(i)]
                                                     for i in range(len(self.re_terms))])

    # --- text ---------------------------------------------------------------
    def summary(self, ddf: str | None = None, *, correlation: bool | None = None, digits: int = DIGITS,
                ranef_comp: tuple[str, ...] = ("Variance", "Std.Dev."), show_resids: bool = True) -> FitSummary:
        """lme4's ``summary(fit)``: prints as ``print(summary(fit), ...)``.

        Parameters
        ----------
        ddf : {None, "Satterthwaite", "Kenward-Roger"}
            For linear models, lmerTest's summary with denominator degrees of
            freedom and p-values by that method.
        correlation : bool, optional
            Print the fixed effects' correlation; by default when there are at
            most 12 fixed effects, as lme4.
        digits : int
            Significant digits (lme4's default 4).
        ranef_comp : tuple of str
            The variance components' columns: ``"Variance"``, ``"Std.Dev."`` or both.
        show_resids : bool
            Print the scaled residuals' quantiles.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> "Correlation" in str(fit.summary(correlation=False))
        False
        """
        options = SummaryOptions(digits=digits, correlation=correlation, ranef_comp=check_components(ranef_comp),
                                 show_resids=show_resids)
        return FitSummary(self, ddf, options)

    def coef_table(self, ddf: str | None = None) -> pd.DataFrame:
        """The fixed-effects table; with ``ddf``, lmerTest's df and Pr(>|t|) (linear models).

        Parameters
        ----------
        ddf : {None, "Satterthwaite", "Kenward-Roger"}

        Returns
        -------
        DataFrame
            Estimate, Std. Error, (df,) t value (or z value), (Pr(>|t|) or Pr(>|z|)).
        """
        from mixedfx.inference.ddf import coef_table

        return coef_table(self, ddf)

    def coefficient_table(self) -> pd.DataFrame:
        """Estimate, Std. Error and the Wald statistic per fixed effect (t value)."""
        est = self.fixef.to_numpy()
        se = np.sqrt(np.diag(self.vcov.to_numpy()))
        return pd.DataFrame({"Estimate": est, "Std. Error": se, "t value": est / se}, index=self.fixef.index)

    def __str__(self) -> str:
        return format_print(self)

    __repr__ = __str__
