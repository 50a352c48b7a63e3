"""Stage 2's Hessians: the Newton steps' start and the standard errors' at the optimum."""

import numpy as np
import pytest

from mixedfx.glmm.stage2_hessian import optimum_derivatives, start_hessian
from mixedfx.optim.optimize import OptSummary

_CURVATURE = np.array([[3.0, 0.5, -0.2], [0.5, 2.0, 0.3], [-0.2, 0.3, 1.5]])


def _quadratic(x):
    return float(0.5 * x @ _CURVATURE @ x + np.sin(x[0]))


def _quadratic_with_gradient(x):
    return _quadratic(x), _CURVATURE @ x + np.array([np.cos(x[0]), 0.0, 0.0])


def _exact_hessian(x):
    return _CURVATURE - np.diag([np.sin(x[0]), 0.0, 0.0])


def test_start_hessian_takes_thetas_columns_by_differences_and_betas_block_from_the_factor():
    x0 = np.array([0.4, -0.3, 0.8])
    r_x = np.array([[1.0, 0.0], [0.25, 0.5]])
    hessian = start_hessian(_quadratic_with_gradient, x0, 1, r_x)
    exact = _exact_hessian(x0)
    np.testing.assert_allclose(hessian[:, 0], exact[:, 0], atol=1e-5)
    np.testing.assert_allclose(hessian[0, :], exact[0, :], atol=1e-5)
    np.testing.assert_allclose(hessian[1:, 1:], 2.0 * r_x @ r_x.T)


def test_optimum_derivatives_agree_from_the_exact_gradient_and_from_deriv12():
    x = np.array([0.2, 0.1, -0.4])
    opt = OptSummary("newton", x, x, _quadratic(x), 1, 3)
    slope, hessian = optimum_derivatives(_quadratic, _quadratic_with_gradient, opt)
    fd_slope, fd_hessian = optimum_derivatives(_quadratic, None, opt)
    np.testing.assert_allclose(slope, _quadratic_with_gradient(x)[1])
    np.testing.assert_allclose(hessian, _exact_hessian(x), atol=1e-5)
    np.testing.assert_allclose(fd_slope, slope, atol=1e-6)
    np.testing.assert_allclose(fd_hessian, _exact_hessian(x), atol=1e-5)


def test_optimum_derivatives_take_deriv12_where_the_exact_gradient_fails():
    x = np.array([0.2, 0.1, -0.4])
    opt = OptSummary("newton", x, x, _quadratic(x), 1, 3)

    def failing(point):
        return np.nan, np.full(3, np.nan)

    slope, hessian = optimum_derivatives(_quadratic, failing, opt)
    assert np.all(np.isfinite(hessian))
    np.testing.assert_allclose(hessian, _exact_hessian(x), atol=1e-5)
    assert slope == pytest.approx(_quadratic_with_gradient(x)[1], abs=1e-6)
