"""lme4's print(), summary() and anova() text, reproduced from lme4's own numbers.

A stand-in fit object is built from each reference case's stored lme4 results
(fixed effects, vcov, VarCorr, residuals, ...); the report module must print it
exactly as lme4 printed the real fit.
"""

from __future__ import annotations

import json
import re
from types import SimpleNamespace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixedfx import datasets
from mixedfx.rbase.rmath import quantile7
from mixedfx.report.text import format_anova, format_anova_terms, format_print, format_summary, format_summary_ddf

CASES = Path(__file__).parents[1] / "conformance" / "cases"
DDF_REFERENCE = Path(__file__).parents[1] / "reference" / "ddf_r.json"


def _case(name: str) -> dict:
    return json.loads((CASES / f"{name}.json").read_text())


def _call_arg(call: str, name: str) -> str | None:
    match = re.search(rf",\s*{name}\s*=\s*([^,()]+)", call)
    return match.group(1).strip() if match else None


def _model_variables(call: str) -> list[str]:
    """Names of the data columns a call uses (formula and weights)."""
    text = call.split("(", 1)[1]
    return sorted(set(re.findall(r"[A-Za-z_][A-Za-z0-9_.]*", text)))


def _printed_formula(lines: list[str]) -> str:
    """The one-line formula lme4 printed (deparsed, possibly over several lines)."""
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Formula: "))
    end = next(i for i, ln in enumerate(lines) if ln.startswith("   Data: "))
    return " ".join(ln.strip() for ln in lines[start:end])[len("Formula: "):]


def _cases(prefix: str) -> list[str]:
    return [p.stem for p in sorted(CASES.glob("*.json")) if _case(p.stem)["call"].startswith(prefix)]


def _linear_cases() -> list[str]:
    return _cases("lmer(")


class CaseFit:
    """A fitted-model stand-in built from lme4's stored results for one case.

    It exposes the duck-typed interface :mod:`mixedfx.report.text` reads.
    """

    optimizer = "nloptwrap"
    convergence_code = 0
    optimizer_messages: list[str] = []

    def __init__(self, name: str) -> None:
        case = _case(name)
        ref = case["lme4"]
        call = case["call"]
        self.formula_text = _printed_formula(ref["print_text"])
        self.data_name = case["dataset"]
        self.weights_name = _call_arg(call, "weights")
        self.offset_name = _call_arg(call, "offset")
        self.reml = _call_arg(call, "REML") != "FALSE"
        self.reml_criterion = ref["reml_criterion"]
        self.loglik, self.aic, self.bic = ref["loglik"], ref["aic"], ref["bic"]
        self.deviance = -2.0 * ref["loglik"]
        self.df_resid, self.nobs, self.ngrps = ref["df_resid"], ref["nobs"], ref["ngrps"]
        self.fixef = pd.Series(ref["beta"], dtype=float)
        names = list(self.fixef.index)
        self.vcov = pd.DataFrame(ref["vcov"], index=names, columns=names, dtype=float)
        self.sigma = ref["sigma"]
        messages = ref["messages"]  # a lone message is stored unboxed, as message() text
        self.messages = [m.rstrip("\n") for m in ([messages] if isinstance(messages, str) else messages)]
        self._varcorr = pd.DataFrame(ref["varcorr"]).replace({"var1": {"": None}, "var2": {"": None}})
        self._pearson = self._pearson_residuals(case)

    @staticmethod
    def _pearson_residuals(case: dict) -> np.ndarray | None:
        residuals = case["lme4"].get("residuals")
        weights = _call_arg(case["call"], "weights")
        if residuals is None or weights is None:
            return None if residuals is None else np.asarray(residuals, dtype=float)
        data = datasets.load(case["dataset"])
        used = [c for c in _model_variables(case["call"]) if c in data.columns]
        w = data.dropna(subset=used)[weights].to_numpy(dtype=float)
        return np.sqrt(w) * np.asarray(residuals, dtype=float)

    def varcorr(self) -> pd.DataFrame:
        return self._varcorr.copy()

    def residuals(self, type: str = "pearson") -> np.ndarray:  # noqa: A002 - lme4's argument name
        assert type == "pearson"
        if self._pearson is None:
            raise LookupError("the reference case stores no residuals")
        return self._pearson

    def residual_quantiles(self) -> np.ndarray:
        return quantile7(self.residuals(type="pearson") / self.sigma)


