"""R's ``deparse()`` of an expression, broken into lines as R breaks them.

R code given on one line (a model formula, a data argument) is parsed into a
small tuple tree and printed back over several lines once a line passes R's
``width.cutoff``, continuations indented as R indents them.
"""

from __future__ import annotations

import re

__all__ = ["deparse_lines"]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?L?)|(?P<name>[A-Za-z.][A-Za-z0-9._]*|`[^`]+`)"
    r"|(?P<str>\"[^\"]*\"|'[^']*')|(?P<op>%[^%]*%|\|\||&&|==|!=|<=|>=|[~+\-*/^:|&<>!=$@(),]))"
)
# R's binary operators: binding power, right-associative, printed with spaces (PP_BINARY)
_BINARY = {
    "~": (10, False, True), "||": (20, False, True), "|": (20, False, True), "&&": (30, False, True),
    "&": (30, False, True), "==": (50, False, True), "!=": (50, False, True), "<": (50, False, True),
    ">": (50, False, True), "<=": (50, False, True), ">=": (50, False, True), "+": (60, False, True),
    "-": (60, False, True), "*": (70, False, True), "/": (70, False, False), "%%": (80, False, False),
    "%/%": (80, False, False), ":": (90, False, False), "^": (110, True, False), "$": (120, False, False),
    "@": (120, False, False),
}
_PREFIX = {"~": 10, "!": 40, "-": 100, "+": 100}


def _tokenize(text: str) -> list[str]:
    """Split R code into tokens (raises ``ValueError`` on anything else)."""
    tokens, pos = [], 0
    while text[pos:].strip():
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"cannot tokenize {text[pos:]!r}")
        tokens.append(match.group(match.lastgroup))
        pos = match.end()
    return tokens


class _Parser:
    """A Pratt parser for R expressions: atoms, calls, parentheses, unary and binary operators."""

    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.pos = 0

    def peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise ValueError(f"expected {expected!r}, found {token!r}")
        self.pos += 1
        return token

    def parse(self) -> tuple:
        tree = self.expression(0)
        if self.peek() is not None:
            raise ValueError(f"unexpected {self.peek()!r}")
        return tree

    def expression(self, min_bp: int) -> tuple:
        left = self.prefix()
        while (op := self.peek()) is not None:
            if op == "(":
                left = ("call", left, self.arguments())
                continue
            bp, right_assoc, _ = _BINARY.get(op, (None, False, False))
            if bp is None and op.startswith("%"):
                bp, right_assoc = 80, False
            if bp is None or bp <= min_bp:
                break
            self.take()
            left = ("binary", op, left, self.expression(bp - 1 if right_assoc else bp))
        return left

    def prefix(self) -> tuple:
        token = self.take()
        if token in _PREFIX:
            return ("unary", token, self.expression(_PREFIX[token]))
        if token == "(":
            inner = self.expression(0)
            self.take(")")
            return ("paren", inner)
        if token in _BINARY or token in ",)" or token.startswith("%"):
            raise ValueError(f"unexpected {token!r}")
        return ("atom", token)

    def arguments(self) -> list[tuple[str | None, tuple]]:
        self.take("(")
        args: list[tuple[str | None, tuple]] = []
        while self.peek() != ")":
            name = None
            if self.pos + 1 < len(self.tokens) and self.tokens[self.pos + 1] == "=" and self.peek() not in _BINARY:
                name = self.take()
                self.take("=")
            args.append((name, self.expression(0)))
            if self.peek() != ")":
                self.take(",")
        self.take(")")
        return args


class _Deparser:
    """R's ``deparse()`` of a parsed expression, breaking lines as R does past ``cutoff``."""

    def __init__(self, cutoff: int) -> None:
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

    def deparse(self, node: tuple) -> None:
        kind = node[0]
        if kind == "atom":
            self.write(node[1])
        elif kind == "paren":
            self.write("(")
            self.deparse(node[1])
            self.write(")")
        elif kind == "unary":
            self.write(node[1])
            self.deparse(node[2])
        elif kind == "binary":
            self.binary(*node[1:])
        else:
            self.call(node[1], node[2])

    def binary(self, op: str, left: tuple, right: tuple) -> None:
        spaced = _BINARY.get(op, (0, False, op not in ("%%", "%/%")))[2]
        self.deparse(left)
        if not spaced:
            self.write(op)
            self.deparse(right)
            return
        self.write(f" {op} ")
        broken = self.linebreak(False)
        self.deparse(right)
        if broken:
            self.indent -= 1

    def call(self, function: tuple, args: list[tuple[str | None, tuple]]) -> None:
        self.deparse(function)
        self.write("(")
        broken = False
        for k, (name, value) in enumerate(args):
            if name is not None:
                self.write(f"{name} = ")
            self.deparse(value)
            if k < len(args) - 1:
                self.write(", ")
                broken = self.linebreak(broken)
        if broken:
            self.indent -= 1
        self.write(")")


def deparse_lines(text: str, cutoff: int = 60) -> list[str]:
    """The lines of R's ``deparse()`` of an expression given as (single-line) R code.

    Parameters
    ----------
    text : str
        R code, e.g. a model formula as R deparses it on one line.
    cutoff : int
        R's ``width.cutoff``: a line is broken after a binary operator or an
        argument's comma once it is longer than this.

    Returns
    -------
    list of str
        The deparsed lines (continuations indented by 4 spaces per level), or
        ``[text]`` when ``text`` is not an expression this emulation parses.
    """
    try:
        tree = _Parser(text).parse()
    except ValueError:
        return [text]
    deparser = _Deparser(cutoff)
    deparser.deparse(tree)
    return deparser.lines + [deparser.line]
