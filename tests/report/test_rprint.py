"""R's printing of vectors, matrices and tables, checked against what R prints."""

from __future__ import annotations

import math

import numpy as np

from mixedfx.rbase.rformat import SIGNIF_LEGEND
from mixedfx.report.rprint import cat_fill, print_anova, print_coefmat, print_matrix, print_named_vector
from mixedfx.report.rtext import strwrap

NA = math.nan


def test_cat_fill():
    title = "Generalized linear mixed model fit by maximum likelihood (Laplace Approximation)"
    assert cat_fill(["Number of obs: 30, groups: ", "Batch, 6"]) == "Number of obs: 30, groups:  Batch, 6\n"
    assert cat_fill(["a" * 50, "b" * 40]) == "a" * 50 + " \n" + "b" * 40 + "\n"
    assert cat_fill([*strwrap(title, 78, 2), " [", "glmerMod", "]"], sep="") == (
        title[:65] + "\n  Approximation) [glmerMod]\n"
    )


def test_print_named_vector_wraps_at_width():
    assert print_named_vector(["1.5", "2.0"], ["a", "bb"]) == ["  a  bb ", "1.5 2.0 "]
    lines = print_named_vector(["1"] * 5, ["name" + "x" * 20] * 5, gap=2)
    assert [len(ln) for ln in lines] == [78, 78, 52, 52]


def test_print_matrix_left_right_and_blocks():
    assert print_matrix([["a", "bb"]], ["r1"], ["c1", "c2"]) == ["   c1 c2", "r1 a  bb"]
    assert print_matrix([["a", "bb"]], ["r1"], ["c1", "c2"], right=True) == ["   c1 c2", "r1  a bb"]
    wide = print_matrix([["x" * 30] * 3], [""], ["A", "B", "C"])
    assert len(wide) == 4 and wide[2].strip() == "C"


def test_print_coefmat_with_p_values():
    # summary(glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), cbpp, binomial))
    x = np.array([
        [-1.39834286, 0.23121344, -6.04773453, 1.46798478e-09],
        [-0.99192560, 0.30316344, -3.27194041, 1.06808862e-03],
        [-1.12823016, 0.32276950, -3.49546744, 4.73541234e-04],
        [-1.57967353, 0.42199683, -3.74333855, 1.81545985e-04],
    ])
    lines = print_coefmat(x, ["(Intercept)", "period2", "period3", "period4"],
                          ["Estimate", "Std. Error", "z value", "Pr(>|z|)"], 4)
    assert lines == [
        "            Estimate Std. Error z value Pr(>|z|)    ",
        "(Intercept)  -1.3983     0.2312  -6.048 1.47e-09 ***",
        "period2      -0.9919     0.3032  -3.272 0.001068 ** ",
        "period3      -1.1282     0.3228  -3.495 0.000474 ***",
        "period4      -1.5797     0.4220  -3.743 0.000182 ***",
        "---",
        "Signif. codes:  " + SIGNIF_LEGEND,
    ]


def test_print_coefmat_fixes_values_printed_as_zero():
    lines = print_coefmat(np.array([[1000.0, 10.0, 1.0], [0.00001, 10.0, 1.0]]), ["a", "b"],
                          ["Estimate", "Std. Error", "t value"], 4)
    assert lines[2].split()[1] == "1e-05"


def test_print_anova():
    x = np.array([[4, 1802.0786, 1814.8505, -897.0393, 1794.0786, NA, NA, NA],
                  [5, 1762.0033, 1777.9680, -876.0016, 1752.0033, 42.0753879, 1, 8.78215851e-11],
                  [6, 1763.9393, 1783.0971, -875.9697, 1751.9393, 0.0639107, 1, 0.800418464]])
    cols = ["npar", "AIC", "BIC", "logLik", "deviance", "Chisq", "Df", "Pr(>Chisq)"]
    assert print_anova(x, ["m0", "m1", "m2"], cols)[:4] == [
        "   npar    AIC    BIC  logLik deviance   Chisq Df Pr(>Chisq)    ",
        "m0    4 1802.1 1814.8 -897.04   1794.1                          ",
        "m1    5 1762.0 1778.0 -876.00   1752.0 42.0754  1  8.782e-11 ***",
        "m2    6 1763.9 1783.1 -875.97   1751.9  0.0639  1     0.8004    ",
    ]
