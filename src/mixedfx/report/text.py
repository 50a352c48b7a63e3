"""lme4's text output of fitted mixed models: ``print``, ``summary`` and ``anova``.

lmerTest's layouts too: ``summary(fit, ddf = ...)`` (lme4's summary with
t-tests) and the type III ``anova(fit)`` table.

Each ``_prt_*`` function mirrors one of lme4's (1.1-31) ``.prt.*`` helpers and
returns the lines it prints.  The fit is read only through its duck-typed
interface: ``formula_text``, ``data_name``, ``weights_name``, ``offset_name``,
``reml``, ``reml_criterion``, ``loglik``, ``aic``, ``bic``, ``df_resid``,
``nobs``, ``ngrps``, ``varcorr()``, ``fixef``, ``vcov``, ``sigma``,
``residuals(type="pearson")``, ``messages``, ``optimizer``, ``convergence_code``
and ``optimizer_messages``; a generalized fit also has ``family``, ``link`` and
``nagq`` (a fit without a ``family`` attribute, or with ``family=None``, is linear).
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Any

import numpy as np
import pandas as pd

from mixedfx.report.ddf_names import method_title
from mixedfx.rbase.rformat import format_num
from mixedfx.rbase.rmath import r_round, zapsmall
from mixedfx.report.rprint import R_WIDTH, cat_fill, print_anova, print_coefmat, print_matrix, print_named_vector
from mixedfx.formula.syntax import deparse_lines
from mixedfx.optim.checks import SCALE_X_MESSAGE
from mixedfx.report.rtext import abbreviate, strwrap

__all__ = ["SummaryOptions", "check_components", "format_varcorr", "format_anova", "format_anova_terms",
           "format_wald_anova", "format_headed_anova", "format_print", "format_summary", "format_summary_ddf"]

DIGITS = 4
"""lme4's default ``digits = max(3, getOption("digits") - 3)``."""

COR_MAX = 12
"""lme4's ``getOption("lme4.summary.cor.max")``: larger models omit the correlation matrix."""
VARCORR_DIGITS = 5
"""``print.VarCorr.merMod``'s default ``digits`` (``max(3, getOption("digits") - 2)``)."""
_COMPONENTS = ("Variance", "Std.Dev.")


@dataclass(frozen=True)
class SummaryOptions:
    """The arguments of lme4's ``print.summary.merMod``.

    Attributes
    ----------
    digits : int
        Significant digits of the residuals, variance components and coefficients.
    correlation : bool or None
        Print the fixed effects' correlation; None for lme4's default (at most
        :data:`COR_MAX` fixed effects).
    ranef_comp : tuple of str
        ``"Variance"``, ``"Std.Dev."`` or both (lme4's ``ranef.comp``).
    show_resids : bool
        Print the scaled residuals' quantiles.
    """

    digits: int = DIGITS
    correlation: bool | None = None
    ranef_comp: tuple[str, ...] = _COMPONENTS
    show_resids: bool = True

    def __post_init__(self) -> None:
        check_components(self.ranef_comp)
        if not isinstance(self.digits, int) or isinstance(self.digits, bool) or not 1 <= self.digits <= 22:
            raise ValueError(f"digits must be a whole number from 1 to 22, not {self.digits!r}")
        if self.correlation not in (None, True, False):
            raise TypeError(f"correlation must be None, True or False, not {self.correlation!r}")


def check_components(comp: tuple[str, ...]) -> tuple[str, ...]:
    """lme4's check of ``comp``: some of "Variance" and "Std.Dev.", in any order.

    Raises
    ------
    ValueError
        An unknown component, or none.
    """
    comp = (comp,) if isinstance(comp, str) else tuple(comp)
    unknown = [c for c in comp if c not in _COMPONENTS]
    if unknown or not comp:
        raise ValueError(f"comp must name 'Variance', 'Std.Dev.' or both, not {comp!r} "
                         "(lme4: Must *either* show variances or standard deviations)")
    return comp

_RANK_MESSAGE = "fixed-effect model matrix is rank deficient"
_LMERTEST_CLASS = "lmerModLmerTest"
_QUANTILE_NAMES = ("Min", "1Q", "Median", "3Q", "Max")
_AIC_NAMES = ("AIC", "BIC", "logLik", "deviance", "df.resid")


