"""Refitting with every optimiser (lme4's allFit)."""

import numpy as np
import pytest

import mixedfx as mfx


def test_every_optimizer_reaches_the_same_optimum(slopes):
    result = mfx.all_fit(slopes)
    assert set(result.fits) == {"bobyqa", "nelder_mead", "sbplx", "cobyla"}
    np.testing.assert_allclose(result.llik, slopes.loglik, atol=1e-4)
    np.testing.assert_allclose(result.fixef["Days"], slopes.fixef["Days"], rtol=1e-4)
    assert list(result.sdcor.columns) == ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject",
                                          "sd_Days|Subject", "sigma"]
    assert (result.feval > 0).all() and (result.times > 0).all()
    assert all(messages == [] for messages in result.messages.values())
    assert "$llik" in str(result)


def test_glmer_refits_both_stages():
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data=mfx.datasets.load("cbpp"),
                    family="binomial")
    result = mfx.all_fit(fit, optimizers=["bobyqa", "nelder_mead"])
    np.testing.assert_allclose(result.llik, fit.loglik, atol=1e-3)


def test_unknown_optimizer_and_wrong_type(slopes):
    with pytest.raises(ValueError, match="unknown optimizer.*available: bobyqa"):
        mfx.all_fit(slopes, optimizers=["newton"])
    with pytest.raises(TypeError, match="needs a fit"):
        mfx.all_fit("fit")
