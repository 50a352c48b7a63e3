"""What a formula's stateful transforms learn, from every partition of a Dask frame: the in-memory parameters.

In memory ``poly()``, ``scale()``, ``bs()`` and ``ns()`` learn on every row of
the data, before the NA action drops any, as R's model.frame evaluates its
variables (:func:`mixedfx.design.frame.model_frame`). Here each partition's
rows give sums that add up to the same parameters:

1. The model's first pass, which finds each level's first complete row
   (:func:`~mixedfx.partitioned.passes.partition_witnesses`; a call is missing
   where its argument is, so the NA action needs no parameters yet), also sums
   every call's argument: its count, mean and central second and third moments
   (partitions combined by Chan's and Pébay's formulas), its range and infinite
   values, its missing values (``poly`` refuses them, naming the first) and a
   few distinct values (``poly``'s degree must be below their number). That
   gives ``scale``'s center and scale, the splines' boundary knots and
   ``poly``'s coefficients of degrees 0 and 1.
2. ``poly`` of degree d > 1: one pass for each degree 2 .. d, in which every
   row runs the three-term recurrence with the coefficients found so far and the
   partitions sum the next polynomial's squared norm and centre (the recurrence
   stays accurate where sums of powers would cancel).
3. ``bs``/``ns`` with interior knots: exact quantiles of the argument
   (:func:`~mixedfx.partitioned.quantiles.exact_quantiles`, its counting pass
   being the first pass here): a pass of bins and one gathering the few values
   left, on ordinary data.

Calls of the same degree go through the same passes. A call inside another's
argument (``poly(scale(x), 2)``) is learned first, the outer call in a later
round (a pass of moments, then the rest). :func:`witnesses_and_transforms`
gives the request carrying what was learned, which every later pass evaluates
the formula with.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

import numpy as np
import pandas as pd

from mixedfx.errors import DataError
from mixedfx.formula.bars import parse_formula
from mixedfx.formula.evaluate import DataEnv, transform_argument
from mixedfx.formula.splines import knot_probabilities, spline_basis
from mixedfx.formula.syntax import Binary, Call, Node, Paren, Unary, deparse
from mixedfx.formula.transforms import (STATEFUL_FUNCTIONS, LearnedTransforms, PolyCoefs, ScaleParams,
                                        TransformCall, TransformParams, check_poly_degree, check_poly_powers,
                                        poly_missing_error, poly_recurrence, scale_from_moments, transform_call)
from mixedfx.partitioned.passes import add_witnesses, partition_witnesses, reduce_partitions
from mixedfx.partitioned.quantiles import add_count_range, count_range, exact_quantiles
from mixedfx.partitioned.request import PassRequest

__all__ = ["ArgumentMoments", "argument_moments", "add_moments", "formula_transforms", "witnesses_and_transforms"]


@dataclass(frozen=True)
class ArgumentMoments:
    """What one pass gathers of a stateful call's argument, over some rows.

    Attributes
    ----------
    count : int
        Non-missing values.
    mean : float
        Their mean (NaN without values).
    squares, cubes : float
        Their deviations from ``mean``, squared and cubed, summed.
    counted : ndarray, shape (5,)
        :func:`~mixedfx.partitioned.quantiles.count_range` of the values.
    missing : int
        Missing values.
    first_missing : object
        The row label of the first missing value (None without).
    distinct : ndarray
        The smallest distinct values of each part, at most as many from each as the pass asked for: all of them
        where there are fewer, at least that many where not.
    """

    count: int
    mean: float
    squares: float
    cubes: float
    counted: np.ndarray
    missing: int
    first_missing: object
    distinct: np.ndarray


def argument_moments(x: np.ndarray, index: pd.Index, distinct: int) -> ArgumentMoments:
    """The moments of an argument's values x on rows ``index`` (one partition's), with up to ``distinct`` of its
    smallest distinct values.

    Examples
    --------
    >>> m = argument_moments(np.array([2.0, np.nan, 4.0, 2.0]), pd.Index([5, 6, 7, 8]), 3)
    >>> m.count, m.mean, m.squares, int(m.first_missing), m.distinct.tolist()
    (3, 2.6666666666666665, 2.6666666666666665, 6, [2.0, 4.0])
    """
    gaps = np.flatnonzero(np.isnan(x))
    present = np.delete(x, gaps) if gaps.size else x
    mean = float(np.mean(present)) if present.size else np.nan
    deviations = present - mean
    squared = deviations * deviations
    return ArgumentMoments(count=present.size, mean=mean, squares=float(squared.sum()),
                           cubes=float(squared @ deviations), counted=count_range(present), missing=gaps.size,
                           first_missing=index[gaps[0]] if gaps.size else None,
                           distinct=np.unique(present)[:distinct])


def add_moments(a: ArgumentMoments, b: ArgumentMoments) -> ArgumentMoments:
    """Two parts' moments combined (Chan et al.'s update of the squares, Pébay's of the cubes).

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 4.0, 8.0, 9.0])
    >>> parts = [argument_moments(x[:2], pd.RangeIndex(2), 0), argument_moments(x[2:], pd.RangeIndex(3), 0)]
    >>> both = add_moments(*parts)
    >>> both.mean, round(both.squares, 10), round(both.cubes, 10)
    (4.8, 50.8, 29.52)
    """
    n = a.count + b.count
    if a.count and b.count:
        delta = b.mean - a.mean
        share = delta * b.count / n
        mean = a.mean + share
        squares = a.squares + b.squares + delta * share * a.count
        cubes = (a.cubes + b.cubes + delta * share * share * a.count * (a.count - b.count) / b.count
                 + 3.0 * delta * (a.count * b.squares - b.count * a.squares) / n)
    else:
        mean, squares, cubes = (a.mean, a.squares, a.cubes) if a.count else (b.mean, b.squares, b.cubes)
    return ArgumentMoments(count=n, mean=mean, squares=squares, cubes=cubes,
                           counted=add_count_range(a.counted, b.counted), missing=a.missing + b.missing,
                           first_missing=a.first_missing if a.missing else b.first_missing,
                           distinct=np.union1d(a.distinct, b.distinct))


def _add_all(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """Two partitions' results by call, combined (moments by :func:`add_moments`, sums of arrays added)."""
    return {key: add_moments(a[key], b[key]) if isinstance(a[key], ArgumentMoments) else a[key] + b[key]
            for key in a}


