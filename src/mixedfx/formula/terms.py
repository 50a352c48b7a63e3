"""R's ``terms()`` for the fixed part of a model formula.

Expands the formula operators (``+ - * / : ^ %in%``, ``0``/``1`` for the
intercept) into an ordered list of terms exactly as R's C routine
``termsform`` does: variables numbered in order of first appearance, each term
a set of variables printed in that order, terms sorted by degree (stable), and
offsets taken out. :func:`coding` then decides, per variable in a term,
contrasts or full indicator coding (R's ``TermCode`` plus ``model.matrix``'s
rule for a model without an intercept). :func:`expand_dot` does what ``terms()``
does given the data: ``.`` becomes every column but the response's symbols.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

from mixedfx.errors import FormulaError
from mixedfx.formula.syntax import Binary, Call, Name, Node, Num, Paren, Unary, deparse, with_deep_recursion

__all__ = ["Terms", "expand_terms", "expand_dot", "has_dot", "coding"]

_FORMULA_OPS = {"+", "-", "*", "/", ":", "^", "%in%"}
CONTRASTS, INDICATORS = 1, 2
DOT = Name(".")


@dataclass(frozen=True)
class Terms:
    """The expanded right-hand side of a formula.

    Attributes
    ----------
    variables : tuple of Node
        R's variables (each maximal non-operator expression), response first
        when there is one, then in order of first appearance.
    labels : tuple of str
        The variables deparsed: ``"x"``, ``"I(x^2)"``, ``"log(w)"``.
    terms : tuple of tuple of int
        Each term as ascending variable indices, sorted by degree (stable).
    intercept : bool
        Whether the model has an intercept.
    offsets : tuple of int
        Indices of ``offset(...)`` variables (not part of any term).
    has_response : bool
        Whether variable 0 is the response.
    """

    variables: tuple[Node, ...]
    labels: tuple[str, ...]
    terms: tuple[tuple[int, ...], ...]
    intercept: bool
    offsets: tuple[int, ...]
    has_response: bool

    @property
    def term_labels(self) -> list[str]:
        """R's ``attr(terms, "term.labels")``: ``"x"``, ``"recipe:temperature"``."""
        return [":".join(self.labels[v] for v in term) for term in self.terms]

    @cached_property
    def marginal_coding(self) -> tuple[tuple[int, ...], ...]:
        """Per term and variable, R's coding by marginality alone: contrasts where the term without
        the variable is contained in an earlier term (or is empty), else indicators (:func:`coding`)."""
        codes = []
        for t, term in enumerate(self.terms):
            earlier = [set(prev) for prev in self.terms[:t]]
            codes.append(tuple(CONTRASTS if not (rest := set(term) - {v}) or any(rest <= prev for prev in earlier)
                               else INDICATORS for v in term))
        return tuple(codes)


def _is_offset(node: Node) -> bool:
    return isinstance(node, Call) and node.fn == "offset"


