"""A random-effects term's columns taken from X where X holds them, and R's default coding where X has others."""

import numpy as np
import pandas as pd
import pytest
from mixedfx.design.frame import model_frame
from mixedfx.design.matrices import build_model_matrices
from mixedfx.design.reterms import build_re_term


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = 60
    return pd.DataFrame({"y": rng.normal(size=n), "x": rng.normal(size=n),
                         "f": pd.Categorical(rng.choice(list("abc"), n)), "g": np.repeat(list("pqrstu"), 10)})


@pytest.mark.parametrize("formula", ["y ~ x + f + (x + f | g)", "y ~ x * f + (x:f | g)", "y ~ 1 + (1 | g)",
                                     "y ~ x + (0 + f | g)"])
def test_term_from_x_equals_its_own_model_matrix(data: pd.DataFrame, formula: str) -> None:
    design = build_model_matrices(formula, data)
    own, _ = build_re_term(model_frame(formula, data), 0)  # without X: the term's own model matrix
    assert design.re_terms[0].z_names == own.z_names
    np.testing.assert_array_equal(design.re_terms[0].z, own.z)  # copies and the same products, not sums
    assert design.re_terms[0].z.flags.c_contiguous


def test_term_keeps_default_contrasts_where_x_has_others(data: pd.DataFrame) -> None:
    # a matrix whose columns are named as the levels: X's "fb" and "fc" are not the term's indicators
    coding = pd.DataFrame([[-1.0, -1.0], [1.0, 0.0], [0.0, 1.0]], index=list("abc"), columns=["b", "c"])
    design = build_model_matrices("y ~ f + (f | g)", data, contrasts={"f": coding})
    term = design.re_terms[0]
    assert design.x_names == term.z_names == ["(Intercept)", "fb", "fc"]
    codes = data["f"].cat.codes.to_numpy()
    np.testing.assert_array_equal(term.z[:, 1:], np.column_stack([codes == 1, codes == 2]).astype(float))
    np.testing.assert_array_equal(design.X[:, 1], coding.to_numpy()[codes, 0])