def _stateful_calls(node: Node | None) -> Iterator[TransformCall]:
    """The stateful calls in an expression, each after those inside its argument."""
    match node:
        case Call(fn=fn, args=args):
            for arg in args:
                yield from _stateful_calls(arg)
            if fn in STATEFUL_FUNCTIONS:
                yield transform_call(node)
        case Binary(left=left, right=right):
            yield from _stateful_calls(left)
            yield from _stateful_calls(right)
        case Unary(operand=inner) | Paren(inner=inner):
            yield from _stateful_calls(inner)


def formula_transforms(formula: str) -> list[TransformCall]:
    """The calls of a model formula that learn from the rows, by their text, each after those inside its argument.

    Raw polynomials (``raw = TRUE``) learn nothing and are left out. The
    grouping factors are not searched: lme4 makes a factor of each of their
    variables, which no transform takes.

    Raises
    ------
    FormulaError
        A call with arguments the in-memory fit refuses (``knots``, several variables in ``poly``).

    Examples
    --------
    >>> [c.label for c in formula_transforms("y ~ poly(scale(x), 2) + poly(x, 2, raw = TRUE) + (scale(x) | g)")]
    ['scale(x)', 'poly(scale(x), 2)']
    """
    parsed = parse_formula(formula)
    calls: dict[str, TransformCall] = {}
    for part in (parsed.response, parsed.fixed, *(bar.lhs for bar in parsed.bars)):
        for call in _stateful_calls(part):
            if call.learns:
                calls.setdefault(call.label, call)
    return list(calls.values())


def _arguments(part: pd.DataFrame, calls: list[TransformCall], fitted: LearnedTransforms) -> Iterator[
        tuple[TransformCall, np.ndarray]]:
    """Each call's argument on the partition's rows, the calls inside it evaluated with what they learned."""
    env = DataEnv(part, fitted=fitted)
    for call in calls:
        yield call, transform_argument(call, env)


def _partition_moments(part: pd.DataFrame, calls: list[TransformCall],
                       fitted: LearnedTransforms) -> dict[str, ArgumentMoments]:
    """The first pass on one partition: each call's argument's moments (a poly's distinct values up to its degree)."""
    return {call.label: argument_moments(x, part.index, call.degree + 1 if call.fn == "poly" else 0)
            for call, x in _arguments(part, calls, fitted)}


