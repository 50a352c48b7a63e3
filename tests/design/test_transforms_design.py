"""poly() and scale() in the model frame and in new data: learned once on the whole data, kept in the design."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.design.frame import model_frame
from mixedfx.design.matrices import build_model_matrices
from mixedfx.design.newdata import new_data_matrices
from mixedfx.errors import DataError, FormulaError
from mixedfx.formula.transforms import PolyCoefs, ScaleParams, orthogonal_poly

SLEEP = mfx.datasets.load("sleepstudy")


def test_the_design_keeps_what_each_call_learned() -> None:
    mm = build_model_matrices("Reaction ~ poly(Days, 2) + scale(Days) + (poly(Days,2) | Subject)", SLEEP)
    learned = mm.spec.transforms
    assert set(learned.params) == {"poly(Days, 2)", "scale(Days)"}
    coefs = learned.get("poly(Days, 2)")
    assert isinstance(coefs, PolyCoefs)
    np.testing.assert_allclose(coefs.alpha, [4.5, 4.5])
    np.testing.assert_allclose(coefs.norm2, [1.0, 180.0, 1485.0, 9504.0])  # R's attr(poly(Days, 2), "coefs")
    assert learned.get("scale(Days)") == ScaleParams(center=4.5, scale=pytest.approx(SLEEP["Days"].std()))
    assert mm.x_names == ["(Intercept)", "poly(Days, 2)1", "poly(Days, 2)2"]
    assert mm.dropped == ["scale(Days)"]  # a multiple of poly(Days, 2)1, as R's rank check finds
    assert mm.re_terms[0].z_names == ["(Intercept)", "poly(Days, 2)1", "poly(Days, 2)2"]


def test_calls_are_evaluated_on_every_row_before_missing_rows_go() -> None:
    data = SLEEP.assign(Reaction=SLEEP["Reaction"].where(SLEEP["Days"] < 8))
    frame = model_frame("Reaction ~ poly(Days, 2) + (1 | Subject)", data)
    assert frame.n_dropped_na == 36
    whole, _ = orthogonal_poly(SLEEP["Days"].to_numpy(dtype=float), 2)
    np.testing.assert_allclose(frame.values["poly(Days, 2)"], whole[SLEEP["Days"] < 8], atol=1e-14)


def test_new_data_matrices_use_the_fitted_basis() -> None:
    mm = build_model_matrices("Reaction ~ poly(Days, 3) + (scale(Days) | Subject)", SLEEP)
    rows = [4, 95, 2, 179]
    new = new_data_matrices(mm, SLEEP.iloc[rows])
    np.testing.assert_allclose(new.X, mm.X[rows], atol=1e-12)
    np.testing.assert_allclose(new.re_terms[0].z, mm.re_terms[0].z[rows], atol=1e-12)


def test_missing_values_in_polys_argument_are_refused_as_r_does() -> None:
    data = SLEEP.assign(Days=SLEEP["Days"].astype(float).where(SLEEP.index != 7))
    with pytest.raises(DataError, match="missing values are not allowed in 'poly'.*first in row 7"):
        model_frame("Reaction ~ poly(Days, 2) + (1 | Subject)", data)
    frame = model_frame("Reaction ~ scale(Days) + (1 | Subject)", data)  # scale ignores them, the row then goes
    assert frame.n_dropped_na == 1


def test_degree_must_be_below_the_distinct_values() -> None:
    with pytest.raises(DataError, match="'degree' must be less than number of unique points"):
        model_frame("Reaction ~ poly(Days, 10) + (1 | Subject)", SLEEP)


def test_new_values_without_the_fitted_basis_would_differ() -> None:
    fit = mfx.lmer("Reaction ~ poly(Days, 2) + (1 | Subject)", data=SLEEP)
    newdata = pd.DataFrame({"Days": [0.0, 9.0], "Subject": ["308", "308"]})
    expected = fit.fixef["(Intercept)"] + fit.matrices.X[[0, 9], 1:] @ fit.fixef.to_numpy()[1:]
    np.testing.assert_allclose(fit.predict(newdata, re_form="NA"), expected, rtol=1e-12)


def test_other_matrix_valued_predictors_are_still_refused() -> None:
    with pytest.raises(FormulaError, match="several columns"):
        model_frame("Reaction ~ cbind(Days, Days) + (1 | Subject)", SLEEP)


def test_a_frame_given_what_the_calls_learned_elsewhere_codes_with_it() -> None:
    whole = build_model_matrices("Reaction ~ poly(Days, 2) + scale(Days) + (1 | Subject)", SLEEP).spec.transforms
    few = SLEEP[SLEEP["Days"] < 2]  # two distinct days: poly(Days, 2) could not learn on these rows
    frame = model_frame("Reaction ~ poly(Days, 2) + scale(Days) + (1 | Subject)", few, transforms=whole)
    assert frame.transforms == whole
    mm = build_model_matrices("Reaction ~ poly(Days, 2) + (1 | Subject)", SLEEP)
    np.testing.assert_allclose(frame.values["poly(Days, 2)"], mm.X[SLEEP["Days"] < 2, 1:], atol=1e-14)
    np.testing.assert_allclose(frame.values["scale(Days)"], (few["Days"] - 4.5) / SLEEP["Days"].std(), rtol=1e-12)
