"""Model matrices against lme4's reference cases, plus R's model.matrix rules and new data."""

import functools
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from scipy.stats import norm

import mixedfx as mfx
from mixedfx.design.matrices import build_model_matrices
from mixedfx.design.newdata import new_data_matrices
from mixedfx.design.rank import clearly_independent, rank_keep
from mixedfx.errors import DataError, FormulaError

CASES = sorted((Path(__file__).parents[1] / "conformance" / "cases").glob("*.json"))
LINKS = {
    "identity": lambda eta: eta, "logit": expit, "probit": norm.cdf, "log": np.exp,
    "cloglog": lambda eta: -np.expm1(-np.exp(eta)),
}


def first_argument(call: str) -> str:
    args = call[call.index("(") + 1:]
    depth = 0
    for i, ch in enumerate(args):
        depth += {"(": 1, ")": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            return args[:i]
    raise AssertionError(call)


def link_of(call: str) -> str:
    if call.startswith("lmer("):
        return "identity"
    m = re.search(r'family = (\w+)(?:\(link = "(\w+)"\))?', call)
    if m is None:  # glmer.nb
        return "log"
    return m.group(2) or {"binomial": "logit", "poisson": "log", "Gamma": "inverse"}[m.group(1)]


@functools.cache
def load_case(path):
    case = json.loads(path.read_text())
    weights = re.search(r"weights = (\w+)", case["call"])
    data = mfx.datasets.load(case["dataset"])
    mm = build_model_matrices(first_argument(case["call"]), data, weights=weights.group(1) if weights else None)
    return case, data, mm


def cases_where(keep):
    chosen = [p for p in CASES if keep(json.loads(p.read_text()))]
    return pytest.mark.parametrize("path", chosen, ids=[p.stem for p in chosen])


@pytest.fixture
def case(path):
    return load_case(path)


all_cases = cases_where(lambda ref: True)


def test_there_are_reference_cases():
    assert len(CASES) >= 20
    assert sum(bool(json.loads(p.read_text())["lme4"].get("fitted")) for p in CASES) >= 20


@all_cases
def test_fixed_effect_names_match_lme4(case):
    ref, _, mm = case
    assert mm.x_names == list(ref["lme4"]["beta"])
    assert mm.X.shape == (ref["lme4"]["nobs"], len(ref["lme4"]["beta"]))


@all_cases
def test_grouping_factors_match_lme4(case):
    ref, _, mm = case
    lme4 = ref["lme4"]
    groups = {}
    names = {}
    for term in mm.re_terms:
        groups.setdefault(term.group, term.levels)
        names.setdefault(term.group, []).extend(term.z_names)
        assert term.codes.dtype == np.int64 and term.codes.min() >= 0 and term.codes.max() == len(term.levels) - 1
        assert term.z.shape == (lme4["nobs"], len(term.z_names))
    assert {g: len(v) for g, v in groups.items()} == lme4["ngrps"]
    for group, levels in groups.items():
        assert levels == lme4["ranef"][group]["levels"]
        terms = lme4["ranef"][group]["terms"]
        assert names[group] == (terms if isinstance(terms, list) else [terms])


@all_cases
def test_rows_kept_match_lme4(case):
    ref, data, mm = case
    assert len(mm.y) == ref["lme4"]["nobs"] == len(mm.rows)
    assert mm.n_dropped_na == len(data) - ref["lme4"]["nobs"]


@all_cases
def test_formula_text_matches_lme4_print(case):
    ref, _, mm = case
    printed = next(line for line in ref["lme4"]["summary_text"] if "Formula:" in line)
    assert mm.formula_text.startswith(printed.split("Formula: ", 1)[1].rstrip())


@cases_where(lambda ref: bool(ref["lme4"].get("fitted")))
def test_lme4_estimates_reproduce_lme4_fitted_values(case):
    """X, offset, z and codes are exactly lme4's: its beta and modes give its fitted values."""
    ref, _, mm = case
    lme4 = ref["lme4"]
    eta = mm.X @ np.array(list(lme4["beta"].values())) + mm.offset
    used: dict[str, int] = {}
    for term in mm.re_terms:
        values = np.array(lme4["ranef"][term.group]["values"], dtype=float)
        start = used.get(term.group, 0)
        b = values[:, start:start + len(term.z_names)]
        used[term.group] = start + len(term.z_names)
        eta = eta + np.einsum("ij,ij->i", term.z, b[term.codes])
    np.testing.assert_allclose(LINKS[link_of(ref["call"])](eta), lme4["fitted"], rtol=1e-7, atol=1e-9)


@cases_where(lambda ref: ref["call"].startswith("lmer("))
def test_least_squares_on_linear_cases_is_finite(case):
    ref, _, mm = case
    beta, *_ = np.linalg.lstsq(mm.X, mm.y - mm.offset, rcond=None)
    assert np.all(np.isfinite(beta))
    assert np.linalg.matrix_rank(mm.X) == mm.X.shape[1]


def test_cake_ordered_interaction_columns_vary_first_factor_fastest():
    _, _, mm = load_case(next(p for p in CASES if p.stem == "cake_ordered"))
    cake = mfx.datasets.load("cake")
    j = mm.x_names.index("recipeC:temperature.Q")
    poly = {t: v for t, v in zip(["175", "185", "195", "205", "215", "225"],
                                  [0.5455447, -0.1091089, -0.4364358, -0.4364358, -0.1091089, 0.5455447])}
    expected = (cake["recipe"] == "C").to_numpy() * cake["temperature"].astype(str).map(poly).to_numpy()
    np.testing.assert_allclose(mm.X[:, j], expected, atol=5e-8)


# --------------------------------------------------------------------------- unit cases
@pytest.fixture
def data():
    rng = np.random.default_rng(3)
    n = 30
    x = rng.normal(size=n)
    return pd.DataFrame({
        "y": rng.normal(size=n), "x": x, "x2": 2 * x, "w": rng.uniform(0.5, 2, size=n),
        "g": np.repeat(["g1", "g2", "g3"], 10), "h": np.tile(["u", "v"], 15),
        "f": pd.Categorical(rng.choice(["a", "b", "c"], size=n)), "k": rng.integers(1, 12, size=n),
    })


def test_transformations_and_offset(data):
    mm = build_model_matrices("y ~ x + I(x^2) + log(w) + offset(0.5 * w) + (1 | g)", data)
    assert mm.x_names == ["(Intercept)", "x", "I(x^2)", "log(w)"]
    np.testing.assert_allclose(mm.X[:, 2], data["x"] ** 2)
    np.testing.assert_allclose(mm.X[:, 3], np.log(data["w"]))
    np.testing.assert_allclose(mm.offset, 0.5 * data["w"])
    both = build_model_matrices("y ~ x + offset(0.5 * w) + (1 | g)", data, offset=np.ones(len(data)))
    np.testing.assert_allclose(both.offset, 0.5 * data["w"] + 1.0)


def test_no_intercept_and_factor_codings(data):
    assert build_model_matrices("y ~ x - 1 + (1 | g)", data).x_names == ["x"]
    assert build_model_matrices("y ~ 0 + f + (1 | g)", data).x_names == ["fa", "fb", "fc"]
    assert build_model_matrices("y ~ x:f + (1 | g)", data).x_names == ["(Intercept)", "x:fa", "x:fb", "x:fc"]
    assert build_model_matrices("y ~ x*f + (1 | g)", data).x_names == \
        ["(Intercept)", "x", "fb", "fc", "x:fb", "x:fc"]
    assert build_model_matrices("y ~ factor(k > 5) + (1 | g)", data).x_names == ["(Intercept)", "factor(k > 5)TRUE"]


def test_random_effect_terms(data):
    mm = build_model_matrices("y ~ x + (x || g) + (0 + x | h) + (f | h) + (1 | g/h)", data)
    assert [t.text for t in mm.re_terms] == ["1 | g", "0 + x | g", "0 + x | h", "f | h", "1 | h:g", "1 | g"]
    assert [t.group for t in mm.re_terms] == ["g", "g", "h", "h", "h:g", "g"]
    assert mm.re_terms[3].z_names == ["(Intercept)", "fb", "fc"]
    np.testing.assert_allclose(mm.re_terms[1].z[:, 0], data["x"])
    np.testing.assert_allclose(mm.re_terms[0].z, 1.0)
    assert mm.re_terms[4].levels == ["u:g1", "u:g2", "u:g3", "v:g1", "v:g2", "v:g3"]
    assert mm.formula_text == "y ~ x + ((1 | g) + (0 + x | g)) + (0 + x | h) + (f | h) + (1 | g/h)"


def test_grouping_by_as_factor_of_a_number(data):
    mm = build_model_matrices("y ~ x + (1 | as.factor(k))", data)
    term = mm.re_terms[0]
    assert term.group == "as.factor(k)"
    assert term.levels == [str(v) for v in sorted(set(data["k"]))]  # numeric order: "2" before "10"
    np.testing.assert_array_equal(np.array(term.levels)[term.codes], data["k"].astype(str))


def test_rank_deficient_columns_are_dropped_with_lme4_message(data):
    mm = build_model_matrices("y ~ x + x2 + (1 | g)", data)
    assert mm.x_names == ["(Intercept)", "x"]
    assert mm.dropped == ["x2"]
    assert mm.messages == ["fixed-effect model matrix is rank deficient so dropping 1 column / coefficient"]
    two = build_model_matrices("y ~ x + x2 + I(3 * x) + (1 | g)", data)
    assert two.dropped == ["x2", "I(3 * x)"]
    assert two.messages == ["fixed-effect model matrix is rank deficient so dropping 2 columns / coefficients"]
    # f:g without main effects: R codes every cell, the last is dependent on the intercept
    cells = build_model_matrices("y ~ f:h + (1 | g)", data)
    assert cells.dropped == ["fc:hv"] and len(cells.x_names) == 6


def test_rank_keep_follows_pivoting_rule():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(2, 50))
    X = np.column_stack([a, np.zeros(50), b, a + b, a * (1 + 1e-9), rng.normal(size=50)])
    assert rank_keep(X) == [0, 2, 5]
    assert rank_keep(np.column_stack([a, a + 1e-3 * b])) == [0, 1]
    assert rank_keep(np.column_stack([a, a + 1e-9 * b])) == [0]
    # between the Gram screen (1e-4) and the QR tolerance (1e-7): the exact test keeps both
    assert rank_keep(np.column_stack([a, a + 1e-6 * b])) == [0, 1]