def _partition_poly_sums(part: pd.DataFrame, polys: list[TransformCall], fitted: LearnedTransforms,
                         so_far: dict[str, PolyCoefs]) -> dict[str, np.ndarray]:
    """A recurrence pass on one partition: for each poly, the next polynomial p (degree d, after the coefficients
    so far) summed as p^2 and (x - mean) p^2, and (x - mean)^(2d) (the power R's rank check compares p with)."""
    sums = {}
    for call, x in _arguments(part, polys, fitted):
        coefs = so_far[call.label]
        p = poly_recurrence(x, coefs.alpha, coefs.norm2)[:, -1]
        centred = x - coefs.alpha[0]
        squared = p * p
        sums[call.label] = np.array([squared.sum(), centred @ squared, np.sum(centred ** (2 * coefs.degree))])
    return sums


@dataclass(frozen=True)
class _ArgumentValues:
    """A call's argument on each partition's rows: what the splines' knots are quantiles of."""

    call: TransformCall
    fitted: LearnedTransforms

    def values(self, part: pd.DataFrame) -> np.ndarray:
        return next(_arguments(part, [self.call], self.fitted))[1]


def _check_poly_argument(call: TransformCall, moments: ArgumentMoments) -> None:
    """The refusals of R's ``poly`` on all rows: missing values, too few distinct ones."""
    if moments.missing:
        raise poly_missing_error(call.label, moments.missing, moments.first_missing)
    check_poly_degree(call.label, call.degree, moments.distinct.size)


def _learn_polys(frame: Any, polys: list[TransformCall], moments: dict[str, ArgumentMoments],
                 fitted: LearnedTransforms) -> dict[str, PolyCoefs]:
    """The polys' recurrence coefficients: degrees 0 and 1 from the moments, then a pass for each further degree."""
    so_far, powers = {}, {}
    for call in polys:
        m = moments[call.label]
        _check_poly_argument(call, m)
        # p0 = 1 and p1 = x - mean: the squared norms n and the squares, p1's centre from the cubes
        so_far[call.label] = PolyCoefs(alpha=(m.mean, m.mean + m.cubes / m.squares), norm2=(1.0, m.count, m.squares))
        powers[call.label] = [m.count, m.squares]
    for degree in range(2, max((c.degree for c in polys), default=0) + 1):
        current = [c for c in polys if c.degree >= degree]
        sums = reduce_partitions(frame, _partition_poly_sums, _add_all, current, fitted, so_far)
        for call in current:
            norm, centre, power = sums[call.label]
            coefs = so_far[call.label]
            so_far[call.label] = PolyCoefs(alpha=(*coefs.alpha, coefs.alpha[0] + centre / norm),
                                            norm2=(*coefs.norm2, norm))
            powers[call.label].append(power)
    learned = {}
    for call in polys:
        coefs = so_far[call.label]
        check_poly_powers(call.label, call.degree, np.sqrt(coefs.norm2[1:call.degree + 2]),
                          np.sqrt(powers[call.label][:call.degree + 1]))
        # R keeps degree centres (the passes found one more) and degree + 2 squared norms
        learned[call.label] = PolyCoefs(alpha=coefs.alpha[:call.degree], norm2=coefs.norm2[:call.degree + 2])
    return learned


def _learn_splines(frame: Any, splines: list[TransformCall], moments: dict[str, ArgumentMoments],
                   fitted: LearnedTransforms) -> dict[str, TransformParams]:
    """The splines' knots: the argument's range, and its exact quantiles (one search for each argument)."""
    probabilities = {call.label: knot_probabilities(call.fn, call.df, call.degree, call.intercept)
                     for call in splines}
    wanted: dict[str, set[float]] = {}
    for call in splines:
        wanted.setdefault(deparse(call.x), set()).update(probabilities[call.label].tolist())
    quantiles: dict[str, dict[float, float]] = {}
    learned = {}
    for call in splines:
        n, negative, positive, lo, hi = moments[call.label].counted
        if n == 0:
            raise DataError(f"{call.label}: its argument has no values that are not missing, so no knots")
        argument = deparse(call.x)
        if argument not in quantiles and wanted[argument]:
            probs = sorted(wanted[argument])
            found = exact_quantiles(frame, probs, _ArgumentValues(call, fitted), counted=moments[call.label].counted)
            quantiles[argument] = dict(zip(probs, found.tolist()))
        knots = np.array([quantiles[argument][p] for p in probabilities[call.label].tolist()])
        learned[call.label] = spline_basis(call.fn, call.degree, call.intercept, knots,
                                           (-np.inf if negative else lo, np.inf if positive else hi))
    return learned


def _rounds(calls: list[TransformCall]) -> list[list[TransformCall]]:
    """The calls by round: a call is learned a round after the calls inside its argument."""
    depth: dict[str, int] = {}
    for call in calls:  # each after those inside its argument
        depth[call.label] = 1 + max((depth[inner.label] for inner in _stateful_calls(call.x) if inner.learns),
                                    default=-1)
    return [[c for c in calls if depth[c.label] == d] for d in range(max(depth.values(), default=-1) + 1)]


