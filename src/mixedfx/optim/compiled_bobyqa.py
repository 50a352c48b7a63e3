"""BOBYQA through nlopt's C interface on an objective compiled to a C function: no Python between evaluations.

A small model's criterion is one compiled call of about a microsecond, but
through nlopt's Python interface each evaluation also pays for the arrays it
wraps, the Python objective and its checks: about ten microseconds, most of a
40-evaluation fit. Here nlopt calls the compiled function itself (a numba
``cfunc`` taking nlopt's ``nlopt_func`` arguments: ``n``, ``x``, ``grad``,
``data``), and its library is reached with ctypes. The run is nlopt's BOBYQA
as :func:`mixedfx.optim.optimize.bobyqa` runs it (same settings, same points
for the same values); where it does not end on a tolerance, that function runs
it again in Python, so failures are reported as there.
"""

from __future__ import annotations

import ctypes
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import nlopt
import numpy as np

from mixedfx.optim.optimize import OptSummary, bobyqa

__all__ = ["CompiledObjective", "compiled_bobyqa"]


@dataclass(frozen=True)
class CompiledObjective:
    """A C function nlopt can call (``double f(unsigned n, const double *x, double *grad, void *data)``) and its data.

    Attributes
    ----------
    address : int
        The function's address (a numba ``cfunc``'s ``address``).
    data : ndarray
        What ``data`` points to; the arrays it refers to are kept alive in ``keep``.
    keep : tuple
        Objects that must outlive the run (the arrays ``data`` holds addresses of).
    """

    address: int
    data: np.ndarray
    keep: tuple = ()


def compiled_bobyqa(compiled: CompiledObjective, objective: Callable[[np.ndarray], float], x0: np.ndarray,
                    lower: np.ndarray, *, xtol_abs: float = 1e-8, ftol_abs: float = 1e-8, maxeval: int = 100_000,
                    initial_step: np.ndarray | None = None) -> OptSummary:
    """:func:`~mixedfx.optim.optimize.bobyqa` on a compiled objective, every evaluation in C.

    Parameters
    ----------
    compiled : CompiledObjective
        The objective as a C function.
    objective : callable
        The same objective in Python: it checks the end point and runs BOBYQA
        again where the compiled run does not end on a tolerance.
    x0, lower, xtol_abs, ftol_abs, maxeval, initial_step
        As for :func:`~mixedfx.optim.optimize.bobyqa`.

    Returns
    -------
    OptSummary

    Examples
    --------
    >>> import numba
    >>> @numba.cfunc("float64(uint32, CPointer(float64), CPointer(float64), voidptr)")
    ... def bowl(n, x, grad, data):
    ...     return (x[0] - 1.0) ** 2 + (x[1] - 2.0) ** 2
    >>> python = lambda x: float((x[0] - 1.0) ** 2 + (x[1] - 2.0) ** 2)
    >>> compiled = CompiledObjective(bowl.address, np.zeros(1))
    >>> np.round(compiled_bobyqa(compiled, python, np.zeros(2), np.array([0.0, -np.inf])).x, 6).tolist()
    [1.0, 2.0]
    """
    x0 = np.maximum(np.asarray(x0, dtype=float), lower)
    library = _nlopt_library()
    if library is None:
        return bobyqa(objective, x0, lower, xtol_abs=xtol_abs, ftol_abs=ftol_abs, maxeval=maxeval,
                      initial_step=initial_step)
    opt = library.nlopt_create(nlopt.LN_BOBYQA, len(x0))
    try:
        bounds = np.ascontiguousarray(lower, dtype=float)
        library.nlopt_set_lower_bounds(opt, bounds.ctypes.data)
        library.nlopt_set_xtol_abs1(opt, xtol_abs)
        library.nlopt_set_ftol_abs(opt, ftol_abs)
        library.nlopt_set_maxeval(opt, maxeval)
        if initial_step is not None:
            steps = np.ascontiguousarray(initial_step, dtype=float)
            library.nlopt_set_initial_step(opt, steps.ctypes.data)
        library.nlopt_set_min_objective(opt, compiled.address, compiled.data.ctypes.data)
        x, least = x0.copy(), np.zeros(1)
        code = library.nlopt_optimize(opt, x.ctypes.data, least.ctypes.data)
        evaluations = library.nlopt_get_numevals(opt)
    finally:
        library.nlopt_destroy(opt)
    fval = float(objective(x))
    # a failed run, or one whose end is not its best point, is left to the Python run, which reports both
    if code < 0 or fval > least[0]:
        return bobyqa(objective, x0, lower, xtol_abs=xtol_abs, ftol_abs=ftol_abs, maxeval=maxeval,
                      initial_step=initial_step)
    messages = [f"maximum number of function evaluations ({maxeval}) reached"] if code == 5 else []
    return OptSummary(optimizer="nloptwrap", x0=x0, x=x, fval=fval, feval=evaluations, return_code=code,
                      messages=messages)


@cache
def _nlopt_library() -> ctypes.CDLL | None:
    """nlopt's C functions, from the library its Python interface loaded, with their argument types (None
    where that library does not export them: a build of nlopt's Python interface linking nlopt differently)."""
    try:
        library = ctypes.CDLL(importlib.util.find_spec("nlopt._nlopt").origin)
        library.nlopt_create  # noqa: B018 - looked up to see that the C interface is exported
    except (OSError, AttributeError, TypeError):
        return None
    pointer, handle = ctypes.c_void_p, ctypes.c_void_p
    library.nlopt_create.restype = handle
    library.nlopt_create.argtypes = [ctypes.c_int, ctypes.c_uint]
    arguments = {"nlopt_set_lower_bounds": [handle, pointer], "nlopt_set_xtol_abs1": [handle, ctypes.c_double],
                 "nlopt_set_ftol_abs": [handle, ctypes.c_double], "nlopt_set_maxeval": [handle, ctypes.c_int],
                 "nlopt_set_initial_step": [handle, pointer], "nlopt_set_min_objective": [handle, pointer, pointer],
                 "nlopt_optimize": [handle, pointer, pointer], "nlopt_get_numevals": [handle],
                 "nlopt_destroy": [handle]}
    for name, types in arguments.items():
        getattr(library, name).argtypes = types
    library.nlopt_destroy.restype = None
    return library
