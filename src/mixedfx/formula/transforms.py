"""R's stateful transforms: formula functions whose values depend on the whole fitted data.

``poly(x, degree)`` (orthogonal polynomials), ``poly(x, degree, raw = TRUE)``,
``scale(x, center, scale)`` and the splines package's ``bs(x, df, degree)``
and ``ns(x, df)`` learn parameters from the rows they are evaluated on:
poly's recurrence coefficients ``alpha`` and ``norm2``, scale's center and
scale, the splines' knots (:mod:`mixedfx.formula.splines`). Evaluated on the fitted data, each call learns them and
they are recorded by the call's deparsed text in :class:`LearnedTransforms`;
evaluated on new data, the call reuses them, as R's ``makepredictcall``
rewrites a model's ``predvars`` (``poly(Days, 2, coefs = list(...))``,
``scale(x, center = 4.5, scale = 2.88)``), so new rows are coded on the
fitted basis.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from mixedfx.errors import DataError, FormulaError
from mixedfx.formula.splines import SplineBasis, learn_spline, spline_values
from mixedfx.formula.syntax import Call, Name, Node, Num, Paren, Unary, deparse

__all__ = [
    "PolyCoefs", "ScaleParams", "TransformParams", "LearnedTransforms", "TransformCall", "transform_call",
    "orthogonal_poly", "poly_from_coefs", "raw_poly", "scale_params", "scale_from_moments", "apply_scale",
    "poly_recurrence", "poly_missing_error", "check_poly_degree", "check_poly_powers",
    "STATEFUL_FUNCTIONS", "MATRIX_FUNCTIONS",
]

STATEFUL_FUNCTIONS = ("poly", "scale", "bs", "ns")
MATRIX_FUNCTIONS = frozenset({"poly", "bs", "ns"})  # their value may have several columns

# R's qr() (LINPACK dqrdc2) treats a column as dependent when its norm after
# elimination falls below this fraction of its original norm.
_QR_RANK_TOL = 1e-7

_LOGICAL_NAMES = {"TRUE": True, "T": True, "FALSE": False, "F": False}


@dataclass(frozen=True)
class PolyCoefs:
    """The recurrence coefficients of R's orthogonal ``poly`` (its ``attr(, "coefs")``).

    Attributes
    ----------
    alpha : tuple of float
        ``degree`` centres of the three-term recurrence.
    norm2 : tuple of float
        ``degree + 2`` squared norms: 1, then those of the polynomials of
        degree 0 (the number of rows), 1, ..., ``degree``.
    """

    alpha: tuple[float, ...]
    norm2: tuple[float, ...]

    @property
    def degree(self) -> int:
        """The polynomial's degree (its number of columns)."""
        return len(self.alpha)


@dataclass(frozen=True)
class ScaleParams:
    """What R's ``scale`` subtracts and divides by (``scaled:center``, ``scaled:scale``).

    Attributes
    ----------
    center : float or None
        Subtracted from x; None for ``center = FALSE``.
    scale : float or None
        Divides the centred x; None for ``scale = FALSE``.
    """

    center: float | None
    scale: float | None


TransformParams = PolyCoefs | ScaleParams | SplineBasis


@dataclass(frozen=True)
class LearnedTransforms:
    """The parameters each stateful call learned on the fitted data.

    Attributes
    ----------
    params : mapping of str to PolyCoefs, ScaleParams or SplineBasis
        By the call's deparsed text (``"poly(Days, 2)"``, ``"scale(x)"``).
        Raw polynomials learn nothing and are absent.

    Examples
    --------
    >>> learned = LearnedTransforms({"scale(x)": ScaleParams(center=2.0, scale=1.0)})
    >>> learned.get("scale(x)").center, learned.get("poly(x, 2)")
    (2.0, None)
    """

    params: Mapping[str, TransformParams] = field(default_factory=dict)

    def get(self, key: str) -> TransformParams | None:
        """The parameters learned for the call ``key``; None if it learned none."""
        return self.params.get(key)


