"""matplotlib stays optional; the shared helpers (LOWESS against R, QQ points)."""

import subprocess
import sys

import numpy as np
import pytest

from mixedfx.plots.panels import MISSING_MATPLOTLIB, qq_points
from mixedfx.plots.smoothing import lowess


def test_importing_plots_does_not_import_matplotlib():
    code = "import sys, mixedfx, mixedfx.plots; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_drawing_without_matplotlib_names_the_extra(monkeypatch, slopes):
    from mixedfx.plots import caterpillar

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(ImportError, match=r"plots need matplotlib: pip install 'mixedfx\[plot\]'"):
        caterpillar(slopes)
    assert MISSING_MATPLOTLIB == "plots need matplotlib: pip install 'mixedfx[plot]'"


def test_lowess_matches_r():
    # R 4: lowess(0:9, c(1, 3, 2, 5, 4, 6, 8, 7, 9, 30))$y
    x, y = np.arange(10.0), np.array([1, 3, 2, 5, 4, 6, 8, 7, 9, 30.0])
    grid, smooth = lowess(x, y, n_points=10)
    np.testing.assert_allclose(grid, x)
    np.testing.assert_allclose(smooth, [1.267062, 2.184253, 3.127862, 3.877469, 4.962169, 5.993119, 6.925664,
                                        7.898832, 8.632551, 9.444034], atol=1e-6)
    # R: x <- seq(0, 3, length.out = 40); y <- sin(3 * x) + c(rep(0, 39), 5); lowess(x, y)$y[c(1, 10, 20, 30, 40)]
    x = np.linspace(0.0, 3.0, 40)
    y = np.sin(3 * x)
    y[-1] += 5
    _, smooth = lowess(x, y, n_points=40)
    np.testing.assert_allclose(smooth[[0, 9, 19, 29, 39]], [0.9072960, 0.3882814, -0.4434059, 0.2109120, 1.3476550],
                               atol=1e-6)


def test_lowess_of_unordered_points_with_gaps_and_one_x_value():
    x = np.array([3.0, np.nan, 1.0, 2.0, 0.0, 4.0])
    grid, smooth = lowess(x, 2 * x, n_points=5)
    np.testing.assert_allclose(smooth, 2 * grid)
    grid, smooth = lowess(np.ones(4), np.arange(4.0))
    assert grid.tolist() == [1.0] and smooth.tolist() == [1.5]


def test_qq_points_match_r_qqline():
    # R: y <- c(2.1, -0.3, 0.8, 5.0, 1.7, -1.2, 0.4, 3.3, 0.0, 2.6, 1.1, -0.8)
    #    qnorm(ppoints(12))[1]; q <- quantile(y, c(.25, .75)); diff(q) / diff(qnorm(c(.25, .75)))
    y = np.array([2.1, -0.3, 0.8, 5.0, 1.7, -1.2, 0.4, 3.3, 0.0, 2.6, 1.1, -0.8])
    theoretical, ordered, intercept, slope = qq_points(y)
    assert ordered.tolist() == sorted(y.tolist())
    assert theoretical[0] == pytest.approx(-1.731664, abs=1e-6)
    q1, q3 = -0.075, 2.225
    assert slope == pytest.approx((q3 - q1) / (2 * 0.6744898), rel=1e-6)
    assert intercept == pytest.approx((q1 + q3) / 2, rel=1e-6)


def test_a_figure_renders_to_png_bytes(slopes):
    from mixedfx.plots import caterpillar
    from mixedfx.plots.panels import figure_png

    data = figure_png(caterpillar(slopes))
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000
