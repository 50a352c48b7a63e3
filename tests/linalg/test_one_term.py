"""The compiled single-term factor against the blocked factor's own accounting."""

from dataclasses import replace

import numpy as np
import pytest

from mixedfx.linalg.cross import cross_products, transform_dense, with_response
from mixedfx.linalg.factorizer import OneTermFactorizer, ScalarDenseFactorizer, SmallScalarFactorizer, factorizer_for
from mixedfx.linalg.layout import TermLayout
from mixedfx.linalg.one_term import (
    class_criterion_parts,
    criterion_parts,
    factor_one_term,
    level_classes,
    level_grouping,
    scalar_criterion_parts,
)


def _blocks(rng, n=300, n_levels=20, k=3, p=2, weights=None):
    codes = rng.integers(0, n_levels, n)
    codes[:n_levels] = np.arange(n_levels)
    z = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(k - 1)])
    X = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(p - 1)])
    y = rng.normal(size=n)
    cp = cross_products([TermLayout(codes=codes, z=z, n_levels=n_levels)], X, y, weights)
    assert isinstance(factorizer_for(cp), OneTermFactorizer)
    return cp, X, y


def test_parts_are_the_factors_log_determinants_and_residual():
    rng = np.random.default_rng(4)
    cp, _, _ = _blocks(rng, weights=rng.uniform(0.5, 2.0, 300))
    theta = np.array([0.9, 0.2, -0.3, 0.7, 0.1, 0.4])
    status, l11, l_r1, l_rr = factor_one_term(*OneTermFactorizer(cp).blocks, theta)
    assert status == 0 and l_r1.shape == (3, 60)
    assert np.allclose(np.triu(l_rr, 1), 0.0)
    status, logdet_re, logdet_x, pwrss = criterion_parts(*OneTermFactorizer(cp).blocks, theta)
    assert status == 0
    assert logdet_re == pytest.approx(2 * np.log(np.diagonal(l11, axis1=1, axis2=2)).sum(), rel=1e-13)
    assert logdet_x == pytest.approx(2 * np.log(np.diag(l_rr)[:2]).sum(), rel=1e-13)
    assert pwrss == pytest.approx(l_rr[-1, -1] ** 2, rel=1e-13)


def test_a_response_fitted_exactly_leaves_a_zero_last_pivot():
    rng = np.random.default_rng(6)
    n = 200
    codes = np.arange(n) % 10
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ [1.0, 2.0]
    cp = cross_products([TermLayout(codes=codes, z=np.ones((n, 1)), n_levels=10)], X, y)
    status, _, _, pwrss = criterion_parts(*OneTermFactorizer(cp).blocks, np.array([0.0]))
    # the residual is rounding of either sign, clamped at zero: bounded by the rounding of y'y
    assert status == 0 and 0.0 <= pwrss <= n * np.finfo(float).eps * (y @ y)


@pytest.mark.parametrize("weighted", [False, True])
def test_scalar_parts_match_the_blocked_factor(weighted):
    rng = np.random.default_rng(7)
    n = 240
    codes = [np.arange(n) % 24, rng.integers(0, 6, n), rng.integers(0, 4, n)]
    layouts = [TermLayout(codes=c, z=np.ones((n, 1)), n_levels=int(c.max()) + 1) for c in codes]
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = rng.normal(size=n)
    cp = cross_products(layouts, X, y, rng.uniform(0.5, 2.0, n) if weighted else None)
    assert isinstance(factorizer_for(cp), SmallScalarFactorizer)
    theta = np.array([0.8, 1.7, 0.3])
    status, logdet_re, logdet_x, pwrss = scalar_criterion_parts(*SmallScalarFactorizer(cp).blocks, theta)
    factor = ScalarDenseFactorizer(cp).factor(theta)  # numpy's products and LAPACK's Cholesky
    assert status == 0
    assert logdet_re == pytest.approx(factor.logdet_re, rel=1e-12)
    assert logdet_x == pytest.approx(factor.logdet_x, rel=1e-12)
    assert pwrss == pytest.approx(factor.pwrss, rel=1e-12)
    compiled = SmallScalarFactorizer(cp).factor(theta)  # the compiled pass's whole factor
    for part in ("l11", "l_rr", "l_r1"):
        np.testing.assert_allclose(getattr(compiled, part), getattr(factor, part), rtol=1e-12, atol=1e-12)
    for mine, reference in zip(compiled.solve_coefficients(), factor.solve_coefficients()):
        np.testing.assert_allclose(mine, reference, rtol=1e-10)
    collinear = cross_products(layouts, np.column_stack([X, X[:, 1]]), y)
    assert scalar_criterion_parts(*SmallScalarFactorizer(collinear).blocks, theta)[0] == 1


