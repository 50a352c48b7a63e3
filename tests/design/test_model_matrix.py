"""matrix_spec: a spec of numeric variables is formed once per formula and variable widths; factors' never."""

import numpy as np
import pandas as pd
import pytest

from mixedfx.design.frame import model_frame
from mixedfx.design.model_matrix import matrix_spec, matrix_width
from mixedfx.errors import DataError
from mixedfx.formula.bars import parse_formula


def _frame(formula: str, rows: int = 6):
    data = pd.DataFrame({"y": np.arange(rows, dtype=float), "x": np.linspace(0.0, 1.0, rows),
                         "w": np.linspace(1.0, 2.0, rows) ** 2, "g": list("ab" * (rows // 2))})
    return model_frame(parse_formula(formula), data)


def test_a_numeric_spec_is_the_same_for_other_rows_and_names_the_columns():
    first, second = _frame("y ~ x * w + (x | g)"), _frame("y ~ x * w + (x | g)", rows=8)
    spec = matrix_spec(first.fixed, first.values)
    assert spec.names == ("(Intercept)", "x", "w", "x:w") and not spec.factors
    assert matrix_spec(second.fixed, second.values) is spec
    assert matrix_width(second.fixed, second.values) == (4, 0)


def test_a_matrix_variable_of_other_width_gets_its_own_spec():
    two, three = _frame("y ~ poly(x, 2) + (1 | g)"), _frame("y ~ poly(x, 3) + (1 | g)")
    assert matrix_spec(two.fixed, two.values).names[1:] == ("poly(x, 2)1", "poly(x, 2)2")
    assert len(matrix_spec(three.fixed, three.values).names) == 4
    values = dict(two.values, **{"poly(x, 2)": np.zeros((6, 3))})  # the same terms, a variable now 3 wide
    assert matrix_spec(two.fixed, values).names[1:] == ("poly(x, 2)1", "poly(x, 2)2", "poly(x, 2)3")


def test_factors_and_the_contrasts_argument_are_coded_every_time():
    frame = _frame("y ~ x + g + (1 | g)")
    spec = matrix_spec(frame.fixed, frame.values)
    assert spec.names == ("(Intercept)", "x", "gb") and "g" in spec.factors
    assert matrix_spec(frame.fixed, frame.values) is not spec
    numeric = _frame("y ~ x + (1 | g)")
    with pytest.raises(DataError, match="contrasts apply only to factors"):
        matrix_spec(numeric.fixed, numeric.values, {"x": "contr.sum"})
