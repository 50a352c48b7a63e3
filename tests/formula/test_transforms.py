"""R's poly(), scale(), bs() and ns() against R's own numbers (tests/reference/transforms_r.R), and their calls."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixedfx.errors import DataError, FormulaError
from mixedfx.formula.evaluate import SUPPORTED_FUNCTIONS, DataEnv, evaluate
from mixedfx.formula.splines import learn_spline, spline_values
from mixedfx.formula.syntax import parse_expr
from mixedfx.formula.transforms import (
    LearnedTransforms, PolyCoefs, ScaleParams, apply_scale, orthogonal_poly, poly_from_coefs, raw_poly,
    scale_params, transform_call,
)

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "transforms.json").read_text())


def _numbers(values: list) -> np.ndarray:
    """R's numbers written as strings ("NA" for missing), nested lists as matrices."""
    return np.vectorize(lambda v: np.nan if v == "NA" else float(v), otypes=[float])(np.array(values, dtype=object))


@pytest.mark.parametrize("case", list(REFERENCE["poly"]))
def test_orthogonal_poly_matches_r(case: str) -> None:
    ref = REFERENCE["poly"][case]
    x = _numbers(ref["x"])
    basis, coefs = orthogonal_poly(x, ref["degree"])
    np.testing.assert_allclose(basis, _numbers(ref["values"]), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(coefs.alpha, _numbers(ref["alpha"]), rtol=1e-12)
    np.testing.assert_allclose(coefs.norm2, _numbers(ref["norm2"]), rtol=1e-12)
    assert coefs.degree == ref["degree"]


@pytest.mark.parametrize("case", list(REFERENCE["poly"]))
def test_poly_on_new_values_uses_the_fitted_coefficients(case: str) -> None:
    ref = REFERENCE["poly"][case]
    coefs = PolyCoefs(alpha=tuple(_numbers(ref["alpha"])), norm2=tuple(_numbers(ref["norm2"])))
    got = poly_from_coefs(_numbers(ref["newx"]), coefs)
    np.testing.assert_allclose(got, _numbers(ref["predicted"]), rtol=1e-10, atol=1e-13)


def test_recurrence_reproduces_the_fitted_basis() -> None:
    x = np.array([0.1, 0.4, 2.0, 2.0, 3.5, 7.25, 9.0, 9.5, 11.0])
    basis, coefs = orthogonal_poly(x, 5)
    np.testing.assert_allclose(poly_from_coefs(x, coefs), basis, atol=1e-10)
    np.testing.assert_allclose(basis.T @ basis, np.eye(5), atol=1e-12)


def test_raw_poly_matches_r() -> None:
    ref = REFERENCE["raw"]
    np.testing.assert_allclose(raw_poly(_numbers(ref["x"]), ref["degree"]), _numbers(ref["values"]), rtol=1e-15)


@pytest.mark.parametrize("case", list(REFERENCE["scale"]))
def test_scale_matches_r(case: str) -> None:
    ref = REFERENCE["scale"][case]
    x = _numbers(ref["x"])
    params = scale_params(x, ref["center"], ref["scale"])
    for got, expected in ((params.center, ref["scaled_center"]), (params.scale, ref["scaled_scale"])):
        assert got is None if expected is None else got == pytest.approx(float(expected[0]), rel=1e-14)
    np.testing.assert_allclose(apply_scale(x, params), _numbers(ref["values"]), rtol=1e-14)


@pytest.mark.parametrize("case", list(REFERENCE["splines"]))
def test_splines_match_r_inside_and_beyond_the_boundary_knots(case: str) -> None:
    ref = REFERENCE["splines"][case]
    args = ref["args"] or {}
    kind = case[:2]
    x = _numbers(ref["x"])
    basis = learn_spline(x, kind, args.get("df"), args.get("degree", 3), bool(args.get("intercept", False)))
    np.testing.assert_allclose(basis.knots, _numbers(ref["knots"]), rtol=1e-14)
    np.testing.assert_allclose(basis.boundary, _numbers(ref["boundary"]), rtol=1e-14)
    np.testing.assert_allclose(spline_values(x, basis), _numbers(ref["values"]), rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(spline_values(_numbers(ref["newx"]), basis), _numbers(ref["predicted"]),
                               rtol=1e-10, atol=1e-12)


def test_spline_calls_learn_knots_and_reuse_them() -> None:
    data = pd.DataFrame({"x": [0.3, 1.7, 2.2, 5.0, 8.9, 9.1, 12.0, 2.2]})
    env = DataEnv(data)
    fitted = evaluate(parse_expr("ns(x, df = 4)"), env)
    assert fitted.shape == (8, 4)
    assert evaluate(parse_expr("bs(x, 5, degree = 2)"), env).shape == (8, 5)
    assert evaluate(parse_expr("ns(x)"), env).shape == (8,)
    new_env = DataEnv(data.iloc[[6, 0]], fitted=env.learned_transforms())
    np.testing.assert_allclose(evaluate(parse_expr("ns(x, df = 4)"), new_env), fitted[[6, 0]], atol=1e-12)
    with pytest.raises(FormulaError, match="argument 'knots' is not supported.*give df instead"):
        transform_call(parse_expr("bs(x, knots = 3)"))
    with pytest.raises(FormulaError, match="argument 'degree' is not supported in ns"):
        transform_call(parse_expr("ns(x, df = 3, degree = 2)"))


def test_poly_refuses_missing_values_and_too_high_degrees() -> None:
    with pytest.raises(DataError, match="missing values are not allowed in 'poly'.*1 missing, the first in row 1"):
        orthogonal_poly(np.array([1.0, np.nan, 3.0]), 1)
    with pytest.raises(DataError, match="'degree' must be less than number of unique points.*2 distinct values"):
        orthogonal_poly(np.array([1.0, 2.0, 2.0]), 2)


def test_calls_are_read_as_r_matches_arguments() -> None:
    call = transform_call(parse_expr("poly(Days, degree = 2)"))
    assert (call.fn, call.label, call.degree, call.raw) == ("poly", "poly(Days, degree = 2)", 2, False)
    call = transform_call(parse_expr("poly(x)"))
    assert call.degree == 1
    call = transform_call(parse_expr("scale(x, FALSE, scale = 2.5)"))
    assert (call.center, call.scale) == (False, 2.5)
    call = transform_call(parse_expr("scale(x, center = -1)"))
    assert (call.center, call.scale) == (-1.0, True)


@pytest.mark.parametrize(("text", "message"), [
    ("poly(x, 0)", "at least 1"),
    ("poly(x, 1.5)", "whole number"),
    ("poly(x, d)", "must be a constant"),
    ("poly(x, 2, coefs = 3)", "argument 'coefs' is not supported"),
    ("poly(x, z)", "must be a constant"),
    ("poly(x, z, 2)", "several variables"),
    ("scale(x, center = y)", "must be a constant"),
    ("scale(center = TRUE)", "needs a variable"),
])
def test_calls_refuse_what_they_cannot_do(text: str, message: str) -> None:
    with pytest.raises(FormulaError, match=message):
        transform_call(parse_expr(text))


# --------------------------------------------------------------------------- evaluation
@pytest.fixture
def data() -> pd.DataFrame:
    return pd.DataFrame({"x": [1.0, 2.0, 4.0, 7.0, 11.0], "g": list("aabbc"), "m": [1.0, np.nan, 2.0, 3.0, 4.0]})


def test_evaluation_records_what_each_call_learned(data: pd.DataFrame) -> None:
    env = DataEnv(data)
    value = evaluate(parse_expr("poly(x, 2) "), env)
    assert value.shape == (5, 2)
    scaled = evaluate(parse_expr("scale(x)"), env)
    np.testing.assert_allclose(scaled, (data["x"] - data["x"].mean()) / data["x"].std())
    evaluate(parse_expr("poly(x, 2, raw = TRUE)"), env)
    learned = env.learned_transforms()
    assert set(learned.params) == {"poly(x, 2)", "scale(x)"}
    assert isinstance(learned.get("poly(x, 2)"), PolyCoefs)
    assert learned.get("scale(x)") == ScaleParams(center=5.0, scale=float(data["x"].std()))


def test_new_rows_are_coded_with_the_fitted_parameters(data: pd.DataFrame) -> None:
    fitted_env = DataEnv(data)
    fitted_poly = evaluate(parse_expr("poly(x, 3)"), fitted_env)
    fitted_nested = evaluate(parse_expr("poly(scale(x), 2)"), fitted_env)
    new_env = DataEnv(data.iloc[[3, 1]], fitted=fitted_env.learned_transforms())
    np.testing.assert_allclose(evaluate(parse_expr("poly(x,3)"), new_env), fitted_poly[[3, 1]], atol=1e-12)
    np.testing.assert_allclose(evaluate(parse_expr("poly(scale(x), 2)"), new_env), fitted_nested[[3, 1]], atol=1e-12)
    assert new_env.learned_transforms() == LearnedTransforms()
    x = data["x"].to_numpy()
    np.testing.assert_allclose(evaluate(parse_expr("scale(x)"), new_env), (x[[3, 1]] - 5.0) / x.std(ddof=1))
    new_only = evaluate(parse_expr("scale(x, center = FALSE)"), new_env)  # not fitted: learned on these rows
    np.testing.assert_allclose(new_only, x[[3, 1]] / np.sqrt((49.0 + 4.0) / 1))
    assert list(new_env.learned_transforms().params) == ["scale(x, center = FALSE)"]


def test_one_column_is_a_vector_as_r_names_it_by_the_call(data: pd.DataFrame) -> None:
    env = DataEnv(data)
    assert evaluate(parse_expr("poly(x)"), env).shape == (5,)
    assert evaluate(parse_expr("poly(x, 1, raw = TRUE)"), env).shape == (5,)


def test_poly_of_missing_values_or_a_factor_is_refused(data: pd.DataFrame) -> None:
    with pytest.raises(DataError, match="missing values are not allowed in 'poly'.*the first in row 1"):
        evaluate(parse_expr("poly(m, 2)"), DataEnv(data))
    with pytest.raises(DataError, match="not meaningful for factors"):
        evaluate(parse_expr("poly(g, 2)"), DataEnv(data))
    raw = evaluate(parse_expr("poly(m, 2, raw = TRUE)"), DataEnv(data))
    assert np.isnan(raw[1]).all()  # R's raw polynomials allow missing values
    assert "poly" in SUPPORTED_FUNCTIONS and "scale" in SUPPORTED_FUNCTIONS
