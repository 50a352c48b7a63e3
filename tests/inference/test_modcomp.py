"""kr_modcomp and pb_modcomp: pbkrtest's KRmodcomp and PBmodcomp (tests/reference/ranova_modcomp_r.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.inference.modcomp import KRModcomp, PBModcomp, kr_modcomp, pb_modcomp, restriction_matrix

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "ranova_modcomp_r.json").read_text())
SLEEP = mfx.datasets.load("sleepstudy")
NSIM = 1000


def _numbers(values: list[str]) -> np.ndarray:
    return np.array([np.nan if v == "NA" else float(v) for v in values])


@pytest.fixture(scope="module")
def kr_models():
    large = mfx.lmer("Reaction ~ Days + I(Days^2) + (Days | Subject)", SLEEP)
    return large, mfx.lmer("Reaction ~ Days + (Days | Subject)", SLEEP)


@pytest.fixture(scope="module")
def pb_models():
    return {name: mfx.lmer(formula, SLEEP) for name, formula in
            (("m0", "Reaction ~ 1 + (1 | Subject)"), ("m1", "Reaction ~ Days + (1 | Subject)"),
             ("q1", "Reaction ~ Days + I(Days^2) + (1 | Subject)"))}


def _kr_case(case: str, large, small) -> KRModcomp:
    if case == "model":
        return kr_modcomp(large, small)
    return kr_modcomp(large, [0.0, 0.0, 1.0] if case == "vector" else np.array([[0.0, 1, 0], [0, 0, 1]]))


@pytest.mark.parametrize("case", ["model", "vector", "matrix"])
def test_kr_modcomp_matches_pbkrtest(case: str, kr_models) -> None:
    ref = REFERENCE["kr"][case]
    result = _kr_case(case, *kr_models)
    assert list(result.test.index) == ["Ftest", "FtestU"]
    assert list(result.test.columns) == ["stat", "ndf", "ddf", "F.scaling", "p.value"]
    np.testing.assert_array_equal(result.test["ndf"], _numbers(ref["ndf"]))
    np.testing.assert_allclose(result.test["stat"], _numbers(ref["stat"]), rtol=1e-3)
    np.testing.assert_allclose(result.test["ddf"], _numbers(ref["ddf"]), rtol=1e-3)
    np.testing.assert_allclose(result.test["F.scaling"], _numbers(ref["f_scaling"]), rtol=1e-4)
    np.testing.assert_allclose(result.test["p.value"], _numbers(ref["p"]), rtol=2e-3)
    assert (result.stat, result.ndf, result.p_value) == (result.test.iloc[0, 0], int(ref["ndf"][0]),
                                                          result.test.iloc[0, 4])
    assert str(result).splitlines() == ref["text"]
    assert result.summary().splitlines()[1:] == ref["summary_text"]
    assert result.summary().startswith("F-test with Kenward-Roger approximation; time: ")


def test_kr_modcomp_restriction_spans_pbkrtest_l(kr_models) -> None:
    large, small = kr_models
    ref = REFERENCE["kr"]["model"]
    expected = _numbers(ref["L"]).reshape(ref["L_rows"], -1)
    got = kr_modcomp(small, large).L  # given the other way round, the models are swapped
    assert np.linalg.matrix_rank(np.vstack([got, expected])) == expected.shape[0] == got.shape[0]


def test_kr_modcomp_refits_ml_and_refuses_unnested(kr_models) -> None:
    large, small = kr_models
    ml = kr_modcomp(large.update(REML=False), small)
    assert ml.stat == pytest.approx(kr_modcomp(large, small).stat, rel=1e-6)
    other = mfx.lmer("Reaction ~ I(Days^2) + (Days | Subject)", SLEEP)
    with pytest.raises(ValueError, match="not nested"):
        kr_modcomp(small, other)
    with pytest.raises(ValueError, match="L has 3 columns"):
        kr_modcomp(small, np.ones((1, 3)))


def test_restriction_matrix_of_nested_designs() -> None:
    x = np.column_stack([np.ones(6), np.arange(6.0), np.arange(6.0) ** 2])
    L = restriction_matrix(x, x[:, :2] @ np.array([[1.0, 2.0], [0.0, 3.0]]))
    np.testing.assert_allclose(L, [[0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match="span"):
        restriction_matrix(x[:, :2], x[:, 2:])


@pytest.mark.parametrize("case,large,small", [("days", "m1", "m0"), ("square", "q1", "m1")])
def test_pb_modcomp_matches_pbkrtest(case: str, large: str, small: str, pb_models) -> None:
    ref = REFERENCE["pb"][case]
    result = pb_modcomp(pb_models[large], pb_models[small], nsim=NSIM, seed=20240611)
    assert isinstance(result, PBModcomp)
    assert list(result.test.index) == ["LRT", "PBtest"]
    # the LRT row is deterministic: the log-likelihoods' tolerance (2e-3) twice
    np.testing.assert_allclose(result.test["stat"], _numbers(ref["stat"]), atol=4e-3)
    np.testing.assert_array_equal(result.test["df"], _numbers(ref["df"]))
    assert result.test.loc["LRT", "p.value"] == pytest.approx(float(ref["p"][0]), rel=2e-3, abs=1e-12)
    # the bootstrap p-value agrees with R's within Monte-Carlo error
    p_r = float(ref["p"][1])
    assert abs(result.p_value - p_r) < 3.0 * np.sqrt(p_r * (1.0 - p_r) / NSIM) + 0.01
    assert (result.nsim, result.npos) == (NSIM, ref["npos"])
    assert result.p_value == (1 + result.n_extreme) / (1 + result.npos)
    lines = str(result).splitlines()
    assert lines[0].startswith("Bootstrap test; time: ") and lines[0].endswith(f"samples: {NSIM}; "
                                                                                f"extremes: {result.n_extreme};")
    assert lines[1:5] == ref["text"][:4]
    assert lines[5].split()[:2] == ref["text"][4].split()[:2]


def test_pb_modcomp_is_seeded_and_independent_of_n_jobs(pb_models) -> None:
    one = pb_modcomp(pb_models["q1"], pb_models["m1"], nsim=24, seed=7, n_jobs=1, progress=False)
    two = pb_modcomp(pb_models["m1"], pb_models["q1"], nsim=24, seed=7, n_jobs=2, progress=False)
    np.testing.assert_array_equal(one.ref, two.ref)
    assert one.test.equals(two.test)
    other = pb_modcomp(pb_models["q1"], pb_models["m1"], nsim=24, seed=8)
    assert not np.array_equal(one.ref, other.ref)


def test_pb_modcomp_refuses_unmatched_models(pb_models) -> None:
    with pytest.raises(ValueError, match="same number of parameters"):
        pb_modcomp(pb_models["m1"], pb_models["m1"], nsim=2)
    half = mfx.lmer("Reaction ~ Days + (1 | Subject)", SLEEP.iloc[:90])
    with pytest.raises(ValueError, match="different numbers of rows"):
        pb_modcomp(pb_models["q1"], half, nsim=2)
