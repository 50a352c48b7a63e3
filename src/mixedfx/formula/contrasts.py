"""R's contrasts: ``contr.treatment``, ``contr.sum``, ``contr.helmert``, ``contr.poly``, ``contr.SAS``.

Factors are coded by ``contr.treatment`` and ordered ones by ``contr.poly``
unless the model's ``contrasts`` argument names another coding for them (R's
``contrasts.arg`` of ``model.matrix``): one of these names, a name with
arguments (``("contr.treatment", {"base": 2})``), or a matrix with a row per
level. Column names follow R: level labels for treatment codings, ``.L .Q .C
^4 ...`` for polynomials, 1, 2, ... for the others and for a plain matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from mixedfx.errors import DataError
from mixedfx.formula.evaluate import Factor

__all__ = ["contr_treatment", "contr_sum", "contr_helmert", "contr_poly", "contr_sas", "poly_names",
           "ContrastSpec", "CONTRAST_NAMES", "check_contrasts", "contrasts"]

ContrastSpec = str | tuple[str, Mapping[str, Any]] | np.ndarray | pd.DataFrame
"""How the ``contrasts`` argument codes one factor: a name, a name with arguments, or a matrix."""


def contr_treatment(n: int, base: int = 1) -> np.ndarray:
    """R's ``contr.treatment(n, base)``.

    Parameters
    ----------
    n : int
        Number of levels.
    base : int
        The baseline level, counted from 1 as R does.

    Returns
    -------
    ndarray, shape (n, n - 1)
        Indicators of the levels other than ``base``.

    Examples
    --------
    >>> contr_treatment(3, base=2).tolist()
    [[1.0, 0.0], [0.0, 0.0], [0.0, 1.0]]
    """
    if not 1 <= base <= n:
        raise DataError(f"baseline group number out of range: base = {base} for a factor with {n} levels")
    matrix = np.eye(n, n - 1, k=-1)  # base 1: level j + 1 in column j (one allocation: a factor may have many levels)
    if base > 1:  # the levels before the base in the columns before it
        matrix[:base, :base - 1] = np.eye(base, base - 1)
    return matrix


def contr_sum(n: int) -> np.ndarray:
    """R's ``contr.sum(n)``: levels 1..n-1 against the last, which gets -1 in every column.

    Examples
    --------
    >>> contr_sum(3).tolist()
    [[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]
    """
    return np.vstack([np.eye(n - 1), -np.ones((1, n - 1))])


def contr_helmert(n: int) -> np.ndarray:
    """R's ``contr.helmert(n)``: column j contrasts level j + 1 with the mean of the levels before it.

    Examples
    --------
    >>> contr_helmert(3).tolist()
    [[-1.0, -1.0], [1.0, -1.0], [0.0, 2.0]]
    """
    matrix = np.zeros((n, n - 1))
    for j in range(n - 1):
        matrix[: j + 1, j] = -1.0
        matrix[j + 1, j] = j + 1.0
    return matrix


def contr_sas(n: int) -> np.ndarray:
    """R's ``contr.SAS(n)``: treatment contrasts with the last level as the baseline.

    Examples
    --------
    >>> contr_sas(3).tolist()
    [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    """
    return contr_treatment(n, base=n)


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

    Examples
    --------
    >>> contr_poly(3)[:, 0].round(4).tolist()
    [-0.7071, -0.0, 0.7071]
    """
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

    Examples
    --------
    >>> poly_names(5)
    ['.L', '.Q', '.C', '^4']
    """
    return [{1: ".L", 2: ".Q", 3: ".C"}.get(k, f"^{k}") for k in range(1, n)]


def _numbered(n: int) -> list[str]:
    return [str(j) for j in range(1, n)]


_CODINGS: dict[str, Callable[..., tuple[np.ndarray, Callable[[tuple[str, ...]], list[str]]]]] = {
    "contr.treatment": lambda n, base=1: (contr_treatment(n, base),
                                          lambda levels: [lv for i, lv in enumerate(levels) if i != base - 1]),
    "contr.SAS": lambda n: (contr_sas(n), lambda levels: list(levels[:-1])),
    "contr.sum": lambda n: (contr_sum(n), lambda levels: _numbered(len(levels))),
    "contr.helmert": lambda n: (contr_helmert(n), lambda levels: _numbered(len(levels))),
    "contr.poly": lambda n: (contr_poly(n), lambda levels: poly_names(len(levels))),
}
CONTRAST_NAMES = tuple(_CODINGS)
"""The codings the ``contrasts`` argument accepts by name."""


def check_contrasts(arg: Mapping[str, ContrastSpec] | None) -> dict[str, ContrastSpec]:
    """The ``contrasts`` argument checked for its form (the levels are checked when coding).

    Parameters
    ----------
    arg : dict of str to ContrastSpec, or None
        Variable label to coding.

    Returns
    -------
    dict

    Raises
    ------
    TypeError
        Not a mapping, or a coding of an unknown form.
    ValueError
        An unknown coding name, or arguments it does not take.

    Examples
    --------
    >>> check_contrasts({"period": "contr.sum"})
    {'period': 'contr.sum'}
    """
    if arg is None:
        return {}
    if not isinstance(arg, Mapping):
        raise TypeError(f"contrasts must be a dict of variable to coding, e.g. {{'period': 'contr.sum'}}, "
                        f"not {type(arg).__name__}")
    for label, spec in arg.items():
        name, options = (spec if isinstance(spec, tuple) and len(spec) == 2 else (spec, {}))
        if isinstance(name, np.ndarray | pd.DataFrame):
            continue
        if not isinstance(name, str) or not isinstance(options, Mapping):
            raise TypeError(f"contrasts[{label!r}] must be a coding name, (name, options) or a matrix, "
                            f"not {spec!r}")
        if name not in _CODINGS:
            raise ValueError(f"contrasts[{label!r}]: unknown coding {name!r}; use one of "
                             f"{', '.join(CONTRAST_NAMES)} or a matrix with a row per level")
        if set(options) - ({"base"} if name == "contr.treatment" else set()):
            raise ValueError(f"contrasts[{label!r}]: {name} takes no options {sorted(options)}"
                             + ("; contr.treatment takes 'base'" if name == "contr.treatment" else ""))
    return dict(arg)


def _matrix_coding(spec: np.ndarray | pd.DataFrame, n: int, label: str) -> tuple[np.ndarray, list[str]]:
    matrix = np.asarray(spec, dtype=float)
    if matrix.ndim == 1:
        matrix = matrix[:, None]
    if matrix.ndim != 2 or matrix.shape[0] != n:
        raise DataError(f"wrong number of contrast matrix rows for {label}: it has {n} levels in the rows used, "
                        f"the matrix has shape {matrix.shape}")
    if not np.all(np.isfinite(matrix)):
        raise DataError(f"the contrast matrix for {label} has missing or infinite entries")
    names = [str(c) for c in spec.columns] if isinstance(spec, pd.DataFrame) else _numbered(matrix.shape[1] + 1)
    return matrix, names


def contrasts(factor: Factor, label: str, spec: ContrastSpec | None = None) -> tuple[np.ndarray, list[str]]:
    """The contrast matrix R codes a factor with, and its column names.

    Parameters
    ----------
    factor : Factor
        The factor (after unused levels were dropped).
    label : str
        The variable's name, for error messages.
    spec : ContrastSpec, optional
        The ``contrasts`` argument's coding for it; R's default without
        (``contr.poly`` for an ordered factor, ``contr.treatment`` otherwise).

    Returns
    -------
    ndarray, shape (n_levels, n_columns)
        The contrasts (``n_levels - 1`` columns unless a matrix gives others).
    list of str
        Suffixes appended to the variable's name.

    Raises
    ------
    DataError
        For a factor with fewer than two levels, or a matrix whose rows are not its levels.

    Examples
    --------
    >>> import numpy as np
    >>> f = Factor(np.array([0, 1, 2]), ("a", "b", "c"))
    >>> contrasts(f, "g", "contr.sum")[1], contrasts(f, "g", ("contr.treatment", {"base": 2}))[1]
    (['1', '2'], ['a', 'c'])
    """
    n = len(factor.levels)
    if n < 2:
        raise DataError(f"contrasts can be applied only to factors with 2 or more levels: {label} has "
                        f"{'only the level ' + repr(factor.levels[0]) if n else 'no levels'} in the rows used")
    if spec is None:
        spec = "contr.poly" if factor.ordered else "contr.treatment"
    if isinstance(spec, np.ndarray | pd.DataFrame):
        return _matrix_coding(spec, n, label)
    name, options = spec if isinstance(spec, tuple) else (spec, {})
    matrix, names = _CODINGS[name](n, **options)
    return matrix, names(factor.levels)
