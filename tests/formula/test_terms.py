"""R's terms(): expansion of formula operators, term order and factor coding."""

import pytest

from mixedfx.errors import FormulaError
from mixedfx.formula.syntax import parse_expr
from mixedfx.formula.terms import coding, expand_terms


def labels(rhs, response=None):
    terms = expand_terms(parse_expr(rhs), None if response is None else parse_expr(response))
    return terms.term_labels, terms.intercept


@pytest.mark.parametrize(
    ("rhs", "expected", "intercept"),
    [
        ("a * b", ["a", "b", "a:b"], True),
        ("a:b + a", ["a", "a:b"], True),  # sorted by degree
        ("x + f:x", ["x", "x:f"], True),  # variables print in order of first appearance
        ("f:x + x", ["x", "f:x"], True),
        ("(a + b + c)^2", ["a", "b", "c", "a:b", "a:c", "b:c"], True),
        ("a/b", ["a", "a:b"], True),
        ("(a + b)/c", ["a", "b", "a:b:c"], True),
        ("x %in% f", ["x:f"], True),
        ("a*b - a:b", ["a", "b"], True),
        ("0 + a", ["a"], False),
        ("a - 1", ["a"], False),
        ("-1 + a", ["a"], False),
        ("a - 0", ["a"], True),
        ("0 + a + 1", ["a"], True),
        ("a + a + a:a", ["a"], True),
        ("1", [], True),
        ("0", [], False),
    ],
)
def test_expansion_matches_r(rhs, expected, intercept):
    assert labels(rhs) == (expected, intercept)


def test_offsets_are_variables_but_not_terms():
    terms = expand_terms(parse_expr("x + offset(log(e)) + f"), parse_expr("y"))
    assert terms.labels == ("y", "x", "offset(log(e))", "f")
    assert terms.term_labels == ["x", "f"]
    assert terms.offsets == (2,)


def test_deleted_variables_still_belong_to_the_frame():
    terms = expand_terms(parse_expr("x - z"))
    assert terms.term_labels == ["x"]
    assert "z" in terms.labels


@pytest.mark.parametrize("rhs", ["x + 2", "x + .", "(a + b)^x", "x + (y ~ z)"])
def test_invalid_terms_raise(rhs):
    with pytest.raises(FormulaError):
        expand_terms(parse_expr(rhs))


def codes(rhs, factors):
    terms = expand_terms(parse_expr(rhs))
    nlev = [3 if label in factors else 0 for label in terms.labels]
    return dict(zip(terms.term_labels, coding(terms, nlev)))


def test_factor_with_its_margin_uses_contrasts():
    assert codes("x * f", {"f"}) == {"x": (1,), "f": (1,), "x:f": (1, 1)}
    assert codes("f * g", {"f", "g"}) == {"f": (1,), "g": (1,), "f:g": (1, 1)}


def test_factor_without_its_margin_gets_indicators():
    # R: y ~ x:f has x:fa, x:fb, x:fc; y ~ x + x:f has x:fb, x:fc
    assert codes("x:f", {"f"})["x:f"][1] == 2
    assert codes("x + x:f", {"f"})["x:f"][1] == 1
    # f:g with an intercept but neither main effect: both factors fully coded
    assert codes("f:g", {"f", "g"})["f:g"] == (2, 2)


def test_no_intercept_codes_the_first_factor_by_indicators():
    assert codes("0 + f + g", {"f", "g"}) == {"f": (2,), "g": (1,)}
    # numeric variables are skipped when looking for the first factor
    assert codes("0 + x + f", {"f"}) == {"x": (1,), "f": (2,)}


def test_expansions_are_remembered_by_expression():
    """Every fit of a formula expands the same expressions once; a long formula's hashing needs the deep walk too."""
    rhs, response = parse_expr("x * f + log(w)"), parse_expr("y")
    assert expand_terms(rhs, response) is expand_terms(parse_expr("x * f + log(w)"), parse_expr("y"))
    assert expand_terms(rhs) is not expand_terms(rhs, response)
    long = parse_expr(" + ".join(f"x{i}" for i in range(1500)))
    assert len(expand_terms(long).terms) == 1500
