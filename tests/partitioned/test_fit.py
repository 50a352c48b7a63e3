"""Fits from Dask DataFrames on a LocalCluster give the in-memory fit of the same rows."""

import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.errors import DataError, RowsElsewhereError


def _same_fit(formula, rows, partitions, **options):
    """The in-memory fit and the fit from ``partitions`` Dask partitions of the same rows."""
    here = mfx.lmer(formula, rows, **options)
    there = mfx.lmer(formula, dd.from_pandas(rows, npartitions=partitions, sort=False), **options)
    assert there.opt_summary.fval == pytest.approx(here.opt_summary.fval, rel=1e-8)
    np.testing.assert_allclose(there.fixef.to_numpy(), here.fixef.to_numpy(), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(there.theta, here.theta, rtol=1e-5, atol=1e-7)
    assert there.nobs == here.nobs and there.ngrps == here.ngrps
    return here, there


@pytest.fixture(scope="module")
def sleep_with_gaps(sleep):
    """sleepstudy with missing values spread over the rows (so over the partitions)."""
    rows = sleep.copy()
    rows.loc[[3, 50, 100, 170], "Reaction"] = np.nan
    rows.loc[[7, 131], "Days"] = np.nan
    return rows


def test_sleepstudy_in_seven_partitions_with_missing_values_prints_the_in_memory_summary(sleep_with_gaps, client):
    here, there = _same_fit("Reaction ~ Days + (Days | Subject)", sleep_with_gaps, 7)
    assert there.nobs == 174 and there.matrices.n_dropped_na == 6
    assert str(there.summary()) == str(here.summary())  # scaled residuals' quantiles included
    for name, table in here.ranef().items():
        pd.testing.assert_frame_equal(there.ranef()[name], table, rtol=1e-5)
    pd.testing.assert_frame_equal(there.confint(method="Wald"), here.confint(method="Wald"), rtol=1e-6)
    assert str(mfx.anova(there)) == str(mfx.anova(here))
    assert str(there.summary(ddf="Satterthwaite")) == str(here.summary(ddf="Satterthwaite"))
    assert there.loglik == pytest.approx(here.loglik, rel=1e-10)


def test_insteval_crossed_in_nine_partitions(client):
    rows = mfx.datasets.load("InstEval")
    here, there = _same_fit("y ~ service + lectage + studage + (1 | s) + (1 | d) + (1 | dept:service)", rows, 9)
    pd.testing.assert_frame_equal(there.vcov, here.vcov, rtol=1e-6)
    assert there.messages == here.messages


def test_levels_met_only_in_later_partitions_split_levels_and_an_empty_partition(sleep, client):
    rows = sleep.sort_values("Subject", kind="stable")  # each partition sees a few subjects, some split
    _same_fit("Reaction ~ Days + (Days | Subject)", rows, 6)
    frame = dd.from_pandas(rows, npartitions=4, sort=False)
    with_empty = dd.concat([frame, frame.partitions[0].loc[lambda d: d.Days > 100]], interleave_partitions=False)
    assert with_empty.npartitions == 5
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", with_empty)
    assert fit.opt_summary.fval == pytest.approx(mfx.lmer("Reaction ~ Days + (Days | Subject)", rows).opt_summary.fval,
                                                 rel=1e-10)


def test_weights_offset_rank_deficient_columns_and_rescaled_slopes(sleep, client):
    rows = sleep.assign(w=np.linspace(0.5, 2.0, len(sleep)), off=np.linspace(0.0, 10.0, len(sleep)),
                        twice=sleep.Days * 2.0, hours=sleep.Days * 1000.0)
    _same_fit("Reaction ~ Days + (Days | Subject)", rows, 3, weights="w", offset="off")
    here, there = _same_fit("Reaction ~ Days + twice + (1 | Subject)", rows, 3)
    assert there.matrices.dropped == here.matrices.dropped == ["twice"]
    assert there.messages == here.messages
    _same_fit("Reaction ~ Days + (hours || Subject)", rows, 4)


def test_lazy_fitted_residuals_and_predictions(sleep_with_gaps, client):
    here, there = _same_fit("Reaction ~ Days + (Days | Subject)", sleep_with_gaps, 5, na_action="exclude")
    fitted = there.fitted()
    assert type(fitted).__module__.startswith("dask")
    np.testing.assert_allclose(fitted.compute().to_numpy(), here.fitted(), rtol=1e-8)
    np.testing.assert_allclose(there.residuals(type="pearson", scaled=True).compute().to_numpy(),
                               here.residuals(type="pearson", scaled=True), rtol=1e-6, atol=1e-8)
    new = dd.from_pandas(sleep_with_gaps.dropna(), npartitions=2)
    np.testing.assert_allclose(there.predict(new, re_form="~0").compute().to_numpy(),
                               here.predict(sleep_with_gaps.dropna(), re_form="~0"), rtol=1e-8)


def test_row_wise_methods_say_they_need_the_rows_in_memory(sleep, client):
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", dd.from_pandas(sleep, npartitions=3))
    with pytest.raises(RowsElsewhereError, match="ddf.compute"):
        fit.hatvalues()
    with pytest.raises(RowsElsewhereError, match="as a column"):
        fit.refit(sleep.Reaction)
    for needs_rows in (lambda: mfx.plots.residuals(fit), lambda: fit.summary(ddf="Kenward-Roger")):
        with pytest.raises(RowsElsewhereError, match="rows stay on the workers"):
            needs_rows()
    in_memory = mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep)
    pd.testing.assert_frame_equal(fit.confint(method="profile"), in_memory.confint(method="profile"), rtol=1e-5)
    assert fit.refit_ml().opt_summary.fval == pytest.approx(
        mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep).refit_ml().opt_summary.fval, rel=1e-8)


def test_bad_input_names_itself(sleep, client):
    frame = dd.from_pandas(sleep, npartitions=3)
    with pytest.raises(TypeError, match="name a column"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", frame, weights=np.ones(len(sleep)))
    with pytest.raises(TypeError, match="subset"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", frame, subset="Days > 2")
    gaps = dd.from_pandas(sleep.assign(Reaction=np.where(sleep.Days > 8, np.nan, sleep.Reaction)), npartitions=3)
    with pytest.raises(DataError, match="missing values in Reaction"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", gaps, na_action="fail")
    constant = dd.from_pandas(sleep.assign(Reaction=1.0), npartitions=3)
    with pytest.raises(DataError, match="exactly"):
        mfx.lmer("Reaction ~ Days + (1 | Subject)", constant)
