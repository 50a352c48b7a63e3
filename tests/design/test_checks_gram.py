"""lme4's response checks read from [X y-offset]' W [X y-offset] and the row sizes refuse what the rows refuse.

Each case is checked twice: through ``mixedfx.lmer_design`` on the rows, and
through ``check_lmer_response`` / ``check_residual_variation`` given only the
Gram matrix and the row sizes, the rows replaced by RemoteRows (which raise if read).
"""

from dataclasses import replace

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.design.checks import check_lmer_response, check_residual_variation
from mixedfx.design.remote_rows import RemoteRows
from mixedfx.errors import DataError

FORMULA = "r ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def rows(sleep):
    rng = np.random.default_rng(8)
    data = sleep.copy()
    data["w"] = rng.uniform(0.5, 2.0, len(data))
    data["r"] = data["Reaction"]
    return data


@pytest.fixture(scope="module")
def offset(rows):
    return np.random.default_rng(9).normal(0.0, 5.0, len(rows))


def _gram(matrices, y, offset, weights):
    """[X y-offset]' W [X y-offset] formed in numpy."""
    M = np.column_stack([np.asarray(matrices.X, dtype=float), y - offset])
    w = np.ones(len(y)) if weights is None else weights
    with np.errstate(over="ignore", invalid="ignore"):
        return M.T @ (M * w[:, None])


def _elsewhere(matrices):
    """The matrices with their row-wise arrays replaced by RemoteRows, as a fit from a Dask frame holds them."""
    n, p = matrices.X.shape
    return replace(matrices, y=RemoteRows((n,), "the response"), X=RemoteRows((n, p), "X"),
                   offset=RemoteRows((n,), "the offset"),
                   weights=None if matrices.weights is None else RemoteRows((n,), "the weights"))


def _row_sizes(y, weights):
    largest = float(np.max(np.abs(y)))
    scale = None if weights is None else float(np.exp(np.mean(np.log(weights[weights > 0]))))
    return largest, scale


def _by_gram(rows, y, *, weighted, offset=None):
    """Run the Gram-based checks of response ``y`` (X built from the valid response's design)."""
    template = mfx.lmer_design("Reaction ~ Days + (Days | Subject)", rows, weights="w" if weighted else None,
                               offset=offset)
    weights = template.weights
    gram = _gram(template, y, np.zeros(len(y)) if offset is None else offset, weights)
    remote = replace(_elsewhere(template), response_name="r")
    check_lmer_response(remote, row_sizes=_row_sizes(y, weights))
    check_residual_variation(remote, gram)


def _by_rows(rows, y, *, weighted, offset=None):
    mfx.lmer_model(mfx.lmer_design(FORMULA, rows.assign(r=y), weights="w" if weighted else None, offset=offset))


def _both_refuse(rows, y, match, *, weighted=False, offset=None):
    with pytest.raises(DataError, match=match):
        _by_rows(rows, y, weighted=weighted, offset=offset)
    with pytest.raises(DataError, match=match):
        _by_gram(rows, y, weighted=weighted, offset=offset)


def _both_accept(rows, y, *, weighted=False, offset=None):
    _by_rows(rows, y, weighted=weighted, offset=offset)
    _by_gram(rows, y, weighted=weighted, offset=offset)


EXACT = "fit the response r exactly"


@pytest.mark.parametrize("weighted", [False, True])
def test_a_normal_response_is_accepted(rows, weighted):
    _both_accept(rows, rows["Reaction"].to_numpy(), weighted=weighted)


@pytest.mark.parametrize("weighted", [False, True])
def test_a_linear_function_of_x_is_refused(rows, weighted):
    _both_refuse(rows, 2.0 + 3.0 * rows["Days"].to_numpy(), EXACT, weighted=weighted)


def test_a_constant_response_is_refused(rows):
    _both_refuse(rows, np.full(len(rows), 5.0), EXACT)
    _both_refuse(rows, np.zeros(len(rows)), EXACT)


def test_the_offset_plus_a_linear_function_of_x_is_refused_and_accepted_without_the_offset(rows, offset):
    y = offset + 2.0 - 7.0 * rows["Days"].to_numpy()
    _both_refuse(rows, y, EXACT, offset=offset)
    _both_refuse(rows, y, EXACT, weighted=True, offset=offset)
    _both_accept(rows, y)


def test_a_nearly_linear_response_is_accepted(rows):
    noise = np.random.default_rng(4).normal(0.0, 1e-3, len(rows))
    _both_accept(rows, 2.0 + 3.0 * rows["Days"].to_numpy() + noise)


def test_a_response_too_large_or_too_small_is_refused(rows):
    reaction = rows["Reaction"].to_numpy()
    _both_refuse(rows, reaction * 1e160, "overflow")
    _both_refuse(rows, reaction * 1e-160, "underflow")


def test_weights_far_from_one_are_refused(rows):
    heavy = rows.assign(w=rows["w"] * 1e12)
    _both_refuse(heavy, rows["Reaction"].to_numpy(), r"weights \(w\)", weighted=True)
