"""When a Cholesky pivot counts as zero: the one rule every factor of the penalised system applies.

Whether an exactly singular matrix leaves a pivot of +1e-17 or -1e-17 depends on
the order of the floating-point operations (BLAS kernel, CPU features, compiler
vectorisation), so the sign of a pivot cannot decide rank. A computed Cholesky
factor is the exact factor of ``A + E`` with ``|E| <= gamma_(n+1) |L| |L'|``
(Higham, *Accuracy and Stability of Numerical Algorithms*, thm. 10.3), and the
diagonal of ``|L| |L'|`` is A's diagonal; so a pivot within ``eps * n * A_jj``
of zero is indistinguishable from zero. The bound is taken per column, against
the column's diagonal before any elimination, so that rescaling a predictor
never changes the verdict.

The compiled kernels (:mod:`mixedfx.linalg.cholesky`) apply :func:`pivot_floor`
pivot by pivot and report the outcome as one of the status codes named here;
the Python doors above them raise ``numpy.linalg.LinAlgError`` instead.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EPSILON", "OK", "NOT_POSITIVE_DEFINITE", "pivot_floor"]

EPSILON = float(np.finfo(np.float64).eps)

# What a compiled factorisation returns. Codes of later stages (PIRLS's, in
# mixedfx.glmm.pirls_status) continue this numbering, so one value means one thing.
OK = 0
NOT_POSITIVE_DEFINITE = 1


def pivot_floor(reference, order):
    """The largest pivot that is zero up to rounding.

    Plain arithmetic, so compiled kernels wrap it with ``numba.njit`` and
    numpy applies it to arrays.

    Parameters
    ----------
    reference : float or ndarray
        The pivot's column diagonal in the matrix before any elimination.
    order : int
        The order of the whole system the pivot was eliminated in.

    Returns
    -------
    float or ndarray
        A pivot (the square of the factor's diagonal) at or below this is singular.

    Examples
    --------
    >>> pivot_floor(4.0, 10) == 40 * EPSILON
    True
    """
    return EPSILON * order * reference