class GlmerCaseFit(CaseFit):
    """The stand-in for a generalized fit: adds ``family``, ``link``, ``nagq``.

    Pearson residuals are rebuilt from the data, lme4's fitted means and the
    family's variance function (the cases store deviance residuals).
    """

    def __init__(self, name: str) -> None:
        super().__init__(name)
        case = _case(name)
        family_line = next(ln for ln in case["lme4"]["print_text"] if ln.startswith(" Family: "))
        family_name, self.link = re.match(r" Family: (.*)  \( (.*) \)$", family_line).groups()
        self.family = SimpleNamespace(name=family_name)
        self.nagq = int(_call_arg(case["call"], "nAGQ") or 1)
        self.reml = False
        self._pearson = self._glm_pearson(case)

    def _glm_pearson(self, case: dict) -> np.ndarray:
        data = datasets.load(case["dataset"])
        data = data.dropna(subset=[c for c in _model_variables(case["call"]) if c in data.columns])
        response = case["call"].split("(", 1)[1].split("~")[0].strip()
        mu = np.asarray(case["lme4"]["fitted"], dtype=float)
        y, n = self._response(data, response)
        variance = {
            "binomial": mu * (1 - mu) / n,
            "poisson": mu,
            "Gamma": mu**2,
        }
        theta = re.match(r"Negative Binomial\((.*)\)", self.family.name)
        var = mu + mu**2 / float(theta.group(1)) if theta else variance[self.family.name]
        return (y - mu) / np.sqrt(var)

    @staticmethod
    def _response(data: pd.DataFrame, response: str) -> tuple[np.ndarray, np.ndarray]:
        """The observed proportion (or value) and its binomial size."""
        cbind = re.match(r"cbind\((\w+), (\w+) - \w+\)", response)
        ratio = re.match(r"(\w+) / (\w+)", response)
        if cbind or ratio:
            successes, size = (cbind or ratio).groups()
            total = data[size].to_numpy(dtype=float)
            return data[successes].to_numpy(dtype=float) / total, total
        column = data[response]
        if isinstance(column.dtype, pd.CategoricalDtype):
            return (column == column.cat.categories[1]).to_numpy(dtype=float), np.ones(len(column))
        return column.to_numpy(dtype=float), np.ones(len(column))


def _residual_block(lines: list[str]) -> slice:
    start = lines.index("Scaled residuals: ")
    return slice(start + 1, start + 3)


@pytest.mark.parametrize("name", _linear_cases())
def test_print_matches_lme4(name):
    assert format_print(CaseFit(name)).splitlines() == _case(name)["lme4"]["print_text"]


@pytest.mark.parametrize("name", [n for n in _linear_cases() if _case(n)["lme4"].get("residuals") is not None])
def test_summary_matches_lme4(name):
    assert format_summary(CaseFit(name)).splitlines() == _case(name)["lme4"]["summary_text"]


@pytest.mark.parametrize("name", _cases("glmer"))
def test_glmer_print_matches_lme4(name):
    assert format_print(GlmerCaseFit(name)).splitlines() == _case(name)["lme4"]["print_text"]


@pytest.mark.parametrize("name", _cases("glmer"))
def test_glmer_summary_matches_lme4(name):
    assert format_summary(GlmerCaseFit(name)).splitlines() == _case(name)["lme4"]["summary_text"]


def test_summary_without_stored_residuals_matches_elsewhere():
    name = "insteval_crossed"
    fit = CaseFit(name)
    fit._pearson = np.linspace(-1.0, 1.0, fit.nobs)
    got, want = format_summary(fit).splitlines(), _case(name)["lme4"]["summary_text"]
    block = _residual_block(want)
    assert got[block.start - 1] == want[block.start - 1]
    del got[block], want[block]
    assert got == want


