"""R expression syntax: tokenizer, parser and deparser for model formulas.

The parser reads formula text with R's grammar (operator precedence and
associativity of R's ``?Syntax``; ``**`` read as ``^``) into a small immutable
syntax tree. :func:`deparse` prints a tree back the way R's ``deparse`` does
(``a * b``, ``a/b``, ``x^2``, ``a:b``, ``f(a, b = 1)``), which is also how R
names model-matrix columns such as ``I(x^2)`` or ``log(w)``; :func:`deparse_lines`
breaks a long expression over lines as R does past its ``width.cutoff``.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from mixedfx.errors import FormulaError

__all__ = ["deep_recursion", "with_deep_recursion", "MAX_TOKENS", "MAX_NESTING", 
    "Node", "Name", "Num", "Str", "Call", "Binary", "Unary", "Paren",
    "parse_expr", "deparse", "deparse_lines", "format_number", "colon",
]


# --------------------------------------------------------------------------- tree
@dataclass(frozen=True)
class Name:
    """A symbol (a column name or a constant such as ``TRUE``)."""

    id: str


@dataclass(frozen=True)
class Num:
    """A numeric constant; ``integer`` for R's ``2L`` form."""

    value: float
    integer: bool = False


@dataclass(frozen=True)
class Str:
    """A string constant."""

    value: str


@dataclass(frozen=True)
class Call:
    """A function call ``fn(args)``; ``argnames`` holds ``None`` for positional arguments."""

    fn: str
    args: tuple[Node, ...]
    argnames: tuple[str | None, ...]


@dataclass(frozen=True)
class Binary:
    """A binary operator call such as ``a + b`` or ``g | h``."""

    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Unary:
    """A prefix operator: ``-x``, ``+x``, ``!x`` or a one-sided ``~x``."""

    op: str
    operand: Node


@dataclass(frozen=True)
class Paren:
    """Explicit parentheses, kept so that deparsing reproduces them."""

    inner: Node


Node = Name | Num | Str | Call | Binary | Unary | Paren

# Binding powers, lowest first, following R's ?Syntax.
_BINARY: dict[str, tuple[int, bool]] = {  # op -> (precedence, right-associative)
    "~": (10, False),
    "|": (20, False), "||": (20, False),
    "&": (30, False), "&&": (30, False),
    "==": (50, False), "!=": (50, False), "<": (50, False), ">": (50, False),
    "<=": (50, False), ">=": (50, False),
    "+": (60, False), "-": (60, False),
    "*": (70, False), "/": (70, False),
    "%": (80, False),  # any %op%
    ":": (90, False),
    "^": (110, True),
}
_PREFIX = {"~": 10, "!": 40, "-": 100, "+": 100}
_UNSPACED = {"/", "^", ":", "%%", "%/%"}
_RESERVED = {"TRUE", "FALSE", "NULL", "NA", "Inf", "NaN", "if", "else", "for", "while",
             "repeat", "function", "return", "next", "break", "in"}
_SYNTACTIC = re.compile(r"^(?:[^\W\d_][\w.]*|\.(?:[^\W\d][\w.]*)?)$")


def _precedence(op: str) -> tuple[int, bool]:
    return _BINARY["%"] if op.startswith("%") else _BINARY[op]


# --------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class _Token:
    kind: str  # "name", "num", "str", "op", "end"
    text: str
    pos: int
    value: object = None


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?)
  | (?P<name>(?:[^\W\d_]|\.(?!\d))[\w.]*)
  | (?P<bq>`(?:[^`\\]|\\.)*`)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<op>\|\||&&|==|!=|<=|>=|\*\*|%[^%\s]*%|[~+\-*/^:|&!<>=(),])
    """,
    re.VERBOSE,
)


def _error(text: str, pos: int, message: str) -> FormulaError:
    pointer = " " * pos + "^"
    return FormulaError(f"{message} at position {pos + 1} of the formula:\n  {text}\n  {pointer}")


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos] in "\"'`":
                raise _error(text, pos, f"unclosed quote {text[pos]}")
            raise _error(text, pos, f"unexpected character {text[pos]!r}")
        kind = m.lastgroup
        tok = m.group()
        if kind == "num":
            integer = tok.endswith("L")
            tokens.append(_Token("num", tok, pos, (float(tok.rstrip("L")), integer)))
        elif kind == "name":
            tokens.append(_Token("name", tok, pos, tok))
        elif kind == "bq":
            tokens.append(_Token("name", tok, pos, re.sub(r"\\(.)", r"\1", tok[1:-1])))
        elif kind == "str":
            tokens.append(_Token("str", tok, pos, re.sub(r"\\(.)", r"\1", tok[1:-1])))
        elif kind == "op":
            tokens.append(_Token("op", "^" if tok == "**" else tok, pos))
        pos = m.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# --------------------------------------------------------------------------- parser
