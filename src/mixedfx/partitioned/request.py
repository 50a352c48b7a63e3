"""What every pass over the partitions needs to know: the model's formula, its columns, and its arguments.

A :class:`PassRequest` is made once on the client from the Dask frame's
columns and dtypes (no rows read) and travels to the workers with each pass.
It names the data columns the model reads and the column sets whose distinct
values decide the model's levels (each grouping factor's columns together,
each factor column on its own), which the first pass collects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import pandas as pd

from mixedfx.errors import FormulaError, MixedFxError
from mixedfx.formula.bars import parse_formula
from mixedfx.formula.contrasts import ContrastSpec
from mixedfx.formula.syntax import Binary, Call, Name, Node, Paren, Unary
from mixedfx.formula.transforms import LearnedTransforms

__all__ = ["PassRequest", "pass_request"]

# calls that make a factor of whatever they hold: their numeric columns' distinct values are levels
_FACTOR_CALLS = frozenset({"factor", "as.factor", "ordered", "as.ordered", "interaction", "as.character"})

# what Dask's metadata holds for a categorical whose categories it has not read
_UNKNOWN_CATEGORIES = "__UNKNOWN_CATEGORIES__"


@dataclass(frozen=True)
class PassRequest:
    """A model's formula and arguments, as each pass over the partitions reads them.

    Attributes
    ----------
    formula : str
        The model formula.
    weights, offset : str or None
        Columns holding the prior weights and an offset.
    na_action : {"omit", "exclude", "fail"}
        The NA action, applied partition by partition.
    columns : tuple of str
        The data columns the model reads.
    level_sets : tuple of tuple of str
        Column sets whose distinct values (together) are levels of the model.
    contrasts : dict or None
        The fixed part's codings (as for :func:`mixedfx.lmer`).
    transforms : LearnedTransforms
        What the formula's ``poly()``, ``scale()``, ``bs()`` and ``ns()`` learned
        from all partitions (:func:`mixedfx.partitioned.transforms.witnesses_and_transforms`);
        empty until then.
    """

    formula: str
    weights: str | None
    offset: str | None
    na_action: str
    columns: tuple[str, ...]
    level_sets: tuple[tuple[str, ...], ...]
    contrasts: Mapping[str, ContrastSpec] | None = None
    transforms: LearnedTransforms = LearnedTransforms()


def _names(node: Node | None, inside_factor: bool = False) -> Iterator[tuple[str, bool]]:
    """Each symbol of an expression, with whether a factor-making call holds it (and each call's function name,
    with None beside it)."""
    if isinstance(node, Name):
        yield node.id, inside_factor
    elif isinstance(node, Call):
        yield node.fn, None
        for arg in node.args:
            yield from _names(arg, inside_factor or node.fn in _FACTOR_CALLS)
    elif isinstance(node, Binary):
        yield from _names(node.left, inside_factor)
        yield from _names(node.right, inside_factor)
    elif isinstance(node, Unary):
        yield from _names(node.operand, inside_factor)
    elif isinstance(node, Paren):
        yield from _names(node.inner, inside_factor)


def _column_argument(value: object, what: str, dtypes: pd.Series) -> str | None:
    """A weights or offset argument, which for partitioned data must name a column."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{what} must name a column of the Dask DataFrame (one value per row there), "
                        f"not {type(value).__name__}: add the values as a column and pass its name")
    if value not in dtypes.index:
        raise MixedFxError(f"{what} names the column {value!r}, which the Dask DataFrame does not have")
    return value


def pass_request(formula: str, dtypes: pd.Series, *, weights: object = None, offset: object = None,
                 na_action: str = "omit", contrasts: Mapping[str, ContrastSpec] | None = None) -> PassRequest:
    """The request of a model on a Dask frame with these column dtypes.

    Parameters
    ----------
    formula : str
        lme4 formula.
    dtypes : pandas.Series
        The Dask frame's column dtypes (``ddf.dtypes``).
    weights, offset : str, optional
        Columns of prior weights and of an offset.
    na_action : {"omit", "exclude", "fail"}
    contrasts : dict, optional

    Returns
    -------
    PassRequest

    Raises
    ------
    TypeError
        ``formula`` not a string; weights or offset given as values, not a column name.
    FormulaError
        A formula that does not parse, or one without random-effects terms.
    MixedFxError
        Categorical columns whose categories Dask does not know.

    Examples
    --------
    >>> import pandas as pd
    >>> dtypes = pd.Series({"Reaction": float, "Days": float, "Subject": object})
    >>> request = pass_request("Reaction ~ Days + (Days | Subject)", dtypes)
    >>> request.columns, request.level_sets
    (('Reaction', 'Days', 'Subject'), (('Subject',),))
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string, not {type(formula).__name__}")
    parsed = parse_formula(formula)
    if not parsed.bars:
        raise FormulaError("No random effects terms specified in formula")
    known = set(dtypes.index)
    found = list(_names(parsed.response)) + list(_names(parsed.fixed))
    found += [name for bar in parsed.bars for name in _names(bar.lhs)]
    found = [(name, flag) for name, flag in found if flag is not None]
    if any(name == "." for name, _ in found):
        found += [(str(c), False) for c in dtypes.index]
    groups = [tuple(dict.fromkeys(name for name, _ in _names(bar.group) if name in known)) for bar in parsed.bars]
    extras = [_column_argument(weights, "weights", dtypes), _column_argument(offset, "offset", dtypes)]
    columns = tuple(dict.fromkeys([name for name, _ in found if name in known] + [c for g in groups for c in g]
                                  + [c for c in extras if c is not None]))
    unknown = [c for c in columns if isinstance(dtypes[c], pd.CategoricalDtype)
               and (dtypes[c].categories is None or _UNKNOWN_CATEGORIES in dtypes[c].categories)]
    if unknown:
        raise MixedFxError(f"the categorical columns {', '.join(unknown)} have categories Dask does not know; "
                           f"make them known first: ddf = ddf.categorize(columns={list(unknown)!r})")
    factors = [(name,) for name, in_factor in found if name in known
               and (in_factor or not pd.api.types.is_numeric_dtype(dtypes[name]) or dtypes[name] == bool)]
    return PassRequest(formula=formula, weights=extras[0], offset=extras[1], na_action=na_action, columns=columns,
                       level_sets=tuple(dict.fromkeys([g for g in groups if g] + factors)), contrasts=contrasts)