def format_print(fit: Any) -> str:
    """The text of lme4's ``print(fit)`` (``print.merMod``).

    Parameters
    ----------
    fit : object
        A fitted model with the attributes listed in the module docstring.

    Returns
    -------
    str
        The printed lines, each ending with a newline.
    """
    lines = _prt_meth_title(*_meth_title(fit)) + _prt_family(fit) + _prt_call(fit)
    lines += _prt_aictab(fit, DIGITS)
    lines += _prt_vc(fit, DIGITS, ("Std.Dev.",))
    lines += _prt_grps(fit) + _prt_fixef(fit)
    lines += _prt_fit_msgs(fit) + _prt_warn(fit, summary=True)
    return _text(lines)


def format_summary(fit: Any, options: SummaryOptions | None = None) -> str:
    """The text of lme4's ``print(summary(fit))`` (``print.summary.merMod``).

    Takes and returns what :func:`format_print` does, printed with ``options``
    (lme4's defaults without). By default, as in lme4, the correlation of the
    fixed effects is omitted when there are more than :data:`COR_MAX` of them
    (lme4 then only emits a message on stderr).
    """
    options = options or SummaryOptions()
    return _summary_text(fit, *_meth_title(fit), _prt_coefmat(fit, options.digits), options)


def format_varcorr(varcorr: pd.DataFrame, comp: tuple[str, ...] = ("Std.Dev.",),
                   digits: int = VARCORR_DIGITS) -> str:
    """The text of lme4's ``print(VarCorr(fit), comp = comp, digits = digits)``.

    Parameters
    ----------
    varcorr : pandas.DataFrame
        ``as.data.frame(VarCorr(fit))`` (columns grp, var1, var2, vcov, sdcor).
    comp : tuple of str
        ``"Variance"``, ``"Std.Dev."`` or both.
    digits : int
        Significant digits.

    Returns
    -------
    str
        Each line ending with a newline.
    """
    col_names, cells = _format_vc(varcorr, digits, check_components(comp))
    return _text(print_matrix(cells, [""] * len(cells), col_names))


def format_summary_ddf(fit: Any, table: pd.DataFrame, ddf: str, options: SummaryOptions | None = None) -> str:
    """The text of lmerTest's ``print(summary(fit, ddf = ddf))``.

    Parameters
    ----------
    fit : object
        A fitted linear model with the attributes listed in the module docstring.
    table : pandas.DataFrame
        Its coefficient table with columns Estimate, Std. Error, df, t value and
        Pr(>|t|) (:func:`mixedfx.inference.ddf.coef_table`).
    ddf : {"Satterthwaite", "Kenward-Roger"}
        The method that gave the table (case-insensitive).

    Returns
    -------
    str
        lme4's summary with lmerTest's title and coefficient table, each line
        ending with a newline.
    """
    options = options or SummaryOptions()
    title = f"{_meth_title(fit)[0]}. t-tests use {method_title(ddf)} method"
    coefs = print_coefmat(table.to_numpy(dtype=float), [str(n) for n in table.index], list(table.columns),
                          options.digits)
    return _summary_text(fit, title, _LMERTEST_CLASS, coefs, options)


_ROMAN = {1: "I", 2: "II", 3: "III"}


def format_anova_terms(table: pd.DataFrame, ddf: str, type: int = 3) -> str:  # noqa: A002 - R's name
    """The text of lmerTest's ``anova(fit, type = type, ddf = ddf)`` table.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns Sum Sq, Mean Sq, NumDF, DenDF, F value, Pr(>F), one row per
        term (:func:`mixedfx.inference.ddf.anova_terms`); it may have no rows.
    ddf : {"Satterthwaite", "Kenward-Roger"}
        The method that gave the table (case-insensitive).
    type : {1, 2, 3}
        The type of its hypotheses.

    Returns
    -------
    str
        The heading and the table with significance stars and their legend,
        each line ending with a newline.
    """
    heading = f"Type {_ROMAN[type]} Analysis of Variance Table with {method_title(ddf)} method"
    columns = list(table.columns)
    if table.empty:  # R prints the column labels after the "[0,]" row-label width
        return _text([heading, " " * 4 + "".join(" " + c for c in columns)])
    return _text([heading] + print_anova(table.to_numpy(dtype=float), [str(n) for n in table.index], columns))


def format_wald_anova(table: pd.DataFrame, type: int, response: str) -> str:  # noqa: A002 - car's name
    """The text of car's ``Anova(fit, type = type)`` Wald chi-square table.

    Parameters
    ----------
    table : pandas.DataFrame
        Columns Chisq, Df, Pr(>Chisq), one row per term.
    type : {2, 3}
        The type of its hypotheses.
    response : str
        The response as R deparses it.

    Returns
    -------
    str
        The heading, the response and the table with significance stars, each line ending with a newline.
    """
    heading = f"Analysis of Deviance Table (Type {_ROMAN[type]} Wald chisquare tests)"
    return format_headed_anova(table, [heading, "", f"Response: {response}"])


