"""lme4's convergence checks: messages for a bad gradient or Hessian, silence for a good one."""

import numpy as np

import pytest

from mixedfx.optim.checks import CheckSettings
from mixedfx.optim.convergence import check_hessian, convergence_checks


def check_convergence(gradient, hessian, n_theta, checks=None):
    parts = convergence_checks(gradient, hessian, n_theta, checks)
    return parts["convergence"] + parts["hessian"]


def test_good_optimum_passes():
    hessian = np.diag([4.0, 9.0, 2.0])
    assert check_convergence(np.array([1e-5, -2e-5, 0.0]), hessian, n_theta=1) == []


def test_large_scaled_gradient_is_reported():
    messages = check_convergence(np.array([0.5, 0.01]), np.diag([1.0, 1.0]), n_theta=1)
    assert messages == ["Model failed to converge with max|grad| = 0.5 (tol = 0.002, component 1)"]


def test_gradient_is_scaled_by_the_hessian_and_the_smaller_reading_counts():
    # a steep direction turns a large raw gradient into a small scaled one
    assert check_convergence(np.array([0.05]), np.array([[1e4]]), n_theta=1) == []


def test_negative_eigenvalues_and_singular_hessians():
    indefinite = np.array([[1.0, 0.0], [0.0, -2.0]])
    assert check_hessian(indefinite) == ["Model failed to converge: degenerate  Hessian with 1 negative eigenvalues"]
    assert check_hessian(np.diag([1.0, 0.0])) == [
        " Hessian is numerically singular: parameters are not uniquely determined"]
    messages = check_convergence(np.zeros(2), indefinite, n_theta=1)
    assert messages[0] == "unable to evaluate scaled gradient"
    assert "degenerate fixed-effect Hessian with 1 negative eigenvalues" in messages[1]


def test_ill_conditioned_hessian():
    assert check_hessian(np.diag([1e7, 1.0])) == [
        "Model is nearly unidentifiable: very large eigenvalue\n - Rescale variables?",
        "Model is nearly unidentifiable: large eigenvalue ratio\n - Rescale variables?"]
    assert check_hessian(np.array([[np.nan, 0.0], [0.0, 1.0]])) == [
        "Problem with Hessian check (infinite or missing values?)"]


def test_a_message_both_hessian_checks_give_is_reported_once():
    # the fixed-effect block [[1e7]] and the whole Hessian both have a very large eigenvalue
    messages = check_convergence(np.zeros(2), np.diag([1.0, 1e7]), 1)
    assert messages == ["Model is nearly unidentifiable: very large eigenvalue\n - Rescale variables?",
                        "Model is nearly unidentifiable: large eigenvalue ratio\n - Rescale variables?"]


def test_ignored_checks_say_nothing_and_tolerances_apply():
    gradient, hessian = np.array([0.5, 0.01]), np.diag([1.0, 1e7])
    parts = convergence_checks(gradient, hessian, 1, CheckSettings(check_conv_grad="ignore"))
    assert parts["convergence"] == [] and parts["hessian"]
    parts = convergence_checks(gradient, hessian, 1, CheckSettings(check_conv_hess="ignore"))
    assert parts["hessian"] == [] and parts["convergence"]
    assert convergence_checks(gradient, np.eye(2), 1, CheckSettings(check_conv_grad_tol=1.0))["convergence"] == []


def test_unknown_actions_are_refused():
    with pytest.raises(ValueError, match="check_conv_grad must be one of"):
        CheckSettings(check_conv_grad="warn")
