"""bootstrap(): bootstraps are reproducible, failures recorded, boot's percentiles."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.inference.bootstrap import BootstrapResult, bootstrap, percent_labels
from mixedfx.inference.sdcor import parameter_vector

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "inference_r.json").read_text())
CBPP = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def _floats(values):
    return np.array([float(v) for v in values])


@pytest.fixture(scope="module")
def cbpp_fit():
    return mfx.glmer(CBPP, data=mfx.datasets.load("cbpp"), family="binomial")


def fixed_days(fit):
    """A module-level statistic (picklable for n_jobs > 1)."""
    return fit.fixef[["Days"]]


def _fails_on_large_slope(fit):
    if fit.fixef["Days"] > 10.8:
        raise ValueError("slope too large")
    return fit.fixef.to_numpy()


def test_bootstrap_reproducible(slopes):
    first = bootstrap(slopes, parameter_vector, nsim=6, seed=3, progress=False)
    assert isinstance(first, BootstrapResult)
    pd.testing.assert_series_equal(first.t0, parameter_vector(slopes))
    assert list(first.t.columns) == list(first.t0.index)
    assert first.t.shape == (6, 6) and first.n_failed == 0 and first.seed == 3
    second = bootstrap(slopes, parameter_vector, nsim=6, seed=3, progress=False)
    pd.testing.assert_frame_equal(first.t, second.t)
    assert not np.allclose(first.t, bootstrap(slopes, parameter_vector, nsim=6, seed=4, progress=False).t)


def test_bootstrap_parallel_matches_serial(slopes):
    serial = bootstrap(slopes, fixed_days, nsim=8, seed=5, progress=False)
    parallel = bootstrap(slopes, fixed_days, nsim=8, seed=5, n_jobs=2, progress=False)
    pd.testing.assert_frame_equal(serial.t, parallel.t)
    with pytest.raises(TypeError, match="picklable"):
        bootstrap(slopes, lambda fit: fit.fixef, nsim=2, n_jobs=2)


def test_bootstrap_failures_and_progress(slopes, capsys):
    with pytest.warns(UserWarning, match="some bootstrap runs failed"):
        result = bootstrap(slopes, _fails_on_large_slope, nsim=10, seed=6, progress=True)
    failed = result.t.isna().all(axis=1)
    assert result.n_failed == failed.sum() > 0
    assert list(result.failures) == ["ValueError: slope too large"]
    assert "bootstrap" in capsys.readouterr().err


def test_bootstrap_glmer(cbpp_fit):
    result = bootstrap(cbpp_fit, parameter_vector, nsim=4, seed=7, progress=False)
    assert list(result.t.columns) == ["sd_(Intercept)|herd", "(Intercept)", "period2", "period3", "period4"]
    assert result.n_failed == 0
    assert result.t["sd_(Intercept)|herd"].min() >= 0


@pytest.mark.parametrize("case", REFERENCE["percentiles"])
def test_percentiles_as_boot(case):
    t = _floats(case["t"])
    result = BootstrapResult(t0=pd.Series([0.0]), t=pd.DataFrame({0: t}), seed=0, failures={})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ends = result.confint(case["level"]).to_numpy()[0]
    np.testing.assert_allclose(ends, _floats(case["ends"]), rtol=1e-12)
    extreme = (len(t) + 1) * (1 - case["level"]) / 2 <= 1
    assert any("extreme order statistics" in str(w.message) for w in caught) == extreme


def test_percentiles_skip_failures():
    values = np.arange(1.0, 58.0)
    with_nan = pd.DataFrame({"a": np.append(values, [np.nan, np.nan]), "b": np.append(values, [np.inf, 1.0])})
    result = BootstrapResult(t0=pd.Series([0.0, 0.0], index=["a", "b"]), t=with_nan, seed=0, failures={})
    ends = result.confint().to_numpy()
    plain = BootstrapResult(t0=pd.Series([0.0]), t=pd.DataFrame({0: values}), seed=0, failures={}).confint()
    np.testing.assert_allclose(ends[0], plain.to_numpy()[0])
    assert ends[1, 0] < ends[0, 0]  # the extra finite value counts, the infinite one does not


def test_percent_labels():
    assert percent_labels(0.95) == ["2.5 %", "97.5 %"]
    assert percent_labels(0.9) == ["5 %", "95 %"]
    assert percent_labels(0.99) == ["0.5 %", "99.5 %"]
    with pytest.raises(ValueError):
        percent_labels(1.5)


def test_glmer_bootstrap_runs_in_processes(cbpp_fit):
    serial = bootstrap(cbpp_fit, period_effects, nsim=4, seed=7, progress=False)
    parallel = bootstrap(cbpp_fit, period_effects, nsim=4, seed=7, n_jobs=2, progress=False)
    assert serial.n_failed == 0
    pd.testing.assert_frame_equal(serial.t, parallel.t)


def period_effects(fit):
    return fit.fixef
