"""Property-based robustness (issue 5): random formulas over random data fit or raise a documented error.

A documented error is a :class:`~mixedfx.errors.MixedFxError` (a ValueError) or a
TypeError, with a message; never another exception (a raw numpy or pandas error,
an IndexError, a KeyError...). The examples are small and few, and derandomised
so that the suite is the same on every run.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import mixedfx as mfx
from mixedfx.errors import FormulaError, MixedFxError
from mixedfx.formula.bars import parse_formula

SETTINGS = dict(deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

FIXED = ["x1", "x2", "f", "x1:f", "x1*x2", "I(x1^2)", "log(x2)", "factor(k)", "k", "offset(x1)", "x1 + x1"]
RANDOM = ["(1 | g)", "(x1 | g)", "(1 | h)", "(1 | g:h)", "(0 + x1 | h)", "(1 | g/h)", "(x1 || g)", "(f | g)",
          "(1 | k)", "(x1 + x2 | h)"]
ODD_RESPONSES = ["f", "g", "nosuch", "cbind(yc, 2 - yc)", "x1"]
ODD_FIXED = ["-1", "f:g", "nosuch", "Yx1", "g"]
NO_FIXED_EFFECTS = {"lmer": ["0"], "binomial": ["0"], "poisson": ["0"], "Gamma": ["0"]}
"""A glmer without fixed effects fails in GlmerFit (see test_robustness.py); lmer fits one."""
ODD_RANDOM = ["(1 | obs)", "(1 | one)", "(1 | nosuch)", "( | g)", "(1 | )", "(1 | x1)"]
JUNK = list("()|~+*:^$,-/ ") + ["((", "||", "1", "x1", "NA"]
RESPONSES = {"lmer": ["y", "y", "yp", "log(yp)", "x1"], "binomial": ["yb", "yb", "f", "cbind(yc, 4)"],
             "poisson": ["yc"], "Gamma": ["yp"]}


def documented(exc: BaseException) -> bool:
    """Whether an error is one mixedfx documents, with a message."""
    return isinstance(exc, MixedFxError | TypeError) and bool(str(exc).strip())


@st.composite
def datasets(draw) -> pd.DataFrame:
    """Small data with numeric, count, binary, factor and grouping columns; sometimes spoiled."""
    n = draw(st.integers(min_value=10, max_value=40))
    seed = draw(st.integers(min_value=0, max_value=2**16))
    rng = np.random.default_rng(seed)
    n_g = draw(st.sampled_from([4, 5, 6, 3, 2, 1]))
    data = pd.DataFrame({
        "x1": rng.normal(size=n),
        "x2": rng.uniform(0.0, 3.0, size=n),
        "k": rng.integers(0, 4, size=n),
        "f": rng.choice(["a", "b", "c"][: draw(st.integers(min_value=1, max_value=3))], size=n),
        "g": np.array([f"g{i}" for i in range(n_g)])[np.arange(n) % n_g],
        "h": pd.Categorical(rng.choice(["u", "v", "w", "z"], size=n)),
        "obs": np.arange(n).astype(str),
        "one": "only",
    })
    effect = rng.normal(size=n_g)[np.arange(n) % n_g]
    data["y"] = 1.0 + data["x1"] + effect + rng.normal(size=n)
    data["yp"] = np.exp(data["y"] / 3.0)
    data["yc"] = rng.poisson(np.exp(0.3 * data["x1"] + 0.5 * effect)).astype(float)
    data["yb"] = (data["y"] > data["y"].median()).astype(int)
    data["w"] = rng.uniform(0.5, 2.0, size=n)
    spoil = draw(st.sampled_from(["none"] * 8 + ["nan", "inf", "negative", "zero", "all_nan"]))
    column = draw(st.sampled_from(["y", "x1", "x2", "w", "yc", "g"]))
    rows = rng.choice(n, size=draw(st.integers(min_value=1, max_value=3)), replace=False)
    if spoil == "all_nan":
        data[column] = np.nan
    elif spoil != "none" and column != "g":
        data.loc[rows, column] = {"nan": np.nan, "inf": np.inf, "negative": -1.0, "zero": 0.0}[spoil]
    elif spoil != "none":
        data.loc[rows, "g"] = None
    return data


@st.composite
def formulas(draw, kind: str) -> str:
    """Formulas in lme4's vocabulary for a kind of model; one in four odd (unknown columns, broken syntax...)."""
    odd = draw(st.integers(min_value=0, max_value=3)) == 0
    response = draw(st.sampled_from(RESPONSES[kind] + (ODD_RESPONSES if odd else [])))
    fixed = draw(st.lists(st.sampled_from(FIXED + NO_FIXED_EFFECTS[kind] + (ODD_FIXED if odd else [])), max_size=3))
    random = draw(st.lists(st.sampled_from(RANDOM + (ODD_RANDOM if odd else [])), min_size=0 if odd else 1,
                           max_size=2))
    text = f"{response} ~ " + " + ".join(fixed + random or ["1"])
    if odd and draw(st.booleans()):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        if draw(st.booleans()):
            text = text[:at] + draw(st.sampled_from(JUNK)) + text[at:]
        else:
            text = text[:at] + text[at + 1:]
    return text


