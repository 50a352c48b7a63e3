"""The one PIRLS loop, run over steps written in Python (the compiled engine's are in test_scalar_pirls)."""

from __future__ import annotations

import numpy as np

from mixedfx.glmm.pirls_loop import pirls_loop
from mixedfx.glmm.pirls_status import HALVING_FAILED, NOT_CONVERGED, NOT_FINITE, OK


class Quadratic:
    """Penalised deviance 1 + |u - target|^2; each solve steps ``step`` of the way to the target."""

    def __init__(self, target: np.ndarray, step: float, fail_at: int | None = None) -> None:
        self.target, self.step, self.fail_at = target, step, fail_at
        self.solves, self.recorded, self.deviances = 0, [], []

    def solve(self, u: np.ndarray, b: np.ndarray) -> int:
        self.solves += 1
        if self.fail_at is not None and self.solves == self.fail_at:
            return NOT_FINITE
        u[:] = u + self.step * (self.target - u)
        b[:] = u[:1]
        return OK

    def update(self, u: np.ndarray, b: np.ndarray) -> float:
        self.deviances.append(1.0 + float(((u - self.target) ** 2).sum()))
        return self.deviances[-1]

    def record(self, u: np.ndarray) -> None:
        self.recorded.append(u.copy())


def run(ctx: Quadratic, tol: float = 1e-10, max_iter: int = 30, max_halvings: int = 10, track: bool = True):
    u, b = np.zeros(2), np.zeros(1)
    steps = type(ctx)
    out = pirls_loop(steps.solve, steps.update, steps.record)(ctx, u, b, tol, max_iter, max_halvings, track)
    return out, u, b


def test_a_full_newton_step_converges_on_the_second_iteration() -> None:
    ctx = Quadratic(np.array([1.0, -2.0]), step=1.0)
    (status, iterations, smooth), u, b = run(ctx)
    assert (status, iterations, smooth) == (OK, 2, True)
    np.testing.assert_allclose(u, [1.0, -2.0])
    assert b[0] == u[0]
    assert len(ctx.recorded) == 2


def test_an_overshooting_step_is_halved_until_the_deviance_falls() -> None:
    ctx = Quadratic(np.array([1.0, -2.0]), step=2.2)  # each step lands beyond the target, farther away
    (status, iterations, smooth), u, _ = run(ctx)
    assert not smooth
    assert status == OK
    np.testing.assert_allclose(u, [1.0, -2.0], atol=1e-4)
    # the first step is taken whole (no deviance before it); the second, recorded before its
    # deviance is known, is the first halved, and no iteration is recorded after it
    assert iterations > 3
    assert len(ctx.recorded) == 2


def test_a_solve_status_stops_the_run_and_is_returned() -> None:
    ctx = Quadratic(np.array([1.0, 1.0]), step=0.5, fail_at=3)
    (status, iterations, _), _, _ = run(ctx)
    assert (status, iterations) == (NOT_FINITE, 2)


def test_slow_progress_runs_out_of_iterations() -> None:
    ctx = Quadratic(np.array([1.0, 1.0]), step=0.01)
    (status, iterations, smooth), _, _ = run(ctx, max_iter=5)
    assert (status, iterations, smooth) == (NOT_CONVERGED, 5, True)
    assert np.all(np.diff(ctx.deviances) < 0)


def test_halving_that_cannot_lower_the_deviance_fails() -> None:
    class Rising(Quadratic):
        def update(self, u: np.ndarray, b: np.ndarray) -> float:
            self.deviances.append(float(len(self.deviances)))
            return self.deviances[-1]

    (status, iterations, smooth), _, _ = run(Rising(np.zeros(2), step=1.0), max_halvings=3)
    assert (status, iterations, smooth) == (HALVING_FAILED, 2, False)


def test_recording_can_be_switched_off() -> None:
    ctx = Quadratic(np.array([1.0, -2.0]), step=1.0)
    run(ctx, track=False)
    assert ctx.recorded == []