def _placeholder(call: TransformCall) -> TransformParams:
    """Parameters under which the call is missing exactly where its argument is: enough for the NA action
    before the parameters are known (every value finite where the argument is, as the learned ones give)."""
    if call.fn == "scale":
        return ScaleParams(center=None, scale=None)
    if call.fn == "poly":
        return PolyCoefs(alpha=(0.0,) * call.degree, norm2=(1.0,) * (call.degree + 2))
    return spline_basis(call.fn, call.degree, call.intercept, np.zeros(0), (0.0, 1.0))


def _first_pass(part: pd.DataFrame, request: PassRequest, calls: list[TransformCall] | None) -> tuple[
        pd.DataFrame, dict[str, ArgumentMoments]]:
    """One partition's witness rows (the NA action applied with placeholder transforms) and the moments of the
    first round's arguments (None: no calls)."""
    return partition_witnesses(part, request), _partition_moments(part, calls or [], LearnedTransforms())


def _add_first(a: tuple[pd.DataFrame, dict[str, ArgumentMoments]], b: tuple[pd.DataFrame, dict[str, ArgumentMoments]],
               request: PassRequest) -> tuple[pd.DataFrame, dict[str, ArgumentMoments]]:
    return add_witnesses(a[0], b[0], request), _add_all(a[1], b[1])


def witnesses_and_transforms(frame: Any, request: PassRequest) -> tuple[pd.DataFrame, PassRequest]:
    """The first pass over the partitions, which also gathers what the formula's stateful calls learn from, and
    the passes those calls need after it.

    The first pass collects each level's first complete row
    (:func:`~mixedfx.partitioned.passes.partition_witnesses`; a stateful call
    is missing where its argument is, so the NA action needs no parameters) and
    the moments of the calls' arguments. ``poly()``, ``scale()``, ``bs()`` and
    ``ns()`` then get the parameters the same rows give them in memory (within
    rounding): ``scale`` and the splines without interior knots from the first
    pass alone, ``poly`` after a pass per degree above 1, the splines' interior
    knots after the quantiles' passes, a call inside another's argument a
    round of passes (moments and the rest) before the outer call.

    Parameters
    ----------
    frame : dask.dataframe.DataFrame
    request : PassRequest

    Returns
    -------
    witnesses : pandas.DataFrame
        Each level's first row among the rows the NA action keeps, the model's columns.
    request : PassRequest
        ``request`` with ``transforms`` holding each call's parameters by its text.

    Raises
    ------
    FormulaError
        A call with arguments the in-memory fit refuses.
    DataError
        Missing values in ``poly()``'s argument, or a degree not below its number of distinct values.

    Examples
    --------
    >>> import dask.dataframe as dd
    >>> rows = pd.DataFrame({"y": [1.0, 2, 4, 3], "x": [1.0, 2, 3, 5], "g": list("abab")})
    >>> from mixedfx.partitioned.request import pass_request
    >>> request = pass_request("y ~ scale(x) + (1 | g)", rows.dtypes)
    >>> witnesses, learned = witnesses_and_transforms(dd.from_pandas(rows, npartitions=2), request)
    >>> witnesses["g"].tolist(), learned.transforms.get("scale(x)").center
    (['a', 'b'], 2.75)
    """
    rounds = _rounds(formula_transforms(request.formula))
    first = replace(request, transforms=LearnedTransforms({c.label: _placeholder(c) for calls in rounds
                                                           for c in calls}))
    # None rather than an empty list, which a cluster cannot scatter
    witnesses, moments = reduce_partitions(frame, _first_pass, partial(_add_first, request=first), first,
                                           rounds[0] if rounds else None)
    learned: dict[str, TransformParams] = {}
    for calls in rounds:
        fitted = LearnedTransforms(dict(learned))
        if calls is not rounds[0]:
            moments = reduce_partitions(frame, _partition_moments, _add_all, calls, fitted)
        for call in calls:
            if call.fn == "scale":
                m = moments[call.label]
                learned[call.label] = scale_from_moments(m.count, m.mean, m.squares, call.center, call.scale)
        learned.update(_learn_polys(frame, [c for c in calls if c.fn == "poly"], moments, fitted))
        learned.update(_learn_splines(frame, [c for c in calls if c.fn in ("bs", "ns")], moments, fitted))
    return witnesses, replace(request, transforms=LearnedTransforms(learned)) if learned else request
