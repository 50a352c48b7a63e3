"""The interface every family implements: public methods on array_likes over each family's hooks, and its links."""

from __future__ import annotations

import numpy as np
import pytest

from mixedfx.errors import MixedFxError
from mixedfx.glmm.families import Gamma, binomial, poisson
from mixedfx.glmm.family_base import Family
from mixedfx.glmm.links import make_link


class _Unit(Family, r_name="unit", factory="unit", valid_links=("identity", "log")):
    """A family with variance 1 and squared-error deviance, to exercise the interface."""

    def _variance(self, mu):
        return np.ones_like(mu)

    def _dev_resids(self, y, mu, wt):
        return wt * (y - mu) ** 2


def test_a_new_family_needs_only_its_hooks():
    fam = _Unit(_Unit.link_for(None))
    assert repr(fam) == 'unit(link="identity")' and fam.name == "unit" and not fam.has_dispersion
    np.testing.assert_array_equal(fam.variance([1, 2]), [1.0, 1.0])
    np.testing.assert_array_equal(fam.dev_resids([1, 2], [0, 0], 2), [2.0, 8.0])
    assert fam.validmu([np.nan])
    fam.check_response([-np.inf], "y")


def test_link_for_takes_a_name_a_link_or_none():
    assert Gamma().link_for(None) == make_link("inverse")
    assert Gamma().link_for("log") == make_link("log")
    assert poisson().link_for(make_link("sqrt")) == make_link("sqrt")


def test_link_for_refuses_a_link_the_family_does_not_take():
    with pytest.raises(MixedFxError, match="^unknown link 'sqrt' for the unit family; valid links: identity, log$"):
        _Unit.link_for("sqrt")
    with pytest.raises(TypeError, match="link must be a string or a Link, not int"):
        binomial().link_for(1)


def test_a_family_checks_its_link_when_built():
    with pytest.raises(MixedFxError, match="unknown link 'probit' for the unit family"):
        _Unit(make_link("probit"))
