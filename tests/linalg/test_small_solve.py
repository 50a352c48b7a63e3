import numpy as np

from mixedfx.linalg.small_solve import newton_direction, solve_shifted


def test_a_positive_definite_system_is_solved():
    rng = np.random.default_rng(1)
    root = rng.normal(size=(4, 4))
    matrix = root @ root.T + 4 * np.eye(4)
    rhs = rng.normal(size=4)
    np.testing.assert_allclose(solve_shifted(matrix, rhs, 0.0), np.linalg.solve(matrix, rhs), rtol=1e-10)
    np.testing.assert_allclose(solve_shifted(matrix, rhs, 2.0), np.linalg.solve(matrix + 2 * np.eye(4), rhs),
                               rtol=1e-10)
    assert solve_shifted(-matrix, rhs, 0.0) is None


def test_the_newton_direction_descends_where_the_hessian_is_indefinite():
    gradient = np.array([1.0, -2.0, 0.5])
    hessian = np.diag([2.0, 1.0, 4.0])
    direction, shifted = newton_direction(hessian, gradient)
    np.testing.assert_allclose(direction, -gradient / np.diag(hessian))
    assert not shifted
    indefinite = np.array([[1.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 3.0]])
    direction, shifted = newton_direction(indefinite, gradient)
    assert shifted and gradient @ direction < 0
