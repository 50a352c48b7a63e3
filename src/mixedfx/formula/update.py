"""R's ``update.formula``: a new formula from an old one and a change written with ``.``.

In the change, ``.`` on the left stands for the old response and ``.`` on the
right for the old right-hand side; a one-sided change keeps the old response.
The result is simplified as R's ``terms.formula(simplify = TRUE)`` writes it:
the terms in R's order (by degree, then first appearance) joined by ``+``,
random-effects terms in parentheses among them, offsets last, and ``- 1``
where the intercept was removed. ``update(y ~ x + (x | g), . ~ . - x)`` is
``y ~ (x | g)``.
"""

from __future__ import annotations

from mixedfx.errors import FormulaError
from mixedfx.formula.syntax import Binary, Call, Name, Node, Paren, Unary, deparse, parse_expr
from mixedfx.formula.terms import expand_terms

__all__ = ["update_formula"]


def _sides(text: str, what: str) -> tuple[Node | None, Node]:
    if not isinstance(text, str):
        raise TypeError(f"the {what} formula must be a string, not {type(text).__name__}")
    tree = parse_expr(text)
    if isinstance(tree, Binary) and tree.op == "~":
        return tree.left, tree.right
    if isinstance(tree, Unary) and tree.op == "~":
        return None, tree.operand
    raise FormulaError(f"the {what} formula {text!r} has no '~'; write e.g. '. ~ . - x'")


def _substitute(node: Node, dot: Node) -> Node:
    """``node`` with every ``.`` replaced by ``dot``."""
    match node:
        case Name(id="."):
            return dot
        case Paren(inner=inner):
            return Paren(_substitute(inner, dot))
        case Unary(op=op, operand=operand):
            return Unary(op, _substitute(operand, dot))
        case Binary(op=op, left=left, right=right):
            return Binary(op, _substitute(left, dot), _substitute(right, dot))
        case Call(fn=fn, args=args, argnames=argnames):
            return Call(fn, tuple(_substitute(a, dot) for a in args), argnames)
    return node


def _term_text(label: str, node: Node) -> str:
    """A term as the simplified formula writes it: random-effects terms in parentheses."""
    return f"({label})" if isinstance(node, Binary) and node.op in ("|", "||") else label


def update_formula(old: str, change: str) -> str:
    """R's ``update(old, change)`` of a model formula.

    Parameters
    ----------
    old : str
        The fitted formula, e.g. ``"Reaction ~ Days + (Days | Subject)"``.
    change : str
        The new formula, with ``.`` for the old sides: ``". ~ . - Days"``,
        ``". ~ . + (1 | item)"``, ``"log(.) ~ ."``.

    Returns
    -------
    str
        The new formula, simplified as R writes it.

    Raises
    ------
    TypeError
        A formula that is not a string.
    FormulaError
        A formula without ``~``, or a ``.`` on the left with no old response.

    Examples
    --------
    >>> update_formula("Reaction ~ Days + (Days | Subject)", ". ~ . - Days")
    'Reaction ~ (Days | Subject)'
    >>> update_formula("y ~ x + offset(o) + (1 | g)", "~ . + z - 1")
    'y ~ x + (1 | g) + z + offset(o) - 1'
    """
    old_lhs, old_rhs = _sides(old, "fitted")
    new_lhs, new_rhs = _sides(change, "new")
    if new_lhs is None:
        lhs = old_lhs
    elif old_lhs is None and _substitute(new_lhs, Name("")) != new_lhs:
        raise FormulaError(f"'.' on the left of {change!r} stands for the old response, and {old!r} has none")
    else:
        lhs = new_lhs if old_lhs is None else _substitute(new_lhs, old_lhs)
    rhs = _substitute(new_rhs, Paren(old_rhs))
    terms = expand_terms(rhs, lhs)
    parts = [_term_text(":".join(terms.labels[v] for v in term), terms.variables[term[0]])
             for term in terms.terms]
    parts += [terms.labels[v] for v in terms.offsets]
    if not parts:
        parts = ["1"]
    text = " + ".join(parts) + ("" if terms.intercept else " - 1")
    return text if lhs is None else f"{deparse(lhs)} ~ {text}"
