"""The fitted linear mixed model: estimates, accessors, predictions."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.linalg as sla

from mixedfx.design import new_data_matrices, selected_terms
from mixedfx.linalg import BlockedFactor, random_part, templates, term_effects
from mixedfx.lmm import SINGULAR_MESSAGE, LinearMixedModel, LmerControl
from mixedfx.optimize import OptSummary

__all__ = ["LmerFit", "LmerSummary"]

def _unique_names(names: list[str]) -> list[str]:
    """R's make.unique: later duplicates become name.1, name.2, ..."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}.{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


class LmerFit:
    """A fitted linear mixed model, as lme4's ``lmerMod``.

    Created by :func:`mixedfx.lmer`; all estimates are fixed at construction.
    ``str(fit)`` reads as lme4's ``print(fit)`` and ``str(fit.summary())`` as
    ``print(summary(fit))``.
    """

    def __init__(self, model: LinearMixedModel, opt: OptSummary, control: LmerControl, *,
                 data_name: str | None = None, weights_name: str | None = None,
                 offset_name: str | None = None) -> None:
        self._model = model
        self._opt = opt
        self._control = control
        self.data_name = data_name
        self.weights_name = weights_name
        self.offset_name = offset_name
        self._factor: BlockedFactor = model.factor(opt.x)
        self._beta, self._u = self._factor.solve_coefficients()
        messages = list(model.matrices.messages)
        if self.is_singular:
            messages.append(SINGULAR_MESSAGE)
        self._messages = messages

    # --- description -------------------------------------------------------
    @property
    def formula_text(self) -> str:
        """The formula as lme4 prints it."""
        return self._model.matrices.formula_text

    @property
    def formula(self) -> str:
        """The model formula (as lme4 prints it)."""
        return self.formula_text

    @property
    def reml(self) -> bool:
        """Whether the fit optimised the REML criterion."""
        return self._model.reml

    @property
    def method(self) -> str:
        """"REML" or "ML"."""
        return "REML" if self.reml else "ML"

    @property
    def nobs(self) -> int:
        """Number of observations used (rows with missing values excluded)."""
        return self._model.n

    @property
    def ngrps(self) -> dict[str, int]:
        """Levels per grouping factor, in lme4's order."""
        out: dict[str, int] = {}
        for term in self._model.terms:
            out.setdefault(term.group, len(term.levels))
        return out

    @property
    def messages(self) -> list[str]:
        """Messages and warnings lme4 would give for this fit."""
        return list(self._messages)

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
        """Starting point, final point and evaluation count of the optimisation."""
        return self._opt

    # --- parameters --------------------------------------------------------
    @property
    def theta(self) -> np.ndarray:
        """Relative covariance factor parameters, lme4's order."""
        return self._opt.x.copy()

    @property
    def is_singular(self) -> bool:
        """lme4's isSingular: a variance parameter on (or within 1e-4 of) its bound."""
        return self._model.is_singular(self._opt.x, self._control.singular_tol)

    @property
    def sigma(self) -> float:
        """Residual standard deviation."""
        dof = self.nobs - self._model.p if self.reml else self.nobs
        return float(np.sqrt(self._factor.pwrss / dof))

    @property
    def fixef(self) -> pd.Series:
        """Fixed-effect estimates, by R's coefficient names."""
        return pd.Series(self._beta, index=list(self._model.matrices.x_names), name="Estimate")

    @cached_property
    def _vcov_array(self) -> np.ndarray:
        r_x_inv = sla.solve_triangular(self._factor.r_x, np.eye(self._model.p), lower=True, check_finite=False)
        return self.sigma**2 * (r_x_inv.T @ r_x_inv)

    @property
    def vcov(self) -> pd.DataFrame:
        """Covariance matrix of the fixed-effect estimates."""
        names = list(self._model.matrices.x_names)
        return pd.DataFrame(self._vcov_array.copy(), index=names, columns=names)

    # --- likelihood --------------------------------------------------------
    @property
    def reml_criterion(self) -> float | None:
        """REML criterion at convergence (None for ML fits)."""
        return self._model.deviance_from_factor(self._factor, reml=True) if self.reml else None

    @property
    def deviance(self) -> float:
        """-2 log-likelihood: the deviance for ML fits, the REML criterion for REML fits.

        lme4 1.1-31's ``deviance()`` gives the same (with a deprecation warning for
        REML fits); the ML deviance at REML estimates is ``refit_ml``'s business.
        """
        return -2.0 * self.loglik

    @property
    def loglik(self) -> float:
        """Log-likelihood (the REML log-likelihood for REML fits, as lme4's ``logLik``)."""
        return -0.5 * self._model.deviance_from_factor(self._factor)

    @property
    def df(self) -> int:
        """Parameters counted by logLik: fixed effects, theta and sigma."""
        return self._model.p + len(self._opt.x) + 1

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

    # --- random effects ----------------------------------------------------
    def _templates(self) -> list[np.ndarray]:
        return templates(self._opt.x, self._model.ks)

    def _term_effects(self) -> list[np.ndarray]:
        """Conditional modes b per term, as (levels, k) arrays, lme4's term order."""
        return term_effects(self._u, self._templates(), [len(t.levels) for t in self._model.terms])

    def _term_condvar(self) -> list[np.ndarray]:
        """Conditional covariance blocks of b per term, (levels, k, k), lme4's term order."""
        s2 = self.sigma**2
        return [s2 * (tmpl @ blocks @ tmpl.T)
                for tmpl, blocks in zip(self._templates(), self._factor.conditional_covariance_blocks())]

    def ranef(self, condvar: bool = False) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects, one DataFrame per grouping factor.

        Parameters
        ----------
        condvar : bool
            Attach the conditional covariance matrices as ``df.attrs["condvar"]``,
            an array (levels, k, k); terms of one factor are independent blocks.

        Returns
        -------
        dict of str to DataFrame
            Levels by term columns, in lme4's order of grouping factors.
        """
        effects = self._term_effects()
        cond = self._term_condvar() if condvar else None
        out: dict[str, pd.DataFrame] = {}
        for group in self.ngrps:
            idx = [i for i, t in enumerate(self._model.terms) if t.group == group]
            levels = list(self._model.terms[idx[0]].levels)
            names = [n for i in idx for n in self._model.terms[i].z_names]
            frame = pd.DataFrame(np.hstack([effects[i] for i in idx]), index=pd.Index(levels, name=group),
                                 columns=names)
            if cond is not None:
                frame.attrs["condvar"] = _block_diag_stack([cond[i] for i in idx])
            out[group] = frame
        return out

    def ranef_table(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(ranef(fit, condVar = TRUE))``.

        Returns
        -------
        DataFrame
            Columns grpvar, term, grp, condval, condsd; one row per level and term.
        """
        rows = []
        for group, frame in self.ranef(condvar=True).items():
            sd = np.sqrt(np.diagonal(frame.attrs["condvar"], axis1=1, axis2=2))
            for j, term in enumerate(frame.columns):
                rows.append(pd.DataFrame({"grpvar": group, "term": term, "grp": frame.index.astype(str),
                                          "condval": frame.iloc[:, j].to_numpy(), "condsd": sd[:, j]}))
        return pd.concat(rows, ignore_index=True)

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-level coefficients: fixed effects plus the level's random effects."""
        fixef = self.fixef
        out = {}
        for group, frame in self.ranef().items():
            table = pd.DataFrame(np.tile(fixef.to_numpy(), (len(frame), 1)), index=frame.index,
                                 columns=fixef.index)
            for name in frame.columns:
                if name in table.columns:
                    table[name] = table[name] + frame[name]
                else:
                    table[name] = frame[name]
            out[group] = table
        return out

    def varcorr(self) -> pd.DataFrame:
        """lme4's ``as.data.frame(VarCorr(fit))``.

        Returns
        -------
        DataFrame
            Columns grp, var1, var2, vcov, sdcor: each term's variances, then its
            covariances (sdcor a correlation), the residual last.
        """
        s2 = self.sigma**2
        groups = _unique_names([t.group for t in self._model.terms])
        rows = []
        for group, term, tmpl in zip(groups, self._model.terms, self._templates()):
            cov = s2 * (tmpl @ tmpl.T)
            sd = np.sqrt(np.diag(cov))
            names = list(term.z_names)
            for i, name in enumerate(names):
                rows.append((group, name, None, cov[i, i], sd[i]))
            for j in range(len(names)):
                for i in range(j + 1, len(names)):
                    corr = cov[i, j] / (sd[i] * sd[j]) if sd[i] > 0 and sd[j] > 0 else np.nan
                    rows.append((group, names[j], names[i], cov[i, j], corr))
        rows.append(("Residual", None, None, s2, np.sqrt(s2)))
        return pd.DataFrame(rows, columns=["grp", "var1", "var2", "vcov", "sdcor"])

    # --- fitted values and predictions --------------------------------------
    def _random_part(self, re_terms, positions: list[int]) -> np.ndarray:
        """Z b for rows given by each term's codes and z; ``positions`` index lme4's term order."""
        effects = self._term_effects()
        return random_part([t.codes for t in re_terms], [t.z for t in re_terms], [effects[i] for i in positions])

    def _fitted_random_part(self) -> np.ndarray:
        return self._random_part(self._model.terms, list(range(len(self._model.terms))))

    def fitted(self) -> np.ndarray:
        """Fitted values: X beta + offset + Z b."""
        mm = self._model.matrices
        return mm.X @ self._beta + mm.offset + self._fitted_random_part()

    def residuals(self, type: str = "response") -> np.ndarray:  # noqa: A002 - lme4's argument name
        """Residuals.

        Parameters
        ----------
        type : {"response", "pearson"}
            Response residuals y - fitted, or Pearson residuals (scaled by the
            square root of the prior weights).

        Returns
        -------
        ndarray
        """
        res = np.asarray(self._model.matrices.y, dtype=float) - self.fitted()
        if type == "response":
            return res
        if type == "pearson":
            w = self._model.matrices.weights
            return res if w is None else res * np.sqrt(w)
        raise ValueError(f"type must be 'response' or 'pearson' for a linear mixed model, not {type!r}")

    def predict(self, newdata: pd.DataFrame | None = None, re_form: str | None = None,
                allow_new_levels: bool = False) -> np.ndarray:
        """Predictions, as lme4's ``predict``.

        Parameters
        ----------
        newdata : DataFrame, optional
            New rows; the fitted values when omitted.
        re_form : str, optional
            None to include every random effect, ``"~0"`` for the population level,
            or a formula of bar terms (``"~(1 | g)"``) for some of them (with newdata).
        allow_new_levels : bool
            Predict unseen levels at the population level instead of raising.

        Returns
        -------
        ndarray
        """
        if newdata is None:
            mm = self._model.matrices
            kept = selected_terms(mm, re_form)
            chosen = [mm.re_terms[i] for i in kept]
            positions = [self._model.order.index(i) for i in kept]
        else:
            new = new_data_matrices(self._model.matrices, newdata, re_form=re_form,
                                    allow_new_levels=allow_new_levels)
            mm, chosen = new, new.re_terms
            positions = [self._model.order.index(term.index) for term in new.re_terms]
        fixed = mm.X @ self._beta + mm.offset
        return fixed + self._random_part(chosen, positions) if chosen else fixed

    def refit_ml(self) -> LmerFit:
        """This model refitted by maximum likelihood from the current theta (lme4's ``refitML``)."""
        if not self.reml:
            return self
        control = replace(self._control, theta0=tuple(self._opt.x))
        model = self._model.with_criterion(reml=False)
        return LmerFit(model, model.optimize(control), control, data_name=self.data_name,
                       weights_name=self.weights_name, offset_name=self.offset_name)

    # --- text ---------------------------------------------------------------
    def summary(self) -> LmerSummary:
        """lme4's ``summary(fit)``: prints as ``print(summary(fit))``."""
        return LmerSummary(self)

    def __str__(self) -> str:
        from mixedfx.report import format_print

        return format_print(self)

    def __repr__(self) -> str:
        return self.__str__()


def _block_diag_stack(stacks: list[np.ndarray]) -> np.ndarray:
    """Join per-level (levels, k_i, k_i) stacks into one block-diagonal (levels, K, K) stack."""
    n_levels = stacks[0].shape[0]
    total = sum(s.shape[1] for s in stacks)
    out = np.zeros((n_levels, total, total))
    start = 0
    for s in stacks:
        k = s.shape[1]
        out[:, start: start + k, start: start + k] = s
        start += k
    return out


class LmerSummary:
    """lme4's ``summary(fit)`` of a linear mixed model.

    Attributes
    ----------
    fit : LmerFit
    coefficients : DataFrame
        Estimate, Std. Error and t value per fixed effect.
    """

    def __init__(self, fit: LmerFit) -> None:
        self.fit = fit
        se = np.sqrt(np.diag(fit.vcov.to_numpy()))
        est = fit.fixef.to_numpy()
        self.coefficients = pd.DataFrame({"Estimate": est, "Std. Error": se, "t value": est / se},
                                         index=fit.fixef.index)

    def __str__(self) -> str:
        from mixedfx.report import format_summary

        return format_summary(self.fit)

    def __repr__(self) -> str:
        return self.__str__()
