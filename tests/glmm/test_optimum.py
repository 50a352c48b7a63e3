"""Where glmer's optimiser ends on vector-valued terms: never above lme4's optimum."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.model import GeneralizedLinearMixedModel

_OPTIMA = Path(__file__).parents[1] / "reference" / "optima"


def test_binomial_maximal_model_ends_at_or_below_lme4():
    # lme4 warns that it failed to converge here. The deviance an optimiser sees stops PIRLS at tol_pwrss,
    # so its value depends on where each PIRLS run starts by about 1e-2; the two optima are compared on the
    # deviance with PIRLS converged, the same function at both points
    lme4 = json.loads((_OPTIMA / "maximal_2k_binomial.json").read_text())["lme4"]
    data = mfx.datasets.load("maximal_2k")
    fit = mfx.glmer("z ~ spkr*prec*load + (1 + spkr + prec | subj) + (1 + spkr + prec | item)", data,
                    family="binomial")
    model = fit.model
    exact = GeneralizedLinearMixedModel(model.matrices, model.family, 1, GlmerControl(tol_pwrss=1e-13))
    deviance = exact.stage2_objective(exact.eta_start)
    ours = deviance(np.concatenate([fit.theta, fit.fixef.to_numpy()]))
    theirs = deviance(np.concatenate([list(lme4["theta"].values()), list(lme4["beta"].values())]))
    assert ours <= theirs + 2e-3
    # the reported log-likelihood is taken with PIRLS restarted from its own end, settled near the mode: within
    # 1e-4 of the converged deviance, where a run from stage 1's start was 1e-2 off
    assert -2.0 * fit.loglik == pytest.approx(ours, abs=1e-4)
    assert -2.0 * fit.loglik <= -2.0 * lme4["loglik"] + 2e-3


def test_a_covariate_on_a_far_scale_reaches_the_same_optimum():
    """A random slope on a covariate times 1e6 ended 104 log-likelihood units short (lme4 failed): Z's and X's
    columns are rescaled for the optimisation, and the fit is the same model's as on the covariate itself."""
    rng = np.random.default_rng(3)
    n, groups = 2000, rng.integers(0, 40, 2000)
    z = rng.normal(size=n)
    eta = -0.5 + 0.8 * z + rng.normal(scale=0.8, size=40)[groups] + 0.5 * rng.normal(size=40)[groups] * z
    data = pd.DataFrame({"y": rng.binomial(1, 1 / (1 + np.exp(-eta))), "z": z, "x": z * 1e6,
                         "g": groups.astype(str)})
    plain = mfx.glmer("y ~ z + (z | g)", data, family="binomial")
    far = mfx.glmer("y ~ x + (x | g)", data, family="binomial")
    assert far.loglik == pytest.approx(plain.loglik, abs=2e-3)
    np.testing.assert_allclose(far.fixef.to_numpy() * [1, 1e6], plain.fixef.to_numpy(), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(far.vcov.to_numpy()[1, 1] * 1e12, plain.vcov.to_numpy()[1, 1], rtol=0.02)
