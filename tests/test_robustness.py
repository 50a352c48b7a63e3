"""Robustness (issue 5): bad input gets an error a user can act on; messy data fit as lme4 fits them.

Every error is a ValueError (MixedFxError) or, for an argument of the wrong type,
a TypeError, and its message names the column, term, level or value at fault and
says what would be valid. The command line's cases are in test_robustness_cli.py,
the property-based ones in test_robustness_properties.py.
"""

import re
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import mixedfx as mfx
from mixedfx.design import memory
from mixedfx.linalg import memory as dense_memory
from mixedfx.design.matrices import build_model_matrices
from mixedfx.errors import DataError, FormulaError, MixedFxError
from mixedfx.glmm.pirls import PirlsError
from mixedfx.linalg.cross import cross_products
from mixedfx.linalg.layout import TermLayout
from mixedfx.design.reterms import lme4_term_order

CBPP_FORMULA = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp():
    return mfx.datasets.load("cbpp")


@pytest.fixture
def data(sleep):
    """A copy of sleepstudy with extra columns a test may spoil."""
    out = sleep.copy()
    out["w"] = 1.0
    out["count"] = np.arange(len(out)) % 5
    out["obs"] = np.arange(len(out))
    return out


def raises(error, *fragments):
    """pytest.raises matching every fragment literally, in order."""
    return pytest.raises(error, match="(?s)" + ".*".join(re.escape(f) for f in fragments))


# --------------------------------------------------------------------------- formulas
@pytest.mark.parametrize(
    ("formula", "error", "fragments"),
    [
        ("Reaction ~ Dayz + (1 | Subject)", DataError, ["column 'Dayz' not found", "did you mean 'Days'"]),
        ("Reaction ~ Days + (1 | Subjekt)", DataError, ["column 'Subjekt' not found", "did you mean 'Subject'"]),
        ("reaction ~ Days + (1 | Subject)", DataError, ["'reaction'", "did you mean 'Reaction'"]),
        ("Reaction ~ Days + (1 | Subject", FormulaError, ["unclosed parenthesis", "at position 19", "^"]),
        ("Reaction ~ Days + 1 | Subject)", FormulaError, ["unexpected ')'", "at position 30"]),
        ("Reaction ~ Days +", FormulaError, ["missing right-hand operand of '+'", "position"]),
        ("Reaction ~ Days + (1 | Subject) + $", FormulaError, ["unexpected character '$'", "position"]),
        ("Reaction ~ Days + ( | Subject)", FormulaError, ["empty random-effects term", "(1 | g)"]),
        ("Reaction ~ Days + (1 | )", FormulaError, ["nothing after '|'", "grouping factor"]),
        ("Reaction ~ Days + (0 | Subject)", FormulaError, ["(0 | Subject) has no columns", "intercept or a variable"]),
        ("Reaction ~ Days", FormulaError, ["No random effects terms specified in formula"]),
        ("~ Days + (1 | Subject)", FormulaError, ["has no response", "y ~ ..."]),
        ("", FormulaError, ["empty formula"]),
        ("Reaction ~ lag(Days, 2) + (1 | Subject)", FormulaError, ["unsupported function lag()", "can use"]),
        ("Reaction ~ poly(Days, 2, coefs = c) + (1 | Subject)", FormulaError, ["argument 'coefs'", "poly("]),
        ("Reaction ~ poly(Days, 10) + (1 | Subject)", DataError, ["'degree' must be less than number of unique"]),
    ],
)
def test_formula_errors_say_what_and_where(sleep, formula, error, fragments):
    with raises(error, *fragments):
        mfx.lmer(formula, sleep)


@pytest.mark.parametrize("formula", [None, 3, ["Reaction ~ Days + (1 | Subject)"]])
def test_formula_of_the_wrong_type_is_a_type_error(sleep, formula):
    with raises(TypeError, "formula must be a string", type(formula).__name__):
        mfx.lmer(formula, sleep)
    with raises(TypeError, "formula must be a string"):
        mfx.glmer(formula, sleep, family="poisson")


# --------------------------------------------------------------------------- data
@pytest.mark.parametrize("table", [None, {"Reaction": [1.0, 2.0]}, np.zeros((3, 3)), [[1, 2]], "sleepstudy"])
def test_data_that_is_not_a_table_is_a_type_error(table):
    with raises(TypeError, "data must be a pandas, polars or pyarrow data frame", type(table).__name__):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", table)


