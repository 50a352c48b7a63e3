"""poly(), scale(), bs() and ns() on a Dask frame learn from all partitions what the same rows teach them in memory."""

import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest

import mixedfx as mfx
from mixedfx.design.matrices import build_model_matrices
from mixedfx.errors import DataError, FormulaError
from mixedfx.formula.splines import SplineBasis
from mixedfx.glmm.control import GlmerControl
from mixedfx.glmm.families import get_family
from mixedfx.partitioned.glmer_model import partitioned_glmer_model
from mixedfx.partitioned.request import pass_request
from mixedfx.partitioned.transforms import add_moments, argument_moments, witnesses_and_transforms


def _frame(rows, partitions, empty=True):
    """The rows in ``partitions`` Dask partitions, and an empty one after them."""
    frame = dd.from_pandas(rows, npartitions=partitions, sort=False)
    if empty:
        frame = dd.concat([frame, frame.partitions[0].loc[lambda d: d.Days > 100]], interleave_partitions=False)
        assert frame.npartitions == partitions + 1
    return frame


def _passes(monkeypatch, frame):
    """Count the passes over the frame's partitions (each reads them through ``to_delayed``)."""
    count = [0]
    original = type(frame).to_delayed

    def counted(self, *args, **kwargs):
        count[0] += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(frame), "to_delayed", counted)
    return count


def _assert_same_transforms(there, here, scale=1.0):
    """The same calls with the same parameters (centres near 0 compared on the argument's scale)."""
    assert there.params.keys() == here.params.keys()
    for label, expected in here.params.items():
        got = there.params[label]
        assert type(got) is type(expected), label
        for field, value in vars(expected).items():
            if isinstance(value, tuple | float):
                np.testing.assert_allclose(getattr(got, field), value, rtol=1e-10, atol=1e-12 * scale,
                                           err_msg=f"{label}: {field}")
            else:
                assert getattr(got, field) == value, (label, field)


@pytest.fixture(scope="module")
def gaps(sleep):
    """sleepstudy with missing responses and days spread over the rows, and a continuous column."""
    rows = sleep.assign(x=np.random.default_rng(3).normal(50.0, 3.0, len(sleep)))
    rows.loc[[3, 50, 100, 170], "Reaction"] = np.nan
    rows.loc[[7, 131], "Days"] = np.nan
    return rows


def test_moments_of_uneven_and_empty_parts_add_up_to_those_of_all_values():
    x = np.random.default_rng(5).normal(1e4, 2.0, 1000)
    x[[10, 500]] = np.nan
    index = pd.RangeIndex(len(x))
    parts = [argument_moments(x[a:b], index[a:b], 3) for a, b in [(0, 7), (7, 7), (7, 600), (600, 1000)]]
    total = parts[0]
    for part in parts[1:]:
        total = add_moments(total, part)
    present = x[~np.isnan(x)]
    deviations = present - present.mean()
    assert total.count == 998 and total.missing == 2 and total.first_missing == 10
    assert total.mean == pytest.approx(present.mean(), rel=1e-15)
    assert total.squares == pytest.approx(np.sum(deviations**2), rel=1e-12)
    assert total.cubes == pytest.approx(np.sum(deviations**3), rel=1e-9, abs=1e-9 * np.sum(np.abs(deviations) ** 3))
    np.testing.assert_array_equal(total.distinct[:3], np.sort(present)[:3])


@pytest.fixture
def synchronous():
    """Passes run in this process: a learning pass's sums do not need the cluster to be the same."""
    with dask.config.set(scheduler="synchronous"):
        yield


def test_every_argument_form_learns_the_in_memory_parameters(gaps, synchronous):
    formula = ("Reaction ~ poly(x, 3) + poly(x, degree = 1) + poly(x, 2, raw = TRUE) + scale(Days, center = FALSE)"
               " + scale(x, scale = FALSE) + scale(x, center = 40) + bs(x, df = 5) + bs(x, df = 5, degree = 2)"
               " + ns(Days) + I(scale(x)^2) + poly(scale(x), 2) + (ns(x, df = 2) | Subject)")
    frame = _frame(gaps, 4)
    there = witnesses_and_transforms(frame, pass_request(formula, frame.dtypes))[1].transforms
    here = build_model_matrices(formula, gaps).spec.transforms
    assert "poly(x, 2, raw = TRUE)" not in here.params  # learns nothing
    assert isinstance(there.get("bs(x, df = 5)"), SplineBasis) and len(there.get("bs(x, df = 5)").knots) == 2
    _assert_same_transforms(there, here)


