"""The parametric bootstrap of a fit from a Dask DataFrame: a batch of simulations per pass over the partitions."""

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import mixedfx as mfx
from mixedfx.errors import FormulaError
from mixedfx.partitioned.bootstrap import partition_noise, replicate_effects
from tests.conftest import crossed_ratings

FORMULA = "Reaction ~ Days + (Days | Subject)"


@pytest.fixture(scope="module")
def weighted_rows(sleep):
    """sleepstudy with prior weights, an offset, and missing values spread over the partitions."""
    rows = sleep.assign(w=np.linspace(0.5, 2.0, len(sleep)), off=np.linspace(0.0, 10.0, len(sleep)))
    rows.loc[[3, 50, 100, 170], "Reaction"] = np.nan
    rows.loc[[7, 131], "Days"] = np.nan
    return rows


@pytest.fixture(scope="module")
def weighted_fit(weighted_rows, client):
    frame = dd.from_pandas(weighted_rows, npartitions=5, sort=False)
    return frame, mfx.lmer(FORMULA, frame, weights="w", offset="off")


def _estimates(fit):
    """What the tests compare of a refit: fixef, theta, sigma, the criterion, logLik and the fixef's SEs."""
    return np.concatenate([fit.fixef.to_numpy(), fit.theta, [fit.sigma, fit.opt_summary.fval, fit.loglik],
                           fit.coef_table()["Std. Error"].to_numpy()])


def _fixef_and_sigma(fit):
    return np.append(fit.fixef.to_numpy(), fit.sigma)


def _draws_and_estimates(fit):
    """The refit's response products (Z'W y*, X'W y*, y*'W y*, offset taken off: the draws alone), then its fixef
    and criterion (where the optimiser's path, which rounding can change, comes in)."""
    cross = fit.model.cross
    return np.concatenate([np.ravel(cross.a_r1[-1]), cross.xy_gram[-1], fit.fixef.to_numpy(),
                           [fit.opt_summary.fval]])


def test_the_draws_depend_on_the_seed_alone_not_on_the_scheduler_or_the_batches(weighted_fit, client):
    _, fit = weighted_fit
    nsim, draws = 8, slice(0, -3)
    with dask.config.set(scheduler="sync"):  # the session's cluster aside: the frame's local scheduler
        alone = mfx.bootstrap(fit, _draws_and_estimates, nsim, seed=7)
    assert alone.n_failed == 0 and alone.t.shape == (nsim, len(alone.t0))
    for batch_size in (3, 1):
        on_cluster = mfx.bootstrap(fit, _draws_and_estimates, nsim, seed=7, client=client, batch_size=batch_size)
        # the tree may sum the partitions' products in another order: equal to rounding only
        np.testing.assert_allclose(on_cluster.t.to_numpy()[:, draws], alone.t.to_numpy()[:, draws], rtol=1e-10)
        # rounding can move BOBYQA's last steps (it stops within 1e-8 of the criterion, which is flat there)
        np.testing.assert_allclose(on_cluster.t.to_numpy()[:, -1], alone.t.to_numpy()[:, -1], rtol=1e-10)
        np.testing.assert_allclose(on_cluster.t.to_numpy()[:, -3:-1], alone.t.to_numpy()[:, -3:-1], rtol=1e-6)
    other = fit.bootstrap(_draws_and_estimates, nsim, seed=8, client=client)
    assert not np.allclose(other.t.to_numpy()[:, draws], alone.t.to_numpy()[:, draws])


def test_a_simulation_is_the_response_built_by_hand_and_refits_as_lmer_fits_it(weighted_rows, weighted_fit, client):
    frame, fit = weighted_fit
    result = fit.bootstrap(_estimates, 3, seed=11, client=client, batch_size=2)
    replicate = 2
    b = replicate_effects(fit, result.seed, np.array([replicate]))[0][0]  # (Subject levels, 2)
    beta, sigma = fit.fixef.to_numpy(), fit.sigma
    pieces = []
    for i in range(frame.npartitions):
        part = frame.partitions[i].compute().dropna(subset=["Reaction", "Days", "Subject", "w", "off"])
        level = pd.Categorical(part.Subject.astype(str), categories=fit.matrices.re_terms[0].levels).codes
        noise = partition_noise(result.seed, replicate, i, len(part))
        pieces.append(part.assign(simulated=part.off + beta[0] + beta[1] * part.Days + b[level, 0]
                                  + b[level, 1] * part.Days + sigma * noise / np.sqrt(part.w)))
    by_hand = pd.concat(pieces)
    # simulate() draws the same responses, lazily, partition by partition
    simulated = fit.simulate(3, seed=result.seed).compute()
    assert list(simulated.columns) == ["sim_1", "sim_2", "sim_3"]
    pd.testing.assert_series_equal(simulated[f"sim_{replicate + 1}"], by_hand.simulated, check_names=False, rtol=1e-12)
    in_memory = mfx.lmer("simulated ~ Days + (Days | Subject)", by_hand, weights="w", offset="off")
    expected, got = _estimates(in_memory), result.t.to_numpy()[replicate]
    assert got[6] == pytest.approx(expected[6], rel=1e-8)  # the REML criterion
    np.testing.assert_allclose(got[:2], expected[:2], rtol=1e-6)  # fixef
    np.testing.assert_allclose(got, expected, rtol=1e-4)


