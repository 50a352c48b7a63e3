"""A small model's criterion as a C function nlopt calls directly (:mod:`mixedfx.optim.compiled_bobyqa`).

The compiled criteria of :mod:`mixedfx.linalg.one_term` take the model's
blocks and theta; here each is wrapped in a numba ``cfunc`` with nlopt's
objective signature. The blocks reach it through nlopt's ``data`` pointer: an
int64 table with, per array, its address and up to three dimensions (the
first entry is the criterion's constants: residual degrees of freedom, log|W|,
and 1 for REML). The value is :func:`mixedfx.lmm.criterion.profiled_criterion`
of the kernel's parts, ``inf`` where the factorisation fails, as
:meth:`mixedfx.lmm.model.LinearMixedModel.objective` returns.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial

import numba
import numpy as np
from numba import literal_unroll, types

from mixedfx.linalg.one_term import class_criterion_parts, criterion_parts, scalar_criterion_parts
from mixedfx.linalg.pivots import OK
from mixedfx.lmm.criterion import profiled_criterion
from mixedfx.optim.compiled_bobyqa import CompiledObjective, as_pointer

__all__ = ["compiled_objective"]

_criterion = numba.njit(cache=True, inline="always")(profiled_criterion)
_SLOT = 4  # per array: address, then up to three dimensions
_SLOTS = 6  # the constants and at most five arrays
_NLOPT_FUNC = types.double(types.uint32, types.CPointer(types.double), types.CPointer(types.double), types.voidptr)


@numba.njit(cache=True)
def _vector(table, i):
    return numba.carray(as_pointer(table[_SLOT * i]), (table[_SLOT * i + 1],), np.float64)


@numba.njit(cache=True)
def _codes(table, i):
    return numba.carray(as_pointer(table[_SLOT * i]), (table[_SLOT * i + 1],), np.int64)


@numba.njit(cache=True)
def _matrix(table, i):
    return numba.carray(as_pointer(table[_SLOT * i]), (table[_SLOT * i + 1], table[_SLOT * i + 2]), np.float64)


@numba.njit(cache=True)
def _cube(table, i):
    shape = (table[_SLOT * i + 1], table[_SLOT * i + 2], table[_SLOT * i + 3])
    return numba.carray(as_pointer(table[_SLOT * i]), shape, np.float64)


@numba.njit(cache=True, inline="always")
def _value(parts, table):
    """The criterion from a kernel's ``(status, logdet_re, logdet_x, pwrss)`` and the table's constants."""
    if parts[0] != OK:
        return np.inf
    constants = _vector(table, 0)
    return _criterion(parts[1], parts[2], parts[3], constants[0], constants[1], constants[2] != 0.0)


def _one_term(n, x, grad, data):
    table = numba.carray(data, (_SLOT * _SLOTS,), np.int64)
    return _value(criterion_parts(_cube(table, 1), _matrix(table, 2), _matrix(table, 3), numba.carray(x, (n,))),
                  table)


def _level_classes(n, x, grad, data):
    table = numba.carray(data, (_SLOT * _SLOTS,), np.int64)
    parts = class_criterion_parts(_vector(table, 1), _cube(table, 2), _cube(table, 3), _matrix(table, 4),
                                  numba.carray(x, (n,)))
    return _value(parts, table)


def _scalar_terms(n, x, grad, data):
    table = numba.carray(data, (_SLOT * _SLOTS,), np.int64)
    parts = scalar_criterion_parts(_codes(table, 1), _vector(table, 2), _matrix(table, 3), _matrix(table, 4),
                                   numba.carray(x, (n,)))
    return _value(parts, table)


_WRAPPERS = {criterion_parts: _one_term, class_criterion_parts: _level_classes, scalar_criterion_parts: _scalar_terms}


@cache
def _compiled_wrapper(kernel: Callable) -> int:
    """The address of ``kernel``'s wrapper compiled as a C function: compiled (or loaded from numba's cache) on
    first use, since loading one takes a tenth of a second or more."""
    return numba.cfunc(_NLOPT_FUNC, cache=True)(_WRAPPERS[kernel]).address


def compiled_objective(parts: partial, dof: int, log_det_weights: float, reml: bool) -> CompiledObjective:
    """The criterion over a compiled kernel's blocks as a C function of theta.

    Parameters
    ----------
    parts : functools.partial
        A kernel of :mod:`mixedfx.linalg.one_term` over its blocks (a
        factoriser's ``compiled_criterion``): theta is its last argument.
    dof : int
        The criterion's residual degrees of freedom (n - p for REML, n for ML).
    log_det_weights : float
        log|W| of the prior weights.
    reml : bool

    Returns
    -------
    CompiledObjective

    Examples
    --------
    >>> import mixedfx as mfx
    >>> model = mfx.lmer_model(mfx.lmer_design("Yield ~ 1 + (1 | Batch)", mfx.datasets.load("Dyestuff")))
    >>> compiled = compiled_objective(model.factorizer.compiled_criterion, model.n - model.p, 0.0, True)
    >>> compiled.address > 0
    True
    """
    arrays = tuple(np.ascontiguousarray(a) for a in parts.args)
    constants = np.array([dof, log_det_weights, 1.0 if reml else 0.0])
    return CompiledObjective(_compiled_wrapper(parts.func), _address_table(constants, arrays), keep=(constants, arrays))


@numba.njit(cache=True)
def _address_table(constants, arrays):
    """The ``data`` table: per array (``constants`` first) its address and dimensions. Compiled: through
    ``ndarray.ctypes`` each address costs a few microseconds."""
    table = np.zeros(_SLOT * _SLOTS, dtype=np.int64)
    table[0], table[1] = constants.ctypes.data, constants.shape[0]
    i = 1
    for array in literal_unroll(arrays):
        table[_SLOT * i] = array.ctypes.data
        for d in range(array.ndim):
            table[_SLOT * i + 1 + d] = array.shape[d]
        i += 1
    return table
