"""R's printing of vectors, matrices, coefficient tables and anova tables.

The lines that R (4.x, ``options(width = 80)``) prints for ``cat(..., fill =
TRUE)``, a named vector, a character matrix, ``printCoefmat`` and
``print.anova``, built from the number formatting of :mod:`mixedfx.rbase.rformat`.

Missing values (R's ``NA``) are represented by ``nan``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from mixedfx.rbase.rformat import format_num, format_pval, pad_strings, signif_legend_lines, significance_stars
from mixedfx.rbase.rmath import DBL_EPSILON, r_round, zapsmall

__all__ = ["R_WIDTH", "cat_fill", "print_anova", "print_coefmat", "print_matrix", "print_named_vector"]

R_WIDTH = 80
"""R's default ``getOption("width")``."""


def cat_fill(items: Sequence[str], sep: str = " ", width: int = R_WIDTH) -> str:
    """R's ``cat(..., sep = sep, fill = TRUE)`` of single strings.

    Parameters
    ----------
    items : sequence of str
        The strings (each one of ``cat``'s arguments).
    sep : str
        Separator printed between items (before any line break).
    width : int
        Fill width: an item that would pass it starts a new line.

    Returns
    -------
    str
        The text, ending with a newline.
    """
    out = []
    used = 0
    for k, item in enumerate(items):
        if k:
            out.append(sep)
            if used + len(item) + len(sep) > width:
                out.append("\n")
                used = 0
        out.append(item)
        used += len(item) + len(sep)
    return "".join(out) + "\n"