# --------------------------------------------------------------------------- the math
def poly_missing_error(label: str, count: int, first_row: object) -> DataError:
    """R's refusal of missing values in ``poly()``'s argument: ``count`` of them, the first in row ``first_row``.

    Examples
    --------
    >>> str(poly_missing_error("poly(x, 2)", 2, 7)).split(";")[0]
    "missing values are not allowed in 'poly': the argument of poly(x, 2) has 2 missing, the first in row 7"
    """
    return DataError(f"missing values are not allowed in 'poly': the argument of {label} has {count} missing, "
                     f"the first in row {first_row}; remove those rows from the data")


def check_poly_degree(label: str, degree: int, distinct: int) -> None:
    """R's refusal of a degree not below the number of distinct values of ``poly()``'s argument.

    Raises
    ------
    DataError
    """
    if degree >= distinct:
        raise DataError(f"'degree' must be less than number of unique points: {label} asks for degree {degree} "
                        f"but its argument takes {distinct} distinct value{'s' if distinct != 1 else ''}; "
                        "lower the degree")


def check_poly_powers(label: str, degree: int, residual_norms: np.ndarray, power_norms: np.ndarray) -> None:
    """R's ``qr()`` rank rule on the centred powers 0 .. degree of ``poly()``'s argument.

    Parameters
    ----------
    label : str
        The call, for the message.
    degree : int
    residual_norms : ndarray, shape (degree + 1,)
        The norm of each power less its projection on the lower ones (R's ``|diag(qr.R)|``).
    power_norms : ndarray, shape (degree + 1,)
        The norm of each power of the centred argument.

    Raises
    ------
    DataError
        Where a power is numerically dependent on the lower ones.
    """
    if np.any(residual_norms < _QR_RANK_TOL * power_norms):
        raise DataError(f"'degree' must be less than number of unique points: the powers of the argument of "
                        f"{label} up to {degree} are numerically dependent; lower the degree")


def orthogonal_poly(x: np.ndarray, degree: int, label: str = "poly()",
                    index: object = None) -> tuple[np.ndarray, PolyCoefs]:
    """R's ``poly(x, degree)``: orthonormal polynomials in x and their recurrence coefficients.

    x is centred by its mean, the Vandermonde matrix of the centred values
    (powers 0 .. degree) is factored by QR, and column j of Q times R's j-th
    diagonal entry is the part of x^j orthogonal to the lower powers. Their
    squared norms are ``norm2``, their x-weighted centres ``alpha``; the
    columns of degree 1 .. degree, scaled to unit norm, are the basis.

    Parameters
    ----------
    x : ndarray of float, shape (n,)
        The values; none may be missing.
    degree : int
        At least 1, and less than the number of distinct values.
    label : str
        The call, for error messages.
    index : sequence, optional
        The rows' labels, for error messages.

    Returns
    -------
    ndarray, shape (n, degree)
        The orthonormal basis (columns ``1``, ..., ``degree`` in R).
    PolyCoefs
        What :func:`poly_from_coefs` needs to code new values alike.

    Raises
    ------
    DataError
        Missing values in x, or a degree not below the number of distinct values.

    Examples
    --------
    >>> basis, coefs = orthogonal_poly(np.arange(1.0, 11.0), 3)
    >>> round(float(basis[0, 0]), 8), np.round(coefs.alpha, 10).tolist(), np.round(coefs.norm2, 6).tolist()
    (-0.49543369, [5.5, 5.5, 5.5], [1.0, 10.0, 82.5, 528.0, 3088.8])
    """
    missing = np.flatnonzero(np.isnan(x))
    if missing.size:
        raise poly_missing_error(label, missing.size, missing[0] if index is None else index[missing[0]])
    check_poly_degree(label, degree, np.unique(x).size)
    xbar = float(np.mean(x))
    centred = x - xbar
    vandermonde = centred[:, None] ** np.arange(degree + 1)
    q, r = np.linalg.qr(vandermonde)
    diagonal = np.diag(r)
    check_poly_powers(label, degree, np.abs(diagonal), np.linalg.norm(vandermonde, axis=0))
    residuals = q * diagonal  # x^j less its projection on the lower powers
    norms = np.einsum("ij,ij->j", residuals, residuals)
    alpha = (centred @ residuals**2) / norms + xbar
    coefs = PolyCoefs(alpha=tuple(float(a) for a in alpha[:degree]),
                      norm2=(1.0, *(float(v) for v in norms)))
    return residuals[:, 1:] / np.sqrt(norms[1:]), coefs


