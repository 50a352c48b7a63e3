"""The checks of a fit on the boundary: lme4's edge check with mirrored columns, and the restart from raised variances."""

import numpy as np
import pytest

from mixedfx.linalg.layout import lambda_template
from mixedfx.optim.boundary import leave_boundary
from mixedfx.optim.optimize import OptimizerSettings, OptSummary

# a covariance to match through theta's template, and a second parameter (as glmer's beta) after theta
_TARGET = np.array([[1.0, 0.6], [0.6, 0.5]])


def _criterion(x):
    template = lambda_template(x[:3], 2)
    return float(np.sum((template @ template.T - _TARGET) ** 2) + (x[3] - 1.0) ** 2)


def _lower():
    return np.array([0.0, -np.inf, 0.0, -np.inf])


def _on_edge():
    # the first diagonal on 0 with the column below taken with the sign along which stepping inward costs
    x = np.array([0.0, -0.6, 0.3, 1.0])
    assert _criterion(x + [1e-5, 0.0, 0.0, 0.0]) > _criterion(x)
    return OptSummary("nloptwrap", x, x, _criterion(x), 1, 4)


def test_leaving_the_boundary_reaches_the_interior_optimum_and_keeps_the_other_parameters():
    fit = leave_boundary(_on_edge(), _criterion, _lower(), [2], OptimizerSettings(), (0.1, 0.02))
    assert fit.fval < 1e-6 < 0.1 < _on_edge().fval
    template = lambda_template(fit.x[:3], 2)
    np.testing.assert_allclose(template @ template.T, _TARGET, atol=1e-3)
    assert fit.x[3] == pytest.approx(1.0, abs=1e-3)


def test_no_checks_without_restart_edge():
    stuck = _on_edge()
    assert leave_boundary(stuck, _criterion, _lower(), [2], OptimizerSettings(restart_edge=False), (0.1, 0.02)) is stuck


def test_a_stalled_small_variance_restarts_from_it_raised():
    # the first diagonal just off 0, with its column below carrying the covariance: not on the bound, so the edge
    # check does not apply, and the restart from the variance raised does
    x = np.array([1e-3, -0.6, 0.3, 1.0])
    stalled = OptSummary("nloptwrap", x, x, _criterion(x), 1, 4)
    fit = leave_boundary(stalled, _criterion, _lower(), [2], OptimizerSettings(), (0.1, 0.02))
    assert fit.fval < 1e-6 < 0.1 < stalled.fval and fit.feval > stalled.feval
    off = leave_boundary(stalled, _criterion, _lower(), [2], OptimizerSettings(inward_tol=-1.0), (0.1, 0.02))
    assert off is stalled
