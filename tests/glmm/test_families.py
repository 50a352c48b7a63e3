"""R's family objects, checked against what R 4.2 computes (tests/reference/families_r.json).

The reference values come from ``tests/reference/families_r.R``: stats' families and
``MASS::negative.binomial`` on grids of means, linear predictors, responses and
weights that include the edge values (``eta`` = +-30.5, +-40, +-710, means at 0 and
1, ``y`` = 0).
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

from mixedfx.errors import MixedFxError
from mixedfx.glmm.families import Family, Gamma, binomial, gaussian, get_family, inverse_gaussian, negative_binomial, poisson
from mixedfx.glmm.links import make_link

REFERENCE = json.loads((Path(__file__).parents[1] / "reference" / "families_r.json").read_text())
RTOL = 1e-12


def values(strings) -> np.ndarray:
    """The reference's numbers, written by R with 17 significant digits."""
    return np.array([float(s) for s in np.atleast_1d(strings)])


def family_of(case: dict) -> Family:
    """The family a reference case was computed with."""
    if case["key"] == "nb":
        return negative_binomial(float(case["theta"]), case["link"])
    return get_family(case["key"], case["link"])


def case_id(case: dict) -> str:
    return f"{case['family']}-{case['link']}"


FAMILY_CASES = pytest.mark.parametrize("case", REFERENCE["families"], ids=case_id)


def assert_r_equal(actual, expected) -> None:
    np.testing.assert_allclose(actual, values(expected), rtol=RTOL, atol=0.0)


# --- every family x link against R ------------------------------------------------------
@FAMILY_CASES
def test_name_and_link(case):
    fam = family_of(case)
    assert (fam.name, fam.link.name) == (case["family"], case["link"])


@FAMILY_CASES
def test_linkfun(case):
    assert_r_equal(family_of(case).link.linkfun(values(case["linkfun_mu"])), case["linkfun"])


@FAMILY_CASES
def test_linkinv(case):
    assert_r_equal(family_of(case).link.linkinv(values(case["eta"])), case["linkinv"])


@FAMILY_CASES
def test_mu_eta(case):
    assert_r_equal(family_of(case).link.mu_eta(values(case["eta"])), case["mu_eta"])


@FAMILY_CASES
def test_variance(case):
    assert_r_equal(family_of(case).variance(values(case["mu"])), case["variance"])


@FAMILY_CASES
def test_dev_resids(case):
    fam = family_of(case)
    y, mu, wt = values(case["dev_y"]), values(case["dev_mu"]), values(case["dev_wt"])
    got = fam.dev_resids(y, mu, wt)
    # y log(y / mu) cancels against (y - mu) where mu is near y: an ulp of the machine's log
    # moves the result by about eps times those terms, whatever the libm
    want = values(case["dev_resids"])
    assert np.all(np.abs(got - want) <= RTOL * np.abs(want) + 1e-13 * np.abs(2 * wt * (y - mu))), got - want


@FAMILY_CASES
def test_aic(case):
    fam = family_of(case)
    for data in case["aic"]:
        y, n, mu, wt = (values(data[k]) for k in ("y", "n", "mu", "wt"))
        assert_r_equal(sum(fam.dev_resids(y, mu, wt)), data["dev"])
        assert_r_equal(fam.aic(y, n, mu, wt, float(data["dev"])), data["aic"])


VALIDITY_VECTORS = [[1, 2], [-1, 2], [0, 1], [1, np.inf], [0.3, 0.7], [np.nan, 1]]


@FAMILY_CASES
def test_valideta_and_validmu(case):
    fam = family_of(case)
    # R's NA (MASS's all(mu > 0) of a NaN) is an invalid mu here
    assert [fam.link.valideta(v) for v in VALIDITY_VECTORS] == case["valideta"]
    assert [fam.validmu(v) for v in VALIDITY_VECTORS] == [bool(r) for r in case["validmu"]]


# --- initialize ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", REFERENCE["initialize"], ids=lambda c: f"{c['key']}-{c['link']}")
def test_initialize(case):
    fam = family_of(case)
    y, weights = values(case["y"]), values(case["weights"])
    if "error" in case:
        with pytest.raises(ValueError, match=f"^{re.escape(case['error'])}$"):
            fam.initialize(y, weights)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y_out, w_out, mustart = fam.initialize(y, weights)
    assert [str(w.message) for w in caught] == ([case["warning"]] if case["warning"] else [])
    for got, want in ((y_out, "y_out"), (w_out, "weights_out"), (mustart, "mustart")):
        assert_r_equal(got, case[want])


@pytest.mark.parametrize("case", REFERENCE["initialize"], ids=lambda c: f"{c['key']}-{c['link']}")
def test_check_response_refuses_what_initialize_refuses(case):
    """The same test as R's initialize, with R's message, the response's name, a value and what is valid."""
    fam = family_of(case)
    y, weights = values(case["y"]), values(case["weights"])
    if "error" not in case:
        fam.check_response(y, "resp", weights)
        return
    with pytest.raises(MixedFxError, match=f"^{re.escape(case['error'])}: the response resp has .* needs "):
        fam.check_response(y, "resp", weights, rows=[f"r{i}" for i in range(y.size)])


def test_check_response_names_the_first_refused_value_and_its_row():
    with pytest.raises(MixedFxError, match=r"has 2 such values \(e\.g\. -1 in row b\); poisson needs a count"):
        poisson().check_response([0.0, -1.0, -2.0], "count", rows=["a", "b", "c"])
    binomial().check_response([0.5, 1.5], "p", weights=[1.0, 0.0])  # R sets y to 0 where the weight is 0


