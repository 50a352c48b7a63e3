"""re_pca against lme4 1.1-31's rePCA and summary(rePCA) (tests/reference/influence_r.R)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.inference.re_pca import RePCA, re_pca

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "influence_r.json").read_text())["re_pca"]
# the components are those of theta, which agrees with lme4's within the conformance tolerance of the
# random-effect standard deviations (0.5 %, plus 1e-4 near zero)
SDEV_RTOL, SDEV_ATOL = 5e-3, 1e-4


@pytest.fixture(scope="module")
def fits(sleep) -> dict:
    return {"slopes": mfx.lmer("Reaction ~ Days + (Days | Subject)", sleep),
            "penicillin": mfx.lmer("diameter ~ 1 + (1 | plate) + (1 | sample)", mfx.datasets.load("Penicillin")),
            "uncorrelated": mfx.lmer("Reaction ~ Days + (Days || Subject)", sleep)}


@pytest.mark.parametrize("case", ["slopes", "penicillin", "uncorrelated"])
def test_re_pca_matches_lme4(fits: dict, case: str) -> None:
    result = re_pca(fits[case])
    ref = REFERENCE[case]
    assert list(result) == [r["group"] for r in ref]
    for r in ref:
        pca = result[r["group"]]
        assert isinstance(pca, RePCA)
        np.testing.assert_allclose(pca.sdev, np.array(r["sdev"], dtype=float), rtol=SDEV_RTOL, atol=SDEV_ATOL)
        k = len(pca.sdev)
        theirs = np.array(r["rotation"], dtype=float).reshape(k, k, order="F")
        ours = pca.rotation.to_numpy()
        signs = np.sign(np.sum(ours * theirs, axis=0))  # a component's sign is arbitrary
        np.testing.assert_allclose(ours * signs, theirs, atol=5e-3)
        importance = np.array(r["importance"], dtype=float)
        summary = pca.summary()
        assert list(summary.index) == ["Standard deviation", "Proportion of Variance", "Cumulative Proportion"]
        np.testing.assert_allclose(summary.to_numpy(), importance, rtol=SDEV_RTOL, atol=2e-4)


def test_re_pca_labels_and_orthogonality(fits: dict) -> None:
    pca = re_pca(fits["slopes"])["Subject"]
    assert list(pca.rotation.index) == ["(Intercept)", "Days"]
    assert list(pca.rotation.columns) == ["PC1", "PC2"]
    np.testing.assert_allclose(pca.rotation.T.to_numpy() @ pca.rotation.to_numpy(), np.eye(2), atol=1e-12)
    # sdev are singular values of the relative factor: their squares sum to the trace of Lambda Lambda'
    theta = fits["slopes"].theta
    assert np.isclose(np.sum(pca.sdev**2), theta @ theta)
    # the uncorrelated model joins its two terms on Subject into one block-diagonal factor
    both = re_pca(fits["uncorrelated"])["Subject"]
    assert list(both.rotation.index) == ["(Intercept)", "Days"]


def test_re_pca_of_a_glmer_fit() -> None:
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                    family="binomial")
    pca = re_pca(fit)["herd"]
    assert np.isclose(pca.sdev[0], fit.theta[0])
    assert pca.summary().loc["Cumulative Proportion"].tolist() == [1.0]
    with pytest.raises(TypeError, match="re_pca needs a fit"):
        re_pca("a fit")
