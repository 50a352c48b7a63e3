"""scipy's LAPACK and BLAS without importing ``scipy.linalg``: for compiled code by symbol, for Python by kernels.

scipy exports its LAPACK and BLAS as Cython modules (``scipy.linalg.cython_lapack``,
``cython_blas``). Imported by name, they import the ``scipy.linalg`` package first
and with it scipy's array-API layer: about a fifth of a second, a sixth of a small
fit's command, for nothing a fit uses. Here the two modules are loaded from their
files, and their routines registered with LLVM under ``mixedfx_<name>``: compiled
code calls them by that name (:data:`dpotrf`, :data:`dpotri`, :data:`dsyrk`),
which keeps it cacheable. Python code calls them through the small kernels
below, which make the calls scipy's wrappers make (arguments in the same order,
the same copies), so the numbers are the ones ``scipy.linalg`` gives.

Each kernel takes its arrays as flat buffers, so it has one compiled signature.
numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import os
import sys
from importlib.machinery import PathFinder
from importlib.util import module_from_spec

import llvmlite.binding as llvm
import numba
import numpy as np
import scipy
from numba.extending import get_cython_function_address

__all__ = ["dpotrf", "dpotri", "dsyrk", "solve_triangular", "lower_cholesky", "dot", "gram", "matrix_vector",
           "matrix_product"]


def _scipy_function_address(module: str, name: str) -> int:
    """The address of LAPACK's or BLAS's ``name`` in scipy's Cython module ``scipy.linalg.<module>``.

    The module is loaded from its file (the package's folder holds it), not
    imported by name, which would import ``scipy.linalg``; it is kept in
    ``sys.modules``, where a later ``import scipy.linalg`` finds it. Where no
    such file is found (a scipy laid out otherwise), it is imported by name.
    """
    qualified = f"scipy.linalg.{module}"
    if qualified not in sys.modules:
        spec = PathFinder.find_spec(qualified, [os.path.join(scipy.__path__[0], "linalg")])
        if spec is not None:
            loaded = module_from_spec(spec)
            spec.loader.exec_module(loaded)
            sys.modules.setdefault(qualified, loaded)
    return get_cython_function_address(qualified, name)


def _external(module: str, name: str, n_arguments: int) -> numba.types.ExternalFunction:
    """scipy's ``name`` registered as ``mixedfx_<name>``: a function of ``n_arguments`` pointers (Fortran's
    convention, every argument by reference) that compiled code calls."""
    llvm.add_symbol(f"mixedfx_{name}", _scipy_function_address(module, name))
    return numba.types.ExternalFunction(f"mixedfx_{name}", numba.types.void(*[numba.types.voidptr] * n_arguments))


# dpotrf/dpotri (uplo, n, a, lda, info); dtrtrs (uplo, trans, diag, n, nrhs, a, lda, b, ldb, info);
# dsyrk (uplo, trans, n, k, alpha, a, lda, beta, c, ldc); ddot (n, x, incx, y, incy), returning the product;
# dgemv (trans, m, n, alpha, a, lda, x, incx, beta, y, incy);
# dgemm (transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
dpotrf = _external("cython_lapack", "dpotrf", 5)
dpotri = _external("cython_lapack", "dpotri", 5)
_dtrtrs = _external("cython_lapack", "dtrtrs", 10)
dsyrk = _external("cython_blas", "dsyrk", 10)
llvm.add_symbol("mixedfx_ddot", _scipy_function_address("cython_blas", "ddot"))
_ddot = numba.types.ExternalFunction("mixedfx_ddot", numba.types.float64(*[numba.types.voidptr] * 5))
_dgemv = _external("cython_blas", "dgemv", 11)
_dgemm = _external("cython_blas", "dgemm", 13)


def solve_triangular(a: np.ndarray, b: np.ndarray, lower: bool = False, trans: bool = False) -> np.ndarray:
    """``op(a)^-1 b`` for a triangular ``a``: ``scipy.linalg.solve_triangular(a, b, lower, trans,
    check_finite=False)``, by the same call of LAPACK's ``dtrtrs``.

    An ``a`` that is not Fortran-ordered is passed as its transpose (the other
    triangle, ``trans`` flipped; a C-ordered one without a copy), as scipy does.

    Parameters
    ----------
    a : ndarray, shape (n, n)
    b : ndarray, shape (n,) or (n, m)
    lower : bool
        ``a`` is lower triangular (else upper).
    trans : bool
        Solve with ``a'``.

    Returns
    -------
    ndarray, the shape of ``b``

    Raises
    ------
    numpy.linalg.LinAlgError
        A zero on ``a``'s diagonal.

    Examples
    --------
    >>> solve_triangular(np.array([[2.0, 0.0], [1.0, 4.0]]), np.array([2.0, 9.0]), lower=True).tolist()
    [1.0, 2.0]
    """
    a = np.asarray(a, dtype=float)
    if not a.flags.f_contiguous:
        a, lower, trans = a.T, not lower, not trans
    x = np.array(b, dtype=float, order="F")
    if x.size:
        n = x.shape[0]
        info = _dtrtrs_flat(a.ravel(order="F"), x.ravel(order="F"), n, x.size // n, lower, trans)
        if info:
            raise np.linalg.LinAlgError(f"singular matrix: resolution failed at diagonal {info - 1}")
    return x


def lower_cholesky(a: np.ndarray) -> tuple[np.ndarray, int]:
    """LAPACK's ``dpotrf`` on a Fortran-ordered copy of ``a``'s lower triangle:
    ``scipy.linalg.lapack.dpotrf(a, lower=1, clean=0)``.

    Returns
    -------
    factor : ndarray, shape (n, n)
        Fortran-ordered; the factor below and on the diagonal, ``a``'s upper triangle above it.
    info : int
        LAPACK's: 0, or the order of the leading minor that is not positive definite.

    Examples
    --------
    >>> factor, info = lower_cholesky(np.array([[4.0, 2.0], [2.0, 5.0]]))
    >>> np.diagonal(factor).tolist(), info
    ([2.0, 2.0], 0)
    """
    factor = np.array(a, dtype=float, order="F")
    return factor, int(_dpotrf_flat(factor.ravel(order="F"), factor.shape[0]))


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """``a' b`` for contiguous vectors by BLAS's ``ddot`` (scipy's ``blas.ddot(a, b)``).

    Examples
    --------
    >>> dot(np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    11.0
    """
    return float(_ddot_flat(a, b, a.shape[0]))


def gram(a: np.ndarray) -> np.ndarray:
    """The upper triangle of ``a' a`` (zeros below) for a C-ordered ``a``, by BLAS's ``dsyrk`` on its Fortran view
    ``a'`` (scipy's ``blas.dsyrk(1.0, a.T)``).

    Examples
    --------
    >>> gram(np.array([[1.0, 2.0], [3.0, 4.0]])).tolist()
    [[10.0, 14.0], [0.0, 20.0]]
    """
    n, p = a.shape
    out = np.zeros((p, p), order="F")
    _dsyrk_flat(a.ravel(), out.ravel(order="F"), p, n)
    return out


def matrix_vector(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a' b`` for a C-ordered ``a`` and a contiguous vector ``b``, by BLAS's ``dgemv`` on the Fortran view ``a'``
    (scipy's ``blas.dgemv(1.0, a.T, b)``).

    Examples
    --------
    >>> matrix_vector(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1.0, 1.0])).tolist()
    [4.0, 6.0]
    """
    n, p = a.shape
    out = np.zeros(p)
    _dgemv_flat(a.ravel(), b, out, p, n)
    return out


def matrix_product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a' b`` for C-ordered ``a`` and ``b``, by BLAS's ``dgemm`` on their Fortran views: ``(b' a)'``
    (scipy's ``blas.dgemm(1.0, b.T, a.T, trans_b=True).T``).

    Examples
    --------
    >>> matrix_product(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0], [1.0]])).tolist()
    [[4.0], [6.0]]
    """
    n, p = a.shape
    q = b.shape[1]
    out = np.zeros((q, p), order="F")
    _dgemm_flat(b.ravel(), a.ravel(), out.ravel(order="F"), q, p, n)
    return out.T


@numba.njit(cache=True)
def _dtrtrs_flat(a, b, n, nrhs, lower, trans):
    """``dtrtrs`` on the Fortran-ordered (n, n) ``a`` and (n, nrhs) ``b``, flat; ``b`` becomes the solution.
    Returns info."""
    uplo = np.array([ord("L") if lower else ord("U")], dtype=np.uint8)
    op = np.array([ord("T") if trans else ord("N")], dtype=np.uint8)
    diag = np.array([ord("N")], dtype=np.uint8)
    order = np.array([n], dtype=np.int32)
    columns = np.array([nrhs], dtype=np.int32)
    info = np.zeros(1, dtype=np.int32)
    _dtrtrs(uplo.ctypes, op.ctypes, diag.ctypes, order.ctypes, columns.ctypes, a.ctypes, order.ctypes, b.ctypes,
            order.ctypes, info.ctypes)
    return info[0]


@numba.njit(cache=True)
def _dpotrf_flat(a, n):
    """``dpotrf('L')`` on the Fortran-ordered (n, n) ``a``, flat, in place. Returns info."""
    uplo = np.array([ord("L")], dtype=np.uint8)
    order = np.array([n], dtype=np.int32)
    info = np.zeros(1, dtype=np.int32)
    dpotrf(uplo.ctypes, order.ctypes, a.ctypes, order.ctypes, info.ctypes)
    return info[0]


@numba.njit(cache=True)
def _ddot_flat(a, b, n):
    """``ddot`` of two contiguous vectors of ``n`` elements."""
    size = np.array([n], dtype=np.int32)
    step = np.array([1], dtype=np.int32)
    return _ddot(size.ctypes, a.ctypes, step.ctypes, b.ctypes, step.ctypes)


@numba.njit(cache=True)
def _dsyrk_flat(a, out, p, n):
    """``dsyrk('U', 'N')``: ``out = a a'`` for the Fortran-ordered (p, n) ``a`` (a C-ordered (n, p) array's
    buffer), into the (p, p) ``out``'s upper triangle."""
    uplo = np.array([ord("U")], dtype=np.uint8)
    op = np.array([ord("N")], dtype=np.uint8)
    order = np.array([p], dtype=np.int32)
    inner = np.array([n], dtype=np.int32)
    alpha = np.array([1.0])
    beta = np.array([0.0])
    dsyrk(uplo.ctypes, op.ctypes, order.ctypes, inner.ctypes, alpha.ctypes, a.ctypes, order.ctypes, beta.ctypes,
          out.ctypes, order.ctypes)


