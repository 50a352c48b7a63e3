"""theta and the variance components it stands for, both ways, for Newton steps on the variance components.

lmer optimises theta, each term's template T (lower triangular, its entries
column-major); REML programs step on the variance components instead:
``psi = (sigma^2 T_1 T_1', .., sigma^2 T_k T_k', sigma^2)``, each term's
covariance by its lower triangle in theta's order, then the residual variance.
For a scalar term that is ``tau = sigma^2 theta^2``.

The functions are plain loops over small arrays, so that numba compiles them
as they are (as :func:`mixedfx.linalg.layout.lambda_template`); they report
failure by their boolean result, and call none of their own (numba compiles
what they call only when it is compiled too): each finds a template's entry
(r, c), r >= c, at its column's offset plus r.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["covariance_entries", "covariance_score", "theta_of_covariances", "newton_step"]


def covariance_entries(theta, ks, sigma2, out):
    """``sigma2 T T'`` of each term, its lower triangle in theta's order, into ``out`` (theta's length).

    Parameters
    ----------
    theta : ndarray
        Every term's template entries, column-major.
    ks : sequence of int
        Columns per term.
    sigma2 : float
    out : ndarray
        Overwritten.

    Examples
    --------
    >>> out = np.empty(3)
    >>> covariance_entries(np.array([2.0, 1.0, 3.0]), [2], 0.5, out)
    >>> out.tolist()
    [2.0, 1.0, 5.0]
    """
    start = 0
    for k in ks:
        at = np.empty(k, dtype=np.int64)  # where template column c's entry (r, c) sits, less r
        for c in range(k):
            at[c] = start + c * k - c * (c - 1) // 2 - c
        for c in range(k):
            for r in range(c, k):
                # (T T')[r, c] = sum_m T[r, m] T[c, m], m <= c
                acc = 0.0
                for m in range(c + 1):
                    acc += theta[at[m] + r] * theta[at[m] + c]
                out[at[c] + r] = sigma2 * acc
        start += k * (k + 1) // 2


def covariance_score(theta, gradient, ks, sigma2, covariances, out):
    """The criterion's derivatives over psi from its gradient over theta (sigma^2 profiled), into ``out``.

    With ``Phi`` the symmetric matrix of a term's derivatives over its
    covariance (off the diagonal, half of each entry's), ``d Sigma = sigma^2 (dT
    T' + T dT')`` gives ``d f / d T = 2 sigma^2 Phi T`` on T's lower triangle:
    solved for Phi column by column from the last, each column from its last
    row up. The profiled criterion is stationary in sigma^2, so
    ``d f / d sigma^2 = - sum_a (d f / d Sigma_a) Sigma_a / sigma^2``.

    Parameters
    ----------
    theta, gradient : ndarray
        theta and the criterion's gradient over it.
    ks : sequence of int
        Columns per term.
    sigma2 : float
        The profiled residual variance at theta.
    covariances : ndarray
        :func:`covariance_entries` at theta and sigma2.
    out : ndarray
        theta's length plus one, overwritten.

    Returns
    -------
    bool
        False where a template is singular (psi's derivatives are then undefined).

    Examples
    --------
    >>> out = np.empty(2)
    >>> covariance_score(np.array([2.0]), np.array([1.0]), [1], 0.5, np.array([2.0]), out)
    True
    >>> out.tolist()  # d f / d tau = g / (2 sigma^2 theta); d f / d sigma^2 = - g theta / (2 sigma^2)
    [0.5, -2.0]
    """
    start = 0
    for k in ks:
        at = np.empty(k, dtype=np.int64)  # where template column c's entry (r, c) sits, less r
        for c in range(k):
            at[c] = start + c * k - c * (c - 1) // 2 - c
        for j in range(k):
            if not theta[at[j] + j] > 0.0:
                return False
        # Phi's lower triangle into out; (Phi T)[r, c] = sum_{m >= c} Phi[r, m] T[m, c]
        for c in range(k - 1, -1, -1):
            for r in range(k - 1, c - 1, -1):
                value = gradient[at[c] + r] / (2.0 * sigma2)
                for m in range(c + 1, k):
                    phi = out[at[m] + r] if r >= m else out[at[r] + m]
                    value -= phi * theta[at[c] + m]
                out[at[c] + r] = value / theta[at[c] + c]
        for c in range(k):
            for r in range(c + 1, k):
                out[at[c] + r] *= 2.0
        start += k * (k + 1) // 2
    last = 0.0
    for a in range(start):
        last -= out[a] * covariances[a] / sigma2
    out[start] = last
    return True


def theta_of_covariances(psi, ks, out):
    """theta from psi (covariance entries, then sigma^2): each ``Sigma_j / sigma^2``'s Cholesky factor, into ``out``.

    Returns
    -------
    bool
        False where sigma^2 or a covariance is not positive definite.

    Examples
    --------
    >>> out = np.empty(3)
    >>> theta_of_covariances(np.array([2.0, 1.0, 5.0, 0.5]), [2], out)
    True
    >>> out.tolist()
    [2.0, 1.0, 3.0]
    """
    sigma2 = psi[len(psi) - 1]
    if not sigma2 > 0.0:
        return False
    start = 0
    for k in ks:
        at = np.empty(k, dtype=np.int64)  # where template column c's entry (r, c) sits, less r
        for c in range(k):
            at[c] = start + c * k - c * (c - 1) // 2 - c
        for c in range(k):
            pivot = psi[at[c] + c] / sigma2
            for m in range(c):
                pivot -= out[at[m] + c] ** 2
            if not pivot > 0.0:
                return False
            diagonal = math.sqrt(pivot)
            out[at[c] + c] = diagonal
            for r in range(c + 1, k):
                value = psi[at[c] + r] / sigma2
                for m in range(c):
                    value -= out[at[m] + r] * out[at[m] + c]
                out[at[c] + r] = value / diagonal
        start += k * (k + 1) // 2
    return True


def newton_step(score, hessian, step):
    """The Newton step ``-hessian^-1 score`` into ``step``, and the decrease it predicts, ``score' hessian^-1 score / 2``.

    Returns
    -------
    float
        The predicted decrease; -1 where the Hessian is not positive definite
        (or the step not finite).

    Examples
    --------
    >>> step = np.empty(2)
    >>> round(newton_step(np.array([2.0, -1.0]), np.array([[2.0, 0.0], [0.0, 4.0]]), step), 12)
    1.125
    >>> np.round(step, 12).tolist()
    [-1.0, 0.25]
    >>> newton_step(np.array([1.0, 1.0]), np.array([[1.0, 2.0], [2.0, 1.0]]), step)
    -1.0
    """
    n = len(score)
    lower = np.zeros((n, n))
    for j in range(n):
        pivot = hessian[j, j]
        for m in range(j):
            pivot -= lower[j, m] ** 2
        if not pivot > 0.0:
            return -1.0
        lower[j, j] = math.sqrt(pivot)
        for i in range(j + 1, n):
            value = hessian[i, j]
            for m in range(j):
                value -= lower[i, m] * lower[j, m]
            lower[i, j] = value / lower[j, j]
    # L z = score, then L' step = -z
    decrease = 0.0
    for i in range(n):
        value = score[i]
        for m in range(i):
            value -= lower[i, m] * step[m]
        step[i] = value / lower[i, i]
        decrease += step[i] ** 2
    for i in range(n - 1, -1, -1):
        value = step[i]
        for m in range(i + 1, n):
            value -= lower[m, i] * step[m]
        step[i] = value / lower[i, i]
    for i in range(n):
        step[i] = -step[i]
    decrease *= 0.5
    return float(decrease) if math.isfinite(decrease) else -1.0
