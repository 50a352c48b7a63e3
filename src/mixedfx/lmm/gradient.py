"""The gradient of lmer's criterion over theta.

For vector-valued terms with a dense coupling, :func:`template_gradient` combines
the factor's :class:`~mixedfx.linalg.derivatives.TemplateDerivatives`:
``d log|C| - dof / pwrss * 2 spread`` on each template entry.

When every random-effects term is scalar (crossed, sparse coupling),
:func:`criterion_gradient`: with ``Lambda = diag(theta_j I)`` two identities give it from one factorisation:

- ``d log|C| / d theta_j = 2 (q_j - tr_j(C^-1)) / theta_j``, C the penalised
  system over the random effects (and the fixed effects for REML), ``tr_j`` the
  trace over term j's rows: ``Lambda A Lambda = C - I`` on those rows;
- ``d pwrss / d theta_j = -2 |u_j|^2 / theta_j``: the random effects sit at their
  conditional modes, where ``theta_j Z_j' W r = u_j``.

Both vanish at ``theta_j = 0``, where the criterion is even in ``theta_j``. The
traces need ``C^-1`` over the rest block (LAPACK's ``potri``, in single precision
where that block is well conditioned) and, for the first term, one pass over the
coupling's columns (:meth:`mixedfx.linalg.sparse_gram.ScalarSchur.weighted_trace`).
"""

from __future__ import annotations

import numpy as np

from mixedfx.linalg.cross import CrossProducts
from mixedfx.linalg.derivatives import TemplateDerivatives, rest_inverse_lower
from mixedfx.linalg.factorizer import ScalarFactorizer
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.layout import scalar_row_scales
from mixedfx.lmm.criterion import template_gradient_entries

__all__ = ["GradientWorkspace", "criterion_gradient", "spherical_effects", "template_gradient"]


class GradientWorkspace:
    """Arrays that :func:`criterion_gradient` overwrites at each call, kept for one optimisation.

    Its temporaries are as large as the Cholesky factor; allocated afresh at each
    evaluation they cost page faults of the order of the factorisation itself.

    Parameters
    ----------
    m : int
        Rows of the rest block (``a_rr``).

    Attributes
    ----------
    rest : ndarray, shape (m, m)
        Where the factorisation forms and factors the rest block.
    """

    def __init__(self, m: int) -> None:
        self.rest = np.empty((m, m))
        self._flat: dict[type, np.ndarray] = {}
        self._m = m

    def square(self, size: int, dtype: type) -> np.ndarray:
        """A Fortran-ordered (size, size) array of ``dtype`` (size at most m), reused across calls."""
        flat = self._flat.get(dtype)
        if flat is None:
            flat = self._flat[dtype] = np.empty(self._m * self._m, dtype=dtype)
        return flat[: size * size].reshape((size, size), order="F")


def _inverse_traces(factorizer: ScalarFactorizer, factor: BlockedFactor, theta: np.ndarray, reml: bool,
                    workspace: GradientWorkspace | None) -> np.ndarray:
    """tr_j(C^-1) for each term (internal order), C as in the module's docstring (REML: X included)."""
    cp = factorizer.cross
    layout = cp.layout
    size = layout.q_rest + (layout.p if reml else 0)
    l11 = factor.l11[:, 0, 0]
    traces = np.zeros(len(layout.ks))
    traces[0] = np.sum(1.0 / l11**2)
    if not size:
        return traces
    workspace = workspace if workspace is not None else GradientWorkspace(cp.a_rr.shape[0])
    # (K K')^-1's upper triangle, Fortran-ordered
    upper_inverse = rest_inverse_lower(factor.l_rr, size, single=True, square=workspace.square).T
    diagonal = np.diagonal(upper_inverse)
    starts = np.cumsum([0] + layout.n_levels[1:])
    traces[1:] = [diagonal[a:b].sum(dtype=float) for a, b in zip(starts[:-1], starts[1:])]
    # the first term's block of the inverse: L11^-2 + B' (K K')^-1 B with B = R A_r1 theta1 L11^-2
    traces[0] += factorizer.schur.weighted_trace(upper_inverse, theta[0] ** 2 / l11**4,
                                                scalar_row_scales(theta, layout))
    return traces


