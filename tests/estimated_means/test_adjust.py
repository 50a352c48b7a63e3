"""The studentized range and p.adjust against R 4.2, and emmeans' rules for changing an adjustment."""

from __future__ import annotations

import numpy as np
import pytest

from mixedfx.estimated_means.adjust import Family, adjusted_p_values, critical_values, p_adjust, resolve_adjust
from mixedfx.estimated_means.studentized_range import ptukey, qtukey
from tests.estimated_means import REFERENCE, numbers

DISTRIBUTIONS = REFERENCE["distributions"]
# nmath's quadratures written over arrays: the same sums in another order
PTUKEY_RTOL = 1e-12
PTUKEY_ATOL = 1e-13  # tail probabilities of 1e-6 keep only 1e-13 of absolute accuracy in either
# nmath's secant search on our ptukey: the same iterates to rounding
QTUKEY_RTOL = 1e-10


def test_ptukey_matches_nmath():
    ref = DISTRIBUTIONS["ptukey"]
    upper = ptukey(numbers(ref["q"]), numbers(ref["nmeans"]), numbers(ref["df"]), lower_tail=False)
    want = numbers(ref["upper"])
    assert np.array_equal(np.isnan(upper), np.isnan(want))
    np.testing.assert_allclose(upper, want, rtol=PTUKEY_RTOL, atol=PTUKEY_ATOL)


def test_qtukey_matches_nmath():
    ref = DISTRIBUTIONS["qtukey"]
    got = [qtukey(p, k, df) for p, k, df in zip(numbers(ref["p"]), numbers(ref["nmeans"]), numbers(ref["df"]))]
    np.testing.assert_allclose(got, numbers(ref["quantile"]), rtol=QTUKEY_RTOL)


@pytest.mark.parametrize("method", ["holm", "hochberg", "hommel", "bonferroni", "BH", "BY", "fdr", "none"])
def test_p_adjust_matches_r(method):
    ref = DISTRIBUTIONS["p_adjust"]
    np.testing.assert_allclose(p_adjust(numbers(ref["p"]), method), numbers(ref[method]), rtol=1e-14)


def test_p_adjust_counts_tests_beyond_the_given_ones():
    ref = DISTRIBUTIONS["p_adjust"]
    for method in ("holm", "hommel"):
        np.testing.assert_allclose(p_adjust(numbers(ref["p"]), method, n=10), numbers(ref[f"{method}_n10"]),
                                   rtol=1e-14)


def test_tukey_beyond_pairwise_comparisons_becomes_sidak():
    not_pairs = Family(size=3, groups=(np.arange(3),), pairs=False, ranks=(2, 2, 2)[:1])
    t, df = np.array([0.5, 1.5, 2.5]), np.full(3, 20.0)
    tukey = adjusted_p_values(t, df, "tukey", not_pairs)
    assert tukey.method == "sidak"
    np.testing.assert_allclose(tukey.values, adjusted_p_values(t, df, "sidak", not_pairs).values)
    assert critical_values(0.95, df, "tukey", not_pairs).method == "sidak"


def test_one_row_per_family_is_not_adjusted():
    single = Family(size=2, groups=(np.array([0]), np.array([1])), pairs=True, ranks=(1, 1))
    result = adjusted_p_values(np.array([2.0, 1.0]), np.full(2, 10.0), "bonferroni", single)
    assert result.method == "none" and result.note is None
    np.testing.assert_allclose(result.values, adjusted_p_values(np.array([2.0, 1.0]), np.full(2, 10.0), "none",
                                                                single).values)


def test_p_adjust_methods_give_bonferroni_intervals():
    family = Family(size=3, groups=(np.arange(3),), pairs=True, ranks=(2,))
    holm = critical_values(0.95, np.full(3, 30.0), "holm", family)
    assert holm.method == "bonferroni"
    assert holm.note == "Conf-level adjustment: bonferroni method for 3 estimates"


def test_unknown_adjustment_names_the_choices():
    with pytest.raises(ValueError, match="adjust must be one of tukey, scheffe.*not 'turkey'"):
        resolve_adjust("turkey")
