"""R's default contrasts: ``contr.treatment`` for factors, ``contr.poly`` for ordered ones."""

from __future__ import annotations

import numpy as np

from mixedfx.errors import DataError
from mixedfx.formula.evaluate import Factor

__all__ = ["contr_treatment", "contr_poly", "poly_names", "contrasts"]


def contr_treatment(n: int) -> np.ndarray:
    """R's ``contr.treatment(n)``.

    Parameters
    ----------
    n : int
        Number of levels.

    Returns
    -------
    ndarray, shape (n, n - 1)
        Indicators of levels 2..n (the first level is the baseline).
    """
    return np.eye(n)[:, 1:]


def contr_poly(n: int) -> np.ndarray:
    """R's ``contr.poly(n)``: orthonormal polynomials in the scores 1..n.

    Parameters
    ----------
    n : int
        Number of levels (2 to 95, as R allows).

    Returns
    -------
    ndarray, shape (n, n - 1)
        Columns for the linear, quadratic, cubic, ... contrasts; the same
        values as R (Gram-Schmidt on the centred powers of the scores).
    """
    if n < 2:
        raise DataError("contrasts can be applied only to factors with 2 or more levels")
    if n > 95:
        raise DataError(f"orthogonal polynomials cannot be represented accurately enough for {n} levels "
                        "(R's limit is 95)")
    scores = np.arange(1.0, n + 1.0)
    centred = scores - scores.mean()
    powers = centred[:, None] ** np.arange(n)[None, :]
    q, r = np.linalg.qr(powers)
    z = q * np.sign(np.diag(r))[None, :]
    return z[:, 1:]


def poly_names(n: int) -> list[str]:
    """Column names R gives ``contr.poly(n)``.

    Parameters
    ----------
    n : int
        Number of levels.

    Returns
    -------
    list of str
        ``.L .Q .C ^4 ^5 ...`` (n - 1 names).
    """
    return [{1: ".L", 2: ".Q", 3: ".C"}.get(k, f"^{k}") for k in range(1, n)]


def contrasts(factor: Factor, label: str) -> tuple[np.ndarray, list[str]]:
    """The contrast matrix R uses by default for a factor, with its column names.

    Parameters
    ----------
    factor : Factor
        The factor (after unused levels were dropped).
    label : str
        The variable's name, for the error message.

    Returns
    -------
    ndarray, shape (n_levels, n_levels - 1)
        ``contr.poly`` for an ordered factor, ``contr.treatment`` otherwise.
    list of str
        Suffixes appended to the variable's name: level labels, or
        ``.L``/``.Q``/... for polynomial contrasts.

    Raises
    ------
    DataError
        For a factor with fewer than two levels.
    """
    n = len(factor.levels)
    if n < 2:
        raise DataError(f"contrasts can be applied only to factors with 2 or more levels: {label} has "
                        f"{'only the level ' + repr(factor.levels[0]) if n else 'no levels'} in the rows used")
    if factor.ordered:
        return contr_poly(n), poly_names(n)
    return contr_treatment(n), list(factor.levels[1:])
