"""R's deparse() line breaking, checked against what R prints."""

from __future__ import annotations

from mixedfx.rdeparse import deparse_lines


def test_deparse_lines_breaks_like_r():
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)"
    assert deparse_lines(formula) == ["cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | ", "    obs)"]
    assert deparse_lines("y ~ x + I(x^2) + log(w) + (1 | g1:g2)") == ["y ~ x + I(x^2) + log(w) + (1 | g1:g2)"]
    assert deparse_lines("y ~ x +") == ["y ~ x +"]