def test_singular_fit_tail():
    text = format_summary(CaseFit("dyestuff2_singular"))
    assert text.endswith(
        "optimizer (nloptwrap) convergence code: 0 (OK)\nboundary (singular) fit: see help('isSingular')\n\n"
    )
    assert format_print(CaseFit("dyestuff2_singular")).endswith("0 optimizer warnings; 1 lme4 warnings \n")


def test_many_coefficients_omit_correlation():
    assert "Correlation of Fixed Effects:" not in format_summary(CaseFit("cake_ordered"))


def test_rank_deficiency_message_is_a_fit_warning():
    fit = CaseFit("dyestuff_reml")
    fit.messages = ["fixed-effect model matrix is rank deficient so dropping 1 column / coefficient"]
    lines = format_print(fit).splitlines()
    assert lines[-2:] == ["fit warnings:", fit.messages[0]]


def test_offset_and_no_data_lines():
    fit = CaseFit("dyestuff_reml")
    fit.offset_name, fit.data_name = "log(n)", None
    lines = format_print(fit).splitlines()
    assert lines[1:3] == ["Formula: Yield ~ 1 + (1 | Batch)", " Offset: log(n)"]


def test_no_fixed_effects():
    fit = CaseFit("dyestuff_reml")
    fit.fixef = fit.fixef.iloc[:0]
    fit.vcov = fit.vcov.iloc[:0, :0]
    assert "No fixed effect coefficients" in format_print(fit).splitlines()
    assert "Fixed effects:" not in format_summary(fit)


def test_anova_matches_lme4():
    ref = _case("sleepstudy_ml")["lme4"]["anova"]
    names = ["m0", "m1", "m2"]
    table = pd.DataFrame(
        {
            "npar": ref["npar"],
            "AIC": ref["AIC"],
            "BIC": ref["BIC"],
            "logLik": ref["logLik"],
            "deviance": ref["deviance"],
            "Chisq": ref["Chisq"],
            "Df": ref["Df"],
            "Pr(>Chisq)": ref["p"],
        },
        index=names,
        dtype=float,
    )
    formulas = [ln.split(": ", 1)[1] for ln in ref["text"] if re.match(r"m\d: ", ln)]
    assert format_anova(table, names, formulas, "d").splitlines() == ref["text"]


# --------------------------------------------------------------------------- lmerTest's layouts
def _lmertest(case: str, method: str) -> dict:
    return json.loads(DDF_REFERENCE.read_text())[case][method]


def _stored_table(stored: dict) -> pd.DataFrame:
    values = {c: [float("nan") if v == "NA" else float(v) for v in vals] for c, vals in stored["values"].items()}
    return pd.DataFrame(values, index=stored["rows"], columns=stored["columns"])


@pytest.mark.parametrize("method,ddf", [("satterthwaite", "Satterthwaite"), ("kenward_roger", "kenward-roger")])
def test_lmertest_summary_layout(method, ddf):
    ref = _lmertest("sleepstudy_reml", method)
    text = format_summary_ddf(CaseFit("sleepstudy_slopes"), _stored_table(ref["coef"]), ddf)
    assert text.splitlines() == ref["summary_text"]


@pytest.mark.parametrize("case", ["cake_ordered", "cake_numeric", "cake_missing_cell", "penicillin"])
@pytest.mark.parametrize("method,ddf", [("satterthwaite", "Satterthwaite"), ("kenward_roger", "Kenward-Roger")])
def test_lmertest_anova_layout(case, method, ddf):
    ref = _lmertest(case, method)
    assert format_anova_terms(_stored_table(ref["anova"]), ddf).splitlines() == ref["anova_text"]


def test_lmertest_layout_needs_a_ddf_method():
    with pytest.raises(ValueError, match="Satterthwaite"):
        format_anova_terms(_stored_table(_lmertest("cake_ordered", "satterthwaite")["anova"]), "lme4")