class _Parser:
    """Pratt parser over R's operator table."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def next(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise FormulaError("empty formula")
        node = self.expr(0)
        tok = self.peek()
        if tok.kind != "end":
            raise _error(self.text, tok.pos, f"unexpected {tok.text!r}")
        return node

    def expr(self, min_prec: int) -> Node:
        left = self.prefix()
        while True:
            tok = self.peek()
            if tok.kind != "op" or tok.text in {"(", ")", ",", "!", "="}:
                if tok.kind in {"name", "num", "str"}:
                    raise _error(self.text, tok.pos, f"unexpected {tok.text!r} (missing operator?)")
                return left
            prec, right_assoc = _precedence(tok.text)
            if prec < min_prec or (prec == min_prec and not right_assoc):
                return left
            self.next()
            self.check_operand(tok)
            right = self.expr(prec if right_assoc else prec + 1)
            left = Binary(tok.text, left, right)

    def check_operand(self, op: _Token) -> None:
        tok = self.peek()
        if tok.kind == "end" or (tok.kind == "op" and tok.text in {")", ","}):
            if op.text in {"|", "||"}:
                raise _error(self.text, op.pos, f"random-effects term with nothing after {op.text!r} "
                             "(write the grouping factor, e.g. (1 | g))")
            raise _error(self.text, tok.pos, f"missing right-hand operand of {op.text!r}")

    def prefix(self) -> Node:
        tok = self.next()
        if tok.kind == "name":
            if self.peek().kind == "op" and self.peek().text == "(":
                return self.call(tok)
            return Name(str(tok.value))
        if tok.kind == "num":
            value, integer = tok.value  # type: ignore[misc]
            return Num(value, integer)
        if tok.kind == "str":
            return Str(str(tok.value))
        if tok.kind == "op" and tok.text == "(":
            if self.peek().kind == "op" and self.peek().text in {"|", "||"}:
                bar = self.peek()
                raise _error(self.text, bar.pos, f"empty random-effects term: nothing before {bar.text!r} "
                             "(write e.g. (1 | g) for a random intercept)")
            if self.peek().kind == "op" and self.peek().text == ")":
                raise _error(self.text, self.peek().pos, "empty parentheses")
            inner = self.expr(0)
            self.expect_close(tok)
            return Paren(inner)
        if tok.kind == "op" and tok.text in _PREFIX:
            self.check_operand(tok)
            return Unary(tok.text, self.expr(_PREFIX[tok.text]))
        if tok.kind == "end":
            raise _error(self.text, tok.pos, "formula ends too early")
        if tok.text in {"|", "||"}:
            raise _error(self.text, tok.pos, f"empty random-effects term: nothing before {tok.text!r} "
                         "(write e.g. (1 | g) for a random intercept)")
        raise _error(self.text, tok.pos, f"unexpected {tok.text!r}")

    def expect_close(self, opening: _Token) -> None:
        tok = self.next()
        if tok.kind == "op" and tok.text == ")":
            return
        if tok.kind == "end":
            raise _error(self.text, opening.pos, "unclosed parenthesis '(' (no matching ')')")
        raise _error(self.text, tok.pos, f"expected ')' to close the '(' at position {opening.pos + 1}, "
                     f"found {tok.text!r}")

    def call(self, name: _Token) -> Call:
        opening = self.next()
        args: list[Node] = []
        argnames: list[str | None] = []
        if self.peek().kind == "op" and self.peek().text == ")":
            self.next()
            return Call(str(name.value), (), ())
        while True:
            argname = None
            if self.peek().kind in {"name", "str"} and self.tokens[self.i + 1].text == "=" \
                    and self.tokens[self.i + 1].kind == "op":
                argname = str(self.next().value)
                self.next()
            args.append(self.expr(0))
            argnames.append(argname)
            tok = self.peek()
            if tok.kind == "op" and tok.text == ",":
                self.next()
                continue
            self.expect_close(opening)
            return Call(str(name.value), tuple(args), tuple(argnames))


def parse_expr(text: str) -> Node:
    """Parse R expression text (a formula or a part of one) into a syntax tree.

    Parameters
    ----------
    text : str
        R code such as ``"y ~ x + (1 | g)"``.

    Returns
    -------
    Node
        The syntax tree; parentheses are kept as :class:`Paren` nodes.

    Raises
    ------
    FormulaError
        On a syntax error, with its position in the text.
    """
    if not isinstance(text, str):
        raise TypeError(f"a formula must be given as text (str), not {type(text).__name__}")
    parser = _Parser(text)
    _check_size(parser.tokens)
    return with_deep_recursion(parser.parse)


T = TypeVar("T")
MAX_TOKENS = 5000
"""The most symbols, numbers and operators a formula may have (about 2,000 terms)."""
MAX_NESTING = 500
"""The deepest nesting of parentheses a formula may have."""
_RECURSION_LIMIT = 20_000
"""Python's recursion limit while a formula's tree is walked: enough for :data:`MAX_TOKENS`."""


def _check_size(tokens: list[_Token]) -> None:
    """Refuse formulas too long or too deeply nested to walk their trees."""
    if len(tokens) > MAX_TOKENS:
        raise FormulaError(f"the formula is too long: {len(tokens)} symbols and operators, at most {MAX_TOKENS}; "
                           "build it from fewer terms (e.g. a factor instead of many indicator columns)")
    depth = deepest = 0
    for tok in tokens:
        depth += tok.text in ("(", "[", "{")
        depth -= tok.text in (")", "]", "}")
        deepest = max(deepest, depth)
    if deepest > MAX_NESTING:
        raise FormulaError(f"the formula is nested too deeply: {deepest} levels of parentheses, at most {MAX_NESTING}")


def with_deep_recursion(walk: Callable[..., T], *args: object) -> T:
    """``walk(*args)``, again with room to recurse (:func:`deep_recursion`) where the default limit is too low.

    Most formulas are shallow: the limit is only raised for those that need it.
    """
    try:
        return walk(*args)
    except RecursionError:
        with deep_recursion():
            return walk(*args)


@contextmanager
def deep_recursion() -> Iterator[None]:
    """Room for the recursive walks over a formula's tree (its depth grows with its number of terms).

    Examples
    --------
    >>> with deep_recursion():
    ...     sys.getrecursionlimit() >= 20_000
    True
    """
    previous = sys.getrecursionlimit()
    sys.setrecursionlimit(max(previous, _RECURSION_LIMIT))
    try:
        yield
    finally:
        sys.setrecursionlimit(previous)


# --------------------------------------------------------------------------- deparse
def format_number(x: float) -> str:
    """Format a double as R's ``as.character`` / ``deparse`` do (15 significant digits).

    Parameters
    ----------
    x : float
        The value.

    Returns
    -------
    str
        Fixed notation unless scientific notation is strictly shorter
        (``1e+05``, ``1e-04``, ``0.001``, ``123456.7``).
    """
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Inf" if x > 0 else "-Inf"
    if x == 0:
        return "0"
    target = float(f"{x:.15g}")
    digits = next(d for d in range(1, 16) if float(f"{x:.{d - 1}e}") == target)
    sci = f"{x:.{digits - 1}e}"
    mantissa, exponent = sci.split("e")
    exp = int(exponent)
    sci = f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    fixed = f"{x:.{max(0, digits - 1 - exp)}f}"
    return fixed if len(fixed) <= len(sci) else sci


def _name(text: str) -> str:
    if _SYNTACTIC.match(text) and text not in _RESERVED - {"TRUE", "FALSE", "NULL", "NA", "Inf", "NaN"}:
        return text
    return "`" + text.replace("\\", "\\\\").replace("`", "\\`") + "`"


class _Deparser:
    """R's ``deparse()`` writer (deparse.c): prints a tree, breaking lines past ``cutoff``.

    A line longer than ``cutoff`` is broken after a spaced binary operator or
    after an argument's comma; continuations are indented 4 spaces per level
    (2 past the fourth), as R indents them.
    """

    def __init__(self, cutoff: float) -> None:
        self.cutoff = cutoff
        self.lines: list[str] = []
        self.line = ""
        self.indent = 0
        self.startline = True

    def write(self, text: str) -> None:
        if self.startline:
            self.startline = False
            self.line += "".join("    " if i <= 4 else "  " for i in range(1, self.indent + 1))
        self.line += text

    def linebreak(self, broken: bool) -> bool:
        if len(self.line) > self.cutoff:
            if not broken:
                self.indent += 1
            self.lines.append(self.line)
            self.line, self.startline = "", True
            return True
        return broken

    def node(self, node: Node) -> None:
        match node:
            case Name(id=ident):
                self.write(_name(ident))
            case Num(value=value, integer=True):
                self.write(f"{int(value)}L")
            case Num(value=value):
                self.write(format_number(value))
            case Str(value=value):
                self.write('"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"')
            case Call(fn=fn, args=args, argnames=argnames):
                self.call(fn, args, argnames)
            case Binary(op=op, left=left, right=right):
                self.binary(op, left, right)
            case Unary(op=op, operand=operand):
                self.write(op)
                self.node(operand)
            case Paren(inner=inner):
                self.write("(")
                self.node(inner)
                self.write(")")
            case _:
                raise TypeError(f"not a syntax node: {node!r}")

    def binary(self, op: str, left: Node, right: Node) -> None:
        self.node(left)
        if op in _UNSPACED:
            self.write(op)
            self.node(right)
            return
        self.write(f" {op} ")
        broken = self.linebreak(False)
        self.node(right)
        if broken:
            self.indent -= 1

    def call(self, fn: str, args: tuple[Node, ...], argnames: tuple[str | None, ...]) -> None:
        self.write(f"{_name(fn)}(")
        broken = False
        for k, (arg, argname) in enumerate(zip(args, argnames)):
            if argname is not None:
                self.write(f"{_name(argname)} = ")
            self.node(arg)
            if k < len(args) - 1:
                self.write(", ")
                broken = self.linebreak(broken)
        if broken:
            self.indent -= 1
        self.write(")")


def _deparse(node: Node, cutoff: float) -> list[str]:
    """The lines of R's ``deparse(node, width.cutoff = cutoff)``."""
    deparser = _Deparser(cutoff)
    deparser.node(node)
    return deparser.lines + [deparser.line]


