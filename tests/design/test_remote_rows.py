"""RemoteRows: sizes read as an array's, any use of the values raises RowsElsewhereError saying what to do."""

import numpy as np
import pytest

from mixedfx.design.remote_rows import RemoteRows
from mixedfx.errors import MixedFxError, RowsElsewhereError


def test_shape_len_ndim_and_size_are_those_of_the_array():
    vector, matrix = RemoteRows((1_000_003,), "the response"), RemoteRows([1_000_003, np.int64(4)], "X")
    assert vector.shape == (1_000_003,) and matrix.shape == (1_000_003, 4)
    assert all(type(s) is int for s in matrix.shape)
    assert len(vector) == len(matrix) == 1_000_003
    assert vector.ndim == np.ndim(vector) == 1 and matrix.ndim == np.ndim(matrix) == 2
    assert np.shape(matrix) == (1_000_003, 4)
    assert vector.size == 1_000_003 and matrix.size == 4_000_012
    assert "X" in repr(matrix)


def _uses(rows):
    """Each a numpy-style use of the values."""
    ones = np.ones(rows.shape)
    return {
        "asarray": lambda: np.asarray(rows),
        "array": lambda: np.array(rows, dtype=float),
        "add": lambda: rows + 1.0,
        "radd": lambda: 1.0 + rows,
        "array plus": lambda: ones + rows,
        "plus array": lambda: rows + ones,
        "sub": lambda: rows - ones,
        "rsub": lambda: ones - rows,
        "mul": lambda: rows * 2,
        "rmul": lambda: 2 * rows,
        "array times": lambda: ones * rows,
        "div": lambda: rows / 2.0,
        "rdiv": lambda: 2.0 / rows,
        "pow": lambda: rows**2,
        "neg": lambda: -rows,
        "compare": lambda: rows > 0,
        "matmul": lambda: rows @ np.ones(rows.shape[-1]),
        "rmatmul": lambda: np.ones(rows.shape[0]) @ rows,
        "index": lambda: rows[0],
        "slice": lambda: rows[:10],
        "mask": lambda: rows[np.zeros(rows.shape[0], dtype=bool)],
        "iterate": lambda: list(rows),
        "column_stack": lambda: np.column_stack([rows, rows]),
        "column_stack with array": lambda: np.column_stack([ones, rows]),
        "sum": lambda: np.sum(rows),
        "mean method": lambda: rows.mean(),
        "astype": lambda: rows.astype(float),
        "ravel": lambda: np.ravel(rows),
    }


@pytest.mark.parametrize("shape", [(50,), (50, 3)])
@pytest.mark.parametrize("use", sorted(_uses(RemoteRows((2,), "")).keys()))
def test_every_use_of_the_values_raises_a_short_error_naming_ddf_compute(shape, use):
    rows = RemoteRows(shape, "the fixed-effects matrix")
    with pytest.raises(RowsElsewhereError) as info:
        _uses(rows)[use]()
    message = str(info.value)
    assert len(message) < 600
    assert "ddf.compute()" in message
    assert message.startswith("the fixed-effects matrix")
    assert isinstance(info.value, MixedFxError)


def test_in_place_arithmetic_on_remote_rows_raises_too():
    rows = RemoteRows((5,), "the offset")
    with pytest.raises(RowsElsewhereError, match=r"ddf\.compute\(\)"):
        rows += 1
    with pytest.raises(RowsElsewhereError, match=r"ddf\.compute\(\)"):
        rows *= np.ones(5)


def test_numpy_ufuncs_and_in_place_updates_of_arrays_raise_the_same_error():
    rows = RemoteRows((3,), "the response")
    target = np.zeros(3)
    for use in (lambda: np.exp(rows), lambda: np.add(target, rows), lambda: np.maximum(rows, 0.0)):
        with pytest.raises(RowsElsewhereError, match=r"ddf\.compute\(\)"):
            use()
    with pytest.raises(RowsElsewhereError, match=r"ddf\.compute\(\)"):
        target += rows
