"""The caterpillar plot: panels, sorted levels, intervals at mode +- z * SD, long factors summarised."""

import numpy as np
import pytest
from scipy.special import ndtri

import mixedfx as mfx
from mixedfx.plots import caterpillar
from tests.plots import by_gid, rendered


@pytest.fixture(scope="module")
def cbpp_fit():
    return mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", mfx.datasets.load("cbpp"),
                     family="binomial")


@pytest.fixture(scope="module")
def insteval_fit():
    return mfx.lmer("y ~ service + lectage + studage + (1 | s) + (1 | d) + (1 | dept:service)",
                    mfx.datasets.load("InstEval"))


def test_sleepstudy_panels_sorted_levels_and_intervals(slopes):
    fig = caterpillar(slopes)
    assert rendered(fig).startswith(b"\x89PNG")
    assert [ax.get_title() for ax in fig.axes] == ["Subject: (Intercept)", "Subject: Days"]
    table = slopes.ranef_table()
    intercepts = table[table["term"] == "(Intercept)"].set_index("grp")
    order = intercepts["condval"].sort_values(kind="stable").index.tolist()
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == order
    z = ndtri(0.975)
    for ax, term in zip(fig.axes, ["(Intercept)", "Days"]):
        rows = table[table["term"] == term].set_index("grp").loc[order]
        (modes,) = by_gid(ax, "modes")
        np.testing.assert_allclose(modes.get_offsets()[:, 0], rows["condval"])
        np.testing.assert_allclose(modes.get_offsets()[:, 1], np.arange(18))
        (intervals,) = by_gid(ax, "intervals")
        ends = np.array([segment[:, 0] for segment in intervals.get_segments()])
        np.testing.assert_allclose(ends[:, 0], rows["condval"] - z * rows["condsd"])
        np.testing.assert_allclose(ends[:, 1], rows["condval"] + z * rows["condsd"])
        (zero,) = by_gid(ax, "zero")
        assert list(zero.get_xdata()) == [0, 0]
        assert ax.get_xlabel() == "conditional mode"
    assert fig.axes[1].get_shared_y_axes().joined(fig.axes[0], fig.axes[1])
    assert "95% intervals" in fig.get_suptitle()


def test_level_and_no_intervals(slopes, cbpp_fit):
    (intervals,) = by_gid(caterpillar(cbpp_fit, level=0.5).axes[0], "intervals")
    table = cbpp_fit.ranef_table().sort_values("condval", kind="stable")
    half_widths = np.diff(np.array([s[:, 0] for s in intervals.get_segments()]), axis=1)[:, 0] / 2
    np.testing.assert_allclose(half_widths, ndtri(0.75) * table["condsd"])
    fig = caterpillar(slopes, condvar=False)
    assert not by_gid(fig.axes[0], "intervals") and len(by_gid(fig.axes[0], "modes")) == 1


@pytest.mark.parametrize("arguments, message", [({"level": 1.5}, "level must be between 0 and 1"),
                                                ({"max_levels": 1}, "max_levels must be an integer")])
def test_bad_arguments(slopes, arguments, message):
    with pytest.raises(ValueError, match=message):
        caterpillar(slopes, **arguments)


def test_not_a_fit():
    with pytest.raises(TypeError, match="caterpillar needs a fit"):
        caterpillar("fit")


def test_insteval_labels_the_extremes_and_summarises_the_middle(insteval_fit):
    fig = caterpillar(insteval_fit, max_levels=60)
    rendered(fig)
    assert [ax.get_title() for ax in fig.axes] == ["s: (Intercept)", "d: (Intercept)", "dept:service: (Intercept)"]
    students = insteval_fit.ranef()["s"].iloc[:, 0].sort_values(kind="stable")
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels[-1] == "2,912 levels\nnot labelled"
    names = labels[:-1]
    assert len(names) == 60
    assert names == [str(n) for n in students.index[:30]] + [str(n) for n in students.index[-30:]]
    assert len(by_gid(ax, "modes")[0].get_offsets()) == 60
    (middle,) = by_gid(ax, "unlabelled_modes")
    np.testing.assert_allclose(middle.get_offsets()[:, 0], students.iloc[30:-30])
    bottom, top = middle.get_offsets()[[0, -1], 1]
    (band,) = by_gid(ax, "unlabelled_band")
    assert band.get_window_extent() is not None and 29 < bottom < top < 41
    assert len(fig.axes[2].get_yticklabels()) == 28 and not by_gid(fig.axes[2], "unlabelled_modes")