def test_clearly_independent_screens_only_wide_margins():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 200))
    assert clearly_independent(np.column_stack([a, b]))
    assert clearly_independent(np.column_stack([a, a + 1e-3 * b]))
    assert not clearly_independent(np.column_stack([a, a + 1e-6 * b]))  # independent, but for QR to say
    assert not clearly_independent(np.column_stack([a, 2 * a]))
    assert not clearly_independent(np.column_stack([a, np.zeros(200)]))
    assert not clearly_independent(np.column_stack([a, np.full(200, 1e200)]))  # the Gram overflows


def test_missing_rows_are_dropped_and_counted():
    simfeat = mfx.datasets.load("simfeat")
    mm = build_model_matrices("y ~ x + (1 | g1)", simfeat)
    assert mm.n_dropped_na == 3
    assert not set(mm.rows) & {4, 76, 299}
    assert build_model_matrices("y ~ w + (1 | g1)", simfeat).n_dropped_na == 0


def test_weights_by_name_or_values(data):
    by_name = build_model_matrices("y ~ x + (1 | g)", data, weights="w")
    by_values = build_model_matrices("y ~ x + (1 | g)", data, weights=data["w"].to_numpy())
    np.testing.assert_allclose(by_name.weights, data["w"])
    np.testing.assert_allclose(by_values.weights, by_name.weights)
    with pytest.raises(DataError, match="weights"):
        build_model_matrices("y ~ x + (1 | g)", data, weights="weight")


