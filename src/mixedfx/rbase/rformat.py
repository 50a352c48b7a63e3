"""R's text formatting of numbers.

Small pure functions that reproduce, character for character, what R (4.x,
``options(digits = 7, scipen = 0)``) makes of numbers: ``format`` of a numeric
vector (R's C ``formatReal``), ``format`` of a character vector,
``format.pval`` and ``symnum``'s significance stars with their legend.

Missing values (R's ``NA``) are represented by ``nan``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mixedfx.rbase.rmath import DBL_DIG, DBL_EPSILON

__all__ = [
    "SIGNIF_LEGEND",
    "format_num",
    "format_pval",
    "format_real_info",
    "pad_strings",
    "signif_legend_lines",
    "significance_stars",
]

SIGNIF_LEGEND = "0 \u2018***\u2019 0.001 \u2018**\u2019 0.01 \u2018*\u2019 0.05 \u2018.\u2019 0.1 \u2018 \u2019 1"
"""The legend of ``symnum``'s significance codes as R prints it (UTF-8 quotes)."""

_KP_MAX = 27
_NA_WIDTH = 2
_STAR_CUTS = (0.001, 0.01, 0.05, 0.1)
_STAR_SYMBOLS = ("***", "**", "*", ".", " ")


def _scientific(x: float, digits: int) -> tuple[bool, int, int, bool]:
    """R's ``scientific()``: sign, decimal exponent, significant digits, rounding-widens flag."""
    if x == 0.0:
        return False, 0, 1, False
    r = abs(x)
    mantissa, exponent = f"{r:.{digits - 1}e}".split("e")
    kpower = int(exponent)
    nsig = max(1, len(mantissa.replace(".", "").rstrip("0")))
    if digits >= DBL_DIG + 1:
        return x < 0, kpower, nsig, False
    rgt = min(max(digits - kpower, 0), _KP_MAX)
    fuzz = 0.5 / 10.0**rgt
    widens = 0 < kpower <= _KP_MAX and r < 10.0**kpower - fuzz
    return x < 0, kpower, nsig, widens


def format_real_info(x: Sequence[float], digits: int = 7, nsmall: int = 0) -> tuple[int, int, int]:
    """R's C ``formatReal``: the common width, decimals and exponent flag of a vector.

    Parameters
    ----------
    x : sequence of float
        Values, ``nan`` for ``NA``.
    digits : int
        R's ``digits``: every element shows at least this many significant digits
        (unless fewer suffice), the common number of decimals is the largest needed.
    nsmall : int
        Minimum number of decimals in fixed notation (R's ``format(nsmall =)``).

    Returns
    -------
    tuple of int
        ``(w, d, e)``: field width, digits after the point, and 0 for fixed
        notation or the number of exponent digits minus one for scientific.
    """
    neg = False
    has_na = False
    inf_width = 0  # "Inf" or "-Inf", as R's formatReal counts them
    rgt = mxl = mxsl = mxns = -(10**9)
    mnl = 10**9
    for value in x:
        if math.isnan(value):
            has_na = True
            continue
        if math.isinf(value):
            inf_width = max(inf_width, 3 if value > 0 else 4)
            continue
        neg_i, kpower, nsig, widens = _scientific(value, digits)
        left = kpower + 1 - (1 if widens else 0)
        sleft = neg_i + (1 if left <= 0 else left)
        neg = neg or neg_i
        rgt, mxl, mnl = max(rgt, nsig - left), max(mxl, left), min(mnl, left)
        mxsl, mxns = max(mxsl, sleft), max(mxns, nsig)
    if mxns < 0:
        return max(_NA_WIDTH if has_na else 0, inf_width), 0, 0
    if mxl < 0:
        mxsl = 1 + neg
    rgt = max(rgt, 0)
    width_f = mxsl + rgt + (rgt != 0)
    e = 2 if (mxl > 100 or mnl <= -99) else 1
    d = mxns - 1
    w = neg + (d > 0) + d + 4 + e
    if width_f <= w:
        e = 0
        rgt = max(rgt, nsmall)
        d, w = rgt, mxsl + rgt + (rgt != 0)
    return max(w, _NA_WIDTH if has_na else 0, inf_width), d, e


