"""The blocked factor of small models in one compiled pass: one random-effects term, or scalar terms.

With a single term (``(Days | Subject)``, ``(time | subject)``) the rest of the
penalised system is only the fixed effects and the response: a few columns.
Each level's k x k block is factored, its coupling with the rest formed and
its Schur update accumulated in one loop over the levels, and the small rest
block factored in the same call. The deviance then costs one call, with no
Python in between: what matters for small models, whose evaluations are
microseconds, and for many levels, whose per-level work numpy cannot fuse.
Crossed scalar terms with a small rest (``(1 | plate) + (1 | sample)``) get
the same treatment in :func:`scalar_criterion_parts`.

numba is imported here, so import this module only where it is used.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
import pandas as pd

from mixedfx.linalg.cholesky import cholesky_in_place, compiled_pivot_floor, subtract_gram_lower
from mixedfx.linalg.layout import lambda_template
from mixedfx.linalg.pivots import NOT_POSITIVE_DEFINITE, OK

__all__ = ["factor_one_term", "factor_levels", "criterion_parts", "factor_parts", "scalar_factor", "scalar_criterion_parts",
           "LevelClasses", "LevelGrouping", "level_grouping", "level_classes", "class_criterion_parts"]

_template = numba.njit(cache=True)(lambda_template)


@numba.njit(cache=True, error_model="numpy")
def factor_one_term(a11, a_r1, a_rr, theta):
    """Factor ``[[T'A11 T + I, .], [A_r1 T, A_rr]]`` blockwise for one term.

    The blocks come first and theta last, so ``functools.partial`` binds a
    model's blocks into its criterion.

    Parameters
    ----------
    a11 : ndarray, shape (l, k, k)
        Per-level blocks of Z'WZ.
    a_r1 : ndarray, shape (m, l * k)
        [X y]' W Z.
    a_rr : ndarray, shape (m, m)
        [X y]' W [X y].
    theta : ndarray
        The term's template, lower triangle column-major.

    Returns
    -------
    status : int
        0, or 1 when a block is not positive definite: a pivot at or below
        :func:`mixedfx.linalg.pivots.pivot_floor` (the response's pivot may be 0).
    l11 : ndarray, shape (l, k, k)
    l_r1 : ndarray, shape (m, l * k)
    l_rr : ndarray, shape (m, m)
        Lower triangular.
    """
    n_levels, k, _ = a11.shape
    m = a_rr.shape[0]
    status, l11, l_r1, _ = factor_levels(_template(theta, k), a11, a_r1)
    rest = _lower_copy(a_rr)
    if status != OK:
        return status, l11, l_r1, rest
    subtract_gram_lower(l_r1, rest)  # the Schur update: one BLAS product over all levels
    return cholesky_in_place(rest, np.diag(a_rr).copy(), n_levels * k + m, True)[0], l11, l_r1, rest


@numba.njit(cache=True, error_model="numpy")
def factor_levels(t, a11, a_r1):
    """The first term's blocks: each level's ``T' A11_i T + I = L11_i L11_i'`` and the coupling ``A_r1 T L11_i^-T``.

    Parameters
    ----------
    t : ndarray, shape (k, k)
        The term's template.
    a11 : ndarray, shape (l, k, k)
        Per-level blocks of Z'WZ.
    a_r1 : ndarray, shape (m, l * k)
        The rest's cross-products with the term, C-ordered.

    Returns
    -------
    status : int
        ``OK``, or ``NOT_POSITIVE_DEFINITE`` when a level's block is not.
    l11 : ndarray, shape (l, k, k)
    coupling : ndarray, shape (m, l * k)
    rights : ndarray, shape (l, k, k)
        Each level's ``T L11_i^-T`` (the coupling's right factors).
    """
    n_levels, k, _ = a11.shape
    l11 = np.zeros((n_levels, k, k))
    rights = np.zeros((n_levels, k, k))
    coupling = np.empty((a_r1.shape[0], n_levels * k))
    if k == 2:
        status = _levels_two(t, a11, a_r1, l11, rights, coupling)
    else:
        status = _levels_general(t, a11, a_r1, l11, rights, coupling)
    return status, l11, coupling, rights


@numba.njit(cache=True, error_model="numpy")
def _lower_copy(a):
    """A copy of a's lower triangle, zeros above (loops: numpy's tril costs seconds of compiling)."""
    m = a.shape[0]
    out = np.zeros((m, m))
    for i in range(m):
        for j in range(i + 1):
            out[i, j] = a[i, j]
    return out


@numba.njit(cache=True, error_model="numpy")
def _factor_level(t, block, at, low, right, diagonal):
    """One level's ``S = T' A T + I`` factored into ``low``, and ``right = T low^-T``.

    Returns False when S is not positive definite. ``at`` (k x k) and ``diagonal`` (k) are workspace.
    """
    k = t.shape[0]
    for r in range(k):
        for c in range(k):
            acc = 0.0
            for b in range(k):
                acc += block[r, b] * t[b, c]
            at[r, c] = acc
    for r in range(k):
        for c in range(r + 1):
            acc = 0.0
            for b in range(k):
                acc += t[b, r] * at[b, c]
            low[r, c] = acc + (1.0 if r == c else 0.0)
        diagonal[r] = low[r, r]
    if cholesky_in_place(low, diagonal, k, False)[0] != OK:
        return False
    # right = T L^-T: solve right L' = T row by row
    for r in range(k):
        for c in range(k):
            v = t[r, c]
            for b in range(c):
                v -= right[r, b] * low[c, b]
            right[r, c] = v / low[c, c]
    return True


@numba.njit(cache=True, error_model="numpy")
def _levels_general(t, a11, a_r1, l11, rights, l_r1):
    """The per-level work of :func:`factor_levels`: each level's block factored, its coupling formed."""
    k = t.shape[0]
    m = a_r1.shape[0]
    at = np.empty((k, k))
    diagonal = np.empty(k)
    for lev in range(a11.shape[0]):
        right = rights[lev]
        if not _factor_level(t, a11[lev], at, l11[lev], right, diagonal):
            return NOT_POSITIVE_DEFINITE
        base = lev * k
        for i in range(m):
            for c in range(k):
                acc = 0.0
                for b in range(k):
                    acc += a_r1[i, base + b] * right[b, c]
                l_r1[i, base + c] = acc
    return OK


@numba.njit(cache=True, error_model="numpy")
def _levels_two(t, a11, a_r1, l11, rights, l_r1):
    """The per-level work of :func:`factor_levels` written out for 2 x 2 blocks (random intercept and slope)."""
    t00, t10, t11 = t[0, 0], t[1, 0], t[1, 1]
    m = a_r1.shape[0]
    for lev in range(a11.shape[0]):
        a00, a10, a11_ = a11[lev, 0, 0], a11[lev, 1, 0], a11[lev, 1, 1]
        # S = T' A T + I with T lower triangular
        at00 = a00 * t00 + a10 * t10
        at10 = a10 * t00 + a11_ * t10
        at11 = a11_ * t11
        s00 = t00 * at00 + t10 * at10 + 1.0
        s10 = t11 * at10
        s11 = t11 * at11 + 1.0
        if not s00 > compiled_pivot_floor(s00, 2):
            return NOT_POSITIVE_DEFINITE
        l00 = math.sqrt(s00)
        l10 = s10 / l00
        d = s11 - l10 * l10
        if not d > compiled_pivot_floor(s11, 2):
            return NOT_POSITIVE_DEFINITE
        l11_ = math.sqrt(d)
        l11[lev, 0, 0] = l00
        l11[lev, 1, 0] = l10
        l11[lev, 1, 1] = l11_
        # right = T L^-T
        r00 = t00 / l00
        r10 = t10 / l00
        r11 = (t11 - r10 * l10) / l11_
        r01 = (0.0 - r00 * l10) / l11_
        rights[lev, 0, 0], rights[lev, 0, 1], rights[lev, 1, 0], rights[lev, 1, 1] = r00, r01, r10, r11
        base = 2 * lev
        for i in range(m):
            x0, x1 = a_r1[i, base], a_r1[i, base + 1]
            l_r1[i, base] = x0 * r00 + x1 * r10
            l_r1[i, base + 1] = x0 * r01 + x1 * r11
    return OK


@numba.njit(cache=True, error_model="numpy")
def criterion_parts(a11, a_r1, a_rr, theta):
    """log |L_Z|^2, log |R_X|^2 and the penalised residual sum of squares, status first.

    The status is :func:`factor_one_term`'s.
    """
    status, l11, _, rest = factor_one_term(a11, a_r1, a_rr, theta)
    if status != OK:
        return status, 0.0, 0.0, 0.0
    return factor_parts(l11, rest)


@numba.njit(cache=True, error_model="numpy")
def factor_parts(l11, l_rr):
    """:func:`criterion_parts`' results (status ``OK`` first) from :func:`factor_one_term`'s factor."""
    logdet_re = 0.0
    for lev in range(l11.shape[0]):
        for j in range(l11.shape[1]):
            logdet_re += math.log(l11[lev, j, j])
    m = l_rr.shape[0]
    return _parts(logdet_re, l_rr, 0, l_rr[m - 1, m - 1] ** 2)


@numba.njit(cache=True, error_model="numpy")
def _parts(logdet_re, rest, n_random, pwrss):
    """The criterion's parts from a factored rest whose first ``n_random`` rows are random effects.

    ``logdet_re`` holds the log-determinant of the levels already eliminated
    (log |L|, not squared); the rest's random rows add to it, its X rows make
    log |R_X|; both are returned squared, as the criterion takes them.
    """
    logdet_x = 0.0
    for j in range(rest.shape[0] - 1):
        if j < n_random:
            logdet_re += math.log(rest[j, j])
        else:
            logdet_x += math.log(rest[j, j])
    return OK, 2.0 * logdet_re, 2.0 * logdet_x, pwrss


class LevelClasses(NamedTuple):
    """Levels grouped by identical Z'WZ blocks, with what :func:`class_criterion_parts` reads.

    Attributes
    ----------
    counts : ndarray of float, shape (c,)
        Levels in each class.
    a11 : ndarray, shape (c, k, k)
        Each class's block.
    products : ndarray, shape (c, k * m, k * m)
        Lower triangles: ``products[c, a * m + i, b * m + j]`` is the sum over the
        class's levels of ``a_r1[i, level * k + a] * a_r1[j, level * k + b]``.
    """

    counts: np.ndarray
    a11: np.ndarray
    products: np.ndarray


class LevelGrouping(NamedTuple):
    """A single term's levels grouped by identical Z'WZ blocks: what :func:`level_classes` reads of ``a11``,
    which a new response or a fixed effect moved into the offset does not change.

    Attributes
    ----------
    codes : ndarray of int64, shape (l,)
        Each level's class, classes numbered in order of first appearance.
    representative : ndarray of int64, shape (c,)
        A level of each class.
    counts : ndarray of float, shape (c,)
        Levels in each class.
    """

    codes: np.ndarray
    representative: np.ndarray
    counts: np.ndarray


_FEW_LEVELS = 64
"""Up to this many levels a dict of the blocks' bytes groups them faster than pandas' factorize starts."""


def level_grouping(a11: np.ndarray) -> LevelGrouping:
    """Group a single term's levels by identical (bit for bit) blocks ``a11[l]``."""
    n_levels, k, _ = a11.shape
    flat = np.ascontiguousarray(a11, dtype=float).reshape(n_levels, k * k)
    bits = flat.view(np.int64)  # compared bit for bit, as the bytes below
    if n_levels and (bits == bits[0]).all():  # a balanced design (every subject seen at the same times): one class
        return LevelGrouping(codes=np.zeros(n_levels, dtype=np.int64), representative=np.zeros(1, dtype=np.int64),
                             counts=np.array([float(n_levels)]))
    if n_levels <= _FEW_LEVELS:
        seen: dict[bytes, int] = {}
        codes = np.fromiter((seen.setdefault(row.tobytes(), len(seen)) for row in flat), np.int64, n_levels)
        n_classes = len(seen)
    else:
        codes, uniques = pd.factorize(flat.view(np.dtype((np.void, flat.itemsize * k * k))).ravel())
        n_classes = len(uniques)
    representative = np.empty(n_classes, dtype=np.int64)
    representative[codes] = np.arange(n_levels)  # any level of a class will do: their blocks are equal
    return LevelGrouping(codes=codes.astype(np.int64), representative=representative,
                         counts=np.bincount(codes, minlength=n_classes).astype(float))


def level_classes(a11: np.ndarray, a_r1: np.ndarray, grouping: LevelGrouping | None = None) -> LevelClasses | None:
    """Group a single term's levels by identical blocks, when that makes the criterion cheaper.

    Balanced designs (every subject seen at the same times) have one block for
    all levels. Each level's share of the Schur update is then
    ``a_r1_l T S^-1 T' a_r1_l'`` with one ``S`` per class, so the update is
    the class sums of the products of ``a_r1``'s columns weighted by the k x k
    ``T S^-1 T'``: a cost per evaluation that does not grow with the levels.

    Parameters
    ----------
    a11 : ndarray, shape (l, k, k)
    a_r1 : ndarray, shape (m, l * k)
    grouping : LevelGrouping, optional
        :func:`level_grouping` of ``a11``, where it is known already (a refit's).

    Returns
    -------
    LevelClasses or None
        None where the products would hold more numbers than ``a_r1`` (too many classes).
    """
    n_levels, k, _ = a11.shape
    m = a_r1.shape[0]
    grouping = level_grouping(a11) if grouping is None else grouping
    n_classes = len(grouping.counts)
    if n_classes * k * m > n_levels:
        return None
    products = _class_products(grouping.codes, n_classes, np.ascontiguousarray(a_r1, dtype=float), k)
    return LevelClasses(counts=grouping.counts, a11=np.ascontiguousarray(a11[grouping.representative], dtype=float),
                        products=products)


@numba.njit(cache=True, error_model="numpy")
def _class_products(codes, n_classes, a_r1, k):
    """:attr:`LevelClasses.products`: per class, the lower triangle of the sum of v v' over its levels.

    ``v`` is a level's k columns of ``a_r1`` stacked (column a's row i at a * m + i);
    each row's update is one contiguous, vectorisable loop.
    """
    m = a_r1.shape[0]
    km = k * m
    out = np.zeros((n_classes, km, km))
    v = np.empty(km)
    for lev in range(codes.shape[0]):
        for a in range(k):
            for i in range(m):
                v[a * m + i] = a_r1[i, lev * k + a]
        block = out[codes[lev]]
        for i in range(km):
            x = v[i]
            row = block[i]
            for j in range(i + 1):
                row[j] += x * v[j]
    return out


@numba.njit(cache=True, error_model="numpy")
def class_criterion_parts(counts, a11, products, a_rr, theta):
    """:func:`criterion_parts` from :class:`LevelClasses`: one block factored per class.

    Parameters
    ----------
    counts, a11, products : ndarray
        :class:`LevelClasses`' fields.
    a_rr : ndarray, shape (m, m)
        [X y]' W [X y].
    theta : ndarray
        The term's template, lower triangle column-major.

    Returns
    -------
    status, logdet_re, logdet_x, pwrss
        As :func:`criterion_parts`.
    """
    n_classes, k, _ = a11.shape
    m = a_rr.shape[0]
    t = _template(theta, k)
    at = np.empty((k, k))
    low = np.zeros((k, k))
    right = np.empty((k, k))
    diagonal = np.empty(k)
    rest = _lower_copy(a_rr)
    logdet_re = 0.0
    for c in range(n_classes):
        if not _factor_level(t, a11[c], at, low, right, diagonal):
            return NOT_POSITIVE_DEFINITE, 0.0, 0.0, 0.0
        for j in range(k):
            logdet_re += counts[c] * math.log(low[j, j])
        for a in range(k):
            for b in range(k):
                # (T S^-1 T')[a, b] = (right right')[a, b]
                weight = 0.0
                for e in range(k):
                    weight += right[a, e] * right[b, e]
                for i in range(m):
                    for j in range(i + 1):
                        row, col = a * m + i, b * m + j
                        rest[i, j] -= weight * (products[c, row, col] if row >= col else products[c, col, row])
    status, pwrss = cholesky_in_place(rest, np.diag(a_rr).copy(), counts.sum() * k + m, True)
    if status != OK:
        return status, 0.0, 0.0, 0.0
    return _parts(logdet_re, rest, 0, pwrss)


@numba.njit(cache=True, error_model="numpy")
def scalar_factor(row_term, a11, a_r1, a_rr, theta):
    """The factor of scalar terms with a small dense rest (crossed ``(1 | a) + (1 | b)``), in one pass.

    Parameters
    ----------
    row_term : ndarray of int, shape (m,)
        For each rest row, the term whose theta scales it; -1 for the fixed effects and the response.
    a11 : ndarray, shape (l,)
        The first term's diagonal of Z'WZ.
    a_r1 : ndarray, shape (m, l)
        The rest's coupling with the first term.
    a_rr : ndarray, shape (m, m)
        The rest's cross-products.
    theta : ndarray
        One value per term, the first term's first.

    Returns
    -------
    status : int
        As :func:`factor_one_term`'s.
    pivots : ndarray, shape (l,)
        The first term's squared pivots ``theta_1^2 a11 + 1`` (its factor's diagonal squared).
    rest : ndarray, shape (m, m)
        The rest's factor (lower triangular, zeros above), less the coupling's Schur update.
    pwrss : float
        The penalised residual sum of squares.
    """
    m = a_rr.shape[0]
    th0 = theta[0]
    pivots = np.empty(a11.shape[0])
    weights = np.empty(a11.shape[0])
    for lev in range(a11.shape[0]):
        d = th0 * th0 * a11[lev] + 1.0
        pivots[lev] = d
        weights[lev] = th0 * th0 / d
    scale = np.empty(m)
    for i in range(m):
        scale[i] = theta[row_term[i]] if row_term[i] >= 0 else 1.0
    rest = np.zeros((m, m))
    reference = np.empty(m)
    for i in range(m):
        for j in range(i + 1):
            acc = 0.0
            for lev in range(a11.shape[0]):
                acc += a_r1[i, lev] * a_r1[j, lev] * weights[lev]
            rest[i, j] = scale[i] * scale[j] * (a_rr[i, j] - acc)
        reference[i] = scale[i] * scale[i] * a_rr[i, i]
        if row_term[i] >= 0:
            rest[i, i] += 1.0
            reference[i] += 1.0
    status, pwrss = cholesky_in_place(rest, reference, a11.shape[0] + m, True)
    return status, pivots, rest, pwrss


@numba.njit(cache=True, error_model="numpy")
def scalar_criterion_parts(row_term, a11, a_r1, a_rr, theta):
    """:func:`criterion_parts` for scalar terms with a small dense rest (:func:`scalar_factor`'s arguments).

    Returns
    -------
    status, logdet_re, logdet_x, pwrss
        As :func:`criterion_parts`.
    """
    status, pivots, rest, pwrss = scalar_factor(row_term, a11, a_r1, a_rr, theta)
    if status != OK:
        return status, 0.0, 0.0, 0.0
    logdet_re = 0.0
    for lev in range(pivots.shape[0]):
        logdet_re += math.log(pivots[lev])
    # the first term's log(d) are already squared pivots: halved (exactly) to join the rest's
    return _parts(0.5 * logdet_re, rest, np.sum(row_term >= 0), pwrss)
