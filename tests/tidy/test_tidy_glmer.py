"""tidy(), glance() and augment() of generalized fits against broom.mixed 0.2.9.4 (tests/reference/tidy_r.R)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mixedfx as mfx
from mixedfx.tidy import augment, glance, tidy
from tests.tidy import REFERENCE, assert_table, glance_reference, numbers

CBPP = REFERENCE["cbpp"]
POISSON = REFERENCE["poisson"]
# lme4's glmer stops about 1e-5 (relative) short of the optimum mixedfx reaches (logLik -92.02657 where
# -92.02629 is reachable on cbpp); quantities near zero (conditional modes, residuals, eta) differ by that
# much of their column's scale
GLMER_RTOL = 1e-3
# Cook's distances square a difference of fits, as in tests/inference/test_influence.py
GLMER_COOKS_RTOL = 5e-3


@pytest.fixture(scope="module")
def cbpp():
    return mfx.datasets.load("cbpp")


@pytest.fixture(scope="module")
def herd(cbpp):
    return mfx.glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial")


@pytest.fixture(scope="module")
def counts(cbpp):
    return mfx.glmer("incidence ~ period + offset(log(size)) + (1 | herd)", cbpp, family="poisson")


@pytest.mark.parametrize(("case", "arguments"), [
    ("tidy", {"effects": ["ran_pars", "fixed", "ran_vals", "ran_coefs"]}),
    ("wald", {"conf_int": True}),
    ("exponentiate", {"conf_int": True, "exponentiate": True}),
])
def test_cbpp_tables(herd, case, arguments):
    assert_table(tidy(herd, **arguments), CBPP[case], GLMER_RTOL)


def test_poisson_table(counts):
    assert_table(tidy(counts), POISSON["tidy"], GLMER_RTOL)


def test_glance(herd, counts):
    assert_table(glance(herd), glance_reference(CBPP["glance"]), GLMER_RTOL)
    assert_table(glance(counts), glance_reference(POISSON["glance"]), GLMER_RTOL)


def test_augment_cbind_response(herd):
    with pytest.warns(UserWarning, match="hat matrix"):
        table = augment(herd)
    # R's one matrix column is two here, as fit.model_frame() gives it
    response = "cbind(incidence, size - incidence)"
    columns = [part for name in CBPP["augment"]["columns"]
               for part in (table.attrs["matrices"][name] if name == response else [name])]
    assert_table(table, CBPP["augment"], GLMER_RTOL, columns=columns, column_rtol={".cooksd": GLMER_COOKS_RTOL})


def test_augment_formula_offset(counts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = augment(counts)
    assert_table(table, POISSON["augment"], GLMER_RTOL, column_rtol={".cooksd": GLMER_COOKS_RTOL})


def test_augment_new_data_adds_link_scale_predictions(herd, cbpp):
    new = cbpp.iloc[[0, 19, 39]]
    table = augment(herd, newdata=new)
    assert list(table.columns) == [*new.columns, ".fitted"]
    scale = np.abs(numbers(CBPP["newdata_fitted"])).max()
    np.testing.assert_allclose(table[".fitted"], numbers(CBPP["newdata_fitted"]), rtol=GLMER_RTOL,
                               atol=GLMER_RTOL * scale)


def test_ddf_is_for_linear_fits(herd):
    with pytest.raises(TypeError, match="linear mixed models"):
        tidy(herd, ddf="Satterthwaite")