def test_initialize_leaves_the_callers_arrays_alone():
    y, weights = np.array([0.5, 1.0]), np.array([2.0, 0.0])
    binomial().initialize(y, weights)
    np.testing.assert_array_equal(y, [0.5, 1.0])


def test_initialize_default_weights_and_column_vector():
    y_out, w_out, mustart = poisson().initialize([[0.0], [2.0]])
    np.testing.assert_array_equal(w_out, [1.0, 1.0])
    np.testing.assert_allclose(mustart, [0.1, 2.1])


def test_initialize_takes_one_response_vector():
    with pytest.raises(MixedFxError, match="one response vector"):
        binomial().initialize(np.ones((3, 2)))


# --- names, repr, resolution ----------------------------------------------------------------
@pytest.mark.parametrize("case", REFERENCE["nb_names"], ids=lambda c: c["theta"])
def test_negative_binomial_name_as_mass_formats_it(case):
    assert negative_binomial(float(case["theta"])).name == case["name"]


def test_negative_binomial_rejects_a_bad_theta():
    for theta in (0.0, -1.0, np.inf, np.nan, "2"):
        with pytest.raises(MixedFxError, match="theta must be a positive number"):
            negative_binomial(theta)


@pytest.mark.parametrize(("factory", "default", "r_name"), [
    (binomial, "logit", "binomial"), (poisson, "log", "poisson"), (Gamma, "inverse", "Gamma"),
    (inverse_gaussian, "1/mu^2", "inverse.gaussian"), (gaussian, "identity", "gaussian")])
def test_defaults_and_repr(factory, default, r_name):
    fam = factory()
    assert fam.link.name == default and fam.name == r_name and factory(None) == fam
    assert repr(fam) == f'{factory.__name__}(link="{default}")'


def test_has_dispersion():
    assert [f.has_dispersion for f in (binomial(), poisson(), negative_binomial(2.0))] == [False] * 3
    assert [f.has_dispersion for f in (gaussian(), Gamma(), inverse_gaussian())] == [True] * 3


def test_negative_binomial_repr():
    assert repr(negative_binomial(2.5, "sqrt")) == 'negative_binomial(theta=2.5, link="sqrt")'


def test_families_are_immutable_and_hashable():
    fam = binomial("probit")
    with pytest.raises(AttributeError):
        fam.link = make_link("logit")
    assert {fam: 1}[binomial("probit")] == 1 and fam != binomial() and fam != poisson()
    assert negative_binomial(2.0) != negative_binomial(3.0)


@pytest.mark.parametrize(("given", "want"), [
    ("binomial", binomial()), ("poisson", poisson()), ("Gamma", Gamma()), ("gamma", Gamma()),
    ("inverse.gaussian", inverse_gaussian()), ("inverse_gaussian", inverse_gaussian()),
    ("gaussian", gaussian()), (binomial, binomial()), (binomial("probit"), binomial("probit"))])
def test_get_family_resolves(given, want):
    assert get_family(given) == want


def test_get_family_with_a_link():
    assert get_family("binomial", "cloglog") == binomial("cloglog")
    assert get_family(Gamma, "log") == Gamma("log")
    assert get_family(binomial("probit"), "logit") == binomial()
    assert get_family(negative_binomial(2.0), "sqrt") == negative_binomial(2.0, "sqrt")
    assert get_family("poisson", make_link("sqrt")) == poisson("sqrt")


def test_unknown_link_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"^unknown link 'logitt' for the binomial family; "
                                         r"valid links: logit, probit, cauchit, cloglog, log$"):
        get_family("binomial", "logitt")
    with pytest.raises(ValueError, match="unknown link 'logit' for the Gamma family; valid links: inverse, "):
        Gamma("logit")
    with pytest.raises(ValueError, match="for the negative binomial family; valid links: log, identity, sqrt"):
        negative_binomial(2.0, "inverse")
    with pytest.raises(ValueError, match="unknown link 'probit' for the poisson family"):
        get_family(poisson(), "probit")


def test_unknown_family_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"^unknown family 'binomal'; valid families: binomial, poisson, Gamma, "
                                         r"inverse.gaussian, gaussian$"):
        get_family("binomal")


@pytest.mark.parametrize("given", [3, None, len, ["binomial"]])
def test_get_family_rejects_other_types(given):
    with pytest.raises(TypeError, match="family must be"):
        get_family(given)


def test_link_must_be_a_string_or_link():
    with pytest.raises(TypeError, match="link must be a string or a Link"):
        binomial(1)


def test_scalars_and_broadcast_weights():
    fam = poisson()
    assert float(fam.variance(2.0)) == 2.0
    np.testing.assert_allclose(fam.dev_resids([0.0, 2.0], [1.0, 2.0], 2.0), [4.0, 0.0])
    assert fam.aic([1.0, 2.0], 1.0, [1.0, 2.0], 1.0, 0.0) == pytest.approx(-2 * (-1.0 + np.log(2) * 2 - 2 - np.log(2)))


def test_logit_linkfun_out_of_range_is_rs_error():
    with pytest.raises(ValueError, match=f"^{re.escape(REFERENCE['logit_error'])}$"):
        binomial().link.linkfun([0.5, 1.5])