@pytest.mark.parametrize("formula, passes", [
    ("Reaction ~ Days + (1 | Subject)", 1),  # the witness pass
    ("Reaction ~ ns(Days) + bs(Days, df = 3) + scale(x) + (scale(x) | Subject)", 1),  # it sums the moments too
    ("Reaction ~ poly(x, 2) + scale(Days) + (1 | Subject)", 2),  # the moments give degree 1; a pass per degree more
    ("Reaction ~ poly(x, 3) + poly(x, 2) + (1 | Subject)", 3),
    ("Reaction ~ ns(Days, df = 3) + bs(Days, df = 5) + (1 | Subject)", 3),  # the knots: a pass of bins, a gathering
    ("Reaction ~ poly(scale(x), 2) + (1 | Subject)", 3),  # scale(x) first, then a round for poly
])
def test_passes_over_the_partitions(gaps, synchronous, monkeypatch, formula, passes):
    frame = _frame(gaps, 3, empty=False)
    count = _passes(monkeypatch, frame)
    witnesses_and_transforms(frame, pass_request(formula, frame.dtypes))
    assert count[0] == passes


def _same_lmer(formula, rows, frame):
    here, there = mfx.lmer(formula, rows), mfx.lmer(formula, frame)
    assert there.opt_summary.fval == pytest.approx(here.opt_summary.fval, rel=1e-8)
    assert list(there.fixef.index) == list(here.fixef.index)
    np.testing.assert_allclose(there.fixef.to_numpy(), here.fixef.to_numpy(), rtol=1e-6)
    assert there.nobs == here.nobs
    _assert_same_transforms(there.matrices.spec.transforms, here.matrices.spec.transforms)
    return here, there


def test_lmer_with_splines_and_scale_in_both_parts(gaps, client, monkeypatch):
    frame = _frame(gaps, 5)
    count = _passes(monkeypatch, frame)
    here, there = _same_lmer("Reaction ~ ns(Days, df = 3) + scale(Days) + (scale(Days) | Subject)", gaps, frame)
    assert count[0] == 4  # the levels' (and the moments'), two for the knots, the blocks'
    assert there.matrices.n_dropped_na == here.matrices.n_dropped_na == 6
    new = gaps.dropna().iloc[::9].assign(Days=lambda d: d.Days + 0.5)  # between the fitted days
    np.testing.assert_allclose(there.predict(new), here.predict(new), rtol=1e-6)


def test_lmer_with_an_orthogonal_polynomial(sleep, client):
    rows = sleep.copy()
    rows.loc[[3, 50, 100, 170], "Reaction"] = np.nan  # poly() refuses missing days, in memory and here
    here, there = _same_lmer("Reaction ~ poly(Days, 2) + (1 | Subject)", rows, _frame(rows, 4))
    new = sleep.iloc[::11].assign(Days=lambda d: d.Days * 1.5)  # beyond the fitted days too
    np.testing.assert_allclose(there.predict(new), here.predict(new), rtol=1e-6)
    np.testing.assert_allclose(there.fitted().compute().to_numpy(), here.fitted(), rtol=1e-6)


def test_glmer_with_scale_runs_the_in_memory_pirls(client):
    rows = mfx.datasets.load("cbpp")
    rows.loc[[4, 30], "incidence"] = np.nan
    formula = "cbind(incidence, size - incidence) ~ period + scale(size) + (1 | herd)"
    here = mfx.glmer_model(mfx.glmer_design(formula, rows, family="binomial"), family="binomial",
                           control={"compiled_pirls": False})
    frame = dd.from_pandas(rows, npartitions=4, sort=False)
    there = partitioned_glmer_model(frame, pass_request(formula, frame.dtypes), get_family("binomial"), 1,
                                    GlmerControl())
    _assert_same_transforms(there.prototype.spec.transforms, here.matrices.spec.transforms)
    assert there.prototype.x_names == here.matrices.x_names
    theta = np.array([0.7])
    start_here, start_there = here.pirls(theta, None, here.eta_start), there.pirls(theta, None, there.eta_start)
    assert there.laplace_deviance(start_there) == pytest.approx(here.laplace_deviance(start_here), rel=1e-10)
    np.testing.assert_allclose(start_there.beta, start_here.beta, rtol=1e-8)


def _same_error(formula, rows, frame, error):
    with pytest.raises(error) as in_memory:
        mfx.lmer(formula, rows)
    with pytest.raises(error) as partitioned:
        mfx.lmer(formula, frame)
    assert str(partitioned.value) == str(in_memory.value)


def test_what_poly_and_the_splines_refuse_in_memory_they_refuse_here(gaps, client):
    frame = _frame(gaps, 3)
    _same_error("Reaction ~ poly(Days, 2) + (1 | Subject)", gaps, frame, DataError)  # missing days, row 7 first
    complete = gaps.dropna()
    _same_error("Reaction ~ poly(Days, 10) + (1 | Subject)", complete, _frame(complete, 3), DataError)
    _same_error("Reaction ~ ns(Days, knots = 4) + (1 | Subject)", gaps, frame, FormulaError)
