"""The Woodbury form of pbkrtest's vcovAdj against pbkrtest's own n x n computation, on models R's references
do not cover: a three-column term crossed with a scalar one, a singular fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import mixedfx as mfx
from mixedfx.inference.kenward_roger import kenward_roger
from mixedfx.linalg.layout import templates


def _data(seed: int, group_sd: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n, n_groups, n_items = 240, 12, 8
    g = rng.integers(0, n_groups, n)
    h = rng.integers(0, n_items, n)
    x, w = rng.normal(size=n), rng.normal(size=n)
    slopes = rng.normal(size=(n_groups, 3)) * [1.0, 0.5, group_sd]
    y = 2.0 + x - w + slopes[g, 0] + slopes[g, 1] * x + slopes[g, 2] * w + rng.normal(0, 0.7, n_items)[h] \
        + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "w": w, "g": pd.Categorical(g), "h": pd.Categorical(h)})


def _dense_vcov_adj(fit) -> np.ndarray:
    """pbkrtest's vcovAdj as it computes it: V and W = V^-1 as n x n matrices, G_i = Z D_i Z'."""
    model = fit.model
    x = np.asarray(model.matrices.X, dtype=float)
    z = sp.hstack([layout.matrix for layout in model.layouts]).toarray()
    n_levels = [len(t.levels) for t in model.terms]
    lam = sp.block_diag([sp.kron(sp.identity(nl), t) for t, nl in zip(templates(fit.theta, model.ks), n_levels)])
    s2 = fit.sigma**2
    v = s2 * (z @ (lam @ lam.T).toarray() @ z.T + np.eye(z.shape[0]))
    w = np.linalg.inv(v)
    derivatives, offset = [], 0
    for k, nl in zip(model.ks, n_levels):
        for r in range(k):
            for c in range(r, k):
                d = np.zeros((z.shape[1], z.shape[1]))
                for level in range(nl):
                    d[offset + k * level + r, offset + k * level + c] = d[offset + k * level + c, offset + k * level + r] = 1
                derivatives.append(z @ d @ z.T)
        offset += k * nl
    derivatives.append(np.eye(z.shape[0]))
    phi = fit.vcov.to_numpy()
    p_mats = [-x.T @ w @ g @ w @ x for g in derivatives]
    m = len(derivatives)
    q_mats = [[x.T @ w @ gi @ w @ gj @ w @ x for gj in derivatives] for gi in derivatives]
    info = np.array([[np.trace(w @ gi @ w @ gj) - 2 * np.trace(phi @ q_mats[i][j])
                      + np.trace(phi @ p_mats[i] @ phi @ p_mats[j]) for j, gj in enumerate(derivatives)]
                     for i, gi in enumerate(derivatives)])
    weights = 2 * np.linalg.pinv(info)
    u = sum(weights[i, j] * (q_mats[i][j] - p_mats[i] @ phi @ p_mats[j]) for i in range(m) for j in range(m))
    return phi + 2 * phi @ u @ phi


@pytest.mark.parametrize("seed,group_sd", [(1, 0.8), (2, 0.0)])
def test_woodbury_form_matches_the_n_by_n_computation(seed, group_sd):
    fit = mfx.lmer("y ~ x + w + (1 + x + w | g) + (1 | h)", _data(seed, group_sd))
    got = kenward_roger(fit.model, fit.theta, fit.sigma, fit.vcov.to_numpy())
    want = _dense_vcov_adj(fit)
    np.testing.assert_allclose(got.vcov_adj, want, rtol=1e-7, atol=1e-10 * np.abs(want).max())
    assert got.p_mats.shape == (8, 3, 3)


def test_ml_fit_is_refused():
    fit = mfx.lmer("y ~ x + (1 | h)", _data(3, 0.5), REML=False)
    with pytest.raises(ValueError, match="REML"):
        kenward_roger(fit.model, fit.theta, fit.sigma, fit.vcov.to_numpy())


def test_progress_bar_counts_the_five_stages(capsys):
    fit = mfx.lmer("y ~ x + (1 | h)", _data(3, 0.5))
    kenward_roger(fit.model, fit.theta, fit.sigma, fit.vcov.to_numpy(), progress=True)
    shown = capsys.readouterr().err
    assert "Kenward-Roger" in shown and "5/5" in shown
    kenward_roger(fit.model, fit.theta, fit.sigma, fit.vcov.to_numpy())
    assert capsys.readouterr().err == ""
