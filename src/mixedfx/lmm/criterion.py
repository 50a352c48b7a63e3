"""lmer's criterion from a factor's parts, and its gradient from a term's template derivatives.

Plain arithmetic, so that numba compiles these same functions for the compiled
optimisation of small models (:mod:`mixedfx.lmm.one_term_steps`) and Python
runs them everywhere else.
"""

from __future__ import annotations

import math

__all__ = ["LOG_2PI", "profiled_criterion", "template_gradient_entries"]

LOG_2PI = math.log(2.0 * math.pi)


def profiled_criterion(logdet_re, logdet_x, pwrss, dof, log_det_weights, reml):
    """The profiled deviance (ML) or REML criterion from a factor's parts.

    ML: ``log|L_Z|^2 + n (1 + log(2 pi pwrss / n))``; REML adds ``log|R_X|^2``
    and takes ``n - p`` for n (``dof``); both less log|W| of the prior weights.

    Examples
    --------
    >>> round(profiled_criterion(2.0, 1.0, 10.0, 10, 0.0, True), 6)
    31.378771
    """
    value = logdet_re + dof * (1.0 + LOG_2PI + math.log(pwrss / dof)) - log_det_weights
    return value + logdet_x if reml else value


def template_gradient_entries(logdet, spread, pwrss, dof, out, start):
    """One term's share of the criterion's gradient over theta, into ``out[start:]`` (its theta's order).

    The criterion is ``log|C| + dof log(pwrss) + const``: each template entry's
    derivative is ``d log|C| + dof / pwrss * d pwrss``, with ``d pwrss = -2 spread``
    (:class:`mixedfx.linalg.derivatives.TemplateDerivatives`).

    Parameters
    ----------
    logdet, spread : ndarray, shape (k, k)
        The term's template derivatives.
    pwrss : float
    dof : int
        The criterion's residual degrees of freedom: n - p for REML, n otherwise.
    out : ndarray
    start : int
        Where the term's theta starts.

    Returns
    -------
    int
        Where the next term's theta starts.
    """
    k = logdet.shape[0]
    position = start
    for c in range(k):
        for r in range(c, k):
            out[position] = logdet[r, c] - 2.0 * dof / pwrss * spread[r, c]
            position += 1
    return position
