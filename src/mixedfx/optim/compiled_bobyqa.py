"""BOBYQA through nlopt's C interface on an objective compiled to a C function: no Python between evaluations.

A small model's criterion is one compiled call of about a microsecond, but
through nlopt's Python interface each evaluation also pays for the arrays it
wraps, the Python objective and its checks: about ten microseconds, most of a
40-evaluation fit. Here nlopt calls the compiled function itself (a numba
``cfunc`` taking nlopt's ``nlopt_func`` arguments: ``n``, ``x``, ``grad``,
``data``), and a compiled function drives nlopt's C interface (create, set
the bounds and tolerances, optimise, destroy) in one call from Python: through
ctypes each of those calls cost a microsecond or two, 30 us a fit. The run is
nlopt's BOBYQA as :func:`mixedfx.optim.optimize.bobyqa` runs it (same settings,
same points for the same values); where it fails, that function runs it again
in Python, so failures are reported as there.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import ctypes
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import llvmlite.binding
import nlopt
import numba
import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

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
                    initial_step: np.ndarray | None = None, factorizer: str = "") -> OptSummary:
    """:func:`~mixedfx.optim.optimize.bobyqa` on a compiled objective, every evaluation in C.

    Parameters
    ----------
    compiled : CompiledObjective
        The objective as a C function.
    objective : callable
        The same objective in Python: it runs BOBYQA again where the compiled
        run fails (or nlopt's C interface is not found).
    x0, lower, xtol_abs, ftol_abs, maxeval, initial_step
        As for :func:`~mixedfx.optim.optimize.bobyqa`.
    factorizer : str
        What evaluates the objective (the summary's ``factorizer``).

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
    if not _nlopt_linked():
        return bobyqa(objective, x0, lower, xtol_abs=xtol_abs, ftol_abs=ftol_abs, maxeval=maxeval,
                      initial_step=initial_step)
    # new arrays: numba compiles the driver again for a read-only one (a refit's shared first steps)
    x = x0.copy()
    steps = _NO_STEPS if initial_step is None else np.array(initial_step, dtype=float)
    code, least, evaluations = _run_bobyqa(nlopt.LN_BOBYQA, compiled.address, compiled.data, x,
                                           np.array(lower, dtype=float), steps, xtol_abs, ftol_abs, maxeval)
    if code < 0:  # a failed run is left to the Python run, which reports it
        return bobyqa(objective, x0, lower, xtol_abs=xtol_abs, ftol_abs=ftol_abs, maxeval=maxeval,
                      initial_step=initial_step)
    # nlopt's BOBYQA returns its best point and the value there: no evaluation in Python checks it
    messages = [f"maximum number of function evaluations ({maxeval}) reached"] if code == 5 else []
    return OptSummary(optimizer="nloptwrap", x0=x0, x=x, fval=float(least), feval=int(evaluations),
                      return_code=int(code), messages=messages, factorizer=factorizer)


_NO_STEPS = np.zeros(0)
_PREFIX = "mixedfx_"  # nlopt's C functions as the compiled code knows them (registered by _nlopt_linked)
_HANDLE, _STATUS = types.voidptr, types.int32
_create = types.ExternalFunction(f"{_PREFIX}nlopt_create", _HANDLE(types.int32, types.uint32))
_set_lower_bounds = types.ExternalFunction(f"{_PREFIX}nlopt_set_lower_bounds", _STATUS(_HANDLE, types.voidptr))
_set_xtol_abs1 = types.ExternalFunction(f"{_PREFIX}nlopt_set_xtol_abs1", _STATUS(_HANDLE, types.double))
_set_ftol_abs = types.ExternalFunction(f"{_PREFIX}nlopt_set_ftol_abs", _STATUS(_HANDLE, types.double))
_set_maxeval = types.ExternalFunction(f"{_PREFIX}nlopt_set_maxeval", _STATUS(_HANDLE, types.int32))
_set_initial_step = types.ExternalFunction(f"{_PREFIX}nlopt_set_initial_step", _STATUS(_HANDLE, types.voidptr))
_set_min_objective = types.ExternalFunction(f"{_PREFIX}nlopt_set_min_objective",
                                            _STATUS(_HANDLE, types.voidptr, types.voidptr))
_optimize = types.ExternalFunction(f"{_PREFIX}nlopt_optimize", _STATUS(_HANDLE, types.voidptr, types.voidptr))
_get_numevals = types.ExternalFunction(f"{_PREFIX}nlopt_get_numevals", types.int32(_HANDLE))
_destroy = types.ExternalFunction(f"{_PREFIX}nlopt_destroy", types.void(_HANDLE))


@intrinsic
def as_pointer(typingctx, address):
    """An address held in an int64, as a pointer (for compiled code)."""
    def codegen(context, builder, signature, args):
        return builder.inttoptr(args[0], cgutils.voidptr_t)

    return types.voidptr(types.int64), codegen


@intrinsic
def _data_pointer(typingctx, array):
    """A contiguous array's data, as a pointer."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(context.make_array(signature.args[0])(context, builder, args[0]).data,
                               cgutils.voidptr_t)

    return types.voidptr(array), codegen


@numba.njit(cache=True)
def _run_bobyqa(algorithm, function, data, x, lower, steps, xtol_abs, ftol_abs, maxeval):
    """nlopt's run from ``x`` (overwritten by its end) on the C function at ``function``: return code, the value at
    the end, evaluations. ``steps`` empty leaves nlopt's first steps."""
    opt = _create(algorithm, len(x))
    _set_lower_bounds(opt, _data_pointer(lower))
    _set_xtol_abs1(opt, xtol_abs)
    _set_ftol_abs(opt, ftol_abs)
    _set_maxeval(opt, maxeval)
    if len(steps):
        _set_initial_step(opt, _data_pointer(steps))
    _set_min_objective(opt, as_pointer(function), _data_pointer(data))
    least = np.zeros(1)
    code = _optimize(opt, _data_pointer(x), _data_pointer(least))
    evaluations = _get_numevals(opt)
    _destroy(opt)
    return code, least[0], evaluations


@cache
def _nlopt_linked() -> bool:
    """Whether nlopt's C functions are found in the library its Python interface loaded, and registered for
    :func:`_run_bobyqa` (False where that library does not export them: a build of nlopt's Python interface
    linking nlopt differently)."""
    names = ("nlopt_create", "nlopt_set_lower_bounds", "nlopt_set_xtol_abs1", "nlopt_set_ftol_abs",
             "nlopt_set_maxeval", "nlopt_set_initial_step", "nlopt_set_min_objective", "nlopt_optimize",
             "nlopt_get_numevals", "nlopt_destroy")
    try:
        library = ctypes.CDLL(importlib.util.find_spec("nlopt._nlopt").origin)
        addresses = {name: ctypes.cast(getattr(library, name), ctypes.c_void_p).value for name in names}
    except (OSError, AttributeError, TypeError):
        return False
    for name, address in addresses.items():
        llvmlite.binding.add_symbol(_PREFIX + name, address)
    return True


_nlopt_linked()  # at import: the compiled driver's symbols must be registered before numba loads or compiles it
