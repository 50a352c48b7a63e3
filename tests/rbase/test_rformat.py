"""R's text formatting of numbers, checked against what R prints."""

from __future__ import annotations

import math

import pytest

from mixedfx.rbase.rformat import (
    SIGNIF_LEGEND,
    format_num,
    format_pval,
    format_real_info,
    pad_strings,
    signif_legend_lines,
    significance_stars,
)

NA = math.nan


@pytest.mark.parametrize(
    ("x", "digits", "want"),
    [
        ([1, 10, 100], 7, ["  1", " 10", "100"]),
        ([3.14159], 3, ["3.14"]),
        ([251.405, 10.467], 4, ["251.41", " 10.47"]),  # common decimals: each shows >= 4 digits
        ([42.0006, 49.51], 4, ["42.00", "49.51"]),
        ([0.001234, 123.4], 3, ["1.23e-03", "1.23e+02"]),  # fixed would be wider
        ([9996], 3, ["9996"]),  # rounding to 1e+04 does not widen the fixed format
        ([1, NA], 7, [" 1", "NA"]),
        ([-0.0001], 2, ["-1e-04"]),
        ([-0.0], 7, ["0"]),
        ([1638.62145988002], 7, ["1638.621"]),
        ([247.0], 7, ["247"]),
    ],
)
def test_format_num(x, digits, want):
    assert format_num(x, digits) == want


def test_format_num_nsmall_and_info():
    assert format_num([1.0, 0.08], nsmall=2) == ["1.00", "0.08"]
    assert format_real_info([123456789.0], 7) == (9, 0, 0)
    assert format_real_info([1e-20, 1.0], 7) == (5, 0, 1)


def test_pad_strings():
    assert pad_strings(["***", "*", ""]) == ["***", "*  ", "   "]
    assert pad_strings(["a", "bcd"], "right") == ["  a", "bcd"]


def test_format_pval():
    assert format_pval([1.47e-09, 0.001068, 0.000474], 3) == ["1.47e-09", "0.001068", "0.000474"]
    assert format_pval([1e-20, 0.097714, 0.000183], 3) == ["< 2e-16", "0.097714", "0.000183"]
    assert format_pval([1e-20, 0.097714, 0.5], 3) == ["<2e-16", "0.0977", "0.5000"]
    assert format_pval([1e-20], 5) == ["< 2.22e-16"]
    assert format_pval([NA, 0.8004185], 4) == ["NA", "0.8004"]


def test_significance_stars_and_legend():
    assert significance_stars([0.001, 0.0011, 0.05, 0.07, 0.5, NA]) == ["***", "**", "*", ".", " ", ""]
    assert signif_legend_lines() == ["---", "Signif. codes:  " + SIGNIF_LEGEND]
    assert SIGNIF_LEGEND == "0 ‘***’ 0.001 ‘**’ 0.01 ‘*’ 0.05 ‘.’ 0.1 ‘ ’ 1"


def test_infinities_print_as_r_does():
    # R: format(c(1.5, Inf, -Inf, NA), digits = 4) and format(Inf)
    assert format_num([1.5, float("inf"), float("-inf"), float("nan")], 4) == [" 1.5", " Inf", "-Inf", "  NA"]
    assert format_num([float("inf")]) == ["Inf"]
