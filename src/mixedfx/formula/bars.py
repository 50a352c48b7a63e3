"""lme4 mixed-model formulas: random-effects (bar) terms and the fixed part.

Follows lme4's ``R/utilities.R``: ``(x || g)`` is expanded to
``((1 | g) + (0 + x | g))`` before anything else (``expandDoubleVerts``), bar
terms are collected in formula order (``findbars``) with nested grouping
``g/h`` expanded to ``h:g`` then ``g`` (``expandSlash``), and the fixed part is
the formula with every bar term removed (``nobars``; ``y ~ 1`` when nothing is
left).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property, lru_cache

from mixedfx.errors import FormulaError
from mixedfx.formula.syntax import (Binary, Call, Node, Num, Paren, Unary, colon, deparse, with_deep_recursion,
                                    parse_expr)
from mixedfx.formula.terms import Terms, expand_terms, has_dot

__all__ = ["BarTerm", "MixedFormula", "parse_formula", "find_bars", "expand_double_verts"]

_BARS = {"|", "||"}


@dataclass(frozen=True)
class BarTerm:
    """One random-effects term ``lhs | group`` after expansion.

    Attributes
    ----------
    lhs : Node
        The term's model (``1``, ``Days``, ``0 + Days``).
    group : Node
        The grouping-factor expression (``Subject``, ``cask:batch``).
    """

    lhs: Node
    group: Node

    @cached_property
    def text(self) -> str:
        """The term as lme4 deparses it: ``"0 + Days | Subject"``."""
        return deparse(Binary("|", self.lhs, self.group))

    @cached_property
    def group_name(self) -> str:
        """lme4's name for the grouping factor: ``"Subject"``, ``"cask:batch"``."""
        return deparse(self.group)


@dataclass(frozen=True)
class MixedFormula:
    """A parsed lme4 formula.

    Attributes
    ----------
    response : Node or None
        Left-hand side, None for a one-sided formula.
    fixed : Node
        Right-hand side without random-effects terms.
    bars : tuple of BarTerm
        Random-effects terms after expansion, in formula order.
    text : str
        The formula as lme4 prints it (after ``||`` expansion).
    """

    response: Node | None
    fixed: Node
    bars: tuple[BarTerm, ...]
    text: str

    @cached_property
    def response_name(self) -> str | None:
        """The response deparsed: ``"Reaction"``, ``"cbind(incidence, size - incidence)"``."""
        return None if self.response is None else deparse(self.response)

    @cached_property
    def fixed_has_dot(self) -> bool:
        """Whether ``.`` stands for the data's other columns in the fixed part (:func:`~mixedfx.formula.terms.expand_dot`)."""
        return has_dot(self.fixed)

    @cached_property
    def fixed_terms(self) -> Terms:
        """The fixed part's terms, the response variable 0 (a ``.`` in it must be expanded first)."""
        return expand_terms(self.fixed, self.response)

    @cached_property
    def slope_terms(self) -> tuple[Terms, ...]:
        """Per bar term, the terms of its model (``Days`` in ``(Days | Subject)``)."""
        return tuple(expand_terms(bar.lhs) for bar in self.bars)

    @cached_property
    def frame_variables(self) -> tuple[tuple[str, Node], ...]:
        """R's model-frame variables with bars replaced by ``+``, by label: response, fixed, slopes, grouping."""
        variables: dict[str, Node] = {}
        groups = [expand_terms(bar.group) for bar in self.bars]
        for terms in [self.fixed_terms, *self.slope_terms, *groups]:
            for label, node in zip(terms.labels, terms.variables):
                variables.setdefault(label, node)
        return tuple(variables.items())


def _contains_op(node: Node, ops: frozenset[str] | set[str]) -> bool:
    """Whether a binary operator in ``ops`` occurs anywhere in the expression."""
    match node:
        case Binary(op=op) if op in ops:
            return True
        case Binary(left=left, right=right):
            return _contains_op(left, ops) or _contains_op(right, ops)
        case Unary(operand=inner) | Paren(inner=inner):
            return _contains_op(inner, ops)
        case Call(args=args):
            return any(_contains_op(a, ops) for a in args)
    return False


def _double_vert(node: Binary) -> Node:
    """lme4's expandDoubleVert: ``x || g`` becomes ``(1 | g) + (0 + x | g)``."""
    terms = expand_terms(node.left)
    pieces = ([] if not terms.intercept else ["1"]) + [f"0+{label}" for label in terms.term_labels]
    if not pieces:
        raise FormulaError(f"random-effects term ({deparse(node)}) has no intercept and no variables")
    group = deparse(node.right)
    expanded = parse_expr("~(" + ")+(".join(f"{p}|{group}" for p in pieces) + ")")
    assert isinstance(expanded, Unary)
    return expanded.operand