def format_headed_anova(table: pd.DataFrame, heading: list[str]) -> str:
    """R's ``print.anova`` of a table with its ``heading`` lines (as ``drop1`` prints).

    Parameters
    ----------
    table : pandas.DataFrame
        The numeric table, NaN printed blank; the last column a p-value when named ``Pr(...)``.
    heading : list of str
        The lines before the table.

    Returns
    -------
    str
        Each line ending with a newline.

    Examples
    --------
    >>> print(format_headed_anova(pd.DataFrame({"npar": [float("nan"), 1.0], "AIC": [10.0, 12.5]},
    ...                                        index=["<none>", "x"]), ["Single term deletions"]), end="")
    Single term deletions
           npar  AIC
    <none>      10.0
    x         1 12.5
    """
    return _text(list(heading) + print_anova(table.to_numpy(dtype=float), [str(n) for n in table.index],
                                             list(table.columns)))


def _summary_text(fit: Any, title: str, cls: str, coef_lines: list[str], options: SummaryOptions) -> str:
    """print.summary.merMod's lines with the given title, class and printed coefficient table."""
    lines = _prt_meth_title(title, cls) + _prt_family(fit) + _prt_call(fit) + [""]
    lines += _prt_aictab(fit, 1) + [""]
    if options.show_resids:
        lines += _prt_resids(fit, options.digits)
    lines += _prt_vc(fit, options.digits, options.ranef_comp)
    lines += _prt_grps(fit)
    if len(fit.fixef):
        lines += ["", "Fixed effects:"] + coef_lines + _prt_correlation(fit, options.correlation)
    lines += _prt_fit_msgs(fit) + _prt_warn(fit, summary=False)
    return _text(lines)


def format_anova(table: pd.DataFrame, model_names: list[str], formulas: list[str], data_name: str) -> str:
    """The text of lme4's ``anova(m0, m1, ...)`` likelihood-ratio table.

    Parameters
    ----------
    table : pandas.DataFrame
        Indexed by ``model_names``, with columns ``npar``, ``AIC``, ``BIC``,
        ``logLik``, ``deviance``, ``Chisq``, ``Df`` and ``Pr(>Chisq)``
        (``nan`` in the first row's last three).
    model_names : list of str
        The models' names, in the table's order.
    formulas : list of str
        Each model's formula as lme4 deparses it.
    data_name : str
        The data argument's text (``"d"`` in ``lmer(..., data = d)``).

    Returns
    -------
    str
        The heading, the table with significance stars and the legend, each
        line ending with a newline.
    """
    heading = [f"Data: {data_name}", "Models:"] + [f"{n}: {f}" for n, f in zip(model_names, formulas)]
    columns = list(table.columns)
    values = table.loc[model_names, columns].to_numpy(dtype=float)
    lines = heading + print_anova(values, list(model_names), columns)
    return _text(lines)


def _text(lines: list[str]) -> str:
    """The printed text of ``lines``, each ending with a newline."""
    return "".join(line + "\n" for line in lines)


def _is_glmm(fit: Any) -> bool:
    """Whether the fit is a generalized linear mixed model."""
    return getattr(fit, "family", None) is not None


def _use_scale(fit: Any) -> bool:
    """lme4's ``useSc``: the model has a residual scale (a ``Residual`` variance row)."""
    return bool((fit.varcorr()["grp"] == "Residual").any())


def _meth_title(fit: Any) -> tuple[str, str]:
    """lme4's ``methTitle()`` and the model's class."""
    if not _is_glmm(fit):
        return "Linear mixed model fit by " + ("REML" if fit.reml else "maximum likelihood "), "lmerMod"
    if fit.nagq == 1:
        approx = "(Laplace Approximation)"
    else:
        approx = f"(Adaptive Gauss-Hermite Quadrature, nAGQ = {fit.nagq})"
    return "Generalized linear mixed model fit by maximum likelihood " + approx, "glmerMod"


def _prt_meth_title(title: str, cls: str) -> list[str]:
    """``.prt.methTit``: the title and the model's class, wrapped when they do not fit the width."""
    if len(title) + 5 + len(cls) > R_WIDTH:
        wrapped = strwrap(title, R_WIDTH - 2, exdent=2)
        return cat_fill([*wrapped, " [", cls, "]"], sep="").splitlines()
    return [f"{title} ['{cls}']"]