def poly_from_coefs(x: np.ndarray, coefs: PolyCoefs) -> np.ndarray:
    """R's ``poly(x, coefs = )``: new values on a fitted orthogonal basis, by the three-term recurrence.

    Parameters
    ----------
    x : ndarray of float, shape (n,)
        New values (NaN gives NaN rows).
    coefs : PolyCoefs
        From :func:`orthogonal_poly` on the fitted values.

    Returns
    -------
    ndarray, shape (n, coefs.degree)

    Examples
    --------
    >>> fitted, coefs = orthogonal_poly(np.arange(1.0, 11.0), 2)
    >>> bool(np.allclose(poly_from_coefs(np.arange(1.0, 11.0), coefs), fitted))
    True
    """
    return poly_recurrence(x, coefs.alpha, coefs.norm2)[:, 1:] / np.sqrt(np.asarray(coefs.norm2[2:]))


def poly_recurrence(x: np.ndarray, alpha: Sequence[float], norm2: Sequence[float]) -> np.ndarray:
    """The orthogonal polynomials of degrees 0 .. len(alpha) at x, unscaled, by R's three-term recurrence.

    ``p0 = 1``, ``p1 = x - alpha[0]``, ``p(j+1) = (x - alpha[j]) pj - (norm2[j+1] / norm2[j]) p(j-1)``.

    Parameters
    ----------
    x : ndarray of float, shape (n,)
    alpha : sequence of float
        The centres of degrees 0 .. d - 1.
    norm2 : sequence of float
        1, then the squared norms of degrees 0 .. d - 1 (at least d + 1 values).

    Returns
    -------
    ndarray, shape (n, d + 1)

    Examples
    --------
    >>> poly_recurrence(np.array([0.0, 1.0, 2.0]), (1.0, 1.0), (1.0, 3.0, 2.0))[:, 2].round(6).tolist()
    [0.333333, -0.666667, 0.333333]
    """
    p = np.empty((x.shape[0], len(alpha) + 1))
    p[:, 0] = 1.0
    p[:, 1] = x - alpha[0]
    for j in range(1, len(alpha)):
        p[:, j + 1] = (x - alpha[j]) * p[:, j] - (norm2[j + 1] / norm2[j]) * p[:, j - 1]
    return p


def raw_poly(x: np.ndarray, degree: int) -> np.ndarray:
    """R's ``poly(x, degree, raw = TRUE)``: the powers 1 .. degree of x.

    Examples
    --------
    >>> raw_poly(np.array([2.0, 3.0]), 3).tolist()
    [[2.0, 4.0, 8.0], [3.0, 9.0, 27.0]]
    """
    return x[:, None] ** np.arange(1, degree + 1)


def scale_params(x: np.ndarray, center: bool | float, scale: bool | float) -> ScaleParams:
    """R's ``scale`` on one column: the center and scale it uses, missing values ignored.

    Parameters
    ----------
    x : ndarray of float, shape (n,)
    center : bool or float
        True for the mean of x, False for none, a number for itself.
    scale : bool or float
        True for the root mean square of the centred values (divided by
        n - 1: the standard deviation when centred), False for none, a number
        for itself.

    Returns
    -------
    ScaleParams

    Examples
    --------
    >>> p = scale_params(np.array([1.0, np.nan, 4.0, 5.0]), True, True)
    >>> round(p.center, 6), round(p.scale, 6)
    (3.333333, 2.081666)
    """
    present = x[~np.isnan(x)]
    mean = float(np.mean(present)) if present.size else np.nan
    return scale_from_moments(present.size, mean, float(np.sum((present - mean) ** 2)), center, scale)


