"""theta and the variance components it stands for, both ways, for Newton steps on the variance components.

lmer optimises theta, each term's template T (lower triangular, its entries
column-major); REML programs step on the variance components instead:
``psi = (sigma^2 T_1 T_1', .., sigma^2 T_k T_k', sigma^2)``, each term's
covariance by its lower triangle in theta's order, then the residual variance.
For a scalar term that is ``tau = sigma^2 theta^2``.

The functions are plain loops over small arrays, so that numba compiles them
as they are (as :func:`mixedfx.linalg.layout.lambda_template`); they report
failure by their boolean result.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["covariance_entries", "covariance_score", "theta_of_covariances"]


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
        for c in range(k):
            for r in range(c, k):
                # (T T')[r, c] = sum_m T[r, m] T[c, m], m <= c
                acc = 0.0
                for m in range(c + 1):
                    acc += theta[start + _position(r, m, k)] * theta[start + _position(c, m, k)]
                out[start + _position(r, c, k)] = sigma2 * acc
        start += k * (k + 1) // 2


def covariance_score(theta, gradient, ks, sigma2, out):
    """The criterion's derivatives over psi from its gradient over theta (sigma^2 profiled), into ``out``.

    The profiled criterion is the criterion over psi at its stationary sigma^2,
    so ``d f / d theta = sigma^2 J' d f / d Sigma`` term by term
    (``J = d (T T') / d T``), and ``d f / d sigma^2 = - sum_a (d f / d Sigma_a) (T T')_a``.

    Parameters
    ----------
    theta, gradient : ndarray
        theta and the criterion's gradient over it.
    ks : sequence of int
        Columns per term.
    sigma2 : float
        The profiled residual variance at theta.
    out : ndarray
        theta's length plus one, overwritten.

    Returns
    -------
    bool
        False where a template is singular (psi's derivatives are then undefined).

    Examples
    --------
    >>> out = np.empty(2)
    >>> covariance_score(np.array([2.0]), np.array([1.0]), [1], 0.5, out)
    True
    >>> out.tolist()  # d f / d tau = g / (2 sigma^2 theta); d f / d sigma^2 = - g theta / (2 sigma^2)
    [0.5, -2.0]
    """
    start, last = 0, 0.0
    for k in ks:
        size = k * (k + 1) // 2
        jacobian_t = np.zeros((size, size))
        for c in range(k):
            for r in range(c, k):
                i = _position(r, c, k)
                # d (T T')[s, t] / d T[r, c] = [s == r] T[t, c] + T[s, c] [t == r], for s >= t
                for t in range(k):
                    for s in range(t, k):
                        value = 0.0
                        if s == r and t >= c:
                            value += theta[start + _position(t, c, k)]
                        if t == r and s >= c:
                            value += theta[start + _position(s, c, k)]
                        jacobian_t[i, _position(s, t, k)] = sigma2 * value
        for j in range(k):
            if not theta[start + _position(j, j, k)] > 0.0:
                return False
        score = np.linalg.solve(jacobian_t, gradient[start: start + size].copy())
        for a in range(size):
            out[start + a] = score[a]
        start += size
    product = np.empty(start)
    covariance_entries(theta, ks, 1.0, product)
    for a in range(start):
        last -= out[a] * product[a]
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
        for c in range(k):
            pivot = psi[start + _position(c, c, k)] / sigma2
            for m in range(c):
                pivot -= out[start + _position(c, m, k)] ** 2
            if not pivot > 0.0:
                return False
            diagonal = math.sqrt(pivot)
            out[start + _position(c, c, k)] = diagonal
            for r in range(c + 1, k):
                value = psi[start + _position(r, c, k)] / sigma2
                for m in range(c):
                    value -= out[start + _position(r, m, k)] * out[start + _position(c, m, k)]
                out[start + _position(r, c, k)] = value / diagonal
        start += k * (k + 1) // 2
    return True


def _position(r, c, k):
    """Where a k x k template's entry (r, c), r >= c, sits in its term's theta (column-major lower triangle)."""
    return c * k - c * (c - 1) // 2 + r - c
