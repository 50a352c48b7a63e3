"""PIRLS by rounds over kept partitions runs the in-memory Python PIRLS's iterations on the summed blocks."""

import threading
from concurrent.futures import ThreadPoolExecutor

import dask.dataframe as dd
import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.families import get_family
from mixedfx.partitioned.glmer_model import partitioned_glmer_model
from mixedfx.partitioned.request import pass_request

_FORMULA = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def models(client):
    """The in-memory model (Python PIRLS) and the model of the same rows in four partitions on the cluster."""
    cbpp = mfx.datasets.load("cbpp")
    here = mfx.glmer_model(mfx.glmer_design(_FORMULA, cbpp, family="binomial"), family="binomial",
                           control={"compiled_pirls": False})
    frame = dd.from_pandas(cbpp, npartitions=4)
    there = partitioned_glmer_model(frame, pass_request(_FORMULA, frame.dtypes), get_family("binomial"), 1,
                                    GlmerControl())
    return here, there


def test_both_stages_runs_match_the_in_memory_runs(models):
    here, there = models
    theta = np.array([0.7])
    start_here, start_there = here.pirls(theta, None, here.eta_start), there.pirls(theta, None, there.eta_start)
    assert there.laplace_deviance(start_there) == pytest.approx(here.laplace_deviance(start_here), rel=1e-12)
    np.testing.assert_allclose(start_there.beta, start_here.beta, rtol=1e-10)
    np.testing.assert_allclose(start_there.u, start_here.u, rtol=1e-9, atol=1e-12)
    beta = start_here.beta + 0.05
    held_here = here.pirls(np.array([0.5]), beta, start_here.eta)
    rounds = there.rounds
    held_there = there.pirls(np.array([0.5]), beta, start_there.eta)
    assert there.rounds > rounds
    assert there.laplace_deviance(held_there) == pytest.approx(here.laplace_deviance(held_here), rel=1e-12)
    assert held_there.dev == pytest.approx(held_here.dev, rel=1e-12)


def test_concurrent_runs_go_in_shared_rounds_with_the_same_results(models):
    here, there = models
    thetas = [np.array([t]) for t in np.linspace(0.2, 1.2, 8)]
    alone = [there.laplace_deviance(there.pirls(theta, None, there.eta_start)) for theta in thetas]
    rounds = there.rounds
    with ThreadPoolExecutor(max_workers=8) as pool:
        together = list(pool.map(lambda theta: there.laplace_deviance(there.pirls(theta, None, there.eta_start)),
                                 thetas))
    np.testing.assert_allclose(together, alone, rtol=1e-13)
    # eight runs of three to five iterations go in step: about as many rounds as the longest run's (6 measured)
    assert there.rounds - rounds < 12
    np.testing.assert_allclose(alone, [here.laplace_deviance(here.pirls(theta, None, here.eta_start))
                                       for theta in thetas], rtol=1e-12)


def test_concurrent_runs_from_a_start_not_met_before_form_its_sums_once(models):
    """The first run to meet a start forms its sums in a round while the others wait for them (not counted as
    evaluations its round waits for: no deadlock)."""
    _, there = models
    beta = np.array([-1.4, -1.0, -1.1, -1.5])
    points = [np.array([t]) for t in (0.4, 0.6, 0.8, 1.0)]
    fresh = there.pirls(np.array([0.5]), None, there.eta_start).eta  # a start no run has met
    rounds = there.rounds
    together_start = threading.Barrier(len(points))

    def deviance(theta):
        together_start.wait()
        return there.laplace_deviance(there.pirls(theta, beta, fresh))
    with ThreadPoolExecutor(max_workers=len(points)) as pool:
        futures = [pool.submit(deviance, theta) for theta in points]
        together = [future.result(timeout=120) for future in futures]
    assert there.rounds - rounds < 4 * 3
    expected = [there.laplace_deviance(there.pirls(theta, beta, fresh)) for theta in points]
    np.testing.assert_allclose(together, expected, rtol=1e-13)
