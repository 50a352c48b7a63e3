"""The partitioned Laplace gradient (rounds over a LocalCluster's partitions) is the in-memory exact gradient.

The fits that follow it are compared with the default in-memory fits in test_glmer_fit.py (cbpp, grouseticks).
"""

import dask.dataframe as dd
import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.families import get_family
from mixedfx.partitioned.glmer_model import partitioned_glmer_model
from mixedfx.partitioned.request import pass_request

_CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
_TICKS = "TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | INDEX) + (1 | LOCATION)"  # crossed: a sparse coupling


def _models(formula, rows, family, partitions):
    here = mfx.glmer_model(mfx.glmer_design(formula, rows, family=family), family=family)
    frame = dd.from_pandas(rows, npartitions=partitions, sort=False)
    there = partitioned_glmer_model(frame, pass_request(formula, frame.dtypes), get_family(family), 1,
                                    GlmerControl())
    return here, there


@pytest.fixture(scope="module")
def cbpp_rows():
    rows = mfx.datasets.load("cbpp")
    rows.loc[[4, 30, 50], "incidence"] = np.nan  # dropped in three of the four partitions
    return rows


def _check_both_stages(here, there, thetas):
    """Stage 1's gradient (theta, beta solved for) and stage 2's (theta, beta) at each theta, from the same starts."""
    assert here.has_laplace_gradient and there.has_laplace_gradient
    for theta in map(np.array, thetas):
        stage1_here = here.laplace_value_and_gradient(here.eta_start, stage=1)
        stage1_there = there.laplace_value_and_gradient(there.eta_start, stage=1)
        value_here, slope_here = stage1_here(theta)
        value_there, slope_there = stage1_there(theta)
        assert value_there == pytest.approx(value_here, rel=1e-10)
        np.testing.assert_allclose(slope_there, slope_here, rtol=1e-8, atol=1e-8 * np.abs(slope_here).max())
        # stage 2 from stage 1's end at theta, at a beta off the mode: PIRLS takes several iterations
        x = np.concatenate([theta, stage1_here.state(theta).beta + 0.05])
        value_here, slope_here = here.laplace_value_and_gradient(stage1_here.state(theta).eta)(x)
        value_there, slope_there = there.laplace_value_and_gradient(stage1_there.state(theta).eta)(x)
        assert value_there == pytest.approx(value_here, rel=1e-10)
        np.testing.assert_allclose(slope_there, slope_here, rtol=1e-8, atol=1e-8 * np.abs(slope_here).max())


def test_cbpp_binomial_gradients_equal_the_in_memory_gradients(cbpp_rows, client):
    _check_both_stages(*_models(_CBPP, cbpp_rows, "binomial", 4), [[0.8], [0.3]])


def test_crossed_poisson_gradients_equal_the_in_memory_gradients(client):
    ticks = mfx.datasets.load("grouseticks")
    _check_both_stages(*_models(_TICKS, ticks, "poisson", 5), [[0.6, 1.1, 0.4]])


def test_vector_valued_terms_and_other_links_keep_finite_differences():
    """As in memory: the exact gradient is for scalar terms and the binomial-logit and Poisson-log families."""
    ticks = mfx.datasets.load("grouseticks").assign(cH=lambda d: d.cHEIGHT / 50)
    frame = dd.from_pandas(ticks, npartitions=2)
    vector = partitioned_glmer_model(frame, pass_request("TICKS ~ cH + (1 + cH | LOCATION)", frame.dtypes),
                                     get_family("poisson"), 1, GlmerControl())
    sqrt_link = partitioned_glmer_model(frame, pass_request("TICKS ~ cH + (1 | LOCATION)", frame.dtypes),
                                        get_family("poisson", "sqrt"), 1, GlmerControl())
    assert not vector.has_laplace_gradient and not sqrt_link.has_laplace_gradient
