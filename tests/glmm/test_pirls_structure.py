"""The compiled PIRLS's structure: the coupling block's pattern and the rest factor's, against direct counts."""

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.design.matrices import build_model_matrices
from mixedfx.glmm.model import GeneralizedLinearMixedModel
from mixedfx.glmm.pirls_structure import _sorted_unique, pirls_structure
from mixedfx.linalg.layout import TermLayout


def _layouts(seed=2, n=300, levels=(12, 7, 5)):
    rng = np.random.default_rng(seed)
    return [TermLayout(codes=rng.integers(0, k, n), z=rng.normal(size=(n, 1)), n_levels=k) for k in levels]


def test_coupling_pattern_lists_the_levels_each_first_level_meets():
    layouts = _layouts()
    X = np.random.default_rng(3).normal(size=(300, 2))
    structure = pirls_structure(layouts, X)
    p, q_rest = 2, 7 + 5
    assert structure.m == q_rest + p + 1 and structure.X_t.shape == (p, 300)
    np.testing.assert_array_equal(structure.u_offsets, [0, 12, 19, 24])
    np.testing.assert_array_equal(structure.rest_offsets, [0, 0, 7])
    np.testing.assert_array_equal(structure.row_scale_term, [1] * 7 + [2] * 5)
    first = layouts[0].codes
    for level in range(12):
        rows = structure.row_idx[structure.col_ptr[level]:structure.col_ptr[level + 1]]
        met = np.unique(np.concatenate([structure.rest_offsets[t] + layouts[t].codes[first == level]
                                        for t in (1, 2)]))
        np.testing.assert_array_equal(rows, np.concatenate([met, q_rest + np.arange(p + 1)]))
        assert structure.dense_pos[level] == structure.col_ptr[level] + len(met)
    for t in (1, 2):
        np.testing.assert_array_equal(structure.row_idx[structure.pos[t - 1]],
                                      structure.rest_offsets[t] + layouts[t].codes)
        np.testing.assert_array_equal(np.searchsorted(structure.col_ptr, structure.pos[t - 1], side="right") - 1,
                                      first)


def test_rest_pattern_by_rows_and_by_columns_agree_and_holds_every_pair_rows_meet():
    rng = np.random.default_rng(4)
    first = rng.integers(0, 600, 3000)
    group, region = first // 3, first // 30  # levels of the first term nested in 200 groups, in 20 regions
    layouts = [TermLayout(codes=c, z=np.ones((3000, 1)), n_levels=k) for c, k in ((first, 600), (group, 200),
                                                                                    (region, 20))]
    structure = pirls_structure(layouts, np.ones((3000, 1)))
    m = structure.m
    by_columns = np.zeros((m, m), dtype=bool)
    by_columns[structure.chol_col_idx, np.repeat(np.arange(m), np.diff(structure.chol_col_ptr))] = True
    by_rows = np.zeros((m, m), dtype=bool)
    by_rows[np.repeat(np.arange(m), np.diff(structure.chol_row_ptr)), structure.chol_row_idx] = True
    np.testing.assert_array_equal(by_columns, by_rows)
    assert not np.triu(by_columns).any()
    assert by_columns[200 + region, group].all()  # every pair of levels some row meets
    assert by_columns[m - 2:, : m - 2].all()  # the intercept's and the response's rows are full
    assert not by_columns[:200, :200].any()  # nested groups: no fill among them
    assert not structure.dense and len(structure.heavy) == 0 and len(structure.light) == 600


def test_nested_terms_keep_their_factor_sparse():
    formula = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)"
    matrices = build_model_matrices(formula, mfx.datasets.load("grouseticks"))
    model = GeneralizedLinearMixedModel(matrices, mfx.families.poisson(), 1)
    compiled = model.pirls_engines[1].kernel
    # BROOD is nested in LOCATION and INDEX in both: no fill beyond the response's row
    pattern_entries = len(compiled.structure.chol_col_idx)
    assert pattern_entries < 2 * compiled.m


@pytest.mark.parametrize("bound", [50, 10**9])
def test_sorted_unique_by_table_or_sort(bound):
    keys = np.random.default_rng(1).integers(0, 50, 200)
    np.testing.assert_array_equal(_sorted_unique(keys, bound), np.unique(keys))