@pytest.mark.parametrize("empty", [pd.DataFrame(), "no rows of sleepstudy"])
def test_empty_data(sleep, empty):
    frame = sleep.iloc[:0] if isinstance(empty, str) else empty
    with raises(DataError, "the data have no rows"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", frame)


@pytest.mark.parametrize("column", ["text", "factor"])
def test_non_numeric_response_for_lmer(data, column):
    data["text"] = np.where(data["Reaction"] > 300, "slow", "fast")
    data["factor"] = pd.Categorical(data["text"])
    with raises(DataError, "response must be numeric", f"{column} is a factor or text column with 2 levels",
                "fast, slow", "glmer(..., family='binomial')"):
        mfx.lmer(f"{column} ~ Days + (1 | Subject)", data)


def test_logical_response_is_numeric_for_lmer_as_in_r(data):
    data["slow"] = data["Reaction"] > 300
    fit = mfx.lmer("slow ~ Days + (1 | Subject)", data)
    assert fit.nobs == 180 and np.isfinite(fit.loglik)


def test_grouping_factor_with_a_level_per_row(data, cbpp):
    with raises(DataError, "number of levels of each grouping factor must be < number of observations",
                "(problems: obs)"):
        mfx.lmer("Reaction ~ Days + (1 | obs)", data)
    # glmer allows an observation-level effect (lme4's allow.n = TRUE), as cbpp's (1 | obs) shows
    fit = mfx.glmer(CBPP_FORMULA + " + (1 | obs)", cbpp.assign(obs=np.arange(len(cbpp))), family="binomial")
    assert fit.ngrps["obs"] == len(cbpp)


def test_more_random_effects_than_observations(data, cbpp):
    """lme4's messages: '<=' for lmer, '<' for glmer, which allows as many."""
    with raises(DataError, "number of observations (=180) <= number of random effects (=180) for term "
                "(Days | pair)", "the random-effects parameters and the residual variance"):
        mfx.lmer("Reaction ~ Days + (Days | pair)", data.assign(pair=np.arange(180) // 2))
    with raises(DataError, "number of observations (=56) < number of random effects (=60) for term (period | herd); "
                "the random-effects parameters are probably unidentifiable"):
        mfx.glmer("cbind(incidence, size - incidence) ~ period + (period | herd)", cbpp, family="binomial")


def test_one_level_grouping_factor(data):
    data["one"] = "a"
    with raises(DataError, "grouping factors must have > 1 sampled level (problems: one)", "two or more levels"):
        mfx.lmer("Reaction ~ Days + (1 | one)", data)


def test_grouping_factor_left_with_one_level_after_missing_rows_are_dropped(data):
    data["g2"] = np.where(data["Days"] < 5, "a", "b")
    data.loc[data["g2"] == "b", "Reaction"] = np.nan
    with raises(DataError, "problems: g2"):
        mfx.lmer("Reaction ~ Days + (1 | g2)", data)


def test_all_missing_response(data):
    data["Reaction"] = np.nan
    with raises(DataError, "no rows left after removing rows with missing values", "Reaction"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", data)


@pytest.mark.parametrize(
    ("formula", "change", "fragments"),
    [
        ("Reaction ~ Days + (1 | Subject)", ("Days", np.inf), ["column 'Days' has infinite values", "inf in row 3"]),
        ("Reaction ~ Days + (Days | Subject)", ("Days", -np.inf), ["column 'Days'", "-inf in row 3"]),
        ("Reaction ~ Days + (1 | Subject)", ("Reaction", np.inf), ["the response Reaction has infinite values"]),
        ("Reaction ~ log(Days) + (1 | Subject)", None, ["the variable log(Days) has infinite values", "18 rows"]),
    ],
)
def test_infinite_values_are_refused(data, formula, change, fragments):
    if change is not None:
        data.loc[3, change[0]] = change[1]
    with raises(DataError, *fragments, "finite values"):
        mfx.lmer(formula, data)


def test_infinite_offset_is_refused(data):
    offset = np.zeros(len(data))
    offset[5] = np.inf
    with raises(DataError, "the offset argument has infinite values", "row 5"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", data, offset=offset)


# --------------------------------------------------------------------------- weights
@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        (-1.0, ["negative weights are not allowed", "weights column 'w'", "-1 in row 7", "0 or more"]),
        (np.inf, ["weights column 'w' has infinite values", "row 7"]),
    ],
)
def test_bad_weight_values(data, value, fragments):
    data.loc[7, "w"] = value
    with raises(DataError, *fragments):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", data, weights="w")


def test_negative_weights_given_as_values(sleep):
    w = np.ones(len(sleep))
    w[0] = -2.0
    with raises(DataError, "negative weights are not allowed: the weights argument has negative values"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", sleep, weights=w)


def test_all_zero_weights(sleep):
    with raises(DataError, "all weights are zero", "at least one must be positive"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", sleep, weights=np.zeros(len(sleep)))


def test_nan_weights_are_refused(data):
    """The issue lists NaN weights as bad input: refused, naming the rows (lme4 would drop them silently)."""
    data.loc[[4, 9], "w"] = np.nan
    with raises(DataError, "has missing (NaN) values in 2 rows", "weights must be numbers >= 0"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", data, weights="w")
    with raises(DataError, "missing (NaN) values"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", data, weights=np.full(len(data), np.nan))


@pytest.mark.parametrize(
    ("weights", "error", "fragments"),
    [
        ("wt", DataError, ["weights: column 'wt' not found", "did you mean 'w'"]),
        ("Subject", DataError, ["weights column 'Subject' must be numeric"]),
        (np.ones(5), DataError, ["weights has 5 values but the data have 180 rows"]),
        (2.0, TypeError, ["weights must be a column name or an array of length 180"]),
    ],
)
def test_bad_weights_argument(data, weights, error, fragments):
    with raises(error, *fragments):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", data, weights=weights)


# --------------------------------------------------------------------------- families
def test_negative_counts_for_poisson(data):
    data.loc[2, "count"] = -1
    message = ["negative values not allowed for the 'Poisson' family", "the response count has 1 such value",
               "-1 in row 2", "0 or more"]
    with raises(MixedFxError, *message):
        mfx.glmer("count ~ Days + (1 | Subject)", data, family="poisson")
    with raises(MixedFxError, *message):
        mfx.glmer_nb("count ~ Days + (1 | Subject)", data)


def test_binomial_proportions_outside_zero_one(data):
    data["p"] = np.linspace(0.0, 1.5, len(data))
    with raises(MixedFxError, "y values must be 0 <= y <= 1", "the response p has 60 such values",
                "proportions in [0, 1]"):
        mfx.glmer("p ~ Days + (1 | Subject)", data, family="binomial")


def test_binomial_counts_must_not_be_negative(cbpp):
    bad = cbpp.copy()
    bad.loc[4, "incidence"] = -1
    with raises(DataError, "negative counts in cbind(incidence, size - incidence)", "row 4", "0 or more"):
        mfx.glmer(CBPP_FORMULA, bad, family="binomial")


@pytest.mark.parametrize("kind", ["factor", "text"])
def test_binomial_factor_response_with_more_than_two_levels(data, kind):
    levels = np.array(["low", "mid", "high"])[np.arange(len(data)) % 3]
    data["r3"] = pd.Categorical(levels) if kind == "factor" else levels
    with raises(DataError, "r3 is a factor or text column with 3 levels", "needs two levels"):
        mfx.glmer("r3 ~ Days + (1 | Subject)", data, family="binomial")


def test_factor_response_for_a_count_family(data):
    data["r2"] = np.where(data["Reaction"] > 300, "slow", "fast")
    with raises(DataError, "response must be numeric", "r2", "poisson family needs numbers"):
        mfx.glmer("r2 ~ Days + (1 | Subject)", data, family="poisson")


@pytest.mark.parametrize(("family", "fragment"), [
    ("Gamma", "non-positive values not allowed for the 'Gamma' family"),
    ("inverse_gaussian", "positive values only are allowed for the 'inverse.gaussian' family"),
    (mfx.families.gaussian("log"), "cannot find valid starting values: please specify some"),
])
def test_non_positive_response_for_positive_families(data, family, fragment):
    with raises(MixedFxError, fragment, "the response count has 36 such values", "0 in row 0", "positive values"):
        mfx.glmer("count ~ Days + (1 | Subject)", data, family=family)


def test_constant_response_for_glmer(data):
    with raises(DataError, "Response is constant", "zero"):
        mfx.glmer("zero ~ Days + (1 | Subject)", data.assign(zero=0), family="poisson")
    counts = data.assign(k=2, n=5)
    with raises(DataError, "Response is constant", "cbind(k, n - k)"):  # every row the same pair
        mfx.glmer("cbind(k, n - k) ~ Days + (1 | Subject)", counts, family="binomial")
    varied = counts.assign(n=np.where(np.arange(len(data)) == 7, 6, 5))  # one row differs in its second column
    assert mfx.glmer("cbind(k, n - k) ~ Days + (1 | Subject)", varied, family="binomial").nobs == len(data)


@pytest.mark.parametrize(("formula", "fragment"), [
    ("cbind(incidence, size - incidence) ~ period + (1 | herd) + (1 | obs)",
     "nAGQ > 1 is only available for models with a single, scalar random-effects term"),
    ("cbind(incidence, size - incidence) ~ period + (size | herd)",
     "nAGQ > 1 is only available for models with a single, scalar random-effects term"),
])
def test_quadrature_where_lme4_refuses_it(cbpp, formula, fragment):
    with raises(MixedFxError, fragment):
        mfx.glmer(formula, cbpp.assign(obs=np.arange(len(cbpp)) % 28), family="binomial", nAGQ=5)


@pytest.mark.parametrize(("nagq", "error"), [(-1, MixedFxError), (101, MixedFxError), (1.5, TypeError),
                                             (True, TypeError), ("9", TypeError)])
def test_nagq_must_be_a_whole_number_in_range(cbpp, nagq, error):
    with raises(error, "nAGQ must be a whole number", "from 0 to 100, not " + repr(nagq)):
        mfx.glmer(CBPP_FORMULA, cbpp, family="binomial", nAGQ=nagq)


def test_unknown_family_and_link_list_the_valid_ones(cbpp):
    with raises(MixedFxError, "unknown family 'binomal'", "valid families: binomial, poisson, Gamma"):
        mfx.glmer(CBPP_FORMULA, cbpp, family="binomal")
    with raises(MixedFxError, "unknown link 'logg' for the binomial family", "valid links: logit, probit"):
        mfx.glmer(CBPP_FORMULA, cbpp, family=mfx.families.get_family("binomial", link="logg"))
    with raises(TypeError, "family must be a family name, a Family or a family function, not int"):
        mfx.glmer(CBPP_FORMULA, cbpp, family=3)


# --------------------------------------------------------------------------- other arguments
def test_other_arguments_of_the_wrong_kind(sleep):
    formula = "Reaction ~ Days + (1 | Subject)"
    with raises(TypeError, "REML must be True or False, not 'no'"):
        mfx.lmer(formula, sleep, REML="no")
    with raises(MixedFxError, "na_action must be 'omit' or 'fail', not 'drop'"):
        mfx.lmer(formula, sleep, na_action="drop")
    with raises(TypeError, "na_action must be 'omit' or 'fail', not NoneType"):
        mfx.lmer(formula, sleep, na_action=None)
    with raises(ValueError, "unknown control setting(s) tol", "valid:"):
        mfx.lmer(formula, sleep, control={"tol": 1e-6})
    with raises(TypeError, "control must be a dict or LmerControl, not str"):
        mfx.lmer(formula, sleep, control="fast")


# --------------------------------------------------------------------------- prediction
def test_predict_with_missing_columns(slopes, sleep):
    with raises(DataError, "column 'Subject' not found", "the columns are: Days"):
        slopes.predict(sleep[["Days"]])
    with raises(DataError, "column 'Days' not found"):
        slopes.predict(sleep[["Subject"]])


def test_predict_with_unseen_levels(slopes, sleep):
    new = sleep.head(3).assign(Subject=["x1", "x2", "308"])
    with raises(DataError, "grouping factor Subject", "new level(s) x1, x2", "allow_new_levels=True"):
        slopes.predict(new)
    predicted = slopes.predict(new, allow_new_levels=True)
    population = slopes.fixef["(Intercept)"] + slopes.fixef["Days"] * new["Days"].to_numpy()
    np.testing.assert_allclose(predicted[:2], population[:2])
    assert predicted[2] != pytest.approx(population[2])


def test_predict_with_an_unseen_fixed_effect_level(cbpp):
    fit = mfx.glmer(CBPP_FORMULA, cbpp, family="binomial")
    new = cbpp.head(2).assign(period=["1", "7"])
    with raises(DataError, "factor period has new level(s) 7", "its levels are: 1, 2, 3, 4"):
        fit.predict(new)


def test_predict_with_a_term_the_model_does_not_have(slopes):
    with raises(FormulaError, "re_form names a random-effects term the model does not have, nor a part of one: 1 | Day",
                "the model's terms are: Days | Subject"):
        slopes.predict(re_form="~(1 | Day)")


def test_predict_when_the_response_is_in_a_predictor_term(data):
    """R drops the response as a main effect but keeps it in an interaction; new data need it then."""
    fit = mfx.lmer("Reaction ~ Days * Reaction + (1 | Subject)", data)
    assert list(fit.fixef.index) == ["(Intercept)", "Days", "Reaction:Days"]  # as lme4 names it
    np.testing.assert_allclose(fit.predict(data), fit.fitted())
    with raises(DataError, "column 'Reaction' not found"):
        fit.predict(data.drop(columns="Reaction"))


def test_predict_newdata_of_the_wrong_type(slopes):
    with raises(TypeError, "newdata must be a pandas, polars or pyarrow data frame"):
        slopes.predict([[0, "308"]])


# --------------------------------------------------------------------------- memory
def _crossed(n_first: int, n_second: int, reps: int = 2) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    n = n_first * reps
    return pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n),
                         "g": np.repeat(np.arange(n_first), reps).astype(str),
                         "h": (np.arange(n) % n_second).astype(str)})


def _ordered_terms(matrices):
    order = lme4_term_order([len(t.levels) for t in matrices.re_terms])
    return [matrices.re_terms[i] for i in order]


@pytest.mark.parametrize(("n_first", "n_second", "sparse"), [(3000, 40, True), (60, 30, False)])
def test_dense_block_estimate_matches_the_factorisation(n_first, n_second, sparse):
    matrices = build_model_matrices("y ~ x + (1 | g) + (1 | h)", _crossed(n_first, n_second))
    terms = _ordered_terms(matrices)
    layouts = [TermLayout(codes=t.codes, z=t.z, n_levels=len(t.levels)) for t in terms]
    cp = cross_products(layouts, matrices.X, np.asarray(matrices.y), None)
    assert sp.issparse(cp.a_r1) is sparse
    m = cp.a_rr.shape[0]
    assert m == len(terms[1].levels) + matrices.X.shape[1] + 1
    coupling = 0 if sparse else 2 * cp.a_r1.size
    assert dense_memory.dense_block_bytes(terms, matrices.X.shape[1]) == 8 * (4 * m * m + 2 * cp.a11.size + coupling)


def test_model_too_large_for_memory_is_refused_with_its_size():
    matrices = build_model_matrices("y ~ x + (1 | g) + (x | h)", _crossed(400, 300))
    terms = _ordered_terms(matrices)
    needed = dense_memory.dense_block_bytes(terms, matrices.X.shape[1])
    dense_memory.check_dense_blocks(terms, matrices.X.shape[1], available=needed)
    with raises(MixedFxError, f"needs about {needed / 1e9:.3g} GB", "dense blocks of its factorisation (603 x 603)",
                "more than the 1e-06 GB available", "(x | h): 300 levels x 2 columns", "fewer levels"):
        dense_memory.check_dense_blocks(terms, matrices.X.shape[1], available=1000)


def test_fixed_effects_matrix_too_large_is_refused():
    memory.check_fixed_matrix(1000, ["a", "b"], available=48_000)
    with raises(MixedFxError, "fixed-effects matrix (1000 rows x 2 columns)", "grouping factor"):
        memory.check_fixed_matrix(1000, ["a", "b"], available=47_999)


def test_fits_check_memory_before_building_the_model(monkeypatch, sleep, cbpp):
    def no_model(*args, **kwargs):
        raise AssertionError("the model was built")

    monkeypatch.setattr(memory, "available_memory", lambda: 10_000)
    monkeypatch.setattr(memory, "_ALWAYS_AVAILABLE", 0)  # a machine with 10 kB: every need is checked
    monkeypatch.setattr("mixedfx.modular.LinearMixedModel", no_model)
    # the glmer stages import the model's class when first called
    monkeypatch.setattr("mixedfx.glmm.model.GeneralizedLinearMixedModel", no_model)
    with raises(MixedFxError, "GB of memory for the dense blocks"):
        mfx.lmer("Reaction ~ Days + (Days | Subject) + (1 | Days)", sleep)
    with raises(MixedFxError, "GB of memory for the dense blocks"):
        mfx.glmer(CBPP_FORMULA + " + (1 | obs)", cbpp.assign(obs=np.arange(len(cbpp))), family="binomial")
    with raises(MixedFxError, "fixed-effects matrix (180 rows x 10 columns)"):
        mfx.lmer("Reaction ~ factor(Days) + (1 | Subject)", sleep)


def test_small_models_do_not_read_the_machines_memory(monkeypatch, sleep):
    def unreadable():
        raise AssertionError("read the machine's memory")

    monkeypatch.setattr(memory, "available_memory", unreadable)
    assert mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep).nobs == 180


def test_available_memory_is_known_here():
    available = memory.available_memory()
    assert available is None or available > 0


# --------------------------------------------------------------------------- behaviour that must hold
def test_rank_deficient_fixed_effects_drop_columns_with_lme4s_message(data):
    data["Days2"] = 2.0 * data["Days"]
    fit = mfx.lmer("Reaction ~ Days + Days2 + (1 | Subject)", data)
    assert fit.messages == ["fixed-effect model matrix is rank deficient so dropping 1 column / coefficient"]
    assert list(fit.fixef.index) == ["(Intercept)", "Days"]
    reference = mfx.lmer("Reaction ~ Days + (1 | Subject)", data)
    np.testing.assert_allclose(fit.fixef, reference.fixef, rtol=1e-8)


def test_rows_with_missing_values_are_dropped_and_counted(data):
    data.loc[[0, 10], "Reaction"] = np.nan
    data.loc[20, "Days"] = np.nan
    data.loc[30, "Subject"] = np.nan
    fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", data)
    assert fit.nobs == 176
    assert fit.fixef.to_numpy() == pytest.approx(
        mfx.lmer("Reaction ~ Days + (1 | Subject)", data.drop(index=[0, 10, 20, 30])).fixef.to_numpy())


def test_the_callers_data_are_never_modified(sleep, cbpp):
    messy = sleep.copy()
    messy["Subject"] = messy["Subject"].astype(str)
    messy.loc[[1, 2], "Reaction"] = np.nan
    messy["f"] = pd.Categorical(np.where(messy["Days"] > 4, "late", "early"))
    messy["w"] = 1.0
    messy.attrs["name"] = "messy"
    before = messy.copy(deep=True)
    fit = mfx.lmer("Reaction ~ Days * f + (Days | Subject)", messy, weights="w")
    fit.predict(messy)
    fit.predict(messy.assign(Subject="new"), allow_new_levels=True)
    pd.testing.assert_frame_equal(messy, before)
    assert messy.attrs == {"name": "messy"}
    cbpp_before = cbpp.copy(deep=True)
    mfx.glmer(CBPP_FORMULA, cbpp, family="binomial").predict(cbpp)
    pd.testing.assert_frame_equal(cbpp, cbpp_before)


def test_row_order_does_not_change_the_fit(sleep, cbpp):
    order = np.random.default_rng(5).permutation(len(sleep))
    a = mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    b = mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep.iloc[order])
    np.testing.assert_allclose(b.fixef, a.fixef, rtol=1e-6)
    np.testing.assert_allclose(b.theta, a.theta, rtol=1e-5)
    assert b.loglik == pytest.approx(a.loglik, rel=1e-10)
    shuffled = cbpp.iloc[np.random.default_rng(6).permutation(len(cbpp))]
    g, h = (mfx.glmer(CBPP_FORMULA, d, family="binomial") for d in (cbpp, shuffled))
    np.testing.assert_allclose(h.fixef, g.fixef, rtol=1e-5)
    assert h.loglik == pytest.approx(g.loglik, rel=1e-9)


def test_fits_are_deterministic(sleep, cbpp):
    first, second = (mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep) for _ in range(2))
    assert first.fixef.equals(second.fixef) and np.array_equal(first.theta, second.theta)
    assert first.loglik == second.loglik
    g1, g2 = (mfx.glmer(CBPP_FORMULA, cbpp, family="binomial") for _ in range(2))
    assert g1.fixef.equals(g2.fixef) and np.array_equal(g1.theta, g2.theta) and g1.loglik == g2.loglik


def _separated(kind: str) -> pd.DataFrame:
    data = pd.DataFrame({"x": np.tile(np.arange(1, 11), 4), "g": np.repeat(list("abcd"), 10)})
    data["y"] = (data["x"] > 5).astype(int)
    data["f"] = np.where(data["x"] > 5, "hi", "lo")
    return data


@pytest.mark.parametrize("predictor", ["x", "f"])
def test_complete_separation_terminates_with_a_documented_outcome(predictor):
    """Never a hang nor a raw numpy error: a fit, or a PIRLS error with lme4's message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = mfx.glmer(f"y ~ {predictor} + (1 | g)", _separated(predictor), family="binomial")
    except PirlsError as exc:
        assert "PIRLS" in str(exc) or "pwrssUpdate" in str(exc)
    else:
        assert fit.messages


@pytest.mark.parametrize("predictor", ["x", "f"])
def test_complete_separation_returns_with_lme4s_warnings(predictor):
    """lme4 returns huge coefficients with 'Hessian is numerically singular' (R 4.2, lme4 1.1)."""
    fit = mfx.glmer(f"y ~ {predictor} + (1 | g)", _separated(predictor), family="binomial")
    assert any("Hessian is numerically singular" in m for m in fit.messages)
    assert np.abs(fit.fixef.to_numpy()).max() > 30


def test_response_fitted_exactly_by_the_fixed_effects(data):
    """lme4 returns a degenerate fit (sigma 0); mixedfx says why there is nothing to estimate."""
    with raises(DataError, "fit the response Reaction exactly", "linear function of a predictor or of the offset"):
        mfx.lmer("Reaction ~ offset(Reaction) + (1 | Subject)", data)
    with raises(DataError, "fit the response line exactly"):
        mfx.lmer("line ~ Days + (1 | Subject)", data.assign(line=3.0 * data["Days"] + 1.0))


def test_glmer_without_fixed_effects_fits_as_in_lme4(cbpp):
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ 0 + (1 | herd)", cbpp, family="binomial")
    assert fit.fixef.empty and fit.theta[0] > 0


def test_a_fit_with_an_infinite_criterion_prints_as_lme4(data):
    """Zero weights make lme4's REML criterion Inf; the summary prints it (as R does), with lme4's message."""
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data, weights="Days")
    text = str(fit.summary())
    assert "REML criterion at convergence: Inf" in text and "Gradient contains NAs" in text


def test_a_poisson_response_with_fractions_warns_and_prints(data):
    with pytest.warns(UserWarning, match="non-integer x = "):
        fit = mfx.glmer("y ~ Days + (1 | Subject)", data.assign(y=data["Reaction"] / 100), family="poisson")
    assert fit.loglik == -np.inf
    assert "-Inf" in str(fit.summary())


@pytest.mark.parametrize("formula", ["Reaction ~ x:z + (1 | Subject)", "Reaction ~ Days + (0 + x:z | Subject)"])
def test_an_overflowing_column_is_refused_by_name(data, formula):
    """An interaction of large values was dropped silently as 'rank deficient'; I(x*z) was refused."""
    big = data.assign(x=1e200 * (1 + data["Days"]), z=1e200)
    with pytest.raises(DataError, match="column 'x:z' is not finite in 180 rows"):
        mfx.lmer(formula, big)


@pytest.mark.parametrize(("response", "words"), [
    (lambda y: np.where(np.arange(len(y)) == 5, 1e160, y), "values as large as 1e\\+160: their squares overflow"),
    (lambda y: y * 1e-200, "its squares underflow"),
])
def test_a_response_out_of_double_range_is_named_as_such(data, response, words):
    """It was called an exact fit by the fixed effects ([robustness] item 5)."""
    with pytest.raises(DataError, match=words):
        mfx.lmer("Reaction ~ Days + (Days | Subject)", data.assign(Reaction=response(data["Reaction"].to_numpy())))


@pytest.mark.parametrize("scale", [1e14, 1e16, 1e18, 1e30, 1e-14])
def test_constant_weights_far_from_one_are_refused_naming_the_weights(data, scale):
    """They gave a slope of 0.0, a LinAlgError or 'math domain error' ([robustness] item 3)."""
    with pytest.raises(DataError, match=r"the weights \(w\) are about .* divide them by their mean"):
        mfx.lmer("Reaction ~ Days + (Days | Subject)", data.assign(w=scale), weights="w")


@pytest.mark.parametrize("scale", [1e-6, 1e-3, 1e3, 1e8])
def test_constant_weights_do_not_change_the_fixed_effects(data, scale):
    plain = mfx.lmer("Reaction ~ Days + (Days | Subject)", data)
    weighted = mfx.lmer("Reaction ~ Days + (Days | Subject)", data.assign(w=scale), weights="w")
    np.testing.assert_allclose(weighted.fixef, plain.fixef, rtol=1e-6)
    assert weighted.sigma / np.sqrt(scale) == pytest.approx(plain.sigma, rel=1e-4)


@pytest.mark.parametrize("kind", ["object", "categorical"])
def test_categories_that_print_alike_are_refused(data, kind):
    """1 and '1' were two levels that predict() could not tell apart ([robustness] item 6)."""
    g = np.array([1 if i % 2 else "1" for i in range(len(data))], dtype=object)
    with pytest.raises(DataError, match="two categories that both read '1'"):
        mfx.lmer("Reaction ~ Days + (1 | g)", data.assign(g=pd.Categorical(g) if kind == "categorical" else g))


def test_simulations_too_large_for_memory_are_refused_before_allocating(data):
    """simulate(10**8) asked for 134 GiB and failed with a raw MemoryError ([robustness] item 14)."""
    fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", data)
    with pytest.raises(MixedFxError, match="GB of memory for 100000000 simulations of 180 rows"):
        fit.simulate(10**8)


@pytest.mark.parametrize(("newresp", "error", "words"), [
    (lambda y: np.where(np.arange(len(y)) == 3, np.nan, y), DataError, "1 missing or infinite values"),
    (lambda y: np.where(np.arange(len(y)) == 3, np.inf, y), DataError, "1 missing or infinite values"),
    (lambda y: np.full(len(y), 5.0), DataError, "fit the response Reaction exactly"),
    (lambda y: np.array(["a"] * len(y)), TypeError, "newresp must be numbers"),
])
def test_refit_refuses_what_lmer_refuses(data, newresp, error, words):
    """refit gave NaN estimates or 'math domain error' ([robustness] item 8)."""
    fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", data)
    with pytest.raises(error, match=words):
        fit.refit(newresp(data["Reaction"].to_numpy()))


def test_glmer_refit_and_predict_run_the_first_fits_checks(data):
    counts = mfx.datasets.load("grouseticks")
    nb = mfx.glmer_nb("TICKS ~ YEAR + (1 | LOCATION)", counts)
    with pytest.raises(DataError, match="Response is constant"):
        nb.refit(np.full(len(counts), 2.5))
    fit = mfx.lmer("Reaction ~ Days + (1 | Subject)", data)
    with pytest.raises(DataError, match="newdata has no rows"):
        fit.predict(data.iloc[:0])


def _levels_as_slopes(levels, groups, n):
    rng = np.random.default_rng(7)
    return pd.DataFrame({"y": rng.normal(size=n), "f": rng.integers(0, levels, n).astype(str),
                         "g": rng.integers(0, groups, n).astype(str)})


def test_too_many_covariance_parameters_are_refused_and_many_warned_of():
    """A 500-level slope gave an empty nlopt error; 1,830 parameters ran minutes in silence ([robustness] 12)."""
    with pytest.raises(MixedFxError, match=r"\(f \| g\) has 150 columns, so 11325 covariance parameters"):
        mfx.lmer_design("y ~ 1 + (f | g)", _levels_as_slopes(150, 10, 3000))
    with pytest.warns(UserWarning, match="1830 covariance parameters.*may take long"):
        mfx.lmer_design("y ~ 1 + (f | g)", _levels_as_slopes(60, 30, 3000))


def test_a_fixed_factor_with_very_many_levels_is_refused_before_allocating(monkeypatch):
    """A 50,000-level fixed factor reached 19 GB (its contrasts) before the memory check ([robustness] 12)."""
    import resource

    monkeypatch.setattr(memory, "available_memory", lambda: 4 * 10**9)  # the same answer on any machine
    data = _levels_as_slopes(50_000, 100, 60_000)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(MixedFxError, match=r"fixed-effects matrix \(60000 rows x \d+ columns\)"):
        mfx.lmer_design("y ~ f + (1 | g)", data)
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert grown_kb < 2_000_000  # far below the 20 GB of a 50k x 50k contrast matrix
    # the contrasts of the largest factor count too
    memory.check_fixed_matrix(1000, 10, available=10**6)
    with pytest.raises(MixedFxError, match="GB of memory"):
        memory.check_fixed_matrix(1000, 10, available=10**6, largest_factor=1000)


@pytest.mark.parametrize(("column", "words"), [
    (lambda days: days * 1e160, "'x' reaches 9e\\+160: products of such values overflow"),
    (lambda days: (days + 1) * 1e-170, "'x' is at most 1e-169: products of such values underflow"),
])
def test_extreme_scale_predictors_are_named_with_the_fix(data, column, words):
    """They ended in 'math domain error', 'SVD did not converge' and the like ([robustness] item 9)."""
    with pytest.raises(DataError, match=words):
        mfx.lmer("Reaction ~ x + (1 | Subject)", data.assign(x=column(data["Days"])))
    with pytest.raises(DataError, match="random-effects term"):
        mfx.lmer("Reaction ~ Days + (0 + x | Subject)", data.assign(x=column(data["Days"]) + 1e-300))
