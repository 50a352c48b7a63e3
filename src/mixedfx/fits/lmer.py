"""The fitted linear mixed model (lme4's ``lmerMod``)."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property, partial

import numpy as np
import pandas as pd

from mixedfx.dataframes.dask_frames import is_dask_frame, map_partition_rows
from mixedfx.optim.convergence import convergence_checks
from mixedfx.lmm.control import LmerControl
from mixedfx.lmm.model import LinearMixedModel
from mixedfx.linalg.threads import limited_blas
from mixedfx.optim.optimize import OPTIMIZERS, OptSummary, finite_difference_derivatives, first_steps_near
from mixedfx.design.checks import check_lmer_response, check_residual_variation
from mixedfx.design.matrices import pad_to_input
from mixedfx.fits.base import MixedModelFit
from mixedfx.fits.call import FitCall
from mixedfx.fits.labels import names_index
from mixedfx.linalg.factor import BlockedFactor

__all__ = ["LmerFit"]


class LmerFit(MixedModelFit):
    """A fitted linear mixed model, as lme4's ``lmerMod``.

    Created by :func:`mixedfx.lmer`; all estimates are fixed by the optimum's
    theta, and formed from its factor when first read (a bootstrap's refits
    read only what they need). ``str(fit)`` reads as lme4's ``print(fit)`` and
    ``str(fit.summary())`` as ``print(summary(fit))``.
    """

    def __init__(self, model: LinearMixedModel, opt: OptSummary, control: LmerControl,
                 call: FitCall | None = None) -> None:
        super().__init__(model, opt, opt.x, None, None, None, control, call)

    @cached_property
    def _factor(self) -> BlockedFactor:
        """The blocked factor at the optimum's theta."""
        return self._model.factor(self._opt.x)

    @cached_property
    def _coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """beta and the spherical random effects u at the optimum."""
        beta, u = self._factor.solve_coefficients()
        return np.asarray(beta, dtype=float), u

    @property
    def _beta(self) -> np.ndarray:
        return self._coefficients[0]

    @property
    def _u(self) -> np.ndarray:
        return self._coefficients[1]

    def _convergence_messages(self) -> dict[str, list[str]]:
        """lme4's checkConv on the deviance's finite-difference derivatives over theta."""
        control = self._control
        if self.is_singular or not control.calc_derivs or (control.check_conv_grad == control.check_conv_hess
                                                            == "ignore"):
            return super()._convergence_messages()
        objective, x, scales = self._model.objective, self._opt.x, self._model.theta_scales
        if scales is not None:  # checked on the scale it was optimised on (LinearMixedModel.theta_scales)
            objective, x = (lambda theta: self._model.objective(theta / scales)), x * scales
        with limited_blas(self._model.blas_threads):
            gradient, hessian = finite_difference_derivatives(objective, x, self._opt.fval)
        return convergence_checks(gradient, hessian, len(x), control)

    @property
    def reml(self) -> bool:
        """Whether the fit optimised the REML criterion."""
        return self._model.reml

    @property
    def method(self) -> str:
        """"REML" or "ML"."""
        return "REML" if self.reml else "ML"

    @property
    def sigma(self) -> float:
        """Residual standard deviation."""
        dof = self.nobs - self._model.p if self.reml else self.nobs
        return float(np.sqrt(self._factor.pwrss / dof))

    @cached_property
    def _vcov_array(self) -> np.ndarray:
        from mixedfx.linalg.lapack import solve_triangular  # noqa: PLC0415 - numba's import, where a fit is read

        r_x_inv = solve_triangular(self._factor.r_x, np.eye(self._model.p), lower=True)
        return self.sigma**2 * (r_x_inv.T @ r_x_inv)

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed-effect estimates."""
        names = self.matrices.x_names
        return pd.DataFrame(self._vcov_array.copy(), index=names_index(names), columns=names_index(names))

    @property
    def reml_criterion(self) -> float | None:
        """REML criterion at convergence (None for ML fits)."""
        return self._model.deviance_from_factor(self._factor, reml=True) if self.reml else None

    @property
    def loglik(self) -> float:
        """Log-likelihood (the REML log-likelihood for REML fits, as lme4's ``logLik``)."""
        return -0.5 * self._model.deviance_from_factor(self._factor)

    @property
    def deviance(self) -> float:
        """-2 log-likelihood: the deviance for ML fits, the REML criterion for REML fits.

        lme4 1.1-31's ``deviance()`` gives the same (with a deprecation warning for
        REML fits); the ML deviance at REML estimates is ``refit_ml``'s business.
        """
        return -2.0 * self.loglik

    _residual_type = "response"

    def _fitted(self) -> np.ndarray:
        """Fitted values on the kept rows: X beta + offset + Z b."""
        return self.predictor.linear_predictor()

    def _residuals(self, type: str) -> np.ndarray:  # noqa: A002
        """Response or Pearson residuals (times the square roots of the prior weights) on the kept rows."""
        res = np.asarray(self.matrices.y, dtype=float) - self._fitted()
        if type == "response":
            return res
        if type == "pearson":
            w = self.matrices.weights
            return res if w is None else res * np.sqrt(w)
        raise ValueError(f"type must be 'response' or 'pearson' for a linear mixed model, not {type!r}")

    def predict(self, newdata: pd.DataFrame | None = None, re_form: str | None = None,
                allow_new_levels: bool = False) -> np.ndarray:
        """Predictions, as lme4's ``predict``.

        Parameters
        ----------
        newdata : data frame, optional
            New rows; the fitted values when omitted. A Dask DataFrame gives a lazy Dask
            Series, predicted partition by partition.
        re_form : str, optional
            None to include every random effect, ``"~0"`` for the population level,
            or a formula of bar terms (``"~(1 | g)"``) for some of them, or parts of them.
        allow_new_levels : bool
            Predict unseen levels at the population level instead of raising.

        Returns
        -------
        ndarray

        Examples
        --------
        >>> import pandas as pd, mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
        >>> new = pd.DataFrame({"Days": [1.0], "Subject": ["308"]})
        >>> fit.predict(new, re_form="~(1 | Subject)").round(2).tolist()  # the intercept part of the term
        [264.13]
        """
        if is_dask_frame(newdata):
            return map_partition_rows(newdata, partial(self.predict, re_form=re_form,
                                                       allow_new_levels=allow_new_levels), "predicted")
        eta = self.predictor.linear_predictor(newdata, re_form, allow_new_levels)
        return pad_to_input(eta, self.matrices) if newdata is None else eta

    def refit_ml(self) -> LmerFit:
        """This model refitted by maximum likelihood from the current theta (lme4's ``refitML``)."""
        if not self.reml:
            return self
        control = replace(self._control, theta0=tuple(self._opt.x))
        model = self._model.with_criterion(reml=False)
        return self._refit_of(model, model.optimize(control), control)

    def refit(self, newresp) -> LmerFit:
        """The same model fitted to a new response (lme4's ``refit``).

        Only the new response's cross-products are formed; the optimiser starts
        from this fit's theta: a one-term model takes Newton steps on the average
        information from there (:meth:`LinearMixedModel.optimize`'s ``from_optimum``),
        other models BOBYQA with small first steps (``control.refit_first_step``
        of each parameter, at least ``control.refit_least_step``), as do those
        whose steps meet a variance near zero.

        Parameters
        ----------
        newresp : array-like or Series
            One value per fitted row (a Series longer than that is aligned by index).

        Returns
        -------
        LmerFit

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=mfx.datasets.load("sleepstudy"))
        >>> again = fit.refit(fit.simulate(1, seed=1)["sim_1"])
        >>> again.nobs == fit.nobs
        True
        """
        y = self._response_array(newresp)
        model = self._model.with_response(y)
        check_lmer_response(model.matrices)  # what lmer() refuses, refit refuses
        return self.refit_model(model)

    def refit_model(self, model: LinearMixedModel) -> LmerFit:
        """This fit's model with another response (``model.with_response`` or ``with_response_products``),
        fitted as :meth:`refit` fits it: from this fit's theta, with small first steps.

        Raises
        ------
        DataError
            Where the fixed effects fit the new response exactly.
        """
        check_residual_variation(model.matrices, model.cross.xy_gram)
        control, first_steps = self._refit_start
        return self._refit_of(model, model.optimize(control, initial_step=first_steps, from_optimum=True), control)

    def _refit_of(self, model: LinearMixedModel, opt: OptSummary, control: LmerControl) -> LmerFit:
        """The fit :meth:`refit_model` and :meth:`refit_ml` make (a fit whose rows are elsewhere makes its own kind)."""
        return LmerFit(model, opt, control)

    @cached_property
    def _refit_start(self) -> tuple[LmerControl, np.ndarray]:
        """Every refit's control (starting at this fit's theta) and BOBYQA's first steps, made once per fit."""
        control = replace(self._control, theta0=tuple(self.theta))
        steps = first_steps_near(self.theta, control.refit_first_step, control.refit_least_step)
        steps.flags.writeable = False  # shared by every refit
        return control, steps

    def reoptimize(self, optimizer: str) -> LmerFit:
        """The same model optimised from lme4's start by ``optimizer`` (a name of ``OPTIMIZERS``)."""
        return LmerFit(self._model, self._model.optimize(self._control, OPTIMIZERS[optimizer]), self._control)