class _Encoder:
    """Recursive expansion of formula operators into term bit-sets."""

    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.nodes: list[Node] = []
        self.intercept = True
        self.parity = True

    def variable(self, node: Node) -> int:
        key = deparse(node)
        if key not in self.index:
            self.index[key] = len(self.nodes)
            self.nodes.append(node)
        return self.index[key]

    def collect(self, node: Node) -> None:
        """Register every variable in order of appearance (R's ExtractVars)."""
        match node:
            case Paren(inner=inner) | Unary(op="-" | "+", operand=inner):
                self.collect(inner)
            case Binary(op="^", left=left):
                self.collect(left)
            case Binary(op=op, left=left, right=right) if op in _FORMULA_OPS:
                self.collect(left)
                self.collect(right)
            case Num():
                pass
            case _:
                self.variable(node)

    def encode(self, node: Node) -> list[frozenset[int]]:
        match node:
            case Paren(inner=inner) | Unary(op="+", operand=inner):
                return self.encode(inner)
            case Num(value=value) if value in (0.0, 1.0):
                self.intercept = (value == 1.0) == self.parity
                return []
            case Num(value=value):
                raise FormulaError(f"invalid model formula: the number {deparse(node)} cannot be a term "
                                   "(only 1 and 0 for the intercept)")
            case Unary(op="-", operand=operand):
                return self.delete([], operand)
            case Binary(op="+", left=left, right=right):
                return _unique(self.encode(left) + self.encode(right))
            case Binary(op="-", left=left, right=right):
                return self.delete(self.encode(left), right)
            case Binary(op=":", left=left, right=right):
                return _interact(self.encode(left), self.encode(right))
            case Binary(op="*", left=left, right=right):
                a, b = self.encode(left), self.encode(right)
                return _unique(a + b + _interact(a, b))
            case Binary(op="%in%", left=left, right=right):
                a, b = self.encode(left), self.encode(right)
                inner = frozenset().union(*b)
                return _unique([t | inner for t in a])
            case Binary(op="/", left=left, right=right):
                a, b = self.encode(left), self.encode(right)
                outer = frozenset().union(*a)
                return _unique(a + [outer | t for t in b])
            case Binary(op="^", left=left, right=right):
                power = right.inner if isinstance(right, Paren) else right
                if not isinstance(power, Num) or power.value < 1 or power.value != int(power.value):
                    raise FormulaError(f"invalid power in formula term {deparse(node)}: "
                                       "the exponent must be a positive whole number")
                base = self.encode(left)
                result = base
                for _ in range(int(power.value) - 1):
                    result = _interact(base, result)
                return result
            case Unary(op="~") | Binary(op="~"):
                raise FormulaError(f"a formula cannot contain another formula: {deparse(node)}")
            case _:
                if node == DOT:
                    raise FormulaError("'.' (all other columns) needs the data: it stands for them in the "
                                       "fixed part of a model formula fitted to a data frame; name the columns")
                return [frozenset([self.variable(node)])]

    def delete(self, left: list[frozenset[int]], right: Node) -> list[frozenset[int]]:
        self.parity = not self.parity
        removed = set(self.encode(right))
        self.parity = not self.parity
        return [t for t in left if t not in removed]


def _unique(terms: list[frozenset[int]]) -> list[frozenset[int]]:
    return [t for t in dict.fromkeys(terms) if t]


def _interact(left: list[frozenset[int]], right: list[frozenset[int]]) -> list[frozenset[int]]:
    return _unique([a | b for a in left for b in right])


def expand_terms(rhs: Node, response: Node | None = None) -> Terms:
    """Expand a formula's right-hand side as R's ``terms()`` does.

    Remembered by the (immutable) expressions: every fit of a formula expands
    the same parts, at a cost of tens of microseconds each.

    Parameters
    ----------
    rhs : Node
        Right-hand side without random-effects terms.
    response : Node, optional
        The left-hand side; when given it is variable 0.

    Returns
    -------
    Terms
        Variables, terms sorted by degree, intercept flag and offsets.

    Raises
    ------
    FormulaError
        For numbers other than 0/1 as terms, ``.``, bad powers, nested ``~``.
    """
    # hashing a long formula's tree recurses as deep as walking it
    return with_deep_recursion(_expand_terms, rhs, response)


@lru_cache(maxsize=256)
def _expand_terms(rhs: Node, response: Node | None) -> Terms:
    """:func:`expand_terms`, remembered."""
    def walk() -> tuple[_Encoder, list[frozenset[int]]]:
        fresh = _Encoder()
        if response is not None:
            fresh.variable(response)
        fresh.collect(rhs)
        return fresh, fresh.encode(rhs)

    enc, encoded = with_deep_recursion(walk)
    offsets = tuple(i for i, node in enumerate(enc.nodes) if _is_offset(node))
    kept = [t for t in encoded if not any(v in t for v in offsets)]
    if response is not None:
        kept = [t for t in kept if t != frozenset([0])]
    kept.sort(key=len)
    return Terms(
        variables=tuple(enc.nodes),
        labels=tuple(deparse(n) for n in enc.nodes),
        terms=tuple(tuple(sorted(t)) for t in kept),
        intercept=enc.intercept,
        offsets=offsets,
        has_response=response is not None,
    )


def _symbols(node: Node | None) -> set[str]:
    """Every symbol of an expression, function names included (what R's ``CheckRHS`` visits)."""
    match node:
        case Name(id=ident):
            return {ident}
        case Call(fn=fn, args=args):
            return {fn}.union(*(_symbols(a) for a in args))
        case Binary(left=left, right=right):
            return _symbols(left) | _symbols(right)
        case Unary(operand=inner) | Paren(inner=inner):
            return _symbols(inner)
    return set()


