"""The binomial (logit) and Poisson (log) families as compiled functions of one observation.

The compiled PIRLS (:mod:`mixedfx.glmm.scalar_pirls`, :mod:`mixedfx.glmm.vector_pirls`)
runs its loop over the rows with these; they compute what :mod:`mixedfx.glmm.families` and :mod:`mixedfx.glmm.links`
compute, R's clamps included (compiled from :mod:`mixedfx.glmm.link_clamps`, the
rules the links apply), and the passes over the rows that every compiled PIRLS
iteration makes with them (:func:`working_values`, :func:`means_into`,
:func:`penalised_deviance`). :func:`log_likelihood_terms` splits R's
``family$aic`` into its part that depends on the means and a constant, so the
Laplace deviance costs one pass over the rows.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numba
import numpy as np

from mixedfx.glmm import link_clamps
from mixedfx.glmm.families import Family
from mixedfx.glmm.link_clamps import LOGIT_THRESHOLD

__all__ = ["BINOMIAL_LOGIT", "POISSON_LOG", "LOGIT_THRESHOLD", "compiled_family", "mean", "derivatives", "dev_resid",
           "PirlsResponse", "means_into", "working_values", "row_deviance_terms", "penalised_deviance",
           "LogLikelihoodTerms", "log_likelihood_terms", "aic"]

BINOMIAL_LOGIT = 1
POISSON_LOG = 2

_logit_odds = numba.njit(cache=True, error_model="numpy")(link_clamps.logit_odds)
_clamp_logit_mu_eta = numba.njit(cache=True, error_model="numpy")(link_clamps.clamp_logit_mu_eta)
_log_mean = numba.njit(cache=True, error_model="numpy")(link_clamps.log_mean)


def compiled_family(family: Family) -> int:
    """The code of ``family`` for the compiled loop, or 0 when it has none."""
    if family.name == "binomial" and family.link.name == "logit":
        return BINOMIAL_LOGIT
    if family.name == "poisson" and family.link.name == "log":
        return POISSON_LOG
    return 0


@numba.njit(cache=True, error_model="numpy")
def mean(code, eta):
    """Mean, d mu / d eta and variance at one linear predictor (R's C code, clamps included)."""
    if code == BINOMIAL_LOGIT:
        t = _logit_odds(eta)
        mu = t / (1.0 + t)
        return mu, _clamp_logit_mu_eta(eta, t / ((1.0 + t) * (1.0 + t))), mu * (1.0 - mu)
    mu = _log_mean(eta)
    return mu, mu, mu


@numba.njit(cache=True, error_model="numpy")
def derivatives(code, eta, mu):
    """d mu / d eta and the variance at a linear predictor whose mean ``mu`` is known (no second exp)."""
    if code == BINOMIAL_LOGIT:
        var = mu * (1.0 - mu)
        return _clamp_logit_mu_eta(eta, var), var
    return mu, mu


@numba.njit(cache=True, error_model="numpy")
def _y_log_y(y, mu):
    return y * math.log(y / mu) if y != 0.0 else 0.0


@numba.njit(cache=True, error_model="numpy")
def dev_resid(code, y, mu, wt):
    if code == BINOMIAL_LOGIT:
        return 2.0 * wt * (_y_log_y(y, mu) + _y_log_y(1.0 - y, 1.0 - mu))
    if y > 0.0:
        return 2.0 * wt * (y * math.log(y / mu) - (y - mu))
    return 2.0 * mu * wt


class PirlsResponse(NamedTuple):
    """The response a run fits, and its family.

    Attributes
    ----------
    family_code : int
        :func:`mixedfx.glmm.family_kernels.compiled_family`'s code.
    y, weights : ndarray, shape (n,)
        The response and prior weights as the family's initialize left them.
    """

    family_code: int
    y: np.ndarray
    weights: np.ndarray


@numba.njit(cache=True, error_model="numpy")
def means_into(code, eta, mu):
    """The means at eta, in place."""
    for r in range(eta.shape[0]):
        mu[r] = mean(code, eta[r])[0]


@numba.njit(cache=True, error_model="numpy")
def penalised_deviance(response, u, mu, resid):
    """Sum of the deviance residuals (filled in) plus ||u||^2.

    A pass of its own: with the exp of :func:`means_into` in the same loop, each row's
    exp, division and log form one chain that the next row cannot overlap.
    """
    code, y, wts = response
    total = 0.0
    for r in range(mu.shape[0]):
        resid[r] = dev_resid(code, y[r], mu[r], wts[r])
        total += resid[r]
    for i in range(u.shape[0]):
        total += u[i] * u[i]
    return total


@numba.njit(cache=True, error_model="numpy")
def working_values(response, eta, mu, base, w, wy):
    """Working weights (into ``w``) and response (into ``wy``) at eta, whose means are mu.

    Returns False where one is not finite. No exit inside the loop, so that it vectorises.
    """
    code, y, wts = response
    finite = True
    for r in range(eta.shape[0]):
        mu_eta, var = derivatives(code, eta[r], mu[r])
        wy[r] = eta[r] - base[r] + (y[r] - mu[r]) / mu_eta
        w[r] = wts[r] * mu_eta * mu_eta / var
        finite &= np.isfinite(wy[r]) & np.isfinite(w[r])
    return finite


@numba.njit(cache=True, error_model="numpy")
def row_deviance_terms(code, a, b, eta):
    """A row's -2 log-likelihood in eta (less its constant) and its first four derivatives.

    ``a`` and ``b`` are :class:`mixedfx.glmm.family_kernels.LogLikelihoodTerms`' (the prior weight times the
    successes' and failures' shares, or times y and 1 for the Poisson family)."""
    mu = mean(code, eta)[0]
    if code == BINOMIAL_LOGIT:
        total = a + b
        value = 0.0
        if a != 0.0:
            value -= 2.0 * a * math.log(mu)
        if b != 0.0:
            value -= 2.0 * b * math.log(1.0 - mu)
        variance = mu * (1.0 - mu)
        second = 2.0 * total * variance
        return value, -2.0 * (a - total * mu), second, second * (1.0 - 2.0 * mu), second * (1.0 - 6.0 * variance)
    value = 2.0 * b * mu
    if a != 0.0:
        value -= 2.0 * a * math.log(mu)
    second = 2.0 * b * mu
    return value, -2.0 * (a - b * mu), second, second, second


@dataclass(frozen=True)
class LogLikelihoodTerms:
    """R's ``family$aic`` as ``-2 (sum(a log(mu) + b g(mu)) + constant)``.

    ``g(mu)`` is ``log(1 - mu)`` for the binomial family and ``-mu`` for the
    Poisson family; ``a``, ``b`` and the constant depend on the response and the
    weights only.
    """

    code: int
    a: np.ndarray
    b: np.ndarray
    constant: float
    deviance_shift: float | None = None

    def aic(self, mu: np.ndarray) -> float:
        """``family$aic`` at the means ``mu``."""
        return aic(self.code, mu, self.a, self.b, self.constant)

    def aic_from_deviance(self, mu: np.ndarray, deviance: float) -> float:
        """``family$aic`` at ``mu``, from the deviance there where the two differ by a constant.

        They do where ``a`` and ``b`` are the prior weights times the response's
        shares (always for the Poisson family; for the binomial family unless
        weights make successes fractional, which R rounds); then this costs no
        pass over the rows.
        """
        return self.aic(mu) if self.deviance_shift is None else deviance + self.deviance_shift


def log_likelihood_terms(family: Family, y: np.ndarray, n_trials: np.ndarray,
                         weights: np.ndarray) -> LogLikelihoodTerms | None:
    """Split ``family$aic`` for the response (None where the family is not compiled or R's value is -Inf).

    Parameters
    ----------
    family : Family
    y : ndarray
        The response as the family sees it (proportions for the binomial family).
    n_trials : ndarray
        Binomial trials per row (1 otherwise).
    weights : ndarray
        Prior weights (times the trials for the binomial family).

    Returns
    -------
    LogLikelihoodTerms or None
    """
    code = compiled_family(family)
    if code == BINOMIAL_LOGIT:
        a, b, constant, deviance_like, entropy = _binomial_terms(y, n_trials, weights)
        # aic = deviance - 2 (constant + sum w (y log y + (1 - y) log(1 - y))) where a, b are w y, w (1 - y)
        return LogLikelihoodTerms(code, a, b, constant, -2.0 * (constant + entropy) if deviance_like else None)
    if code == POISSON_LOG:
        whole, constant, entropy = _poisson_terms(y, weights)
        # aic = deviance - 2 (constant + sum w (y log y - y))
        return LogLikelihoodTerms(code, weights * y, weights, constant, -2.0 * (constant + entropy)) if whole else None
    return None


@numba.njit(cache=True, error_model="numpy")
def _x_log_x(x):
    """x log x, 0 at 0."""
    return x * math.log(x) if x > 0.0 else 0.0


@numba.njit(cache=True, error_model="numpy")
def _binomial_terms(y, n_trials, weights):
    """The binomial family's a, b and constant (R's rounded successes and trials, by the trials where any row has
    more than one, else by the weights); whether a and b are w y and w (1 - y) to 1e-12 relative; and
    sum w (y log y + (1 - y) log(1 - y))."""
    n = y.shape[0]
    by_trials = False
    for r in range(n):
        by_trials |= n_trials[r] > 1.0
    a, b = np.empty(n), np.empty(n)
    constant, entropy, deviance_like = 0.0, 0.0, True
    for r in range(n):
        m = n_trials[r] if by_trials else weights[r]
        share = weights[r] / m if m > 0.0 else 0.0
        size, successes = np.round(m), np.round(m * y[r])
        constant += share * (math.lgamma(size + 1.0) - math.lgamma(successes + 1.0)
                             - math.lgamma(size - successes + 1.0))
        a[r], b[r] = share * successes, share * (size - successes)
        wy, wf = weights[r] * y[r], weights[r] * (1.0 - y[r])
        deviance_like &= abs(a[r] - wy) <= 1e-12 * abs(wy) and abs(b[r] - wf) <= 1e-12 * abs(wf)
        entropy += weights[r] * (_x_log_x(y[r]) + _x_log_x(1.0 - y[r]))
    return a, b, constant, deviance_like, entropy


@numba.njit(cache=True, error_model="numpy")
def _poisson_terms(y, weights):
    """Whether every y is a whole number at least 0 (to 1e-7 relative); the Poisson family's constant; and
    sum w (y log y - y)."""
    constant, entropy = 0.0, 0.0
    for r in range(y.shape[0]):
        if abs(y[r] - np.rint(y[r])) > 1e-7 * max(1.0, abs(y[r])) or y[r] < 0.0:
            return False, 0.0, 0.0
        constant -= weights[r] * math.lgamma(y[r] + 1.0)
        entropy += weights[r] * (_x_log_x(y[r]) - y[r])
    return True, constant, entropy


@numba.njit(cache=True, error_model="numpy")
def aic(code, mu, a, b, constant):
    """``-2 (sum(a log(mu) + b g(mu)) + constant)`` (see :class:`LogLikelihoodTerms`)."""
    total = constant
    for r in range(mu.shape[0]):
        if a[r] != 0.0:
            total += a[r] * math.log(mu[r])
        if code == BINOMIAL_LOGIT:
            if b[r] != 0.0:
                total += b[r] * math.log(1.0 - mu[r])
        else:
            total -= b[r] * mu[r]
    return -2.0 * total