def _prt_family(fit: Any) -> list[str]:
    """``.prt.family``: the family and link of a generalized model."""
    if not _is_glmm(fit):
        return []
    return cat_fill([" Family:", fit.family.name, f" ( {fit.link} )"]).splitlines()


def _prt_call(fit: Any) -> list[str]:
    """``.prt.call``: formula, data, weights and offset, each deparsed as R does."""
    parts = [("Formula:", fit.formula_text), ("   Data:", fit.data_name),
             ("Weights:", fit.weights_name), (" Offset:", fit.offset_name)]
    return [line for label, text in parts if text is not None
            for line in cat_fill([label, *deparse_lines(text)]).splitlines()]


def _prt_aictab(fit: Any, digits: int) -> list[str]:
    """``.prt.aictab``: the REML criterion, or the AIC table of an ML fit, rounded to ``digits``.

    The deviance shown is lme4's ``devCrit``, ``-2 logLik`` for an ML fit.
    """
    if fit.reml:
        value = format_num([r_round(fit.reml_criterion, digits)])[0]
        return cat_fill(["REML criterion at convergence:", value]).splitlines()
    stats = [fit.aic, fit.bic, fit.loglik, -2.0 * fit.loglik, float(fit.df_resid)]
    texts = format_num([r_round(v, digits) for v in stats])
    texts[-1] = format_num([float(fit.df_resid)])[0]
    return print_named_vector(texts, list(_AIC_NAMES))


def _prt_resids(fit: Any, digits: int) -> list[str]:
    """``.prt.resids``: quantiles of the scaled Pearson residuals."""
    quantiles = np.asarray(fit.residual_quantiles(), dtype=float)
    if np.isnan(quantiles).all():  # every residual missing: R prints NA for each quantile
        return ["Scaled residuals: "] + print_named_vector(["NA"] * 5, list(_QUANTILE_NAMES)) + [""]
    quantiles = zapsmall(quantiles, digits + 1)
    return ["Scaled residuals: "] + print_named_vector(format_num(quantiles, digits), list(_QUANTILE_NAMES)) + [""]


def _vc_terms(varcorr: pd.DataFrame) -> list[tuple[str, list[str], np.ndarray, np.ndarray]]:
    """Split ``as.data.frame(VarCorr(fit))`` into (group, names, std. devs, correlations) per term."""
    terms = []
    for grp in dict.fromkeys(varcorr["grp"]):
        rows = varcorr[varcorr["grp"] == grp]
        diagonal = rows[rows["var2"].isna()]
        names = ["" if v is None or pd.isna(v) else str(v) for v in diagonal["var1"]]
        corr = np.eye(len(names))
        for _, row in rows[rows["var2"].notna()].iterrows():
            i, j = names.index(row["var1"]), names.index(row["var2"])
            corr[i, j] = corr[j, i] = row["sdcor"]
        terms.append((str(grp), names, diagonal["sdcor"].to_numpy(dtype=float), corr))
    return terms


def _vc_corr_block(corr: np.ndarray, dig: int, ncol: int) -> list[list[str]]:
    """formatVC's lower triangle of one term's correlations, padded to ``ncol`` columns."""
    n = corr.shape[0]
    texts = np.array(format_num([r_round(v, dig) for v in corr.ravel()], nsmall=dig)).reshape(n, n)
    return [[texts[i, j] if j < i else "" for j in range(n)][:ncol] + [""] * max(0, ncol - n) for i in range(n)]


def _format_vc(varcorr: pd.DataFrame, digits: int, comps: tuple[str, ...]) -> tuple[list[str], list[list[str]]]:
    """lme4's ``formatVC``: column names and cells of the random-effects table."""
    terms = _vc_terms(varcorr)
    sds = np.concatenate([t[2] for t in terms])
    columns = [[], []]
    for grp, names, _, _ in terms:
        columns[0] += [grp] + [""] * (len(names) - 1)
        columns[1] += names
    formatted = {"Variance": format_num(sds**2, digits), "Std.Dev.": format_num(sds, digits)}
    columns += [formatted[c] for c in comps]
    col_names = ["Groups", "Name", *comps]
    maxlen = max(len(t[1]) for t in terms)
    if maxlen > 1:
        dig = max(2, digits - 2)
        block = [row for t in terms for row in _vc_corr_block(t[3], dig, maxlen - 1)]
        columns += [list(col) for col in zip(*block)]
        col_names += ["Corr"] + [""] * (maxlen - 2)
    return col_names, [list(row) for row in zip(*columns)]