def test_the_bootstrap_distribution_is_the_in_memory_one(sleep, client):
    """Means and SDs of 200 simulations' estimates, Dask and in memory, agree within Monte Carlo error.

    The two runs use different seeds, so their means differ by about sd * sqrt(2 / 200); we allow
    4.5 of those (a false alarm about once in 10^5 per comparison). A sample SD over 200
    normal-ish values has a relative SE near 1 / sqrt(2 * 199) = 0.05; the ratio of two
    such SDs is allowed 0.3 (about 4.2 SEs of the difference).
    """
    nsim = 200
    frame = dd.from_pandas(sleep, npartitions=4).persist()
    there = mfx.lmer(FORMULA, frame).bootstrap(_fixef_and_sigma, nsim, seed=1, client=client)
    here = mfx.lmer(FORMULA, sleep).bootstrap(_fixef_and_sigma, nsim, seed=2)
    assert there.n_failed == here.n_failed == 0
    a, b = there.t.to_numpy(), here.t.to_numpy()
    sd = b.std(axis=0, ddof=1)
    assert np.all(np.abs(a.mean(axis=0) - b.mean(axis=0)) < 4.5 * sd * np.sqrt(2 / nsim))
    np.testing.assert_allclose(a.std(axis=0, ddof=1) / sd, 1.0, atol=0.3)
    assert np.all(np.isfinite(there.confint().to_numpy()))


def test_terms_re_form_names_keep_their_conditional_modes(weighted_rows, weighted_fit, client):
    _, fit = weighted_fit
    effects = replicate_effects(fit, 3, np.arange(2), re_form="~(1 | Subject)")[0]  # the Days column drawn nowhere
    modes = mfx.lmer(FORMULA, weighted_rows, weights="w", offset="off").ranef()["Subject"]
    for b in effects:
        np.testing.assert_allclose(b[:, 0], modes["(Intercept)"].to_numpy(), rtol=1e-5)
        assert np.all(b[:, 1] == 0.0)
    drawn = replicate_effects(fit, 3, np.arange(2))[0]
    assert not np.allclose(drawn[0], drawn[1])
    result = fit.bootstrap(_fixef_and_sigma, 3, seed=1, re_form="~(1 | Subject)", client=client)
    assert result.n_failed == 0


def test_statistics_needing_rows_fail_as_bootstrap_failures_and_bad_options_say_so(weighted_fit, client):
    _, fit = weighted_fit
    with pytest.warns(UserWarning, match="bootstrap runs failed"):
        failed = fit.bootstrap(lambda refit: refit.fitted()[:2], 2, seed=1, client=client)
    assert failed.n_failed == 2 and all("RowsElsewhereError" in message for message in failed.failures)
    printed = fit.bootstrap(lambda refit: ["Fixed effects:" in str(refit.summary(show_resids=False)),
                                           "maximum likelihood" in str(refit.refit_ml().summary(show_resids=False)),
                                           len(refit.ranef()["Subject"])], 2, seed=1, client=client)
    assert printed.n_failed == 0 and np.all(printed.t.to_numpy() == [[1, 1, 18]] * 2)
    intervals = fit.confint(method="boot", nsim=20, seed=1, level=0.8, client=client)
    assert intervals.shape == (6, 2) and np.all(intervals.iloc[:, 0] < intervals.iloc[:, 1])
    with pytest.raises(FormulaError):
        fit.bootstrap(_estimates, 2, seed=1, re_form="~(1 | Nobody)")
    with pytest.raises(ValueError, match="client="):
        fit.bootstrap(_estimates, 2, seed=1, n_jobs=2)
    with pytest.raises(ValueError, match="batch_size must be"):
        fit.bootstrap(_estimates, 2, seed=1, batch_size=0)
    with pytest.raises(ValueError, match="Dask DataFrame only"):
        mfx.bootstrap(mfx.lmer(FORMULA, mfx.datasets.load("sleepstudy")), _estimates, 2, batch_size=3)


def _response_rows(fit):
    """The refit's response rows of the blocks: y*'W Z1, then [Z2.. X y*]'W y* (offset taken off)."""
    cross = fit.model.cross
    coupling = cross.a_r1.toarray() if sp.issparse(cross.a_r1) else cross.a_r1
    return np.concatenate([coupling[-1], cross.a_rr[-1]])


@pytest.mark.parametrize("formula", ["Reaction ~ Days + (Days || Subject)", "y ~ x + (1 | subject) + (1 | item)"])
def test_merged_and_crossed_terms_refit_as_the_in_memory_refit_of_the_simulated_response(formula, sleep):
    rows = sleep if "Days" in formula else crossed_ratings(0, 0.4)  # crossed: a sparse coupling block
    with dask.config.set(scheduler="sync"):
        there = mfx.lmer(formula, dd.from_pandas(rows, npartitions=4))
        simulated = there.simulate(2, seed=3).compute()
        boot = there.bootstrap(lambda fit: np.append(_response_rows(fit), fit.opt_summary.fval), 2, seed=3)
    here = mfx.lmer(formula, rows)
    for r in range(2):
        refit = here.refit(simulated[f"sim_{r + 1}"].loc[here.matrices.rows])
        np.testing.assert_allclose(boot.t.to_numpy()[r, :-1], _response_rows(refit), rtol=1e-10, atol=1e-9)
        assert boot.t.to_numpy()[r, -1] == pytest.approx(refit.opt_summary.fval, rel=1e-8)
