"""A parametric bootstrap spread over a Dask cluster gives what it gives in one process for the same seed."""

from __future__ import annotations

import numpy as np
import pytest

import mixedfx as mfx


def test_cluster_bootstrap_equals_the_one_process_bootstrap(slopes, client):
    here = mfx.bootstrap(slopes, lambda f: f.fixef, nsim=24, seed=7)
    there = mfx.bootstrap(slopes, lambda f: f.fixef, nsim=24, seed=7, client=client)
    np.testing.assert_allclose(there.t.to_numpy(), here.t.to_numpy(), rtol=1e-8)
    assert list(there.t.columns) == ["(Intercept)", "Days"] and there.seed == here.seed
    assert not np.allclose(there.t.iloc[0], there.t.iloc[1])  # every simulation draws its own response


def test_cluster_bootstrap_of_a_glmer_and_through_pb_modcomp(client):
    cbpp = mfx.datasets.load("cbpp")
    herd = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")
    here = herd.bootstrap(lambda f: f.theta, nsim=8, seed=3)
    there = herd.bootstrap(lambda f: f.theta, nsim=8, seed=3, client=client)
    np.testing.assert_allclose(there.t.to_numpy(), here.t.to_numpy(), rtol=1e-6)
    small = mfx.glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", cbpp, family="binomial")
    test_here = mfx.pb_modcomp(herd, small, nsim=8, seed=2).test
    test_there = mfx.pb_modcomp(herd, small, nsim=8, seed=2, client=client).test
    np.testing.assert_allclose(test_there.to_numpy(dtype=float), test_here.to_numpy(dtype=float), rtol=1e-6)


def test_client_and_n_jobs_together_are_refused(slopes, client):
    with pytest.raises(ValueError, match="either n_jobs .* or client"):
        mfx.bootstrap(slopes, lambda f: f.fixef, nsim=4, n_jobs=2, client=client)


def test_a_client_that_is_not_a_dask_client_is_a_type_error(slopes):
    with pytest.raises(TypeError, match="client must be a dask.distributed Client, not str"):
        mfx.bootstrap(slopes, lambda f: f.fixef, nsim=4, client="tcp://127.0.0.1:8786")


def test_bootstrap_intervals_and_tidy_run_on_the_cluster(slopes, client):
    here = slopes.confint(method="boot", nsim=40, seed=5, parm="beta_")
    there = slopes.confint(method="boot", nsim=40, seed=5, parm="beta_", client=client)
    np.testing.assert_allclose(there.to_numpy(), here.to_numpy(), rtol=1e-8)
    table = slopes.tidy(effects="fixed", conf_int=True, conf_method="boot", nsim=40, seed=5, client=client)
    np.testing.assert_allclose(table[["conf.low", "conf.high"]].to_numpy(), here.to_numpy(), rtol=1e-8)