def scale_from_moments(count: int, mean: float, squares: float, center: bool | float,
                       scale: bool | float) -> ScaleParams:
    """R's ``scale`` on one column from its non-missing values' count, mean and squared deviations from the mean.

    Parameters
    ----------
    count, mean, squares : int, float, float
        How many values are not missing, their mean (NaN without values) and
        their squared deviations from it, summed.
    center, scale : bool or float
        As for :func:`scale_params`.

    Returns
    -------
    ScaleParams

    Examples
    --------
    >>> p = scale_from_moments(3, 10.0 / 3.0, 26.0 / 3.0, False, True)  # the values 1, 4 and 5
    >>> round(p.scale, 6)
    4.582576
    """
    c = mean if center is True else (None if center is False else float(center))
    if scale is True:  # squared deviations from c: those from the mean, and the mean's from c
        shift = mean if c is None else mean - c
        s: float | None = float(np.sqrt((squares + count * shift * shift) / max(1, count - 1)))
    else:
        s = None if scale is False else float(scale)
    return ScaleParams(center=c, scale=s)


def apply_scale(x: np.ndarray, params: ScaleParams) -> np.ndarray:
    """x centred and scaled by ``params``.

    Examples
    --------
    >>> apply_scale(np.array([1.0, 3.0]), ScaleParams(center=2.0, scale=0.5)).tolist()
    [-2.0, 2.0]
    """
    out = x if params.center is None else x - params.center
    return out if params.scale is None else out / params.scale


# --------------------------------------------------------------------------- the calls
def _constant(node: Node, what: str, label: str) -> bool | float:
    """A literal argument: TRUE/FALSE (T/F) or a number, possibly negated."""
    match node:
        case Paren(inner=inner):
            return _constant(inner, what, label)
        case Name(id=ident) if ident in _LOGICAL_NAMES:
            return _LOGICAL_NAMES[ident]
        case Num(value=value):
            return float(value)
        case Unary(op="-", operand=Num(value=value)):
            return -float(value)
    raise FormulaError(f"{what} in {label} must be a constant (TRUE, FALSE or a number), not {deparse(node)}")


@dataclass(frozen=True)
class TransformCall:
    """A ``poly()``, ``scale()``, ``bs()`` or ``ns()`` call with its arguments matched as R matches them.

    Attributes
    ----------
    fn : str
        ``"poly"``, ``"scale"``, ``"bs"`` or ``"ns"``.
    x : Node
        The argument transformed.
    label : str
        The call deparsed: the key of what it learns.
    degree : int
        poly's degree (1 by default), bs's (3 by default).
    raw : bool
        poly's ``raw = TRUE``: plain powers.
    center, scale : bool or float
        scale's arguments.
    df : int or None
        The splines' columns (None: no interior knots).
    intercept : bool
        The splines' ``intercept = TRUE``: keep the first column.
    """

    fn: str
    x: Node
    label: str
    degree: int = 1
    raw: bool = False
    center: bool | float = True
    scale: bool | float = True
    df: int | None = None
    intercept: bool = False

    @property
    def learns(self) -> bool:
        """Whether the call learns parameters from the rows (all but raw polynomials)."""
        return not (self.fn == "poly" and self.raw)

    def apply(self, x: np.ndarray, learned: TransformParams | None,
              index: object = None) -> tuple[np.ndarray, TransformParams | None]:
        """Evaluate the call on x, with the fitted parameters when given.

        Parameters
        ----------
        x : ndarray of float, shape (n,)
            The argument's values.
        learned : PolyCoefs, ScaleParams, SplineBasis or None
            What the call learned on the fitted data; None to learn on x.
        index : sequence, optional
            The rows' labels, for error messages.

        Returns
        -------
        ndarray
            Shape (n,) for one column (R names it by the call alone), else
            (n, columns).
        PolyCoefs, ScaleParams, SplineBasis or None
            The parameters used (None for a raw polynomial).
        """
        if x.ndim != 1:
            raise FormulaError(f"{self.label}: the argument must be one variable, not a matrix")
        params: TransformParams | None
        if self.fn == "scale":
            params = learned if isinstance(learned, ScaleParams) else scale_params(x, self.center, self.scale)
            return apply_scale(x, params), params
        if self.fn in ("bs", "ns"):
            params = learned if isinstance(learned, SplineBasis) else learn_spline(
                x, self.fn, self.df, self.degree, self.intercept)
            value = spline_values(x, params)
        elif self.raw:
            value, params = raw_poly(x, self.degree), None
        elif isinstance(learned, PolyCoefs):
            value, params = poly_from_coefs(x, learned), learned
        else:
            value, params = orthogonal_poly(x, self.degree, self.label, index)
        return (value[:, 0] if value.shape[1] == 1 else value), params


