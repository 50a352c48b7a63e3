"""lme4 formulas: bar terms, || and / expansion, the fixed part, printed text."""

import pytest

from mixedfx.errors import FormulaError
from mixedfx.formula.bars import find_bars, parse_formula
from mixedfx.formula.syntax import deparse, parse_expr


def bars(text):
    return [(b.text, b.group_name) for b in parse_formula(text).bars]


def test_simple_terms_in_formula_order():
    f = parse_formula("Reaction~Days+(Days|Subject)+(1|Night)")
    assert bars("Reaction~Days+(Days|Subject)+(1|Night)") == [("Days | Subject", "Subject"), ("1 | Night", "Night")]
    assert deparse(f.fixed) == "Days"
    assert f.response_name == "Reaction"
    assert f.text == "Reaction ~ Days + (Days | Subject) + (1 | Night)"


def test_double_vert_expands_as_lme4():
    f = parse_formula("Reaction ~ Days + (Days || Subject)")
    assert f.text == "Reaction ~ Days + ((1 | Subject) + (0 + Days | Subject))"
    assert bars("Reaction ~ Days + (Days || Subject)") == [("1 | Subject", "Subject"),
                                                           ("0 + Days | Subject", "Subject")]


def test_double_vert_without_intercept_and_with_interactions():
    assert bars("y ~ (0 + x || g)") == [("0 + x | g", "g")]
    assert bars("y ~ (x * z || g)") == [("1 | g", "g"), ("0 + x | g", "g"), ("0 + z | g", "g"),
                                        ("0 + x:z | g", "g")]


def test_slash_gives_inner_interaction_first():
    # lme4's makeInteraction: batch/cask -> cask:batch then batch
    assert bars("strength ~ 1 + (1 | batch/cask)") == [("1 | cask:batch", "cask:batch"), ("1 | batch", "batch")]
    assert [g for _, g in bars("y ~ (1 | a/b/c)")] == ["c:(b:a)", "b:a", "a"]
    assert parse_formula("strength ~ 1 + (1 | batch/cask)").text == "strength ~ 1 + (1 | batch/cask)"


def test_colon_grouping_is_kept():
    assert bars("y ~ x + (1 | g1:g2)") == [("1 | g1:g2", "g1:g2")]


def test_grouping_by_a_call_keeps_its_name():
    assert bars("y ~ (1 | as.factor(batch))") == [("1 | as.factor(batch)", "as.factor(batch)")]


def test_fixed_part_without_bars():
    assert deparse(parse_formula("y ~ (1 | g)").fixed) == "1"
    assert deparse(parse_formula("y ~ 0 + (1 | g)").fixed) == "0"
    assert deparse(parse_formula("y ~ x - 1 + (x || g)").fixed) == "x - 1"
    assert deparse(parse_formula("y ~ x + offset(0.5*w) + (1 | g)").fixed) == "x + offset(0.5 * w)"


def test_response_forms():
    assert parse_formula("cbind(incidence, size-incidence) ~ period + (1|herd)").response_name == \
        "cbind(incidence, size - incidence)"
    assert parse_formula("incidence/size ~ period + (1 | herd)").response_name == "incidence/size"
    assert parse_formula("~ x + (1 | g)").response is None


def test_no_random_effects_is_allowed_by_the_parser():
    assert parse_formula("y ~ x").bars == ()


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("y ~ x + (1 | g", "unclosed parenthesis"), ("y ~ x + ( | g)", "empty random-effects term"),
     ("y + x", "no '~'"), ("(1 | g) ~ x", "right of '~'"), ("y ~ (1 | (a/b))", "unparseable"),
     ("y ~ (0 || g)", "no intercept and no variables")],
)
def test_formula_errors(text, fragment):
    with pytest.raises(FormulaError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_formula(text)


def test_find_bars_on_plain_tree():
    found = find_bars(parse_expr("x + (1 | g) + log(z)"))
    assert [b.text for b in found] == ["1 | g"]
