"""zeta against each parameter, the interval ends at prof.confint()'s numbers."""

import warnings

import numpy as np
import pytest
from scipy.special import ndtri

import mixedfx as mfx
from mixedfx.inference.profile import LikelihoodProfile
from mixedfx.plots import profile
from tests.plots import by_gid, rendered


@pytest.fixture(scope="module")
def slopes_profile(slopes):
    return slopes.profile()


@pytest.mark.parametrize("level", [0.95, 0.8])
def test_panels_and_interval_ends(slopes_profile, level):
    fig = profile(slopes_profile, level=level)
    rendered(fig)
    names = ["sd_(Intercept)|Subject", "cor_Days.(Intercept)|Subject", "sd_Days|Subject", "sigma", "(Intercept)",
             "Days"]
    assert [ax.get_title() for ax in fig.axes] == names
    z = ndtri((1 + level) / 2)
    intervals = slopes_profile.confint(level)
    for ax, name in zip(fig.axes, names):
        (ends,) = by_gid(ax, "interval_ends")
        np.testing.assert_allclose(ends.get_offsets(), [[intervals.loc[name].iloc[0], -z],
                                                        [intervals.loc[name].iloc[1], z]])
        assert sorted(line.get_ydata()[0] for line in by_gid(ax, "level")) == pytest.approx([-z, z])
        (curve,) = by_gid(ax, "zeta")
        points = slopes_profile.frame[slopes_profile.frame["parameter"] == name]
        assert curve.get_xdata()[[0, -1]] == pytest.approx(points["value"].iloc[[0, -1]].to_numpy())
        assert curve.get_ydata()[[0, -1]] == pytest.approx(points["zeta"].iloc[[0, -1]].to_numpy())
    assert f"{100 * level:g}% interval" in fig.get_suptitle()


def test_an_end_the_profile_does_not_reach_is_not_marked(slopes_profile):
    frame = slopes_profile.frame
    short = frame[(frame["parameter"] != "Days") | (frame["zeta"] > -1.0)]
    prof = LikelihoodProfile(short, slopes_profile.estimates, slopes_profile.bounds.loc[["Days"]], 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig = profile(prof)
        upper = prof.confint().loc["Days"].iloc[1]
    (ax,) = fig.axes
    np.testing.assert_allclose(by_gid(ax, "interval_ends")[0].get_offsets(), [[upper, ndtri(0.975)]])


def test_glmer_profile():
    fit = mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                    family="binomial")
    prof = fit.profile(which="theta_")
    (ax,) = profile(prof).axes
    assert ax.get_title() == "sd_(Intercept)|herd"
    np.testing.assert_allclose(by_gid(ax, "interval_ends")[0].get_offsets()[:, 0], prof.confint().iloc[0])


def test_needs_a_profile(slopes):
    with pytest.raises(TypeError, match="LikelihoodProfile"):
        profile(slopes)