def deparse(node: Node) -> str:
    """Print a syntax tree as R's ``deparse`` would.

    Parameters
    ----------
    node : Node
        A tree from :func:`parse_expr` (or built from its node classes).

    Returns
    -------
    str
        One line of R code, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    """
    return with_deep_recursion(_deparse, node, math.inf)[0]


def deparse_lines(text: str, cutoff: int = 60) -> list[str]:
    """The lines of R's ``deparse()`` of an expression given as (single-line) R code.

    Parameters
    ----------
    text : str
        R code, e.g. a model formula as :func:`deparse` prints it on one line.
    cutoff : int
        R's ``width.cutoff``: a line is broken after a binary operator or an
        argument's comma once it is longer than this.

    Returns
    -------
    list of str
        The deparsed lines (continuations indented by 4 spaces per level), or
        ``[text]`` when ``text`` does not parse as an R expression.
    """
    try:
        node = parse_expr(text)
    except FormulaError:
        return [text]
    return _deparse(node, cutoff)


def colon(left: Node, right: Node) -> Binary:
    """Build ``left:right`` with the parentheses R's deparse would print.

    Parameters
    ----------
    left, right : Node
        The operands.

    Returns
    -------
    Binary
        ``:`` node; an operand that is a binary call of lower precedence (or a
        right operand of equal precedence, ``:`` being left-associative) is
        wrapped in :class:`Paren`, so ``c:(b:a)`` prints as R prints it.
    """
    colon_prec = _BINARY[":"][0]

    def wrap(node: Node, is_left: bool) -> Node:
        if isinstance(node, Binary):
            prec = _precedence(node.op)[0]
            if prec < colon_prec or (prec == colon_prec and not is_left):
                return Paren(node)
        return node

    return Binary(":", wrap(left, True), wrap(right, False))