@numba.njit(cache=True)
def _dgemv_flat(a, b, out, p, n):
    """``dgemv('N')``: ``out = a b`` for the Fortran-ordered (p, n) ``a`` (a C-ordered (n, p) array's buffer)."""
    op = np.array([ord("N")], dtype=np.uint8)
    rows = np.array([p], dtype=np.int32)
    columns = np.array([n], dtype=np.int32)
    step = np.array([1], dtype=np.int32)
    alpha = np.array([1.0])
    beta = np.array([0.0])
    _dgemv(op.ctypes, rows.ctypes, columns.ctypes, alpha.ctypes, a.ctypes, rows.ctypes, b.ctypes, step.ctypes,
           beta.ctypes, out.ctypes, step.ctypes)


@numba.njit(cache=True)
def _dgemm_flat(b, a, out, q, p, n):
    """``dgemm('N', 'T')``: ``out = b a'`` for the Fortran-ordered (q, n) ``b`` and (p, n) ``a`` (C-ordered (n, q)
    and (n, p) arrays' buffers), into the Fortran-ordered (q, p) ``out``."""
    op_b = np.array([ord("N")], dtype=np.uint8)
    op_a = np.array([ord("T")], dtype=np.uint8)
    rows = np.array([q], dtype=np.int32)
    columns = np.array([p], dtype=np.int32)
    inner = np.array([n], dtype=np.int32)
    alpha = np.array([1.0])
    beta = np.array([0.0])
    _dgemm(op_b.ctypes, op_a.ctypes, rows.ctypes, columns.ctypes, inner.ctypes, alpha.ctypes, b.ctypes, rows.ctypes,
           a.ctypes, columns.ctypes, beta.ctypes, out.ctypes, rows.ctypes)
