"""R's logit and log clamps: R's values at and beyond the thresholds, the same from numpy and from numba."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from mixedfx.glmm.link_clamps import LOGIT_THRESHOLD, clamp_logit_mu_eta, log_mean, logit_odds
from mixedfx.rbase.rmath import DBL_EPSILON

ABOVE = np.nextafter(LOGIT_THRESHOLD, np.inf)
ETA = np.array([-np.inf, -800.0, -31.0, -ABOVE, -30.0, -2.5, 0.0, 1.0, 30.0, ABOVE, 31.0, 800.0, np.inf, np.nan])
BELOW_RANGE, IN_RANGE, ABOVE_RANGE = ETA < -30, np.abs(ETA) <= 30, ETA > 30


def test_logit_odds_follow_rs_c_code():
    odds = logit_odds(ETA)
    assert np.all(odds[BELOW_RANGE] == DBL_EPSILON) and np.all(odds[ABOVE_RANGE] == 1.0 / DBL_EPSILON)
    np.testing.assert_array_equal(odds[IN_RANGE], np.exp(ETA[IN_RANGE]))
    assert np.isnan(odds[-1])


def test_logit_mu_eta_is_held_beyond_the_threshold_only():
    held = clamp_logit_mu_eta(ETA, np.full(ETA.size, 0.125))
    np.testing.assert_array_equal(held, np.where(np.abs(ETA) > 30, DBL_EPSILON, 0.125))
    assert held[-1] == 0.125  # R's fabs(NaN) > THRESH is false


def test_log_mean_is_at_least_machine_epsilon():
    with np.errstate(over="ignore"):
        np.testing.assert_array_equal(log_mean(ETA), np.maximum(np.exp(ETA), DBL_EPSILON))


@pytest.mark.parametrize(("rule", "args", "held"), [
    (logit_odds, (), ~IN_RANGE), (clamp_logit_mu_eta, (0.125,), ~IN_RANGE), (log_mean, (), ETA < -36.05)],
    ids=["logit_odds", "clamp_logit_mu_eta", "log_mean"])
def test_compiled_for_one_value_as_numpy_computes_it_for_an_array(rule, args, held):
    compiled = numba.njit(error_model="numpy")(rule)
    with np.errstate(over="ignore"):
        want = rule(ETA, *args)
    got = np.array([compiled(eta, *args) for eta in ETA])
    # numba's exp and numpy's vectorised exp may differ in the last bit
    np.testing.assert_allclose(got, want, rtol=4 * DBL_EPSILON, atol=0.0)
    np.testing.assert_array_equal(got[held], want[held])


def test_scalars_in_plain_python():
    assert logit_odds(-40.0) == DBL_EPSILON and logit_odds(0.0) == 1.0
    assert clamp_logit_mu_eta(-30.5, 0.2) == DBL_EPSILON and clamp_logit_mu_eta(-30.0, 0.2) == 0.2
    assert log_mean(-50.0) == DBL_EPSILON
