"""R's link functions: lookup, shapes, R's clamping and the derivatives.

The values themselves are checked against R, for every family and link, in
tests/test_families.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from mixedfx.errors import MixedFxError
from mixedfx.glmm.links import LINK_NAMES, Link, make_link
from mixedfx.rbase.rmath import DBL_EPSILON

INTERIOR_ETA = {  # linear predictors inside every link's domain and away from R's clamps
    "sqrt": [0.2, 1.0, 3.5], "inverse": [0.2, 1.0, 3.5], "1/mu^2": [0.2, 1.0, 3.5],
}
DEFAULT_ETA = [-3.0, -0.4, 0.0, 0.7, 2.5]


def test_link_names_are_rs():
    assert LINK_NAMES == ("logit", "probit", "cauchit", "cloglog", "log", "identity", "sqrt", "inverse", "1/mu^2")


def test_make_link_returns_the_named_link():
    for name in LINK_NAMES:
        link = make_link(name)
        assert isinstance(link, Link) and link.name == name and link == make_link(name)
    assert repr(make_link("1/mu^2")) == 'make_link("1/mu^2")'


@pytest.mark.parametrize("name", ["logitt", "", 3])
def test_make_link_rejects_unknown_names(name):
    with pytest.raises(MixedFxError, match="link not recognised; valid links: logit, probit, cauchit"):
        make_link(name)


@pytest.mark.parametrize("name", LINK_NAMES)
def test_linkfun_inverts_linkinv(name):
    link = make_link(name)
    eta = np.array(INTERIOR_ETA.get(name, DEFAULT_ETA))
    np.testing.assert_allclose(link.linkfun(link.linkinv(eta)), eta, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", LINK_NAMES)
def test_mu_eta_is_the_derivative_of_linkinv(name):
    link = make_link(name)
    eta, h = np.array(INTERIOR_ETA.get(name, DEFAULT_ETA)), 1e-6
    numeric = (link.linkinv(eta + h) - link.linkinv(eta - h)) / (2 * h)
    np.testing.assert_allclose(link.mu_eta(eta), numeric, rtol=1e-6, atol=1e-10)


@pytest.mark.parametrize("name", LINK_NAMES)
def test_shapes_scalars_and_no_numpy_warnings(name):
    link = make_link(name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grid = np.array([[-800.0, -40.0, 0.0], [1.0, 40.0, 800.0]])
        for out in (link.linkinv(grid), link.mu_eta(grid)):
            assert out.shape == grid.shape and out.dtype == np.float64
        assert link.linkinv(0.5).shape == ()
        assert link.linkfun([0.0, 0.5, 1.0]).shape == (3,)


def test_identity_link_returns_new_arrays():
    eta = np.array([1.0, 2.0])
    out = make_link("identity").linkinv(eta)
    out[0] = 9.0
    assert eta[0] == 1.0 and make_link("identity").linkfun([3]).dtype == np.float64


def test_logit_clamps_as_rs_c_code():
    logit = make_link("logit")
    np.testing.assert_array_equal(logit.linkinv([-30.5, 30.5]),
                                  [DBL_EPSILON / (1 + DBL_EPSILON), (1 / DBL_EPSILON) / (1 + 1 / DBL_EPSILON)])
    np.testing.assert_array_equal(logit.mu_eta([-30.5, 30.5, np.inf]), [DBL_EPSILON] * 3)
    assert logit.linkinv(-30.0) == np.exp(-30.0) / (1 + np.exp(-30.0))


def test_probit_and_cauchit_clamp_eta_at_rs_thresholds():
    for name in ("probit", "cauchit"):
        link = make_link(name)
        lo, hi = link.linkinv([-1e300, 1e300])
        assert lo == pytest.approx(DBL_EPSILON, rel=1e-13) and hi == 1.0 - DBL_EPSILON or hi == 1.0
        assert link.mu_eta(1e300) == DBL_EPSILON


def test_cloglog_and_log_bounds():
    cloglog, log = make_link("cloglog"), make_link("log")
    np.testing.assert_array_equal(cloglog.linkinv([-800.0, 800.0]), [DBL_EPSILON, 1.0 - DBL_EPSILON])
    np.testing.assert_array_equal(cloglog.mu_eta([-800.0, 800.0]), [DBL_EPSILON, DBL_EPSILON])
    np.testing.assert_array_equal(log.linkinv([-800.0, 800.0]), [DBL_EPSILON, np.inf])


@pytest.mark.parametrize(("name", "valid", "invalid"), [
    ("sqrt", [0.1, 2.0], [[0.0, 1.0], [-1.0], [np.inf], [np.nan]]),
    ("1/mu^2", [0.1, 2.0], [[0.0, 1.0], [-1.0], [np.inf]]),
    ("inverse", [-1.0, 2.0], [[0.0, 1.0], [np.inf]]),
    ("logit", [-1e300, 0.0, np.inf], []),
])
def test_valideta(name, valid, invalid):
    link = make_link(name)
    assert link.valideta(valid) is True
    assert all(link.valideta(v) is False for v in invalid)


def test_links_are_immutable():
    with pytest.raises(AttributeError):
        make_link("log").name = "identity"


def test_links_pickle_as_their_names():
    import pickle  # noqa: PLC0415

    for name in LINK_NAMES:
        assert pickle.loads(pickle.dumps(make_link(name))) is make_link(name)