@pytest.mark.parametrize("drop_a_row", [True, False])
def test_caller_dataframe_is_unchanged(data, drop_a_row):
    if drop_a_row:
        data.loc[3, "x"] = np.nan
    before = data.copy(deep=True)
    mm = build_model_matrices("y ~ x * f + factor(k) + (x | g) + (1 | h:g)", data, weights="w")
    # the matrices are the model's own: writing to them leaves the data alone (no row is copied when none drops)
    mm.X[:] = 0.0
    mm.y[:] = 0.0
    mm.re_terms[0].z[:] = 0.0
    pd.testing.assert_frame_equal(data, before)


@pytest.mark.parametrize(
    ("formula", "error", "fragment"),
    [
        ("y ~ x", FormulaError, "No random effects terms specified in formula"),
        ("y ~ x + (1 | g", FormulaError, "unclosed parenthesis"),
        ("y ~ x + ( | g)", FormulaError, "empty random-effects term"),
        ("y ~ xx + (1 | g)", DataError, "did you mean 'x'"),
        ("y ~ x + (0 | g)", FormulaError, "has no columns"),
        ("y ~ splines(x) + (1 | g)", FormulaError, "unsupported function"),
    ],
)
def test_errors_are_actionable(data, formula, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        build_model_matrices(formula, data)


def test_argument_types(data):
    with pytest.raises(TypeError, match="data frame"):
        build_model_matrices("y ~ x + (1 | g)", data.to_dict())
    with pytest.raises(TypeError, match="formula"):
        build_model_matrices(None, data)
    with pytest.raises(DataError, match="no rows"):
        build_model_matrices("y ~ x + (1 | g)", data.iloc[:0])


# --------------------------------------------------------------------------- new data
def test_predict_newdata_reproduces_lme4():
    path = next(p for p in CASES if p.stem == "sleepstudy_slopes")
    ref, _, mm = load_case(path)
    lme4 = ref["lme4"]
    spec = lme4["predict_newdata"]
    newdata = pd.DataFrame(spec["newdata"])
    new = new_data_matrices(mm, newdata, allow_new_levels=True)
    beta = np.array(list(lme4["beta"].values()))
    modes = np.array(lme4["ranef"]["Subject"]["values"])
    (term,) = new.re_terms
    assert term.codes.tolist() == [0, 1, -1, -1]
    b = np.where((term.codes >= 0)[:, None], modes[np.maximum(term.codes, 0)], 0.0)
    np.testing.assert_allclose(new.X @ beta + np.einsum("ij,ij->i", term.z, b), spec["value"], rtol=1e-9)
    population = new_data_matrices(mm, newdata, re_form="~0")
    assert population.re_terms == []
    np.testing.assert_allclose(population.X @ beta, spec["value_fixed_only"], rtol=1e-9)


def test_new_levels_need_permission():
    sleep = mfx.datasets.load("sleepstudy")
    mm = build_model_matrices("Reaction ~ Days + (Days | Subject)", sleep)
    newdata = pd.DataFrame({"Days": [1.0, 2.0], "Subject": ["308", "999"]})
    with pytest.raises(ValueError, match=r"Subject.*999.*allow_new_levels=True"):
        new_data_matrices(mm, newdata)
    with pytest.raises(DataError, match="Days"):
        new_data_matrices(mm, newdata.drop(columns="Days"))
    numeric_subjects = pd.DataFrame({"Days": [0.0], "Subject": [331]})
    assert new_data_matrices(mm, numeric_subjects).re_terms[0].codes.tolist() == [4]


def test_new_data_keeps_the_fitted_columns_with_fewer_levels():
    cake = mfx.datasets.load("cake")
    mm = build_model_matrices("angle ~ recipe * temperature + (1 | recipe:replicate)", cake)
    rows = [0, 7, 100, 200]
    sub = cake.iloc[rows].copy()
    for col in ["recipe", "temperature", "replicate"]:
        sub[col] = sub[col].cat.remove_unused_categories()
    new = new_data_matrices(mm, sub)
    np.testing.assert_allclose(new.X, mm.X[rows], atol=1e-12)
    np.testing.assert_array_equal(new.re_terms[0].codes, mm.re_terms[0].codes[rows])
    assert new.re_terms[0].index == 0 and new.re_terms[0].group == "recipe:replicate"


def test_new_data_unseen_fixed_level_and_offsets():
    simfeat = mfx.datasets.load("simfeat")
    mm = build_model_matrices("y ~ x + f + offset(0.5 * w) + (1 + x | g1) + (1 | g2)", simfeat)
    newdata = pd.DataFrame({"x": [0.5, 1.0], "f": ["lo", "hi"], "w": [2.0, 4.0], "g1": ["g01", "g02"],
                            "g2": ["h1", "h1"]})
    new = new_data_matrices(mm, newdata)
    assert new.X.tolist() == [[1.0, 0.5, 1.0, 0.0], [1.0, 1.0, 0.0, 0.0]]
    np.testing.assert_allclose(new.offset, [1.0, 2.0])
    assert [t.index for t in new_data_matrices(mm, newdata, re_form="~(1 | g2)").re_terms] == [1]
    with pytest.raises(ValueError, match="new level"):
        new_data_matrices(mm, newdata.assign(f=["lo", "extreme"]))
    with pytest.raises(ValueError, match="does not have"):
        new_data_matrices(mm, newdata, re_form="~(1 | g3)")


def test_one_column_is_kept_unless_it_is_zero():
    """dqrdc2's rule for a single column, decided without a Gram or QR (an intercept alone: Penicillin)."""
    assert rank_keep(np.ones((5, 1))) == [0]
    assert rank_keep(np.full((5, 1), 1e-200)) == [0]
    assert rank_keep(np.zeros((5, 1))) == []
    assert rank_keep(np.zeros((0, 1))) == []