def _prt_vc(fit: Any, digits: int, comps: tuple[str, ...]) -> list[str]:
    """``.prt.VC``: the random-effects table."""
    col_names, cells = _format_vc(fit.varcorr(), digits, comps)
    return ["Random effects:"] + print_matrix(cells, [""] * len(cells), col_names)


def _prt_grps(fit: Any) -> list[str]:
    """``.prt.grps``: number of observations and of levels of each grouping factor."""
    groups = "; ".join(f"{name}, {n}" for name, n in fit.ngrps.items())
    return cat_fill([f"Number of obs: {fit.nobs}, groups: ", groups]).splitlines()


def _prt_fixef(fit: Any) -> list[str]:
    """print.merMod's fixed-effects block: the estimates as a named vector."""
    if not len(fit.fixef):
        return ["No fixed effect coefficients"]
    texts = format_num(fit.fixef.to_numpy(dtype=float), DIGITS)
    return ["Fixed Effects:"] + print_named_vector(texts, [str(n) for n in fit.fixef.index], gap=2)


def _coef_table(fit: Any) -> tuple[np.ndarray, list[str]]:
    """summary.merMod's coefficient table: estimates, standard errors, t (z) values, p-values."""
    beta = fit.fixef.to_numpy(dtype=float)
    se = np.sqrt(np.diag(fit.vcov.to_numpy(dtype=float)))
    stat = beta / se
    names = ["Estimate", "Std. Error", ("t" if _use_scale(fit) else "z") + " value"]
    columns = [beta, se, stat]
    if _is_glmm(fit):
        from scipy.special import ndtr  # noqa: PLC0415 - scipy.special loads only for the tables that use it

        names.append("Pr(>|z|)")
        columns.append(2 * ndtr(-np.abs(stat)))
    return np.column_stack(columns), names


def _prt_coefmat(fit: Any, digits: int) -> list[str]:
    """print.summary.merMod's ``printCoefmat`` of the coefficient table."""
    table, names = _coef_table(fit)
    return print_coefmat(table, [str(n) for n in fit.fixef.index], names, digits)


def _prt_correlation(fit: Any, correlation: bool | None) -> list[str]:
    """The correlation of the fixed effects (lower triangle, abbreviated names), by lme4's default when None."""
    p = len(fit.fixef)
    if p < 2 or correlation is False or (correlation is None and p > COR_MAX):
        return []
    vcov = fit.vcov.to_numpy(dtype=float)
    inv_sd = 1.0 / np.sqrt(np.diag(vcov))
    corr = inv_sd[:, None] * vcov * inv_sd[None, :]
    texts = np.array(format_num([r_round(v, 3) for v in corr.T.ravel()], nsmall=3)).reshape(p, p).T
    names = [str(n) for n in fit.fixef.index]
    cells = [[texts[i, j] if j < i else "" for j in range(p - 1)] for i in range(1, p)]
    rows, cols = abbreviate(names, 11)[1:], abbreviate(names, 6)[:-1]
    return ["", "Correlation of Fixed Effects:"] + print_matrix(cells, rows, cols)


def _split_messages(fit: Any) -> tuple[list[str], list[str]]:
    """lme4's messages split into fit warnings (model matrix) and convergence messages.

    The scales message is left out: lme4 warns of it when it builds X and does not keep it in the fit.
    """
    printed = [m for m in fit.messages if m != SCALE_X_MESSAGE]
    return ([m for m in printed if m.startswith(_RANK_MESSAGE)],
            [m for m in printed if not m.startswith(_RANK_MESSAGE)])


def _prt_fit_msgs(fit: Any) -> list[str]:
    """The ``fit warnings:`` block (rank-deficient model matrix)."""
    fit_msgs = [m for m in _split_messages(fit)[0] if m]
    return ["fit warnings:", *fit_msgs] if fit_msgs else []


def _prt_warn(fit: Any, summary: bool) -> list[str]:
    """``.prt.warn``: convergence code and warnings (counts only when ``summary``)."""
    conv_msgs = _split_messages(fit)[1]
    warnings = list(fit.optimizer_messages)
    code = fit.convergence_code
    if code <= 0 and not conv_msgs and not warnings:
        return []
    status = "(OK)" if code == 0 else ""
    convmsg = f"optimizer ({fit.optimizer}) convergence code: {code} {status}"
    if summary:
        return [f"{convmsg} ; {len(warnings)} optimizer warnings; {len(conv_msgs)} lme4 warnings "]
    return [convmsg, *conv_msgs, *warnings, ""]