# R's formal arguments, in order; those in _UNSUPPORTED are R's but not read here
_ARGUMENTS = {"poly": ("x", "degree", "raw"), "scale": ("x", "center", "scale"),
              "bs": ("x", "df", "knots", "degree", "intercept"), "ns": ("x", "df", "knots", "intercept")}
_UNSUPPORTED = {"knots": "give df instead of knots", "Boundary.knots": "the range of the data is used",
                "coefs": "the fitted coefficients are kept for new data"}


def _bind(node: Call, label: str) -> dict[str, Node]:
    """Match a call's arguments to R's formal names (exact names, then positions)."""
    formals = _ARGUMENTS[node.fn]
    named = {name: arg for name, arg in zip(node.argnames, node.args) if name is not None}
    positional = [arg for name, arg in zip(node.argnames, node.args) if name is None]
    bound = dict(named)
    # poly(x, ...): a second unnamed value is the degree, as R's poly reads a single number in '...'
    order = ("x", "degree") if node.fn == "poly" else formals
    free = [f for f in order if f not in bound]
    if len(positional) > len(free):
        what = "poly() of several variables (R's polym)" if node.fn == "poly" else "too many arguments"
        raise FormulaError(f"{what} is not supported: {label}")
    bound.update(zip(free, positional))
    for name in bound:
        if name in _UNSUPPORTED or name not in formals:
            takes = ", ".join(f for f in formals[1:] if f not in _UNSUPPORTED)
            why = _UNSUPPORTED.get(name, f"it takes {formals[0]} and {takes}")
            raise FormulaError(f"{node.fn}() argument {name!r} is not supported in {label}; {why}")
    if "x" not in bound:
        raise FormulaError(f"{node.fn}() needs a variable: {label}")
    return bound


def _whole(bound: dict[str, Node], name: str, default: int, label: str) -> int:
    """A whole-number argument of at least 1 (poly's degree, the splines' df and degree)."""
    value = _constant(bound[name], name, label) if name in bound else float(default)
    if isinstance(value, bool) or not float(value).is_integer():
        raise FormulaError(f"'{name}' must be a whole number in {label}")
    if value < 1:
        raise FormulaError(f"'{name}' must be at least 1 in {label}")
    return int(value)


def _flag(bound: dict[str, Node], name: str, label: str) -> bool:
    """A logical argument, FALSE when not given."""
    return bool(_constant(bound[name], name, label)) if name in bound else False


def transform_call(node: Call) -> TransformCall:
    """Read a ``poly()``, ``scale()``, ``bs()`` or ``ns()`` call's arguments.

    Parameters
    ----------
    node : Call
        The call; ``node.fn`` one of :data:`STATEFUL_FUNCTIONS`.

    Returns
    -------
    TransformCall

    Raises
    ------
    FormulaError
        Unknown or unsupported arguments (``knots``), non-constant options,
        a degree or df that is not a whole number of at least 1, several
        variables in ``poly``.

    Examples
    --------
    >>> from mixedfx.formula.syntax import parse_expr
    >>> call = transform_call(parse_expr("poly(Days, 3, raw = TRUE)"))
    >>> call.label, call.degree, call.raw
    ('poly(Days, 3, raw = TRUE)', 3, True)
    """
    label = deparse(node)
    bound = _bind(node, label)
    if node.fn == "scale":
        return TransformCall("scale", bound["x"], label,
                             center=_constant(bound["center"], "center", label) if "center" in bound else True,
                             scale=_constant(bound["scale"], "scale", label) if "scale" in bound else True)
    if node.fn in ("bs", "ns"):
        return TransformCall(node.fn, bound["x"], label, degree=_whole(bound, "degree", 3, label),
                             df=_whole(bound, "df", 1, label) if "df" in bound else None,
                             intercept=_flag(bound, "intercept", label))
    return TransformCall("poly", bound["x"], label, degree=_whole(bound, "degree", 1, label),
                         raw=_flag(bound, "raw", label))
