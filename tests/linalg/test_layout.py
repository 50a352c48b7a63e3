"""The theta layout: template columns and the start that moves boundary variances inward."""

import numpy as np
import pytest

from mixedfx.linalg.layout import lambda_template, theta_columns, theta_lower_bounds, theta_moved_inward


@pytest.mark.parametrize("ks", [[1], [2], [4, 4], [3, 1, 2]])
def test_columns_start_on_the_diagonals_and_cover_the_entries_below(ks):
    columns = theta_columns(ks)
    lower = theta_lower_bounds(ks)
    heads = [int(c[0]) for c in columns]
    assert np.all(lower[heads] == 0.0)
    below = np.concatenate([c[1:] for c in columns]) if columns else np.zeros(0, dtype=int)
    # every entry below a diagonal belongs to exactly one column, every head is a diagonal
    assert sorted(below.tolist()) == np.flatnonzero(np.isinf(lower)).tolist()
    assert len(columns) == sum(k - 1 for k in ks)


def test_moved_inward_adds_only_the_bump_to_the_covariance():
    theta = np.array([1.2, 0.4, -0.3, 0.0, 1.5, 0.6, 0.9])  # (3 | g) with its second diagonal on 0, then (1 | h)
    moved = theta_moved_inward(theta, [3, 1], 0.01, 0.1)
    before = lambda_template(theta[:6], 3)
    after = lambda_template(moved[:6], 3)
    bump = np.diag([0.0, (0.1 * np.linalg.norm(before, axis=1).max()) ** 2, 0.0])  # a tenth of the largest sd
    np.testing.assert_allclose(after @ after.T, before @ before.T + bump, rtol=1e-12, atol=1e-12)
    assert after[1, 1] > 0.0 and after[2, 1] == pytest.approx(0.0, abs=1e-12)
    assert moved[6] == theta[6]


def test_moved_inward_counts_small_diagonals_relative_to_the_largest():
    theta = np.array([100.0, 1.0, 0.0, 0.5, 0.0, 3.0])  # the diagonal 0.5 is under 1 % of 100
    assert theta_moved_inward(theta, [3], 0.01, 0.1) is not None
    assert theta_moved_inward(theta, [3], 0.001, 0.1) is None


def test_moved_inward_raises_a_variance_held_by_a_correlation_near_one():
    # the slope's own diagonal is 1e-3 of its standard deviation: a correlation of -0.9999995, inside the bounds
    theta = np.array([1.0, -2.0, 0.001])
    after = lambda_template(theta_moved_inward(theta, [2], 0.01, 0.1), 2)
    before = lambda_template(theta, 2)
    bump = np.diag([0.0, (0.1 * np.linalg.norm(before, axis=1).max()) ** 2])
    np.testing.assert_allclose(after @ after.T, before @ before.T + bump, rtol=1e-12, atol=1e-12)
    assert theta_moved_inward(np.array([1.0, -2.0, 0.5]), [2], 0.01, 0.1) is None
    assert theta_moved_inward(theta, [2], 0.01, 0.1, collinear=False) is None  # BOBYQA's fits: not checked


@pytest.mark.parametrize("theta, ks", [(np.array([0.0, 0.7]), [1, 1]),       # scalar terms: lme4's edge check
                                       (np.array([1.0, 0.3, 0.0]), [2]),     # only the last diagonal on 0
                                       (np.array([1.0, 0.3, 0.8]), [2])])    # nothing on the boundary
def test_moved_inward_leaves_what_the_edge_check_covers(theta, ks):
    assert theta_moved_inward(theta, ks, 0.01, 0.1) is None
