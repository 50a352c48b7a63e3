"""Refitting with every optimiser (lme4's allFit), against lme4 1.1-31's allFit."""

import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.inference.allfit import ALLFIT_OPTIMIZERS
from mixedfx.optim.optimize import OPTIMIZERS

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "allfit_r.json").read_text())
# /work/shared/conformance: log-likelihood within 2e-3; fixed effects within 0.002 (lmer) or 0.02 (glmer) SE
LOGLIK_TOL = 2e-3
FIXEF_SE_TOL = {"sleepstudy_slopes": 0.002, "cbpp_binomial": 0.02}


def _floats(values):
    return np.array([float(v) for v in values])


MODELS = {
    "sleepstudy_slopes": lambda: mfx.lmer("Reaction ~ Days + (Days | Subject)", data=mfx.datasets.load("sleepstudy")),
    "cbpp_binomial": lambda: mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)",
                                       data=mfx.datasets.load("cbpp"), family="binomial"),
}


@functools.cache
def fitted_all(case):
    """The R case's model fitted, and all_fit on it (once per module)."""
    fit = MODELS[case]()
    return fit, mfx.all_fit(fit, progress=False)


def test_runs_lme4s_seven_optimizers_by_its_names():
    fit, result = fitted_all("sleepstudy_slopes")
    assert list(result.fits) == list(ALLFIT_OPTIMIZERS) == REFERENCE["optimizers"]
    assert all(name in OPTIMIZERS for name in ALLFIT_OPTIMIZERS)
    np.testing.assert_allclose(result.llik, fit.loglik, atol=1e-4)
    np.testing.assert_allclose(result.fixef["Days"], fit.fixef["Days"], rtol=1e-4)
    assert list(result.sdcor.columns) == ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject",
                                          "sd_Days|Subject", "sigma"]
    assert (result.feval > 0).all() and (result.times > 0).all()
    assert all(messages == [] for messages in result.messages.values())
    assert "$llik" in str(result)


@pytest.mark.parametrize("case", ["sleepstudy_slopes", "cbpp_binomial"])
def test_every_optimizer_reaches_lme4s_optimum(case):
    """Each optimiser lme4 ran lands on lme4's optimum: its own run's and the default fit's."""
    _, result = fitted_all(case)
    reference = REFERENCE["cases"][case]
    se = pd.Series(_floats(reference["fit"]["se"].values()), index=list(reference["fit"]["se"]))
    for name, run in reference["allfit"].items():
        if not run["ok"]:
            continue
        assert result.which_ok[name], (name, result.messages[name])
        for loglik in (float(run["loglik"]), float(reference["fit"]["loglik"])):
            assert abs(result.llik[name] - loglik) < LOGLIK_TOL, name
        for fixef in (run["fixef"], reference["fit"]["fixef"]):
            r_fixef = pd.Series(_floats(fixef.values()), index=list(fixef))
            gap = ((result.fixef.loc[name, r_fixef.index] - r_fixef).abs() / se).max()
            assert gap < FIXEF_SE_TOL[case], (name, gap)
        # theta within the conformance tolerance on sd's scale (0.5 % lmer, 2 % glmer) of lme4's run
        np.testing.assert_allclose(result.theta.loc[name], _floats(run["theta"]),
                                   rtol=0.005 if case == "sleepstudy_slopes" else 0.02, atol=1e-3, err_msg=name)
        assert result.msgs[name] == [] and run["messages"] == []


def test_summary_pieces_keyed_by_optimizer():
    fit, result = fitted_all("cbpp_binomial")
    summary = result.summary()
    assert list(summary) == ["which.OK", "msgs", "fixef", "llik", "sdcor", "theta", "times", "feval"]
    for piece in summary.values():
        assert list(piece.index) == list(ALLFIT_OPTIMIZERS)
    assert summary["which.OK"].dtype == bool and summary["which.OK"].all()
    assert list(summary["fixef"].columns) == list(fit.fixef.index)
    assert summary["theta"].shape == (7, 1)


def test_failure_is_recorded_not_raised(monkeypatch):
    fit, _ = fitted_all("sleepstudy_slopes")

    def broken(*args, **kwargs):
        raise ArithmeticError("diverged")

    monkeypatch.setitem(OPTIMIZERS, "bobyqa", broken)
    result = mfx.all_fit(fit, optimizers=["bobyqa", "nmkbw"], progress=False)
    assert result.which_ok.to_dict() == {"bobyqa": False, "nmkbw": True}
    assert result.msgs["bobyqa"] == ["ArithmeticError: diverged"]
    assert list(result.llik.index) == ["nmkbw"] and len(result.times) == 2


def test_progress_bar_on_stderr_only_when_asked(capsys):
    fit, _ = fitted_all("sleepstudy_slopes")
    mfx.all_fit(fit, optimizers=["nloptwrap.NLOPT_LN_BOBYQA"], progress=True)
    captured = capsys.readouterr()
    assert "all_fit" in captured.err and "100%" in captured.err and captured.out == ""
    mfx.all_fit(fit, optimizers=["nloptwrap.NLOPT_LN_BOBYQA"], progress=False)
    assert capsys.readouterr() == ("", "")
    mfx.all_fit(fit, optimizers=["nloptwrap.NLOPT_LN_BOBYQA"])  # stderr is no terminal under pytest
    assert capsys.readouterr() == ("", "")


def test_other_nlopt_optimizers_on_request():
    cbpp_fit, _ = fitted_all("cbpp_binomial")
    result = mfx.all_fit(cbpp_fit, optimizers=["nloptwrap.NLOPT_LN_SBPLX", "nloptwrap.NLOPT_LN_COBYLA"],
                         progress=False)
    np.testing.assert_allclose(result.llik, cbpp_fit.loglik, atol=1e-3)


def test_unknown_optimizer_and_wrong_type():
    fit, _ = fitted_all("sleepstudy_slopes")
    with pytest.raises(ValueError, match="unknown optimizer.*available: bobyqa"):
        mfx.all_fit(fit, optimizers=["newton"])
    with pytest.raises(TypeError, match="needs a fit"):
        mfx.all_fit("fit")
