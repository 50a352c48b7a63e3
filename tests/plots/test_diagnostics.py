"""Residuals against fitted values and the QQ panels, for lmer and glmer."""

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.plots import qq, residuals
from mixedfx.plots.panels import qq_points
from mixedfx.plots.smoothing import lowess
from tests.plots import by_gid, rendered


@pytest.fixture(scope="module")
def cbpp_fit():
    return mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                     family="binomial")


@pytest.mark.parametrize("name", ["slopes", "cbpp_fit"])
def test_residuals_against_fitted(request, name):
    fit = request.getfixturevalue(name)
    fig = residuals(fit)
    rendered(fig)
    (ax,) = fig.axes
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Fitted values", "Pearson residuals")
    fitted, pearson = fit.fitted(), fit.residuals(type="pearson")
    (points,) = by_gid(ax, "residuals")
    np.testing.assert_allclose(points.get_offsets(), np.column_stack([fitted, pearson]))
    (zero,) = by_gid(ax, "zero")
    assert list(zero.get_ydata()) == [0, 0]
    (smoother,) = by_gid(ax, "smoother")
    grid, smooth = lowess(fitted, pearson)
    np.testing.assert_allclose(smoother.get_xydata(), np.column_stack([grid, smooth]))


def test_glmer_pearson_residuals_are_not_deviance_residuals(cbpp_fit):
    offsets = by_gid(residuals(cbpp_fit).axes[0], "residuals")[0].get_offsets()
    assert not np.allclose(offsets[:, 1], cbpp_fit.residuals())


def test_qq_panels_of_residuals_and_each_random_effect_column(slopes):
    fig = qq(slopes)
    rendered(fig)
    assert [ax.get_title() for ax in fig.axes] == ["Scaled Pearson residuals", "Subject: (Intercept)",
                                                   "Subject: Days"]
    assert [ax.get_ylabel() for ax in fig.axes] == ["residual", "conditional mode", "conditional mode"]
    assert fig.get_supxlabel() == "Standard normal quantiles"
    samples = [slopes.residuals(type="pearson", scaled=True), *slopes.ranef()["Subject"].T.to_numpy()]
    for ax, sample in zip(fig.axes, samples):
        (points,) = by_gid(ax, "points")
        theoretical, ordered, intercept, slope = qq_points(sample)
        np.testing.assert_allclose(points.get_offsets(), np.column_stack([theoretical, ordered]))
        (reference,) = by_gid(ax, "reference")
        assert reference.get_slope() == pytest.approx(slope)
        assert reference.get_xy1() == pytest.approx((0.0, intercept))


def test_qq_of_a_glmer(cbpp_fit):
    fig = qq(cbpp_fit)
    assert [ax.get_title() for ax in fig.axes] == ["Scaled Pearson residuals", "herd: (Intercept)"]
    assert len(by_gid(fig.axes[1], "points")[0].get_offsets()) == 15
