"""Where R clamps the logit and log links, written once for numpy and for the compiled kernels.

R's C code (``family.c``) holds the logit's ``exp(eta)`` at ``DBL_EPSILON`` below
``eta = -30`` and at ``1 / DBL_EPSILON`` above 30, and its ``d mu / d eta`` at
``DBL_EPSILON`` beyond +-30; the log link's inverse is ``pmax(exp(eta),
DBL_EPSILON)``. Each rule is one function of plain arithmetic: numpy applies it to
arrays (:mod:`mixedfx.glmm.links`) and :mod:`mixedfx.glmm.family_kernels` compiles
it with ``numba.njit`` for one value. A held value is written as a sum over the
ranges of ``eta`` of (``eta`` in the range) times the value there, rather than with
branches (which numpy arrays do not take) or ``np.where`` (which numba computes on
0-d arrays, far slower in the loop over the rows); one term is non-zero, so the
sum is exactly the value.

>>> float(logit_odds(-31.0)) == DBL_EPSILON
True
"""

from __future__ import annotations

import numpy as np

from mixedfx.rbase.rmath import DBL_EPSILON

__all__ = ["LOGIT_THRESHOLD", "logit_odds", "clamp_logit_mu_eta", "log_mean"]

LOGIT_THRESHOLD = 30.0
"""``THRESH`` of R's ``family.c``: beyond this ``|eta|`` R holds the logit's mean and its derivative."""


def logit_odds(eta):
    """``exp(eta)`` as R's ``C_logit_linkinv`` takes it, held beyond +-30.

    Parameters
    ----------
    eta : float or ndarray
        Linear predictors.

    Returns
    -------
    float or ndarray
        ``DBL_EPSILON`` below -30, ``1 / DBL_EPSILON`` above 30, ``exp(eta)``
        between (and ``nan`` for ``nan``); the mean is ``odds / (1 + odds)``.

    Examples
    --------
    >>> import numpy as np
    >>> logit_odds(np.array([0.0, 40.0])).tolist() == [1.0, 1.0 / DBL_EPSILON]
    True
    """
    # exp of eta cut to the range, so the terms of the ranges eta is not in are 0, not 0 * inf
    inside = np.exp(np.minimum(np.maximum(eta, -LOGIT_THRESHOLD), LOGIT_THRESHOLD))
    return ((eta < -LOGIT_THRESHOLD) * DBL_EPSILON + (eta > LOGIT_THRESHOLD) * (1.0 / DBL_EPSILON)
            + (abs(eta) <= LOGIT_THRESHOLD) * inside)


def clamp_logit_mu_eta(eta, mu_eta):
    """R's ``C_logit_mu_eta`` rule: the logit's ``d mu / d eta`` is ``DBL_EPSILON`` beyond +-30.

    Parameters
    ----------
    eta : float or ndarray
        Linear predictors.
    mu_eta : float or ndarray
        ``d mu / d eta`` of the logistic function, finite (as it is computed
        from :func:`logit_odds`, or as ``mu (1 - mu)``): 0 times infinity
        would be ``nan``.

    Returns
    -------
    float or ndarray
        ``DBL_EPSILON`` where ``|eta| > 30``, ``mu_eta`` elsewhere.

    Examples
    --------
    >>> clamp_logit_mu_eta(30.5, 0.25) == DBL_EPSILON, clamp_logit_mu_eta(30.0, 0.25)
    (True, 0.25)
    """
    beyond = abs(eta) > LOGIT_THRESHOLD
    return beyond * DBL_EPSILON + (1 - beyond) * mu_eta


def log_mean(eta):
    """The log link's inverse and ``d mu / d eta``: R's ``pmax(exp(eta), .Machine$double.eps)``.

    Parameters
    ----------
    eta : float or ndarray
        Linear predictors.

    Returns
    -------
    float or ndarray
        ``exp(eta)``, at least ``DBL_EPSILON``.

    Examples
    --------
    >>> float(log_mean(0.0)), float(log_mean(-40.0)) == DBL_EPSILON
    (1.0, True)
    """
    return np.maximum(np.exp(eta), DBL_EPSILON)