def fit_or_documented_error(fit_function) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = fit_function()
        except Exception as exc:  # noqa: BLE001 - the property is about which exceptions escape
            assert documented(exc), f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
            event(f"{type(exc).__name__}: {str(exc).splitlines()[0][:40]}")
            return
    event("fitted")
    assert fit.nobs > 0 and np.all(np.isfinite(fit.fixef.to_numpy()))
    fit.summary()


@settings(max_examples=80, **SETTINGS)
@given(formula=formulas("lmer"), data=datasets(), reml=st.booleans(), weighted=st.booleans())
def test_lmer_fits_or_raises_a_documented_error(formula, data, reml, weighted):
    fit_or_documented_error(lambda: mfx.lmer(formula, data, REML=reml, weights="w" if weighted else None))


@settings(max_examples=30, **SETTINGS)
@given(family=st.sampled_from(["binomial", "poisson", "Gamma"]), data=datasets(), nagq=st.sampled_from([1, 1, 0, 3]),
       choice=st.data())
def test_glmer_fits_or_raises_a_documented_error(family, data, nagq, choice):
    formula = choice.draw(formulas(family), label="formula")
    fit_or_documented_error(lambda: mfx.glmer(formula, data, family=family, nAGQ=nagq))


@settings(max_examples=300, **SETTINGS)
@given(st.lists(st.sampled_from(list("xyg1()|~+-*:/^$., '\"`[]{}%&!<>=") + ["log(", "I(", "x1"]),
                max_size=30).map("".join))
def test_any_text_parses_or_raises_a_formula_error(text):
    try:
        parse_formula(text)
    except FormulaError as exc:
        assert str(exc).strip()


@settings(max_examples=30, **SETTINGS)
@given(data=datasets(), order_seed=st.integers(min_value=0, max_value=1000))
def test_row_order_and_missing_rows_do_not_change_the_fit(data, order_seed):
    """Shuffling the rows gives the same fit; the rows dropped for missing values are counted."""
    formula = "y ~ x1 + (1 | g)"
    shuffled = data.iloc[np.random.default_rng(order_seed).permutation(len(data))]
    before = shuffled.copy(deep=True)
    outcomes = []
    for frame in (data, shuffled):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                outcomes.append(mfx.lmer(formula, frame))
        except MixedFxError as exc:
            outcomes.append(str(exc))
    event("fitted" if not isinstance(outcomes[0], str) else "refused")
    pd.testing.assert_frame_equal(shuffled, before)
    first, second = outcomes
    if isinstance(first, str):
        assert isinstance(second, str)
        return
    usable = data[["y", "x1", "g"]].notna().all(axis=1).sum()
    assert first.nobs == second.nobs == usable
    np.testing.assert_allclose(second.fixef, first.fixef, rtol=1e-5, atol=1e-6)
    assert second.loglik == pytest.approx(first.loglik, rel=1e-7, abs=1e-7)


