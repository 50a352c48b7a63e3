"""get_me, model_frame, model_matrix and terms against lme4 1.1-31 (tests/reference/getme_r.R)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import mixedfx as mfx
from mixedfx.errors import MixedFxError
from mixedfx.fits.getme import GETME_NAMES, get_me, model_frame, model_matrix, terms

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "getme_r.json").read_text())["cases"]
CASES = list(REFERENCE)
# theta-derived quantities: lme4 stops its optimiser at a tolerance (conformance README)
RTOL = 1e-3


@cache
def fitted(case: str):
    if case == "sleepstudy":
        return mfx.lmer("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    if case == "penicillin":
        return mfx.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", mfx.datasets.load("Penicillin"))
    if case == "cbpp":
        return mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                         family="binomial")
    data = mfx.datasets.load("sleepstudy").assign(w=np.tile([1.0, 2.0], 90))
    return mfx.lmer("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", data, REML=False, weights="w",
                    offset=data["Days"].to_numpy() / 10)


def numbers(values) -> np.ndarray:
    """R's numbers written as strings; a named vector is a dict of names and values."""
    if isinstance(values, dict):
        values = values["values"]
    return np.array([np.nan if v == "NA" else float(v) for v in values])


def dense(ref: dict) -> np.ndarray:
    return np.array([numbers(row) for row in ref["rows"]]).reshape(ref["dim"])


def sparse(ref: dict) -> sp.csc_matrix:
    return sp.csc_matrix((numbers(ref["x"]), (ref["i"], ref["j"])), shape=tuple(ref["dim"]))


def close(actual, expected, rtol: float = RTOL) -> None:
    """Relative agreement, with values near zero measured against the largest."""
    actual, expected = np.asarray(actual, dtype=float), np.asarray(expected, dtype=float)
    scale = np.abs(expected).max() if expected.size else 0.0
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale)


def same_pattern(actual: sp.spmatrix, expected: sp.spmatrix) -> None:
    assert actual.shape == expected.shape
    assert set(zip(*actual.nonzero())) == set(zip(*expected.nonzero()))


@pytest.mark.parametrize("case", CASES)
def test_design_quantities_are_lme4s_exactly(case: str) -> None:
    ref, fit = REFERENCE[case], fitted(case)
    np.testing.assert_array_equal(get_me(fit, "X"), dense(ref["X"]))
    for name in ("Z", "Zt"):
        ours = get_me(fit, name)
        assert sp.issparse(ours) and ours.format == "csc"
        np.testing.assert_array_equal(ours.toarray(), sparse(ref[name]).toarray())
        assert ours.nnz == len(ref[name]["x"])
    assert list(get_me(fit, "Gp")) == ref["Gp"]
    assert list(get_me(fit, "Lind") + 1) == ref["Lind"]
    cnms = get_me(fit, "cnms")
    assert list(cnms.values()) == ref["cnms"]
    assert [key.split(".")[0] for key in cnms] == ref["cnms_names"]
    flist = get_me(fit, "flist")
    assert list(flist.columns) == ref["flist"]["names"]
    assert [a + 1 for a in flist.attrs["assign"]] == ref["flist"]["assign"]
    for name in flist.columns:
        assert list(flist[name].cat.categories) == ref["flist"]["levels"][name]
        assert list(flist[name].cat.codes) == ref["flist"]["codes"][name]
    for name in ("Tp", "p_i", "l_i", "q_i", "m_i"):
        series = get_me(fit, name)
        assert list(series.index) == ref[name]["names"] and list(series) == list(numbers(ref[name]["values"]))
    assert {name: get_me(fit, name) for name in ref["counts"]} == ref["counts"]
    assert list(get_me(fit, "theta").index) == ref["theta"]["names"]
    assert list(get_me(fit, "lower")) == list(numbers(ref["lower"]["values"]))
    assert list(get_me(fit, "Ztlist")) == ref["Ztlist_names"]
    assert list(get_me(fit, "mmList")) == ref["mmList_names"]
    assert get_me(fit, "REML") == ref["REML"] and get_me(fit, "is_REML") == ref["is_REML"]
    for name in ("y", "offset", "weights"):
        np.testing.assert_allclose(get_me(fit, name), numbers(ref[name]), rtol=1e-14)


@pytest.mark.parametrize("case", CASES)
def test_estimates_and_their_products_match_lme4(case: str) -> None:
    ref, fit = REFERENCE[case], fitted(case)
    for name in ("theta", "beta", "u", "b", "mu", "sigma"):
        close(get_me(fit, name), numbers(ref[name]))
    close(get_me(fit, "fixef"), numbers(ref["fixef"]["values"]))
    assert list(get_me(fit, "fixef").index) == ref["fixef"]["names"]
    for name in ("Lambdat", "A"):
        same_pattern(get_me(fit, name), sparse(ref[name]))
        close(get_me(fit, name).toarray(), sparse(ref[name]).toarray())
    np.testing.assert_allclose(get_me(fit, "Lambda").toarray(), get_me(fit, "Lambdat").toarray().T)
    close(get_me(fit, "RX"), dense(ref["RX"]))
    for ours, theirs in zip(get_me(fit, "ST").values(), ref["ST"]):
        close(ours, dense(theirs))
    for ours, theirs in zip(get_me(fit, "Tlist").values(), ref["Tlist"]):
        close(ours, dense(theirs))


