"""fit.refit(): the same model on a new response agrees with a fresh fit (lme4's refit)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.inference.simulate import simulate
from mixedfx.optim.optimize import first_steps_near

CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


@pytest.fixture(scope="module")
def cbpp_fit():
    return mfx.glmer(CBPP, data=mfx.datasets.load("cbpp"), family="binomial")


def test_refit_original_response(slopes, sleep):
    again = slopes.refit(sleep["Reaction"])
    assert type(again) is type(slopes)
    np.testing.assert_allclose(again.theta, slopes.theta, rtol=1e-4)
    np.testing.assert_allclose(again.fixef, slopes.fixef, rtol=1e-7)
    assert again.loglik == pytest.approx(slopes.loglik, abs=1e-7)


def test_refit_equals_fresh_fit(slopes, sleep):
    sims = simulate(slopes, nsim=3, seed=12)
    for name in sims.columns:
        again = slopes.refit(sims[name])
        fresh = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=sleep.assign(Reaction=sims[name].to_numpy()))
        assert again.loglik == pytest.approx(fresh.loglik, abs=1e-6)
        # one draw is nearly singular: its last theta sits on a plateau (deviance flat to 1e-6 up
        # to 4e-4), where two optimiser runs from different starts stop at different points
        np.testing.assert_allclose(again.theta, fresh.theta, rtol=2e-3, atol=1e-3)
        np.testing.assert_allclose(again.fixef, fresh.fixef, rtol=1e-5)
        # two optimiser runs from different starts: fitted values agree as far as theta does
        np.testing.assert_allclose(again.fitted(), fresh.fitted(), rtol=1e-4)
        np.testing.assert_array_equal(again.residuals() + again.fitted(), sims[name].to_numpy())


def test_refit_ml_fit_and_index_alignment(sleep):
    data = sleep.copy()
    data.loc[[3, 50], "Reaction"] = np.nan
    fit = mfx.lmer("Reaction ~ Days + (Days | Subject)", data=data, REML=False)
    response = pd.Series(sleep["Reaction"].to_numpy() + 1.0, index=sleep.index)
    again = fit.refit(response)  # longer than the fitted rows: aligned by index
    assert again.method == "ML"
    assert again.fixef["(Intercept)"] == pytest.approx(fit.fixef["(Intercept)"] + 1.0, rel=1e-6)
    with pytest.raises(ValueError, match="shape"):
        fit.refit(np.zeros(5))


def test_refit_glmer(cbpp_fit):
    cbpp = mfx.datasets.load("cbpp")
    again = cbpp_fit.refit(np.column_stack([cbpp["incidence"], cbpp["size"] - cbpp["incidence"]]))
    assert again.loglik == pytest.approx(cbpp_fit.loglik, abs=1e-5)
    sims = simulate(cbpp_fit, nsim=1, seed=13)
    again = cbpp_fit.refit(sims["sim_1"])
    fresh = mfx.glmer(CBPP, data=cbpp.assign(incidence=sims[("sim_1", "incidence")].to_numpy()), family="binomial")
    assert again.loglik == pytest.approx(fresh.loglik, abs=1e-3)
    np.testing.assert_allclose(again.fixef, fresh.fixef, atol=2e-3)
    np.testing.assert_allclose(again.theta, fresh.theta, atol=2e-3)
    with pytest.raises(ValueError, match="two-column"):
        cbpp_fit.refit(cbpp["incidence"])


def test_refit_takes_newton_steps_and_ends_no_higher_than_bobyqa(slopes):
    """A two-column term's refit steps on the average information from the fit's theta (lme4 runs BOBYQA from
    there): on each response its criterion is BOBYQA's or lower."""
    bobyqa_only = replace(slopes.control, theta0=tuple(slopes.theta), use_gradient=False)
    first_steps = first_steps_near(slopes.theta, bobyqa_only.refit_first_step, bobyqa_only.refit_least_step)
    sims = simulate(slopes, nsim=6, seed=21).to_numpy()
    for y in sims.T:
        again = slopes.refit(y)
        assert again.opt_summary.optimizer in ("ai-newton", "nloptwrap")  # BOBYQA where a variance nears zero
        reference = slopes.model.with_response(y).optimize(bobyqa_only, initial_step=first_steps, from_optimum=True)
        assert reference.optimizer == "nloptwrap"
        assert again.opt_summary.fval <= reference.fval + 1e-7 * abs(reference.fval)
        assert again.reml_criterion == pytest.approx(again.opt_summary.fval, rel=1e-12)
    assert slopes.refit(sims[:, 0]).opt_summary.optimizer == "ai-newton"
