"""glmer on Dask DataFrames (a LocalCluster) gives the in-memory fit of the same rows."""

import time

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.errors import MixedFxError, RowsElsewhereError
from mixedfx.partitioned.glmer_model import PartitionedGeneralizedModel

# where the deviance has no exact gradient (vector-valued terms, nAGQ = 0's single stage) the partitioned fit
# runs the Python PIRLS loop on finite differences: the in-memory fit without the compiled PIRLS (whose runs stop a
# little elsewhere) and without the gradient takes the same optimiser path
_SAME_PATH = {"use_gradient": False, "compiled_pirls": False}


# a Dask frame's fit takes lme4's two stages through PIRLS; in memory, one scalar term on a canonical link takes
# the compiled Newton steps by default (mixedfx.glmm.scalar_laplace), which end within lme4's tolerance of them
_TWO_STAGES = {"scalar_newton": False}


def _same_glmer(formula, rows, frame, family, **options):
    """The in-memory fit by lme4's two stages and the fit from the Dask frame, both following the Laplace
    deviance's exact gradient (scalar terms, binomial-logit or Poisson-log) on the same path: the same optimum;
    and the default in-memory fit near it."""
    here = mfx.glmer(formula, rows, family=family, control=_TWO_STAGES, **options)
    there = mfx.glmer(formula, frame, family=family, **options)
    assert there.model.has_laplace_gradient
    assert -2 * there.loglik == pytest.approx(-2 * here.loglik, rel=1e-8)
    se = np.sqrt(np.diag(here.vcov))
    assert np.all(np.abs(there.fixef.to_numpy() - here.fixef.to_numpy()) <= 1e-6 * se)
    np.testing.assert_allclose(there.theta, here.theta, rtol=1e-6, atol=1e-8)
    assert there.nobs == here.nobs and there.ngrps == here.ngrps
    default = mfx.glmer(formula, rows, family=family, **options)
    assert np.all(np.abs(default.fixef.to_numpy() - there.fixef.to_numpy()) <= 1e-4 * se)
    assert -2 * default.loglik == pytest.approx(-2 * there.loglik, abs=1e-5)
    return here, there


def _same_glmer_on_differences(formula, rows, frame, family, **options):
    """The in-memory fit (on the same optimiser path) and the fit from the Dask frame, and how they compare.

    The criterion agrees within 1e-8; the estimates within a small share of their
    standard errors: Newton's steps stop where the next would gain under 1e-8, so
    sums rounded in another order may stop them a step earlier, up to ~1e-5 away
    in a flat direction.
    """
    here = mfx.glmer(formula, rows, family=family, control=_SAME_PATH, **options)
    there = mfx.glmer(formula, frame, family=family, control=_SAME_PATH, **options)
    # the criterion at the optimum, where PIRLS has run to the modes (the optimiser's last value, from a run
    # stopped by tol_pwrss, moves with the rounding of the sums by about that tolerance)
    assert -2 * there.loglik == pytest.approx(-2 * here.loglik, rel=1e-8)
    standard_errors = np.sqrt(np.diag(here.vcov))
    assert np.all(np.abs(there.fixef.to_numpy() - here.fixef.to_numpy()) <= 1e-3 * standard_errors)
    np.testing.assert_allclose(there.theta, here.theta, rtol=1e-3, atol=1e-6)
    assert there.nobs == here.nobs and there.ngrps == here.ngrps
    return here, there


@pytest.fixture(scope="module")
def cbpp():
    return mfx.datasets.load("cbpp")