def print_named_vector(values: Sequence[str], names: Sequence[str], gap: int = 1, width: int = R_WIDTH) -> list[str]:
    """R's ``print()`` of a named vector whose elements are already formatted.

    Parameters
    ----------
    values : sequence of str
        The formatted elements.
    names : sequence of str
        Their names.
    gap : int
        R's ``print.gap``: spaces after every column.
    width : int
        Line width: as many columns as fit are put on each pair of lines.

    Returns
    -------
    list of str
        Alternating lines of names and of values, all right-justified to the
        widest name or value.
    """
    field = max([len(s) for s in values] + [len(s) for s in names])
    per_line = max(1, width // (field + gap))
    lines = []
    for start in range(0, len(values), per_line):
        chunk = slice(start, start + per_line)
        lines.append("".join(n.rjust(field) + " " * gap for n in names[chunk]))
        lines.append("".join(v.rjust(field) + " " * gap for v in values[chunk]))
    return lines


def print_matrix(
    cells: Sequence[Sequence[str]],
    row_names: Sequence[str],
    col_names: Sequence[str],
    right: bool = False,
    gap: int = 1,
    width: int = R_WIDTH,
) -> list[str]:
    """R's ``print(m, quote = FALSE, right = right)`` of a character matrix.

    Parameters
    ----------
    cells : sequence of sequence of str
        The matrix, row by row.
    row_names, col_names : sequence of str
        Its dimnames (row names are left-justified).
    right : bool
        Right-justify the columns and their labels (``False``: left).
    gap : int
        Spaces before every column.
    width : int
        Line width: columns that do not fit go to further blocks.

    Returns
    -------
    list of str
        The printed lines.
    """
    label_width = max((len(r) for r in row_names), default=0)
    widths = [max([len(c)] + [len(row[j]) for row in cells]) for j, c in enumerate(col_names)]
    lines = []
    jmin = 0
    while jmin < len(widths):
        used, jmax = label_width + widths[jmin] + gap, jmin + 1
        while jmax < len(widths) and used + widths[jmax] + gap < width:
            used += widths[jmax] + gap
            jmax += 1
        block = range(jmin, jmax)
        just = str.rjust if right else str.ljust
        lines.append(" " * label_width + "".join(" " * gap + just(col_names[j], widths[j]) for j in block))
        for name, row in zip(row_names, cells):
            lines.append(name.ljust(label_width) + "".join(" " * gap + just(row[j], widths[j]) for j in block))
        jmin = jmax
    return lines


def _coef_columns(
    xm: np.ndarray, digits: int, dig_tst: int, cs_ind: Sequence[int], tst_ind: Sequence[int], other: Sequence[int]
) -> np.ndarray:
    """The formatted columns of ``printCoefmat``: estimates/SEs, test statistics, others."""
    cf = np.full(xm.shape, "", dtype=object)
    if cs_ind:
        coef_se = xm[:, cs_ind]
        acs = np.abs(coef_se)
        if np.isfinite(acs).any():
            nonzero = acs[np.isfinite(acs) & (acs != 0)]
            digmin = 1 + (math.floor(math.log10(nonzero.min())) if nonzero.size else 0)
            places = max(1, digits - digmin)
            rounded = [r_round(v, places) for v in coef_se.T.ravel()]
            cf[:, cs_ind] = np.array(format_num(rounded, digits), dtype=object).reshape(len(cs_ind), -1).T
    if tst_ind:
        rounded = [r_round(v, dig_tst) for v in xm[:, tst_ind].T.ravel()]
        cf[:, tst_ind] = np.array(format_num(rounded, digits), dtype=object).reshape(len(tst_ind), -1).T
    for j in other:
        cf[:, j] = format_num(xm[:, j], digits)
    return cf


def _fix_false_zeros(cf: np.ndarray, xm: np.ndarray, checked: np.ndarray, digits: int) -> None:
    """Reformat non-zero values that printed as zero with one digit fewer (in place)."""
    idx = [(i, j) for j in range(xm.shape[1]) for i in range(xm.shape[0]) if checked[i, j]]
    bad = [(i, j) for i, j in idx if xm[i, j] != 0 and float(cf[i, j]) == 0]
    for (i, j), s in zip(bad, format_num([xm[i, j] for i, j in bad], max(1, digits - 1))):
        cf[i, j] = s


def print_coefmat(
    x: np.ndarray,
    row_names: Sequence[str],
    col_names: Sequence[str],
    digits: int,
    *,
    signif_stars: bool = True,
    signif_legend: bool | None = None,
    dig_tst: int | None = None,
    cs_ind: Sequence[int] | None = None,
    tst_ind: Sequence[int] | None = None,
    zap_ind: Sequence[int] = (),
    has_pvalue: bool | None = None,
    na_print: str = "NA",
) -> list[str]:
    """R's ``printCoefmat`` (with ``show.coef.Pvalues = TRUE``); indices are 0-based.

    Parameters
    ----------
    x : numpy.ndarray
        The numeric table (rows x columns), ``nan`` for ``NA``.
    row_names, col_names : sequence of str
        Its dimnames.
    digits : int
        Significant digits.
    signif_stars : bool
        Add significance stars when there are p-values and one is below 0.1.
    signif_legend : bool or None
        Print the legend under the stars (default: ``signif_stars``).
    dig_tst : int or None
        Decimals of the test statistics (default ``max(1, min(5, digits - 1))``).
    cs_ind : sequence of int or None
        Estimate and standard-error columns, formatted together (default: all
        columns before the test statistic).
    tst_ind : sequence of int or None
        Test-statistic columns (default: the column after ``cs_ind``).
    zap_ind : sequence of int
        Columns passed through :func:`zapsmall` first.
    has_pvalue : bool or None
        Whether the last column holds p-values (default: its name starts with
        ``"Pr("`` or ``"p-v"`` and there are at least 4 columns).
    na_print : str
        Text for missing values.

    Returns
    -------
    list of str
        The printed lines (table, then ``---`` and the legend when stars are shown).
    """
    xm = np.array(x, dtype=float)
    nc = xm.shape[1]
    if has_pvalue is None:
        has_pvalue = nc >= 4 and col_names[-1][:3] in ("Pr(", "p-v")
    k = nc - has_pvalue - (1 if tst_ind is None else len(tst_ind))
    cs_ind = list(range(k)) if cs_ind is None else list(cs_ind)
    tst_ind = [k] if tst_ind is None else list(tst_ind)
    dig_tst = max(1, min(5, digits - 1)) if dig_tst is None else dig_tst
    ok = ~np.isnan(xm)
    for j in zap_ind:
        xm[:, j] = zapsmall(xm[:, j], digits)
    other = [j for j in range(nc) if j not in cs_ind and j not in tst_ind and not (has_pvalue and j == nc - 1)]
    cf = _coef_columns(xm, digits, dig_tst, cs_ind, tst_ind, other)
    checked = ok.copy()
    checked[:, tst_ind] = False
    if has_pvalue:
        checked[:, nc - 1] = False
    _fix_false_zeros(cf, xm, checked, digits)
    cf[~ok] = na_print
    stars = None
    if has_pvalue:
        pv = xm[:, nc - 1]
        rows = ~np.isnan(pv)
        cf[rows, nc - 1] = format_pval(pv[rows], dig_tst, DBL_EPSILON)
        if signif_stars and rows.any() and (pv[rows] < 0.1).any():
            stars = pad_strings(significance_stars(pv))
    table = [list(row) + ([stars[i]] if stars else []) for i, row in enumerate(cf)]
    lines = print_matrix(table, row_names, list(col_names) + ([""] if stars else []), right=True)
    if stars and (signif_stars if signif_legend is None else signif_legend):
        lines += signif_legend_lines()
    return lines


def print_anova(x: np.ndarray, row_names: Sequence[str], col_names: Sequence[str], digits: int = 5) -> list[str]:
    """R's ``print.anova`` of a table (without its heading).

    Parameters
    ----------
    x : numpy.ndarray
        The numeric table, ``nan`` for ``NA`` (printed as blanks).
    row_names, col_names : sequence of str
        Its dimnames; the last column holds p-values when its name starts with
        ``"P("`` or ``"Pr("``, columns ``F``, ``Cp``, ``Chisq`` and ``* value``
        are test statistics, and columns other than those and ``*Df`` are zapped.
    digits : int
        Significant digits (R's default ``max(getOption("digits") - 2, 3)``).

    Returns
    -------
    list of str
        The printed lines, with stars and their legend when a p-value is below 0.1.
    """
    nc = len(col_names)
    has_p = col_names[-1].startswith(("P(", "Pr("))
    tst = [j for j, c in enumerate(col_names) if c[1:7] == " value"]
    tst += [j for j, c in enumerate(col_names) if c in ("F", "Cp", "Chisq")]
    zap = [j for j in range(nc - has_p) if j not in tst and not col_names[j].endswith("Df")]
    return print_coefmat(x, row_names, col_names, digits, cs_ind=[], tst_ind=tst, zap_ind=zap,
                         has_pvalue=has_p, na_print="")
