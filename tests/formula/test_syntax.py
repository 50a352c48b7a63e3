"""R expression parsing and deparsing: precedence, R's printing, error positions."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mixedfx.errors import FormulaError
from mixedfx.formula.syntax import (Binary, Call, Name, Num, Paren, Unary, colon, deparse, deparse_lines, format_number,
                             parse_expr)


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("y~x+(x|g)", "y ~ x + (x | g)"),
        ("I(x**2)", "I(x^2)"),
        ("I( x ^ 2 )", "I(x^2)"),
        ("offset(0.5*w)", "offset(0.5 * w)"),
        ("incidence / size", "incidence/size"),
        ("cbind(a,b-a)", "cbind(a, b - a)"),
        ("a %in% b", "a %in% b"),
        ("x %% 2", "x%%2"),
        ("log(x, base=2)", "log(x, base = 2)"),
        ("y ~ -1 + x", "y ~ -1 + x"),
        ("`my var` + x", "`my var` + x"),
        ("f == 'a'", 'f == "a"'),
        ("1e5 + 0.001 + .5 + 2L", "1e+05 + 0.001 + 0.5 + 2L"),
        ("(Days || Subject)", "(Days || Subject)"),
    ],
)
def test_deparse_prints_as_r(text, printed):
    assert deparse(parse_expr(text)) == printed


def test_precedence_follows_r():
    # ~ binds loosest, then |, then +, then *, then :, then ^ (right-associative)
    tree = parse_expr("y ~ a + b:c * d | g")
    assert isinstance(tree, Binary) and tree.op == "~"
    bar = tree.right
    assert isinstance(bar, Binary) and bar.op == "|"
    plus = bar.left
    assert plus.op == "+" and plus.right.op == "*" and plus.right.left.op == ":"
    power = parse_expr("a^b^c")
    assert power.op == "^" and power.right.op == "^"
    # unary minus binds looser than ^ but tighter than :
    assert parse_expr("-x^2") == Unary("-", Binary("^", Name("x"), Num(2.0)))
    assert parse_expr("-a:b") == Binary(":", Unary("-", Name("a")), Name("b"))


def test_call_arguments_and_parentheses_are_kept():
    tree = parse_expr("f((a), b = 1)")
    assert tree == Call("f", (Paren(Name("a")), Num(1.0)), (None, "b"))


@pytest.mark.parametrize(
    ("text", "fragment", "position"),
    [
        ("y ~ x + (1 | g", "unclosed parenthesis", 9),
        ("y ~ x + log(w", "unclosed parenthesis", 12),
        ("y ~ ( | g)", "empty random-effects term", 7),
        ("y ~ (x | )", "nothing after '|'", 8),
        ("y ~ x +", "missing right-hand operand", 8),
        ("y ~ x y", "missing operator", 7),
        ("y ~ x $ z", "unexpected character", 7),
        ("y ~ f(x))", "unexpected ')'", 9),
    ],
)
def test_syntax_errors_say_where(text, fragment, position):
    with pytest.raises(FormulaError) as info:
        parse_expr(text)
    message = str(info.value)
    assert fragment in message
    assert f"position {position}" in message
    assert text in message


def test_parse_rejects_non_text():
    with pytest.raises(TypeError):
        parse_expr(42)


@pytest.mark.parametrize(
    ("value", "text"),
    [(100000.0, "1e+05"), (123456.0, "123456"), (0.0001, "1e-04"), (0.001, "0.001"), (123456.7, "123456.7"),
     (1 / 3, "0.333333333333333"), (-2.5, "-2.5"), (1e-20, "1e-20"), (1.0, "1"), (0.0, "0")],
)
def test_format_number_matches_r_as_character(value, text):
    assert format_number(value) == text


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300))
def test_format_number_keeps_fifteen_significant_digits(x):
    back = float(format_number(x))
    assert math.isclose(back, x, rel_tol=1e-14, abs_tol=0.0) or (x == 0 and back == 0)


def test_colon_adds_the_parentheses_r_prints():
    inner = colon(Name("b"), Name("a"))
    assert deparse(colon(Name("c"), inner)) == "c:(b:a)"
    assert deparse(colon(inner, Name("c"))) == "b:a:c"


@given(st.lists(st.sampled_from(["x", "z", "log(w)", "I(x^2)", "f", "0", "1"]), min_size=1, max_size=5),
       st.lists(st.sampled_from([" + ", " - ", " * ", ":", "/"]), min_size=4, max_size=4))
def test_deparse_is_a_fixed_point(atoms, ops):
    text = atoms[0] + "".join(op + a for op, a in zip(ops, atoms[1:]))
    once = deparse(parse_expr(text))
    assert deparse(parse_expr(once)) == once


def test_deparse_lines_breaks_like_r():
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)"
    assert deparse_lines(formula) == ["cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | ", "    obs)"]
    assert deparse_lines("y ~ x + I(x^2) + log(w) + (1 | g1:g2)") == ["y ~ x + I(x^2) + log(w) + (1 | g1:g2)"]
    assert deparse_lines("y ~ x +") == ["y ~ x +"]