@pytest.mark.parametrize("case", CASES)
def test_factor_is_lme4s_in_natural_order(case: str) -> None:
    ref, fit = REFERENCE[case], fitted(case)
    lower = get_me(fit, "L")
    assert sp.issparse(lower) and sp.linalg.norm(sp.triu(lower, 1)) == 0.0
    system = (lower @ lower.T).toarray()
    rzx = get_me(fit, "RZX")
    perm = np.array(ref["L_perm"])
    # lme4's factor is the Cholesky factor of the same matrix with rows and columns permuted by L@perm
    close(np.linalg.cholesky(system[np.ix_(perm, perm)]), sparse(ref["L"]).toarray())
    if np.array_equal(perm, np.arange(len(perm))):
        close(lower.toarray(), sparse(ref["L"]).toarray())
        close(rzx, dense(ref["RZX"]))
    close(rzx.T @ rzx, dense(ref["RZX"]).T @ dense(ref["RZX"]))
    if case != "cbpp":  # linear models: the system is Lambda' Z' W Z Lambda + I with the prior weights
        a = get_me(fit, "A")
        expected = (a @ sp.diags(get_me(fit, "weights")) @ a.T).toarray() + np.eye(a.shape[0])
        np.testing.assert_allclose(system, expected, rtol=1e-10, atol=1e-10 * np.abs(expected).max())


@pytest.mark.parametrize("case", CASES)
def test_devcomp_matches_lme4(case: str) -> None:
    ref, fit = REFERENCE[case]["devcomp"], fitted(case)
    devcomp = get_me(fit, "devcomp")
    assert list(devcomp["dims"]) == ref["dims"]["names"]
    assert list(devcomp["dims"].values()) == ref["dims"]["values"]
    assert list(devcomp["cmp"]) == ref["cmp"]["names"]
    for name, expected in zip(ref["cmp"]["names"], numbers(ref["cmp"]["values"])):
        actual = devcomp["cmp"][name]
        if np.isnan(expected):
            assert np.isnan(actual), name
        elif name in ("REML", "dev"):
            assert actual == pytest.approx(expected, abs=2e-3), name
        else:
            assert actual == pytest.approx(expected, rel=1e-4), name


@pytest.mark.parametrize("case", CASES)
def test_devfun_at_the_estimates(case: str) -> None:
    fit = fitted(case)
    at = get_me(fit, "theta").to_numpy()
    if case == "cbpp":
        at = np.concatenate([at, get_me(fit, "beta")])
    expected = float(REFERENCE[case]["devfun_at_estimates"][0])
    assert get_me(fit, "devfun")(at) == pytest.approx(expected, abs=2e-3)


@pytest.mark.parametrize("case", CASES)
def test_model_frame_matrix_and_terms_match_lme4(case: str) -> None:
    ref, fit = REFERENCE[case], fitted(case)
    frame = model_frame(fit)
    matrices = frame.attrs["matrices"]
    names = [column for name in ref["model_frame"]["names"] for column in matrices.get(name, [name])]
    assert list(frame.columns) == names and len(frame) == ref["model_frame"]["nrow"]
    for name, cls in zip(ref["model_frame"]["names"], ref["model_frame"]["classes"]):
        if cls == "factor":
            assert isinstance(frame[name].dtype, pd.CategoricalDtype)
    for name, values in ref["model_frame"]["numeric"].items():
        actual = frame[matrices[name]].to_numpy() if name in matrices else frame[name].to_numpy()
        np.testing.assert_allclose(actual, dense(values) if isinstance(values, dict) else numbers(values),
                                   rtol=1e-14)
    mm = ref["model_matrix"]
    assert list(model_matrix(fit).columns) == mm["fixed_names"] == ref["x_names"]
    assert list(model_matrix(fit, "random").shape) == mm["random_dim"]
    raw = model_matrix(fit, "randomListRaw")
    assert list(raw) == mm["random_list_names"]
    assert [list(m.columns) for m in raw.values()] == mm["random_list_columns"]
    fixed, whole = terms(fit), terms(fit, fixed_only=False)
    assert fixed.term_labels == ref["terms_fixed"]["term_labels"]
    assert fixed.intercept == bool(ref["terms_fixed"]["intercept"])
    assert fixed.variables == ref["terms_fixed"]["variables"] and fixed.response == fixed.variables[0]
    assert whole.term_labels == ref["terms_all"]["term_labels"]
    assert whole.intercept == bool(ref["terms_all"]["intercept"])


def test_several_names_and_all() -> None:
    fit = fitted("sleepstudy")
    both = get_me(fit, ["theta", "Gp"])
    assert list(both) == ["theta", "Gp"]
    assert list(get_me(fit, "ALL")) == list(GETME_NAMES)
    assert np.isnan(get_me(fit, "glmer.nb.theta"))


def test_unknown_name_lists_the_names() -> None:
    with pytest.raises(ValueError, match="Lambdat.*devcomp"):
        get_me(fitted("sleepstudy"), "Lamda")
    with pytest.raises(ValueError, match="randomListRaw"):
        model_matrix(fitted("sleepstudy"), "raw")


def test_model_frame_needs_data_without_a_call() -> None:
    data = mfx.datasets.load("sleepstudy")
    design = mfx.lmer_design("Reaction ~ Days + (Days | Subject)", data)
    model = mfx.lmer_model(design)
    fit = mfx.lmer_fit(model, mfx.optimize_lmer(model))
    with pytest.raises(MixedFxError, match="pass data="):
        model_frame(fit)
    assert list(model_frame(fit, data).columns) == ["Reaction", "Days", "Subject"]


def test_model_frame_shows_a_refits_response() -> None:
    fit = fitted("sleepstudy")
    new = fit.simulate(1, seed=2)["sim_1"].to_numpy()
    again = fit.refit(new)
    np.testing.assert_array_equal(model_frame(again, mfx.datasets.load("sleepstudy"))["Reaction"], new)
