"""Fitted lines per group over the data, with the population line: facets, one panel, a factor x."""

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import mixedfx as mfx
from mixedfx.plots import effects
from tests.plots import by_gid, rendered


@pytest.fixture(scope="module")
def cbpp_fit():
    return mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                     family="binomial")


def test_one_panel_per_subject_with_its_line_and_the_population_line(slopes, sleep):
    fig = effects(slopes, "Days", by="Subject")
    rendered(fig)
    subjects = [str(s) for s in sleep["Subject"].cat.categories]
    assert [ax.get_title() for ax in fig.axes] == subjects
    assert (fig.get_supxlabel(), fig.get_supylabel()) == ("Days", "Reaction")
    grid = np.linspace(0.0, 9.0, 50)
    beta = slopes.fixef.to_numpy()
    for ax, subject in zip(fig.axes, subjects):
        (line,) = by_gid(ax, "group")
        (population,) = by_gid(ax, "population")
        expected = slopes.predict(pd.DataFrame({"Days": grid, "Subject": subject}))
        np.testing.assert_allclose(line.get_xydata(), np.column_stack([grid, expected]))
        np.testing.assert_allclose(population.get_ydata(), beta[0] + beta[1] * grid)
        (data,) = by_gid(ax, "data")
        rows = sleep[sleep["Subject"] == subject]
        np.testing.assert_allclose(data.get_offsets(), rows[["Days", "Reaction"]].to_numpy())
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["fitted for the Subject level",
                                                          "population (no random effects)"]


def test_more_levels_than_panels_share_one_panel(slopes):
    fig = effects(slopes, "Days", by="Subject", max_panels=5)
    (ax,) = fig.axes
    assert len(by_gid(ax, "group")) == 18 and len(by_gid(ax, "population")) == 1
    assert len(ax.lines) == 19
    assert len(by_gid(ax, "data")[0].get_offsets()) == 180
    assert fig.legends[0].get_texts()[0].get_text() == "one line per level of Subject (18)"


def test_a_factor_x_on_the_response_scale(cbpp_fit):
    fig = effects(cbpp_fit, "period")
    rendered(fig)
    cbpp = mfx.datasets.load("cbpp")
    assert len(fig.axes) == 15
    assert [t.get_text() for t in fig.axes[-1].get_xticklabels()] == ["1", "2", "3", "4"]
    assert fig.get_supylabel() == "cbind(incidence, size - incidence) (response scale)"
    beta = cbpp_fit.fixef.to_numpy()
    for ax, herd in zip(fig.axes, cbpp["herd"].cat.categories):
        (line,) = by_gid(ax, "group")
        periods = sorted(cbpp.loc[cbpp["herd"] == herd, "period"].cat.codes.unique())
        assert line.get_xdata().tolist() == periods
        new = pd.DataFrame({"period": cbpp["period"].cat.categories[periods], "herd": herd})
        np.testing.assert_allclose(line.get_ydata(), cbpp_fit.predict(new, type="response"))
        (population,) = by_gid(ax, "population")
        np.testing.assert_allclose(population.get_ydata(), expit(beta[0] + np.r_[0.0, beta[1:]]))
        (data,) = by_gid(ax, "data")
        assert np.all(np.abs(data.get_offsets()[:, 0] - np.round(data.get_offsets()[:, 0])) <= 0.08)


def test_other_variables_at_their_typical_values(sleep):
    data = sleep.assign(age=sleep["Subject"].cat.codes * 2.0 + 20.0,
                        shift=pd.Categorical(np.where(sleep.index % 2 == 0, "day", "night"), ["night", "day"]))
    fit = mfx.lmer("Reaction ~ Days + age + shift + (1 | Subject)", data)
    fig = effects(fit, "Days", by="Subject")
    beta = fit.fixef
    grid = np.linspace(0.0, 9.0, 50)
    population = by_gid(fig.axes[0], "population")[0].get_ydata()
    np.testing.assert_allclose(population, beta["(Intercept)"] + beta["Days"] * grid + beta["age"] * data["age"].mean())
    line = by_gid(fig.axes[3], "group")[0].get_ydata()
    np.testing.assert_allclose(line - population, fit.ranef()["Subject"].iloc[3, 0])


@pytest.mark.parametrize("arguments, message", [
    ({"x": "Subject"}, r"x must be a variable of the model's fixed part \(Days\), not 'Subject'"),
    ({"x": "nope"}, r"x must be a variable of the model's fixed part \(Days\), not 'nope'"),
    ({"x": "Days", "by": "Days"}, r"by must be a grouping factor of the model \(Subject\), not 'Days'"),
    ({"x": "Days", "n_grid": 1}, "n_grid must be at least 2"),
])
def test_bad_names(slopes, arguments, message):
    with pytest.raises(ValueError, match=message):
        effects(slopes, **arguments)


def test_x_that_defines_the_grouping_factor(sleep):
    data = sleep.assign(half=pd.Categorical(np.where(sleep["Days"] < 5, "early", "late")))
    fit = mfx.lmer("Reaction ~ half + (1 | Subject:half)", data)
    with pytest.raises(ValueError, match="x \\('half'\\) defines the grouping factor 'Subject:half'"):
        effects(fit, "half", by="Subject:half")
