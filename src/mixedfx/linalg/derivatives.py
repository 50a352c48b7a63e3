"""What the criterion's gradient over theta needs from a factor, for vector-valued terms with a dense coupling.

With ``C = Lt' A Lt + diag(I, 0)`` the penalised system over the random effects
(and, for REML, the fixed effects), ``A = [Z X]' W [Z X]``, ``Lt = diag(Lambda, I)``
and ``G = C^-1``, an entry at row r, column c of a term's template moves every
level's block of Lambda by ``E_rc``, so

- ``d log|C| = 2 tr(G Lt' A dLambda) = 2 sum_levels (F' A)[(l, c), (l, r)]``, ``F = Lt G``;
- ``d pwrss = -2 sum_levels rho_(l, r) u_(l, c)``: the random effects sit at their
  conditional modes, ``rho = Z' W (y - X beta - Z b)`` the weighted residual
  carried to the random effects (at a diagonal Lambda, ``Lambda' rho = u``).

:class:`TemplateDerivatives` holds both per term; :func:`dense_derivatives`
forms them with numpy's BLAS, :mod:`mixedfx.linalg.one_term_gradient` compiled
for one term, :mod:`mixedfx.linalg.sparse_derivatives` for a scalar first term
with a sparse coupling. Nothing needs Lambda's inverse, so they hold on the boundary. Only
G's blocks where A has entries are formed, from the blocked factor: the rest's
block ``S^-1`` (LAPACK's ``potri``), the coupling ``-S^-1 K D^-1`` and the first
term's level blocks ``D_l^-1 + (K D^-1)_l' S^-1 (K D^-1)_l`` (D the first term's
block diagonal, K the coupling, S the rest's Schur complement).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from mixedfx.linalg.cross import CrossProducts
from mixedfx.linalg.factor import BlockedFactor, as_dense
from mixedfx.linalg.layout import templates, term_effects

__all__ = ["TemplateDerivatives", "dense_derivatives", "template_spreads", "rest_inverse_lower", "random_effects_residual",
           "SINGLE_MAX_COND"]


class TemplateDerivatives(NamedTuple):
    """Per term (internal order), k x k matrices over the template's entries ``[r, c]``.

    Attributes
    ----------
    logdet : list of ndarray
        ``d log|C| / d template[r, c]``, C over the random effects and the
        leading ``size`` rows of the rest (the fixed effects too for REML).
    spread : list of ndarray
        ``sum_levels rho_(l, r) u_(l, c)``: ``d pwrss / d template[r, c]`` is ``-2`` times it.
    """

    logdet: list[np.ndarray]
    spread: list[np.ndarray]


def dense_derivatives(cross: CrossProducts, factor: BlockedFactor, theta: np.ndarray,
                      size: int) -> TemplateDerivatives:
    """:class:`TemplateDerivatives` at ``theta`` from its factor.

    Parameters
    ----------
    cross : CrossProducts
        The model's blocks, the coupling dense.
    factor : BlockedFactor
        Their factor at ``theta``.
    theta : ndarray
        Internal term order.
    size : int
        Rows of the rest inside C: ``q_rest + p`` for REML, ``q_rest`` for the deviance.

    Returns
    -------
    TemplateDerivatives

    Examples
    --------
    >>> import mixedfx as mfx
    >>> model = mfx.lmer_model(mfx.lmer_design("Reaction ~ Days + (Days | Subject)",
    ...                                        mfx.datasets.load("sleepstudy")))
    >>> theta = np.array([1.0, 0.0, 0.2])
    >>> parts = dense_derivatives(model.cross, model.factor(theta), theta, model.p)
    >>> parts.logdet[0].shape
    (2, 2)
    """
    tmpls = templates(theta, cross.layout.ks)
    return TemplateDerivatives(logdet=_logdet_derivatives(cross, factor, tmpls, size),
                               spread=template_spreads(cross, factor, tmpls))


def template_spreads(cross: CrossProducts, factor: BlockedFactor, tmpls: list[np.ndarray]) -> list[np.ndarray]:
    """:attr:`TemplateDerivatives.spread`: per term, ``sum_levels rho_l u_l'`` at the factor's conditional modes.

    Parameters
    ----------
    cross : CrossProducts
        The model's blocks (the coupling dense or sparse).
    factor : BlockedFactor
        Their factor at the templates' theta.
    tmpls : list of ndarray
        Each term's template.

    Returns
    -------
    list of ndarray
        One k x k matrix per term.
    """
    layout = cross.layout
    beta, u = factor.solve_coefficients()
    residual = random_effects_residual(cross, tmpls, beta, u)
    spread, start = [], 0
    for k, n in zip(layout.ks, layout.n_levels):
        stop = start + k * n
        spread.append(residual[start:stop].reshape(n, k).T @ u[start:stop].reshape(n, k))
        start = stop
    return spread


def _logdet_derivatives(cross: CrossProducts, factor: BlockedFactor, tmpls: list[np.ndarray],
                        size: int) -> list[np.ndarray]:
    """Per term, the k x k matrix whose (r, c) entry is d log|C| / d template[r, c] (C over ``size`` rest rows)."""
    from mixedfx.linalg.vector_dense import apply_rest_templates  # noqa: PLC0415 - numba loads when used

    layout = cross.layout
    k1, n1 = layout.ks[0], layout.n_levels[0]
    q1 = k1 * n1
    # L11 L11' = T' A11 T + I, so L11's singular values are at least 1 and its inverse is well conditioned
    l11_inverse = np.linalg.inv(factor.l11)
    a_r1 = as_dense(cross.a_r1)[:size].reshape(size, n1, k1)
    # V = L_s1 blockdiag(L11^-1) = K D^-1; G_ss = S^-1; G_s1 = -G_ss V; G_11 blocks = D_l^-1 - V_l' G_s1,l
    v = np.matmul(as_dense(factor.l_r1)[:size].reshape(size, n1, k1).transpose(1, 0, 2),
                  l11_inverse)                                                      # (n1, size, k1)
    g_ss = _rest_inverse(factor.l_rr, size)
    g_s1 = -(g_ss @ v.transpose(1, 0, 2).reshape(size, q1))
    g_s1_levels = g_s1.reshape(size, n1, k1).transpose(1, 0, 2)                   # (n1, size, k1)
    g11 = (np.matmul(l11_inverse.transpose(0, 2, 1), l11_inverse)
           - np.matmul(v.transpose(0, 2, 1), g_s1_levels))
    # the first term: sum over levels of (F' A) on its blocks, F = Lt G
    f_s1 = apply_rest_templates(g_s1, tmpls[1:], layout.n_levels[1:], transpose=False)
    first = (np.einsum("lab,lac->bc", np.matmul(tmpls[0], g11), cross.a11)
             + f_s1.reshape(size * n1, k1).T @ a_r1.reshape(size * n1, k1))
    out = [2.0 * first.T]
    # the other terms: rows J of G times columns J of Lt' A, summed over each term's levels
    scaled_1s = (a_r1.reshape(size * n1, k1) @ tmpls[0]).reshape(size, q1)
    scaled_ss = apply_rest_templates(cross.a_rr[:size, :size], tmpls[1:], layout.n_levels[1:], transpose=True)
    start = 0
    for k, n in zip(layout.ks[1:], layout.n_levels[1:]):
        stop = start + k * n
        part = (np.einsum("lcm,lrm->cr", g_s1[start:stop].reshape(n, k, q1), scaled_1s[start:stop].reshape(n, k, q1))
                + np.einsum("lcm,mlr->cr", g_ss[start:stop].reshape(n, k, size),
                            scaled_ss[:, start:stop].reshape(size, n, k)))
        out.append(2.0 * part.T)
        start = stop
    return out


# Where K's condition number is below this, its inverse is formed in single precision (twice LAPACK's speed):
# G's entries then err by about 1e-5 relative (InstEval, ratings), where the gradient's noise floor is 1e-3
SINGLE_MAX_COND = 1e3


def rest_inverse_lower(l_rr: np.ndarray, size: int, single: bool = False,
                       square: Callable[[int, type], np.ndarray] | None = None) -> np.ndarray:
    """``(K K')^-1`` in the lower triangle of a C-ordered (size, size) array, K the leading block of ``l_rr``.

    LAPACK's ``potri`` on the factor (the Fortran view of K' is K's upper
    triangle, what it reads); above the diagonal the array holds what it held.

    Parameters
    ----------
    l_rr : ndarray, shape (m, m)
        A lower-triangular factor.
    size : int
        The leading block's order.
    single : bool
        In single precision where K's condition number is below ``SINGLE_MAX_COND``
        (the result is then of float32).
    square : callable, optional
        (size, dtype) -> a Fortran-ordered array to work in (kept across calls by
        the caller); a new one when omitted.

    Returns
    -------
    ndarray, shape (size, size)

    Raises
    ------
    numpy.linalg.LinAlgError
        Where the block is singular.

    Examples
    --------
    >>> low = np.array([[2.0, 0.0], [1.0, 1.0]])
    >>> np.round(np.tril(rest_inverse_lower(low, 2)), 3).tolist()
    [[0.5, 0.0], [-0.5, 1.0]]
    >>> rest_inverse_lower(low, 2, single=True).dtype
    dtype('float32')
    """
    import scipy.linalg as sla  # noqa: PLC0415 - a fit that takes no derivatives does not load scipy.linalg

    if not size:
        return np.zeros((0, 0))
    square = square or (lambda n, dtype: np.empty((n, n), dtype=dtype, order="F"))
    # the Fortran view of K' is K's upper triangle: what LAPACK reads
    potri, upper = sla.lapack.spotri, None
    if single:
        upper = square(size, np.float32)
        np.copyto(upper, l_rr[:size, :size].T)
        # the infinity-norm estimate on K' is K's 1-norm condition number
        if not 1.0 / sla.lapack.strcon(upper, norm="I", uplo="U")[0] <= SINGLE_MAX_COND:
            upper = None
    if upper is None:
        potri, upper = sla.lapack.dpotri, square(size, np.float64)
        np.copyto(upper, l_rr[:size, :size].T)
    inverse, info = potri(upper, lower=0, overwrite_c=1)
    if info != 0:
        raise np.linalg.LinAlgError("the factor's rest block is singular")
    return inverse.T


def _rest_inverse(l_rr: np.ndarray, size: int) -> np.ndarray:
    """``(K K')^-1`` as a full symmetric array (:func:`rest_inverse_lower`, mirrored)."""
    lower = rest_inverse_lower(l_rr, size)
    return np.tril(lower) + np.tril(lower, -1).T


def random_effects_residual(cross: CrossProducts, tmpls: list[np.ndarray], beta: np.ndarray,
                            u: np.ndarray) -> np.ndarray:
    """``Z' W (y - X beta - Z b)`` from the blocks (the coupling dense or sparse), b = Lambda u (internal order).

    Parameters
    ----------
    cross : CrossProducts
    tmpls : list of ndarray
        Each term's template.
    beta : ndarray, shape (p,)
    u : ndarray, shape (q,)
        Spherical random effects, internal order.

    Returns
    -------
    ndarray, shape (q,)
    """
    effects = np.concatenate([b.ravel() for b in term_effects(u, tmpls, cross.layout.n_levels)])
    fitted = cross.times(np.concatenate([effects, beta]))
    return (cross.response_products() - fitted)[: len(effects)]
