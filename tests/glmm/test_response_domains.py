"""The responses each family accepts: R's error for the others, and a message naming the value and the row."""

from __future__ import annotations

import re

import numpy as np
import pytest

from mixedfx.errors import MixedFxError
from mixedfx.glmm import response_domains
from mixedfx.glmm.families import Gamma, binomial, gaussian, inverse_gaussian, negative_binomial, poisson


@pytest.mark.parametrize(("family", "domain"), [
    (binomial(), response_domains.BINOMIAL), (poisson(), response_domains.POISSON),
    (Gamma(), response_domains.GAMMA), (inverse_gaussian(), response_domains.INVERSE_GAUSSIAN),
    (negative_binomial(2.0), response_domains.NEGATIVE_BINOMIAL),
    (gaussian("log"), response_domains.GAUSSIAN_BY_LINK["log"]),
    (gaussian("inverse"), response_domains.GAUSSIAN_BY_LINK["inverse"])])
def test_each_family_refuses_what_its_domain_refuses(family, domain):
    y = np.array([-1.0, 0.0, 1.0, 2.0])
    refused = domain.refused(y)
    assert refused.any() and not refused.all()
    with pytest.raises(MixedFxError, match=f"^{re.escape(domain.message)}$"):
        family.initialize(y[refused][:1])
    family.initialize(y[~refused])


def test_the_identity_gaussian_takes_any_response():
    gaussian().check_response([-1.0, 0.0, 1e300], "y")


def test_refuse_gives_rs_message_alone():
    with pytest.raises(MixedFxError, match="^y values must be 0 <= y <= 1$"):
        response_domains.BINOMIAL.refuse(np.array([0.5, 1.5]))


def test_check_counts_the_refused_values_and_shows_the_first():
    with pytest.raises(MixedFxError, match=r"the response z has 2 such values \(e\.g\. -0\.5\); "
                                           r"Gamma needs a response of positive values$"):
        response_domains.GAMMA.check([1.0, -0.5, 0.0], "z", "Gamma")


def test_only_the_binomial_skips_rows_of_zero_weight():
    response_domains.BINOMIAL.check([0.5, 3.0], "p", "binomial", weights=[2.0, 0.0])
    with pytest.raises(MixedFxError, match="in row 2"):
        response_domains.POISSON.check([1.0, -3.0], "n", "poisson", weights=[1.0, 0.0], rows=[1, 2])