def has_dot(node: Node) -> bool:
    """Whether ``.`` stands as a term (not inside a call) in a right-hand side.

    Examples
    --------
    >>> from mixedfx.formula.syntax import parse_expr
    >>> has_dot(parse_expr("x + .")), has_dot(parse_expr("log(.)"))
    (True, False)
    """
    match node:
        case Binary(op=op, left=left, right=right) if op in _FORMULA_OPS:
            return has_dot(left) or has_dot(right)
        case Unary(operand=inner) | Paren(inner=inner):
            return has_dot(inner)
    return node == DOT


def _dot_to(node: Node, columns: Node) -> Node:
    """``node`` with each ``.`` term (outside calls) replaced by the sum of ``columns``."""
    match node:
        case Binary(op=op, left=left, right=right) if op in _FORMULA_OPS:
            return Binary(op, _dot_to(left, columns), _dot_to(right, columns))
        case Unary(op=op, operand=inner):
            return Unary(op, _dot_to(inner, columns))
        case Paren(inner=inner):
            return Paren(_dot_to(inner, columns))
    return columns if node == DOT else node


def expand_dot(rhs: Node, columns: Sequence[object], response: Node | None = None) -> Node:
    """Replace ``.`` by the data's other columns, as R's ``terms(formula, data = data)``.

    ``.`` stands for every column of the data in the data's order, except
    those named by a symbol of the response (``log(y) ~ .`` leaves out ``y``);
    variables named elsewhere in the formula stay in it (``y ~ . + (1 | g)``
    has ``g`` among its fixed effects, as in lme4). lme4 expands the fixed
    part's ``.`` once more against its model frame, so that frame's derived
    columns (``log(y)``, ``I(x^2)``, ``(weights)``, ``(offset)``) come back as
    variables; here ``.`` is the data's columns only, as in model.frame and lm.

    Parameters
    ----------
    rhs : Node
        A right-hand side; ``.`` inside a call (``log(.)``) is not a term and stays.
    columns : sequence of str
        The data's column names, in order.
    response : Node, optional
        The left-hand side.

    Returns
    -------
    Node
        ``rhs`` itself when it has no ``.``; otherwise ``rhs`` with each ``.``
        replaced by ``(a + b + ...)``.

    Raises
    ------
    FormulaError
        ``.`` with no other column, with a column name that is not a string,
        or with duplicated column names (R's "duplicated name ... using '.'").

    Examples
    --------
    >>> from mixedfx.formula.syntax import deparse, parse_expr
    >>> deparse(expand_dot(parse_expr("Days + ."), ["Reaction", "Days", "Subject"], parse_expr("Reaction")))
    'Days + (Days + Subject)'
    """
    if not has_dot(rhs):
        return rhs
    odd = [c for c in columns if not isinstance(c, str)]
    if odd:
        raise FormulaError(f"'.' stands for the data's columns by name, and column {odd[0]!r} has no text "
                           "name: rename the columns to strings or name the variables")
    repeated = [c for c, count in Counter(columns).items() if count > 1]
    if repeated:
        raise FormulaError(f"duplicated name {repeated[0]!r} in data frame using '.'")
    excluded = _symbols(response)
    names = [c for c in columns if c not in excluded]
    if not names:
        raise FormulaError("'.' stands for the data's columns other than the response, and there are none")
    total: Node = Name(names[0])
    for name in names[1:]:
        total = Binary("+", total, Name(name))
    return _dot_to(rhs, Paren(total))


def coding(terms: Terms, nlevels: Sequence[int]) -> tuple[tuple[int, ...], ...]:
    """How each variable of each term is coded in R's model matrix.

    Parameters
    ----------
    terms : Terms
        From :func:`expand_terms`.
    nlevels : sequence of int
        Per variable: its number of levels for a factor (2 for a logical),
        0 for a numeric variable.

    Returns
    -------
    tuple of tuple of int
        Per term, per variable (in the term's order): 1 for contrasts, 2 for
        indicator columns of every level. A factor is coded by contrasts when
        the term without it is contained in an earlier term (or is empty);
        without an intercept, the first factor (of more than one level) in the
        first term holding one gets indicators.
    """
    codes = terms.marginal_coding
    if terms.intercept:
        return codes
    first = next(((t, k) for t, term in enumerate(terms.terms) for k, v in enumerate(term) if nlevels[v] > 1), None)
    if first is None:
        return codes
    rows = [list(row) for row in codes]
    rows[first[0]][first[1]] = INDICATORS
    return tuple(tuple(row) for row in rows)