def criterion_gradient(factorizer: ScalarFactorizer, factor: BlockedFactor, theta: np.ndarray, reml: bool,
                       dof: int, workspace: GradientWorkspace | None = None,
                       u: np.ndarray | None = None) -> np.ndarray:
    """Gradient over theta of lmer's criterion (deviance or REML criterion) at ``theta``.

    Parameters
    ----------
    factorizer : ScalarFactorizer
        The factoriser of a model whose terms are all scalar.
    factor : BlockedFactor
        Its factorisation at ``theta``.
    theta : ndarray
        One value per term, internal order.
    reml : bool
        The REML criterion (True) or the deviance.
    dof : int
        The criterion's residual degrees of freedom: n - p for REML, n otherwise.
    workspace : GradientWorkspace, optional
        Arrays to overwrite; new ones when omitted.
    u : ndarray, optional
        :func:`spherical_effects` at ``theta``, where the caller has them.

    Returns
    -------
    ndarray, shape (n_terms,)
    """
    layout = factorizer.cross.layout
    traces = _inverse_traces(factorizer, factor, theta, reml, workspace)
    u = spherical_effects(factorizer.cross, factor, theta) if u is None else u
    starts = np.cumsum([0] + layout.n_levels)
    u_squares = np.array([np.dot(u[a:b], u[a:b]) for a, b in zip(starts[:-1], starts[1:])])
    sizes = np.asarray(layout.n_levels, dtype=float)
    numerator = 2.0 * (sizes - traces - dof * u_squares / factor.pwrss)
    positive = theta > 0
    return np.where(positive, numerator / np.where(positive, theta, 1.0), 0.0)


def spherical_effects(cp: CrossProducts, factor: BlockedFactor, theta: np.ndarray) -> np.ndarray:
    """u at ``theta`` (internal order), without forming the coupling block of L.

    The same values as ``factor.solve_coefficients()[1]``: with ``L_r1 = R A_r1
    diag(c)``, ``u1 = c / l11 * (A_r1' w)`` for ``w = (-R v, 1)``, v the rest's
    solution (the last row of ``L_rr`` solved against ``L_rr'``).
    """
    v = factor.rest_solution()
    w = np.append(-scalar_row_scales(theta, cp.layout)[:-1] * v, 1.0)
    l11 = factor.l11[:, 0, 0]
    u1 = theta[0] / l11**2 * np.asarray(cp.a_r1.T @ w).ravel()
    return np.concatenate([u1, v[: cp.layout.q_rest]])


def template_gradient(derivatives: TemplateDerivatives, pwrss: float, dof: int) -> np.ndarray:
    """Gradient over theta of lmer's criterion from a factor's :class:`~mixedfx.linalg.derivatives.TemplateDerivatives`.

    The criterion is ``log|C| + dof log(pwrss) + const``: each template entry's
    derivative is ``d log|C| + dof / pwrss * d pwrss``, with ``d pwrss = -2 spread``.

    Parameters
    ----------
    derivatives : TemplateDerivatives
        At theta, with C over the fixed effects too for REML.
    pwrss : float
        The penalised residual sum of squares at theta.
    dof : int
        The criterion's residual degrees of freedom: n - p for REML, n otherwise.

    Returns
    -------
    ndarray
        In theta's order (each template's lower triangle, column-major).

    Examples
    --------
    >>> parts = TemplateDerivatives(logdet=[np.array([[2.0, 0.0], [0.5, 1.0]])], spread=[np.eye(2)])
    >>> template_gradient(parts, pwrss=4.0, dof=8).tolist()
    [-2.0, 0.5, -3.0]
    """
    out = np.empty(sum(logdet.shape[0] * (logdet.shape[0] + 1) // 2 for logdet in derivatives.logdet))
    start = 0
    for logdet, spread in zip(derivatives.logdet, derivatives.spread):
        start = template_gradient_entries(logdet, spread, pwrss, dof, out, start)
    return out