@settings(max_examples=40, **SETTINGS)
@given(formula=formulas("lmer"), data=datasets(), new=datasets(),
       drop=st.sampled_from([None, None, "x1", "g", "f", "h", "y"]),
       re_form=st.sampled_from([None, None, "~0", "NA", "~(1 | g)", "(1 | h)", "~(1 | zz)", 3]),
       allow_new_levels=st.booleans())
def test_predict_gives_values_or_a_documented_error(formula, data, new, drop, re_form, allow_new_levels):
    """New data with columns missing, new levels, missing values or another re_form."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            fit = mfx.lmer(formula, data)
        except (MixedFxError, TypeError):
            return
    newdata = new if drop is None else new.drop(columns=drop)
    try:
        predicted = fit.predict(newdata, re_form=re_form, allow_new_levels=allow_new_levels)
    except Exception as exc:  # noqa: BLE001 - the property is about which exceptions escape
        assert documented(exc), f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
        event(type(exc).__name__)
        return
    event("predicted")
    assert predicted.shape == (len(newdata),)


CONTROL_VALUES = st.one_of(st.text(max_size=3), st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 5),
                           st.booleans(), st.none(), st.just((float("nan"),)))


@settings(max_examples=200, **SETTINGS)
@given(kind=st.sampled_from([mfx.LmerControl, mfx.GlmerControl]), data=st.data(), value=CONTROL_VALUES)
def test_any_control_value_is_accepted_or_refused_naming_its_field(kind, data, value):
    """Every field is checked on construction: a wrong kind or range is refused with the field's name."""
    import dataclasses

    name = data.draw(st.sampled_from([f.name for f in dataclasses.fields(kind)]))
    try:
        kind(**{name: value})
    except (TypeError, ValueError) as exc:
        assert name in str(exc) or "optimizer" in str(exc), str(exc)


@settings(max_examples=60, **SETTINGS)
@given(data=datasets(), what=st.sampled_from(["y", "x1", "x2", "w"]), exponent=st.integers(-300, 300),
       family=st.sampled_from(["lmer", "poisson"]))
def test_any_scale_fits_or_is_refused_with_a_documented_error(data, what, exponent, family):
    """Responses, predictors and weights scaled by 10^-300 .. 10^300 ([robustness] items 3, 4, 5, 9, 13): a fit,
    or a documented error, never a raw numpy, scipy or math error. The fit prints."""
    with np.errstate(all="ignore"):
        scaled = data.assign(**{what: data[what] * 10.0**exponent})
    formula = ("y" if family == "lmer" else "yc") + " ~ x1 + x2 + (x1 | g)"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if family == "lmer":
                fit = mfx.lmer(formula, scaled, weights="w")
            else:
                fit = mfx.glmer(formula, scaled, family="poisson", weights="w")
            str(fit.summary())
        except Exception as exc:  # noqa: BLE001 - the property is about which exceptions
            assert documented(exc), f"{type(exc).__name__}: {exc}"


@settings(max_examples=40, **SETTINGS)
@given(depth=st.integers(1, 800), terms=st.integers(1, 3000))
def test_any_formula_size_parses_or_is_refused_with_a_formula_error(depth, terms):
    """Deep nesting and long sums ([robustness] item 2): parsed, or a FormulaError; never a RecursionError."""
    text = "y ~ " + "(" * depth + " + ".join(f"x{i}" for i in range(terms)) + ")" * depth + " + (1 | g)"
    try:
        parse_formula(text)
    except FormulaError as exc:
        assert "too long" in str(exc) or "nested too deeply" in str(exc)
