"""The fitted generalized linear mixed model (lme4's ``glmerMod``)."""

from __future__ import annotations

from dataclasses import replace

from functools import cached_property, partial

import numpy as np
import pandas as pd
import scipy.linalg as sla
from scipy.special import ndtr

from mixedfx.dataframes.dask_frames import is_dask_frame, map_partition_rows
from mixedfx.optim.convergence import convergence_checks
from mixedfx.glmm.families import Family
from mixedfx.glmm.model import GeneralizedLinearMixedModel, GlmmOptimum
from mixedfx.linalg.cross import cross_products
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.factorizer import factorize
from mixedfx.design.checks import check_glmer_response
from mixedfx.design.matrices import pad_to_input
from mixedfx.fits.base import MixedModelFit
from mixedfx.fits.call import FitCall
from mixedfx.fits.labels import names_index
from mixedfx.optim.optimize import OPTIMIZERS

__all__ = ["GlmerFit"]

_RESIDUAL_TYPES = ("deviance", "pearson", "response", "working")


class GlmerFit(MixedModelFit):
    """A fitted generalized linear mixed model, as lme4's ``glmerMod``.

    Created by :func:`mixedfx.glmer` or :func:`mixedfx.glmer_nb`. ``str(fit)``
    reads as lme4's ``print(fit)`` and ``str(fit.summary())`` as
    ``print(summary(fit))``.
    """

    def __init__(self, model: GeneralizedLinearMixedModel, optimum: GlmmOptimum, call: FitCall | None = None) -> None:
        super().__init__(model, optimum.opt, optimum.theta, None, None, None, model.control, call)
        self._beta = np.asarray(optimum.beta, dtype=float)
        self._u = optimum.state.u
        self._optimum = optimum

    @cached_property
    def _factor(self) -> BlockedFactor:
        """PIRLS's factor at the estimates, formed when first read (a fit by Newton steps on one scalar term
        never needed it)."""
        return self._optimum.state.factor

    # --- the optimisation -------------------------------------------------------
    @property
    def optimum(self) -> GlmmOptimum:
        """Both stages' record: the optimiser summaries, PIRLS's state at the estimates, the Hessian."""
        return self._optimum

    @property
    def uses_scale(self) -> bool:
        """Whether the family has a dispersion parameter (Gamma, inverse Gaussian, gaussian with a link)."""
        return self.family.has_dispersion

    def _convergence_messages(self) -> dict[str, list[str]]:
        """lme4's checkConv on the stage-2 gradient and Hessian."""
        optimum = self._optimum
        if optimum.hessian is None or self.is_singular:
            return super()._convergence_messages()
        return convergence_checks(optimum.gradient, optimum.hessian, len(self._theta), self._control)

    def _vcov_messages(self) -> list[str]:
        return self._covariance[1]

    def refit(self, newresp) -> GlmerFit:
        """The same model fitted to a new response (lme4's ``refit``).

        PIRLS runs at this fit's estimates on the new response, then theta and
        beta are optimised together from them (lme4's second stage; theta alone
        for nAGQ = 0).

        Parameters
        ----------
        newresp : array-like, Series or DataFrame
            One value per fitted row; for a ``cbind(successes, failures)``
            response two columns (as :meth:`simulate` gives).

        Returns
        -------
        GlmerFit

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...                 data=mfx.datasets.load("cbpp"), family="binomial")
        >>> fit.refit(fit.simulate(1, seed=1)["sim_1"]).nobs
        56
        """
        y = self._response_array(newresp)
        check_glmer_response(replace(self.matrices, y=y), self.family)  # what glmer() refuses, refit refuses
        model = self._model.with_response(y)
        if model.n_agq == 0:
            return GlmerFit(model, model.fit(theta0=self.theta))
        lp0 = model.pirls(self.theta, None, self._optimum.state.eta).eta
        optimum = model.fit_stage2(np.concatenate([self.theta, self._beta]), lp0, self._optimum.stage1)
        return GlmerFit(model, optimum)

    def reoptimize(self, optimizer: str) -> GlmerFit:
        """The same model fitted again from lme4's start, both stages by ``optimizer`` (a name of ``OPTIMIZERS``)."""
        return GlmerFit(self._model, self._model.fit(optimizer=OPTIMIZERS[optimizer]))

    # --- description -------------------------------------------------------
    @property
    def family(self) -> Family:
        """The response distribution and link."""
        return self._model.family

    @property
    def link(self) -> str:
        """The link function's name."""
        return self._model.family.link.name

    @property
    def nagq(self) -> int:
        """Gauss-Hermite nodes per level (1: Laplace; 0: PIRLS with beta profiled)."""
        return self._model.n_agq

    @property
    def reml(self) -> bool:
        """Generalized fits are by maximum likelihood."""
        return False

    @property
    def method(self) -> str:
        """"ML"."""
        return "ML"

    @property
    def reml_criterion(self) -> None:
        """None: generalized fits have no REML criterion."""
        return None

    # --- likelihood and scale ------------------------------------------------
    @cached_property
    def _objective(self) -> float:
        return self._model.final_deviance(self._optimum)

    @property
    def deviance(self) -> float:
        """lme4's ``deviance()`` of a glmer: the sum of the squared deviance residuals.

        This is not -2 log-likelihood (which ``-2 * fit.loglik`` gives, and which the
        summary's ``deviance`` column prints, as lme4's does).

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
        ...                 mfx.datasets.load("cbpp"), family="binomial")
        >>> round(fit.deviance, 4), round(-2 * fit.loglik, 4)
        (73.4744, 184.0526)
        """
        return float(np.sum(self._residuals("deviance") ** 2))

    @property
    def loglik(self) -> float:
        """Log-likelihood: -1/2 of lme4's Laplace (or AGQ) deviance at the estimates.

        As in lme4, the AGQ value (nAGQ > 1) omits the family's constant, so it is
        on another scale than the Laplace value. It is taken with PIRLS run once
        more from where the optimiser's last run ended, so at the conditional modes
        rather than wherever a run from stage 1's start stopped (on the binomial
        maximal model the two differ by 1e-2); ``opt_summary.fval`` keeps the
        optimiser's value.
        """
        return -0.5 * self._objective

    @property
    def sigma(self) -> float:
        """The dispersion's square root (1 for binomial, Poisson, negative binomial)."""
        if not self.family.has_dispersion:
            return 1.0
        pearson, u = self._residuals("pearson"), self._optimum.state.u
        return float(np.sqrt((pearson @ pearson + u @ u) / self.nobs))

    @property
    def df(self) -> int:
        """Parameters counted by logLik (the negative binomial's theta included, as lme4)."""
        return super().df + int(self.family.name.startswith("Negative Binomial"))

    @cached_property
    def _covariance(self) -> tuple[np.ndarray, list[str]]:
        """2 H^-1 on the fixed effects (H: Hessian of the deviance), else sigma^2 (R_X' R_X)^-1 with lme4's message."""
        hessian = self._optimum.hessian
        if hessian is None:
            return self.sigma**2 * self._unscaled_vcov(), []
        k = len(self._theta)
        try:
            inverse = np.linalg.solve(hessian, np.eye(len(hessian)))[k:, k:]
            vcov = inverse + inverse.T
            if np.all(np.isfinite(vcov)) and (vcov.size == 0 or np.linalg.eigvalsh(vcov).min() > 0):
                return vcov, []
        except np.linalg.LinAlgError:
            pass
        return self.sigma**2 * self._unscaled_vcov(), [
            "variance-covariance matrix computed from finite-difference Hessian is\n"
            "not positive definite or contains NA values: falling back to var-cov estimated from RX"]

    def _unscaled_vcov(self) -> np.ndarray:
        """(R_X' R_X)^-1 at the final PIRLS weights."""
        model, state = self._model, self._optimum.state
        work_y, work_w = model.working_response(state.eta, model.offset)
        factor = factorize(cross_products(model.layouts, model.X, work_y, work_w), self._theta)
        r_x_inv = sla.solve_triangular(factor.r_x, np.eye(model.p), lower=True, check_finite=False)
        return r_x_inv.T @ r_x_inv

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance of the fixed effects: from the finite-difference Hessian, as lme4 1.1-31."""
        names = self.matrices.x_names
        return pd.DataFrame(self._covariance[0].copy(), index=names_index(names), columns=names_index(names))

    def fixed_covariance(self, use_hessian: bool = True) -> pd.DataFrame:
        """lme4's ``vcov(fit, use.hessian = use_hessian)``: from the Hessian, or sigma^2 (R_X' R_X)^-1.

        Examples
        --------
        >>> import mixedfx as mfx
        >>> fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
        ...                 family="binomial")
        >>> round(float(fit.fixed_covariance(use_hessian=False).iloc[0, 0]), 4)
        0.0519
        """
        if use_hessian:
            return self.vcov
        names = self.matrices.x_names
        return pd.DataFrame(self.sigma**2 * self._unscaled_vcov(), index=names_index(names),
                            columns=names_index(names))

    def coefficient_table(self) -> pd.DataFrame:
        """Estimate, Std. Error, the Wald statistic and its normal p-value, as lme4's summary.

        The statistic is called "z value", or "t value" for families with a
        dispersion parameter (lme4 still gives the normal p-value, Pr(>|z|)).
        """
        table = super().coefficient_table()
        stat = table.pop("t value")
        name = "t value" if self.family.has_dispersion else "z value"
        table[name] = stat
        table["Pr(>|z|)"] = 2.0 * ndtr(-np.abs(stat.to_numpy()))
        return table

    # --- fitted values, residuals, predictions --------------------------------
    _residual_type = "deviance"

    def _fitted(self) -> np.ndarray:
        """Fitted means (response scale) on the kept rows."""
        return self._optimum.state.mu.copy()

    def _residuals(self, type: str) -> np.ndarray:  # noqa: A002
        """Deviance, Pearson, response or working residuals on the kept rows."""
        model, state = self._model, self._optimum.state
        raw = model.y - state.mu
        if type == "deviance":
            return np.sign(raw) * np.sqrt(np.maximum(state.dev_resids, 0.0))
        if type == "pearson":
            return raw * np.sqrt(model.weights / self.family.variance(state.mu))
        if type == "response":
            return raw
        if type == "working":
            return raw / self.family.link.mu_eta(state.eta)
        raise ValueError(f"type must be one of {', '.join(_RESIDUAL_TYPES)}, not {type!r}")

    def predict(self, newdata: pd.DataFrame | None = None, re_form: str | None = None,
                allow_new_levels: bool = False, type: str = "link") -> np.ndarray:  # noqa: A002
        """Predictions on the link or response scale, as lme4's ``predict``.

        Parameters
        ----------
        newdata : data frame, optional
            New rows; the fitted rows when omitted. A Dask DataFrame gives a lazy Dask
            Series, predicted partition by partition.
        re_form : str, optional
            None for every random effect, ``"~0"`` for the population level, or a
            formula of bar terms for some of them.
        allow_new_levels : bool
            Predict unseen levels at the population level instead of raising.
        type : {"link", "response"}

        Returns
        -------
        ndarray
        """
        if type not in ("link", "response"):
            raise ValueError(f"type must be 'link' or 'response', not {type!r}")
        if is_dask_frame(newdata):
            return map_partition_rows(newdata, partial(self.predict, re_form=re_form, allow_new_levels=allow_new_levels,
                                                       type=type), "predicted")
        eta = self.predictor.linear_predictor(newdata, re_form, allow_new_levels)
        out = self.family.link.linkinv(eta) if type == "response" else eta
        return pad_to_input(out, self.matrices) if newdata is None else out