def test_cbpp_binomial_cbind_with_missing_values_prints_the_in_memory_summary(cbpp, client):
    rows = cbpp.copy()
    rows.loc[[4, 30, 50], "incidence"] = np.nan
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    here, there = _same_glmer(formula, rows, dd.from_pandas(rows, npartitions=4, sort=False), "binomial")
    # on finite differences the fit took about 100 rounds; the exact gradient costs a round per PIRLS iteration back
    assert there.rounds < 85
    assert there.nobs == 53 and there.matrices.n_dropped_na == 3
    assert str(there.summary()) == str(here.summary())  # Pearson residuals' quantiles included
    pd.testing.assert_frame_equal(there.vcov, here.vcov, rtol=1e-7)
    pd.testing.assert_frame_equal(there.confint(method="Wald"), here.confint(method="Wald"), rtol=1e-7)
    for name, table in here.ranef().items():
        pd.testing.assert_frame_equal(there.ranef()[name], table, rtol=1e-7, atol=1e-10)
    assert str(there.varcorr()) == str(here.varcorr())
    assert there.deviance == pytest.approx(here.deviance, rel=1e-8)
    pd.testing.assert_frame_equal(there.fixed_covariance(use_hessian=False),
                                  here.fixed_covariance(use_hessian=False), rtol=1e-6)
    assert str(mfx.anova(there, type=2)) == str(mfx.anova(here, type=2))
    # row-wise results are lazy Series on the kept rows
    fitted = there.fitted()
    assert type(fitted).__module__.startswith("dask")
    np.testing.assert_allclose(fitted.compute().to_numpy(), here.fitted(), rtol=1e-8)
    for kind in ("deviance", "pearson", "response", "working"):
        np.testing.assert_allclose(there.residuals(type=kind).compute().to_numpy(), here.residuals(type=kind),
                                   rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(there.predict(type="response").compute().to_numpy(), here.predict(type="response"),
                               rtol=1e-8)
    with pytest.raises(RowsElsewhereError):
        there.refit(np.ones(there.nobs))
    with pytest.raises(RowsElsewhereError):
        there.simulate(1)
    with pytest.raises(RowsElsewhereError):
        there.hatvalues()
    new = dd.from_pandas(cbpp, npartitions=2)
    np.testing.assert_allclose(there.predict(new, re_form="~0").compute().to_numpy(),
                               here.predict(cbpp, re_form="~0"), rtol=1e-8)


def test_poisson_with_an_empty_partition_and_levels_first_met_late(client):
    ticks = mfx.datasets.load("grouseticks").sort_values("LOCATION", kind="stable")  # locations met partition by partition
    formula = "TICKS ~ YEAR + cHEIGHT + (1 | LOCATION)"
    frame = dd.from_pandas(ticks, npartitions=5, sort=False)
    with_empty = dd.concat([frame, frame.partitions[0].loc[lambda d: d.TICKS < 0]], interleave_partitions=False)
    assert with_empty.npartitions == 6
    here, there = _same_glmer(formula, ticks, with_empty, "poisson")
    assert there.messages == here.messages


def test_widely_spread_columns_are_rescaled_as_in_memory(cbpp, client, monkeypatch):
    """A covariate in the hundred thousands beside an intercept: both fits optimise on rescaled columns, the
    partitioned one deciding the scales on the summed squares (not rescaling, it stopped ~3e-6 SE away); the
    rescaled rows leave the workers after the fit."""
    rescaled_keys = []
    make_rescaled = PartitionedGeneralizedModel.rescaled

    def rescaled(model, *scales):
        twin = make_rescaled(model, *scales)
        rescaled_keys.append({value.key for value, _ in twin.rows.refs})
        return twin

    monkeypatch.setattr(PartitionedGeneralizedModel, "rescaled", rescaled)
    rows = cbpp.assign(size_scaled=lambda d: 1e4 * d["size"])
    rows.loc[[4, 30, 50], "incidence"] = np.nan
    formula = "cbind(incidence, size - incidence) ~ period + size_scaled + (1 | herd)"
    here, there = _same_glmer(formula, rows, dd.from_pandas(rows, npartitions=4, sort=False), "binomial")
    x_scales = here.model.rescaling()[1]
    assert x_scales.max() > 1e3 * x_scales.min()
    np.testing.assert_allclose(there.model.rescaling()[1], x_scales, rtol=1e-12)
    assert len(rescaled_keys) == 1 and there.rounds > 0  # the rounds of the fit on rescaled rows count
    pd.testing.assert_frame_equal(there.fixed_covariance(use_hessian=False),
                                  here.fixed_covariance(use_hessian=False), rtol=1e-6)
    keys = rescaled_keys[0]
    deadline = time.monotonic() + 10.0
    while keys & set(client.who_has()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not keys & set(client.who_has())


def test_text_response_whose_partitions_see_one_level_each_crossed_scalar_terms_nagq0(client):
    verb = mfx.datasets.load("VerbAgg")
    rows = verb[verb.item.isin(verb.item.unique()[:6]) & verb.id.isin(verb.id.unique()[:150])].copy()
    rows["answer"] = rows["r2"].astype(str)  # text: each partition alone would see only its own levels
    rows = rows.sort_values("answer", kind="stable")  # "N" rows, then "Y" rows
    frame = dd.from_pandas(rows, npartitions=3, sort=False)
    assert [set(part.answer) for part in (frame.partitions[0].compute(), frame.partitions[2].compute())] == [
        {"N"}, {"Y"}]
    _same_glmer_on_differences("answer ~ Anger + Gender + btype + (1 | id) + (1 | item)", rows, frame, "binomial",
                               nAGQ=0)


def test_vector_valued_term_without_a_cluster():
    """Without a distributed client the partitions' rows stay in this process: the same fit."""
    ticks = mfx.datasets.load("grouseticks").assign(cH=lambda d: d.cHEIGHT / 50)
    with dask.config.set(scheduler="synchronous"):
        _same_glmer_on_differences("TICKS ~ YEAR + cH + (1 + cH | LOCATION)", ticks,
                                   dd.from_pandas(ticks, npartitions=4), "poisson")


def test_what_the_partitioned_fit_does_not_do_is_refused_with_what_to_do(cbpp, client):
    frame = dd.from_pandas(cbpp, npartitions=2)
    formula = "cbind(incidence, size - incidence) ~ period + (1 | herd)"
    with pytest.raises(MixedFxError, match="nAGQ 0 or 1"):
        mfx.glmer(formula, frame, family="binomial", nAGQ=5)
    with pytest.raises(MixedFxError, match="binomial and poisson.*in memory"):
        mfx.glmer("size ~ period + (1 | herd)", frame, family="Gamma")
    with pytest.raises(MixedFxError, match="glmer_nb on a Dask DataFrame"):
        mfx.glmer_nb("size ~ period + (1 | herd)", frame)
    with pytest.raises(TypeError, match="subset"):
        mfx.glmer(formula, frame, family="binomial", subset="size > 2")
