"""lme4's ``glmer.nb``: the negative binomial's theta, found by refits over log(theta).

A Poisson fit gives a first theta (MASS's ``theta.ml`` at its fitted means);
the negative binomial fit's -2 log-likelihood is then minimised over
log(theta) within 3 of it, each refit starting from the previous one's theta.
lme4 reaches its optimum through a chain of warm-started refits; a tight PIRLS
tolerance (``NB_TOL_PWRSS``) makes the profile over theta smooth and reaches
the same optimum directly.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy.special import digamma, polygamma

from mixedfx.design.matrices import ModelMatrices
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.families import negative_binomial, poisson
from mixedfx.glmm.model import GeneralizedLinearMixedModel, GlmmOptimum

__all__ = ["NB_TOL_PWRSS", "theta_ml", "fit_negative_binomial"]

NB_TOL_PWRSS = 1e-10
"""PIRLS's tolerance at most, for a smooth profile over theta."""


def fit_negative_binomial(matrices: ModelMatrices, n_agq: int, control: GlmerControl,
                          tol: float = 5e-5) -> tuple[GeneralizedLinearMixedModel, GlmmOptimum]:
    """The negative binomial model at the maximum-likelihood theta, and its optimum.

    Parameters
    ----------
    matrices : ModelMatrices
        A count response's model (checked as for the Poisson family).
    n_agq : int
    control : GlmerControl
        PIRLS's tolerance is taken at most ``NB_TOL_PWRSS``.
    tol : float
        Tolerance on log(theta).

    Returns
    -------
    model : GeneralizedLinearMixedModel
        With the negative binomial family at the estimated theta.
    optimum : GlmmOptimum
    """
    from scipy.optimize import minimize_scalar  # noqa: PLC0415 - scipy.optimize costs 70 ms to import

    control = replace(control, tol_pwrss=min(control.tol_pwrss, NB_TOL_PWRSS))
    search = replace(control, calc_derivs=False)
    start = GeneralizedLinearMixedModel(matrices, poisson(), n_agq, search)
    theta0 = theta_ml(start.y, start.fit().state.mu, start.weights)
    last_theta = None

    def minus_two_loglik(log_theta: float) -> float:
        nonlocal last_theta
        model = GeneralizedLinearMixedModel(matrices, negative_binomial(float(np.exp(log_theta))), n_agq, search)
        optimum = model.fit(theta0=last_theta)
        last_theta = optimum.theta
        return model.final_deviance(optimum)

    centre = np.log(theta0)
    best = minimize_scalar(minus_two_loglik, bounds=(centre - 3.0, centre + 3.0), method="bounded",
                           options={"xatol": tol})
    model = GeneralizedLinearMixedModel(matrices, negative_binomial(float(np.exp(best.x))), n_agq, control)
    return model, model.fit(theta0=last_theta)


def theta_ml(y: np.ndarray, mu: np.ndarray, weights: np.ndarray, limit: int = 20,
             eps: float = 1e-4) -> float:
    """Maximum-likelihood negative binomial theta for fixed means (MASS's ``theta.ml``).

    Parameters
    ----------
    y, mu, weights : ndarray
        Counts, means and prior weights.
    limit : int
        Most Newton steps.
    eps : float
        Stop when a step is smaller than this.

    Returns
    -------
    float

    Examples
    --------
    >>> y = np.array([0.0, 2.0, 5.0, 1.0, 9.0])
    >>> round(theta_ml(y, np.full(5, y.mean()), np.ones(5)), 3) > 0
    True
    """
    n = weights.sum()
    theta = n / np.sum(weights * (y / mu - 1.0) ** 2)
    for _ in range(limit - 1):
        theta = abs(theta)
        score = np.sum(weights * (digamma(theta + y) - digamma(theta) + np.log(theta) + 1.0
                                  - np.log(theta + mu) - (y + theta) / (mu + theta)))
        info = np.sum(weights * (-polygamma(1, theta + y) + polygamma(1, theta) - 1.0 / theta
                                 + 2.0 / (mu + theta) - (y + theta) / (mu + theta) ** 2))
        step = score / info
        theta += step
        if abs(step) <= eps:
            break
    return float(max(theta, 0.0))