def expand_double_verts(node: Node) -> Node:
    """Replace every ``x || g`` in a tree by lme4's uncorrelated expansion.

    Parameters
    ----------
    node : Node
        A formula or a part of one.

    Returns
    -------
    Node
        The tree with ``(x || g)`` replaced by ``((1 | g) + (0 + x | g))``.
    """
    match node:
        case Binary(op="||"):
            return _double_vert(node)
        case Binary(op=op, left=left, right=right):
            return Binary(op, expand_double_verts(left), expand_double_verts(right))
        case Unary(op=op, operand=operand):
            return Unary(op, expand_double_verts(operand))
        case Paren(inner=inner):
            return Paren(expand_double_verts(inner))
        case Call(fn=fn, args=args, argnames=names):
            return Call(fn, tuple(expand_double_verts(a) for a in args), names)
    return node


def _slash_terms(node: Node) -> Node | list:
    if not _contains_op(node, {"/"}):
        return node
    if not (isinstance(node, Binary) and node.op == "/"):
        raise FormulaError(f"unparseable formula for grouping factor: {deparse(node)}")
    return [_slash_terms(node.left), _slash_terms(node.right)]


def _make_interaction(x: Node | list) -> Node | list:
    """lme4's makeInteraction: ``[g, h]`` gives ``[h:g, g]``."""
    if not isinstance(x, list):
        return x
    first = _make_interaction(x[0])
    outer = first[0] if isinstance(first, list) else first
    inner = x[1]
    if isinstance(inner, list):
        raise FormulaError("unparseable formula for grouping factor: nested '/' inside parentheses")
    return [colon(inner, outer), first]


def _flatten(x: Node | list) -> list[Node]:
    return [n for item in x for n in _flatten(item)] if isinstance(x, list) else [x]


def find_bars(node: Node) -> list[BarTerm]:
    """Random-effects terms of a formula, as lme4's ``findbars``.

    Parameters
    ----------
    node : Node
        The right-hand side (or the whole formula).

    Returns
    -------
    list of BarTerm
        In formula order, after ``||`` expansion; ``(1 | g/h)`` gives
        ``1 | h:g`` then ``1 | g``.
    """
    found: list[Binary] = []

    def walk(n: Node) -> None:
        match n:
            case Binary(op="|"):
                found.append(n)
            case Binary(left=left, right=right):
                walk(left)
                walk(right)
            case Unary(operand=inner) | Paren(inner=inner):
                walk(inner)
            case Call(args=args):
                for a in args:
                    walk(a)

    walk(expand_double_verts(node))
    bars: list[BarTerm] = []
    for bar in found:
        groups = _slash_terms(bar.right)
        for group in _flatten(_make_interaction(groups)) if isinstance(groups, list) else [groups]:
            bars.append(BarTerm(bar.left, group))
    return bars


def _no_bars(node: Node) -> Node | None:
    """lme4's nobars_: the tree without bar terms, None when nothing is left."""
    if not _contains_op(node, _BARS):
        return node
    match node:
        case Binary(op=op) if op in _BARS:
            return None
        case Call():
            return None
        case Paren(inner=inner):
            kept = _no_bars(inner)
            return None if kept is None else Paren(kept)
        case Unary(op=op, operand=operand):
            kept = _no_bars(operand)
            return None if kept is None else Unary(op, kept)
        case Binary(op=op, left=left, right=right):
            a, b = _no_bars(left), _no_bars(right)
            if a is None:
                return b
            if b is None:
                return a
            return Binary(op, a, b)
    return node


@lru_cache(maxsize=256)
def parse_formula(text: str) -> MixedFormula:
    """Parse an lme4 model formula (kept: the result is immutable, and refits parse the same text).

    Parameters
    ----------
    text : str
        E.g. ``"Reaction ~ Days + (Days | Subject)"``.

    Returns
    -------
    MixedFormula
        Response, fixed part, expanded random-effects terms and lme4's
        printed form of the formula.

    Raises
    ------
    FormulaError
        On a syntax error (with its position), a missing ``~``, or a
        malformed random-effects term.
    """
    tree = parse_expr(text)
    if isinstance(tree, Binary) and tree.op == "~":
        response, rhs = tree.left, tree.right
    elif isinstance(tree, Unary) and tree.op == "~":
        response, rhs = None, tree.operand
    else:
        raise FormulaError(f"not a model formula (no '~'): {text!r}; write e.g. 'y ~ x + (1 | g)'")
    return with_deep_recursion(_mixed_formula, response, rhs)


def _mixed_formula(response: Node | None, rhs: Node) -> MixedFormula:
    """The parsed formula's parts: its bar terms expanded and split from the fixed part."""
    if response is not None and _contains_op(response, _BARS):
        raise FormulaError("random-effects terms belong on the right of '~'")
    rhs = expand_double_verts(rhs)
    fixed = _no_bars(rhs)
    printed = Binary("~", response, rhs) if response is not None else Unary("~", rhs)
    return MixedFormula(
        response=response,
        fixed=Num(1.0) if fixed is None else fixed,
        bars=tuple(find_bars(rhs)),
        text=deparse(printed),
    )