def _encode_real(x: float, w: int, d: int, e: int) -> str:
    """R's ``encodeReal0``: one number in a field of width ``w``."""
    if math.isnan(x):
        return "NA".rjust(w)
    if math.isinf(x):
        return ("Inf" if x > 0 else "-Inf").rjust(w)
    if x == 0.0:
        x = 0.0  # R drops the sign of a negative zero
    if e:
        return f"{x:{w}.{d}e}"
    return f"{x:{w}.{d}f}"


def format_num(x: Sequence[float], digits: int = 7, nsmall: int = 0) -> list[str]:
    """R's ``format(x, digits = digits, nsmall = nsmall)`` of a numeric vector.

    Parameters
    ----------
    x : sequence of float
        Values, ``nan`` for ``NA``; infinities print as ``Inf`` and ``-Inf``.
    digits : int
        Minimum significant digits shown for every element (R's rules).
    nsmall : int
        Minimum number of decimals in fixed notation.

    Returns
    -------
    list of str
        The formatted values, all of the same width (right-justified).
    """
    values = [float(v) for v in x]
    w, d, e = format_real_info(values, digits, nsmall)
    return [_encode_real(v, w, d, e) for v in values]


def pad_strings(x: Sequence[str], justify: str = "left") -> list[str]:
    """R's ``format()`` of a character vector: pad to the common width.

    Parameters
    ----------
    x : sequence of str
        Strings.
    justify : {"left", "right"}
        Where the text sits in the field.

    Returns
    -------
    list of str
        Strings of equal width.
    """
    width = max((len(s) for s in x), default=0)
    return [s.ljust(width) if justify == "left" else s.rjust(width) for s in x]


def format_pval(pv: Sequence[float], digits: int = 5, eps: float = DBL_EPSILON) -> list[str]:
    """R's ``format.pval(pv, digits, eps)``.

    Parameters
    ----------
    pv : sequence of float
        P-values, ``nan`` for ``NA``.
    digits : int
        Significant digits.
    eps : float
        Values below it print as ``"< eps"`` (``"< 2e-16"`` by default).

    Returns
    -------
    list of str
        Values with a decimal exponent >= -3 (>= -4 when ``digits > 1``)
        formatted together, the others together; ``"NA"`` for missing values.
    """
    values = [float(v) for v in pv]
    out = ["NA" if math.isnan(v) else "" for v in values]
    ok = [i for i, v in enumerate(values) if not math.isnan(v)]
    tiny = [i for i in ok if values[i] < eps]
    rest = [i for i in ok if values[i] >= eps]
    expo_of = {i: math.floor(math.log10(values[i])) if values[i] > 0 else -50 for i in rest}
    fixp = [i for i in rest if expo_of[i] >= -3 or (expo_of[i] == -4 and digits > 1) or values[i] == 0]
    expo = [i for i in rest if i not in fixp]
    for group in (fixp, expo):
        for i, s in zip(group, format_num([values[i] for i in group], digits)):
            out[i] = s
    if tiny:
        small = max(1, digits - 2)
        if rest:
            nc = max(len(out[i]) for i in rest)
            if small > 1 and small + 6 > nc:
                small = max(1, nc - 7)
            sep = "" if small == 1 and nc <= 6 else " "
        else:
            sep = "" if small == 1 else " "
        text = "<" + sep + format_num([eps], small)[0]
        for i in tiny:
            out[i] = text
    return out


def significance_stars(pv: Sequence[float]) -> list[str]:
    """R's ``symnum`` significance codes of p-values, ``""`` for ``NA``.

    Parameters
    ----------
    pv : sequence of float
        P-values.

    Returns
    -------
    list of str
        ``"***"`` (<= 0.001), ``"**"`` (<= 0.01), ``"*"`` (<= 0.05), ``"."`` (<= 0.1) or ``" "``.
    """
    out = []
    for p in pv:
        if math.isnan(p):
            out.append("")
            continue
        out.append(next((s for cut, s in zip(_STAR_CUTS, _STAR_SYMBOLS) if p <= cut), _STAR_SYMBOLS[-1]))
    return out


def signif_legend_lines() -> list[str]:
    """The two lines ``printCoefmat`` prints under a table with stars.

    Returns
    -------
    list of str
        ``"---"`` and the ``"Signif. codes:"`` legend.
    """
    return ["---", "Signif. codes:  " + SIGNIF_LEGEND]