def _balanced(rng, n_levels=40, times=(0.0, 1.0, 2.0, 3.0), k=2, p=3, collinear=False):
    """Every level seen at the same times: one Z'Z block for all levels, as in sleepstudy."""
    n_times = len(times)
    codes = np.repeat(np.arange(n_levels), n_times)
    t = np.tile(np.asarray(times), n_levels)
    z = np.column_stack([t**j for j in range(k)])
    X = np.column_stack([np.ones(codes.size)] + [rng.normal(size=codes.size) for _ in range(p - 1)])
    if collinear:
        X = np.column_stack([X, X[:, -1]])
    return cross_products([TermLayout(codes=codes, z=z, n_levels=n_levels)], X, rng.normal(size=codes.size))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_level_classes_give_the_per_level_criterion(k):
    rng = np.random.default_rng(8)
    cp = _balanced(rng, k=k)
    classes = level_classes(*OneTermFactorizer(cp).blocks[:2])
    assert classes is not None and classes.counts.tolist() == [40.0]
    theta = np.array([0.9, 0.2, -0.3, 0.7, 0.1, 0.4][: k * (k + 1) // 2])
    by_level = criterion_parts(*OneTermFactorizer(cp).blocks, theta)
    by_class = class_criterion_parts(*classes, OneTermFactorizer(cp).blocks[2], theta)
    assert by_class[0] == by_level[0] == 0
    assert by_class[1:] == pytest.approx(by_level[1:], rel=1e-11)


def test_level_classes_group_unbalanced_levels():
    rng = np.random.default_rng(9)
    # 30 levels seen at times 0..3 and 20 seen at times 0..1: two classes
    codes = np.concatenate([np.repeat(np.arange(30), 4), np.repeat(np.arange(30, 50), 2)])
    t = np.concatenate([np.tile([0.0, 1.0, 2.0, 3.0], 30), np.tile([0.0, 1.0], 20)])
    X = np.column_stack([np.ones(codes.size), rng.normal(size=codes.size)])
    z = np.column_stack([np.ones_like(t), t])
    cp = cross_products([TermLayout(codes=codes, z=z, n_levels=50)], X, rng.normal(size=codes.size))
    classes = level_classes(*OneTermFactorizer(cp).blocks[:2])
    assert classes is not None and sorted(classes.counts.tolist()) == [20.0, 30.0]
    theta = np.array([1.1, -0.2, 0.5])
    assert class_criterion_parts(*classes, OneTermFactorizer(cp).blocks[2], theta)[1:] == pytest.approx(
        criterion_parts(*OneTermFactorizer(cp).blocks, theta)[1:], rel=1e-11)


def test_level_classes_decline_when_every_level_differs():
    rng = np.random.default_rng(10)
    cp, _, _ = _blocks(rng, weights=rng.uniform(0.5, 2.0, 300))
    assert level_classes(*OneTermFactorizer(cp).blocks[:2]) is None


def test_collinear_fixed_effects_fail_the_class_criterion_too():
    cp = _balanced(np.random.default_rng(11), collinear=True)
    classes = level_classes(*OneTermFactorizer(cp).blocks[:2])
    assert class_criterion_parts(*classes, OneTermFactorizer(cp).blocks[2], np.array([0.5, 0.0, 0.5]))[0] == 1


def test_a_new_response_keeps_the_levels_grouping_and_changes_only_the_products():
    """with_cross (a refit's) reuses the grouping of a11, which a response does not change."""
    rng = np.random.default_rng(12)
    cp = _balanced(rng)
    first = OneTermFactorizer(cp)
    other = with_response(cp, rng.normal(size=cp.a_r1.shape[1] + cp.layout.p), 3.0)
    again = first.with_cross(other)
    assert again.grouping is first.grouping
    fresh = OneTermFactorizer(other)
    theta = np.array([0.8, -0.1, 0.3])
    assert again.criterion_parts(theta) == fresh.criterion_parts(theta)
    assert again.criterion_parts(theta) != first.criterion_parts(theta)
    assert first.with_cross(transform_dense(cp, np.eye(cp.layout.p + 1)[:, 1:])).grouping is first.grouping
    regrouped = first.with_cross(replace(cp, a11=cp.a11.copy()))  # other blocks: grouped anew
    assert regrouped.grouping is not first.grouping
    np.testing.assert_array_equal(regrouped.grouping.codes, first.grouping.codes)


def test_xy_gram_is_the_fixed_effects_and_responses_cross_products():
    rng = np.random.default_rng(13)
    w = rng.uniform(0.5, 2.0, 300)
    cp, X, y = _blocks(rng, weights=w)
    xy = np.column_stack([X, y])
    np.testing.assert_allclose(cp.xy_gram, xy.T @ (w[:, None] * xy), rtol=1e-12)


@pytest.mark.parametrize("n_levels", [5, 64, 65, 300])
def test_levels_are_grouped_by_identical_blocks_numbered_as_first_seen(n_levels):
    """Few levels are grouped by a dict of their bytes, many by pandas' factorize: the same grouping."""
    rng = np.random.default_rng(n_levels)
    blocks = rng.normal(size=(4, 2, 2))
    blocks[3] = -0.0 * blocks[3]  # -0.0 differs from 0.0 bit for bit: its own class
    blocks[2] = 0.0
    a11 = blocks[rng.integers(0, 4, n_levels)]
    grouping = level_grouping(a11)
    first_seen = {}
    expected = [first_seen.setdefault(a11[i].tobytes(), len(first_seen)) for i in range(n_levels)]
    assert grouping.codes.tolist() == expected
    assert grouping.counts.tolist() == np.bincount(expected).tolist()
    np.testing.assert_array_equal(a11[grouping.representative][grouping.codes], a11)


def test_identical_blocks_make_one_class_and_signed_zeros_two():
    """A balanced design's levels share one block: one class, found without grouping level by level."""
    a11 = np.tile(np.array([[2.0, 1.0], [1.0, 3.0]]), (7, 1, 1))
    grouping = level_grouping(a11)
    assert grouping.codes.tolist() == [0] * 7 and grouping.counts.tolist() == [7.0]
    a11[:, 0, 1] = 0.0
    a11[4, 0, 1] = -0.0  # equal as a number, not bit for bit: the grouping is by bits
    assert level_grouping(a11).counts.tolist() == [6.0, 1.0]
