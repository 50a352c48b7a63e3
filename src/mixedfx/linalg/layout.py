"""Where each random-effects term sits in the penalised system, and theta as its lower-triangular templates.

A term of k columns on a factor of l levels owns ``l * k`` columns of Z (level
major); its share of theta is the lower triangle of a k x k template,
column-major, as lme4's. :func:`lambda_template` is plain loops so that the
compiled kernels (:mod:`mixedfx.linalg.one_term`) compile this same function
rather than keep a copy of their own.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import scipy.sparse as sp

    from mixedfx.design.reterms import ReTerm

__all__ = ["TermLayout", "term_layouts", "BlockLayout", "lambda_template", "templates", "theta_lower_bounds",
           "kernel_theta",
           "theta_columns", "theta_moved_inward", "term_effects", "lambda_transposed_times", "random_part",
           "scalar_row_scales"]


@dataclass(frozen=True)
class TermLayout:
    """Position of one random-effects term (in internal order) in the Z columns.

    Attributes
    ----------
    codes : ndarray of int
        Level of each row.
    z : ndarray, shape (n, k)
        The term's per-row model matrix.
    n_levels : int
        Number of levels of its grouping factor.
    """

    codes: np.ndarray
    z: np.ndarray
    n_levels: int

    @property
    def k(self) -> int:
        """Columns of the term's model matrix."""
        return self.z.shape[1]

    @property
    def q(self) -> int:
        """Columns the term contributes to Z."""
        return self.n_levels * self.k

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """The term's sparse n x q block of Z (level-major columns)."""
        import scipy.sparse as sp  # noqa: PLC0415 - a one-term model's fit does not load scipy.sparse

        n, k = self.z.shape
        cols = (self.codes[:, None] * k + np.arange(k)[None, :]).ravel()
        rows = np.repeat(np.arange(n), k)
        return sp.csr_matrix((self.z.ravel(), (rows, cols)), shape=(n, self.q))


def term_layouts(terms: list[ReTerm]) -> list[TermLayout]:
    """The layouts of a model's random-effects terms (in the order given, lme4's for a model).

    Examples
    --------
    >>> import mixedfx as mfx
    >>> design = mfx.lmer_design("Reaction ~ Days + (Days | Subject)", mfx.datasets.load("sleepstudy"))
    >>> [(t.k, t.n_levels) for t in term_layouts(design.ordered_terms)]
    [(2, 18)]
    """
    return [TermLayout(codes=np.asarray(t.codes, dtype=np.int64), z=np.asarray(t.z, dtype=float),
                       n_levels=t.n_levels) for t in terms]


@dataclass(frozen=True)
class BlockLayout:
    """Sizes of the blocks: columns and levels per term (internal order), columns of X."""

    ks: list[int]
    n_levels: list[int]
    p: int

    @property
    def q_rest(self) -> int:
        """Random-effects columns after the first term."""
        return sum(k * n for k, n in zip(self.ks[1:], self.n_levels[1:]))

    @property
    def order(self) -> int:
        """The order of the whole penalised system: every random effect, X's columns and the response."""
        return sum(k * n for k, n in zip(self.ks, self.n_levels)) + self.p + 1

    @property
    def all_scalar(self) -> bool:
        """Whether every term has one column (Lambda is then diagonal)."""
        return all(k == 1 for k in self.ks)


def lambda_template(theta_segment, k):
    """The lower-triangular k x k template filled column-major from one term's theta.

    Parameters
    ----------
    theta_segment : ndarray, shape (k (k + 1) / 2,)
    k : int

    Returns
    -------
    ndarray, shape (k, k)

    Examples
    --------
    >>> lambda_template(np.array([1.0, 0.5, 2.0]), 2)
    array([[1. , 0. ],
           [0.5, 2. ]])
    """
    template = np.zeros((k, k))
    pos = 0
    for j in range(k):
        for i in range(j, k):
            template[i, j] = theta_segment[pos]
            pos += 1
    return template


@lru_cache(maxsize=32)
def _diagonal_mask(k: int) -> np.ndarray:
    """Which of a k-column term's theta values sit on the template's diagonal."""
    return np.concatenate([[True] + [False] * (k - 1 - j) for j in range(k)])


def kernel_theta(theta: np.ndarray) -> np.ndarray:
    """theta as a compiled kernel's argument: a new writeable C array of floats.

    numba types a read-only array (an optimiser's point can be one) apart from a
    writeable one and compiles every kernel it reaches a second time for it.

    Examples
    --------
    >>> frozen = np.array([1.0, 0.5]); frozen.flags.writeable = False
    >>> kernel_theta(frozen).flags.writeable
    True
    """
    return np.array(theta, dtype=float, order="C")


def theta_lower_bounds(ks: list[int]) -> np.ndarray:
    """lme4's lower bounds: 0 for diagonal elements, -inf below the diagonal."""
    return _lower_bounds(tuple(ks)).copy()


@lru_cache(maxsize=64)
def _lower_bounds(ks: tuple[int, ...]) -> np.ndarray:
    """:func:`theta_lower_bounds` of the terms' widths, made once per shape of theta (every fit asks)."""
    bounds = [np.where(_diagonal_mask(k), 0.0, -np.inf) for k in ks]
    return np.concatenate(bounds) if bounds else np.zeros(0)


def theta_columns(ks: list[int]) -> list[np.ndarray]:
    """The positions in theta of each template column of more than one entry: its diagonal, then the entries below.

    With the diagonal at 0 such a column's sign is free (Lambda Lambda' does not
    change when the entries below change sign), which the edge check
    (:func:`mixedfx.optim.optimize.restart_from_edge`) uses.

    Examples
    --------
    >>> [c.tolist() for c in theta_columns([3, 1])]
    [[0, 1, 2], [3, 4]]
    """
    columns, start = [], 0
    for k in ks:
        for j in range(k - 1):
            columns.append(np.arange(start, start + k - j))
            start += k - j
        start += 1
    return columns


def theta_moved_inward(theta: np.ndarray, ks: list[int], near: float, share: float,
                       collinear: bool = True) -> np.ndarray | None:
    """theta with the variances of vector-valued terms that sit on (or near) the boundary raised, or None.

    Two kinds of entries count as on the boundary, where an optimiser can stall:

    - a diagonal entry other than the last below ``near`` times the template's
      largest (or 0): stepping it inward alone also moves covariances that the
      entries below it (free in sign and, with the later columns, in rotation) carry;
    - with ``collinear``, a diagonal entry above 0 but below ``near`` times its
      row's length, the row itself not negligible: that effect is almost a
      combination of the earlier ones, a correlation near +-1; the criterion is
      even in the entry, so its gradient vanishes at 0 and a gradient method
      creeps away from near there.

    This returns the Cholesky factor of the term's covariance ``T T'`` plus
    ``s^2`` on each such variance, ``s`` being ``share`` of the term's largest
    standard deviation (``share`` itself when all are 0): a start from which the
    optimiser can leave the boundary where that is better.

    Parameters
    ----------
    theta : ndarray
    ks : list of int
        Columns per term.
    near : float
        Diagonal entries below this share of their template's largest (or of
        their row's length) count as on the boundary.
    share : float
    collinear : bool
        Count the second kind too.

    Returns
    -------
    ndarray or None
        None where no vector-valued term has such an entry.

    Examples
    --------
    >>> moved = theta_moved_inward(np.array([1.0, 0.5, 0.0, 0.0, 2.0, 0.3]), [3], 0.01, 0.1)
    >>> np.round(moved, 3).tolist()
    [1.0, 0.5, 0.0, 0.202, 0.0, 2.022]
    >>> np.round(theta_moved_inward(np.array([1.0, -2.0, 0.001]), [2], 0.01, 0.1), 3).tolist()
    [1.0, -2.0, 0.2]
    """
    parts, start, moved = [], 0, False
    values = theta.tolist()  # a few entries per term: Python floats decide faster than numpy's calls
    for k in ks:
        size = k * (k + 1) // 2
        part = theta[start: start + size]
        low = _on_boundary(values[start: start + size], k, near, collinear) if k > 1 else []
        if any(low):
            template = lambda_template(part, k)
            lengths = np.linalg.norm(template, axis=1)
            bump = share * (lengths.max() if lengths.max() > 0 else 1.0)
            covariance = template @ template.T + np.diag(np.where(low, bump**2, 0.0))
            try:
                part = np.linalg.cholesky(covariance).T[np.triu_indices(k)]
                moved = True
            except np.linalg.LinAlgError:
                pass
        parts.append(part)
        start += size
    return np.concatenate(parts) if moved else None


def _on_boundary(segment: list[float], k: int, near: float, collinear: bool) -> list[bool]:
    """Per diagonal entry of one term's template (its theta ``segment``), whether :func:`theta_moved_inward` counts
    it as on the boundary."""
    at = [c * k - c * (c - 1) // 2 - c for c in range(k)]  # entry (r, c) sits at at[c] + r
    diagonal = [segment[at[j] + j] for j in range(k)]
    bound = near * max(diagonal)
    # a diagonal entry but the last next to (or at) 0
    low = [j < k - 1 and d <= bound for j, d in enumerate(diagonal)]
    if not collinear:
        return low
    # or one above 0 (at 0 the edge check, restart_from_edge, decides) whose effect is almost a combination of the
    # earlier ones
    squares = [0.0] * k  # each row's, summed over its columns in order
    for c in range(k):
        for r in range(c, k):
            squares[r] += segment[at[c] + r] ** 2
    lengths = [math.sqrt(square) for square in squares]
    longest = max(lengths)
    return [low[j] or (0.0 < d <= near * length and length > near * longest)
            for j, (d, length) in enumerate(zip(diagonal, lengths))]


def templates(theta: np.ndarray, ks: list[int]) -> list[np.ndarray]:
    """Split theta into one lower-triangular template per term (k x k each)."""
    out, start = [], 0
    for k in ks:
        size = k * (k + 1) // 2
        out.append(lambda_template(theta[start: start + size], k))
        start += size
    return out


def term_effects(u: np.ndarray, tmpls: list[np.ndarray], n_levels: list[int]) -> list[np.ndarray]:
    """Random effects b = Lambda u, one (levels, k) array per term.

    Parameters
    ----------
    u : ndarray
        Spherical random effects, term by term, level-major within a term.
    tmpls : list of ndarray
        Each term's k x k template.
    n_levels : list of int
        Levels per term.

    Returns
    -------
    list of ndarray
    """
    return [u[rows].reshape(n, tmpl.shape[0]) @ tmpl.T for tmpl, n, rows in _term_rows(tmpls, n_levels)]


def _term_rows(tmpls: list[np.ndarray], n_levels: list[int]) -> Iterator[tuple[np.ndarray, int, slice]]:
    """Each term's template, levels and slice of the random effects (term by term, level-major)."""
    start = 0
    for tmpl, n in zip(tmpls, n_levels):
        stop = start + tmpl.shape[0] * n
        yield tmpl, n, slice(start, stop)
        start = stop


def lambda_transposed_times(rows: np.ndarray, tmpls: list[np.ndarray], n_levels: list[int]) -> np.ndarray:
    """``Lambda' rows`` for rows over the random effects (internal order), any rows after them copied.

    Parameters
    ----------
    rows : ndarray, shape (m, c)
        The random effects' rows term by term, level-major within a term, then any others (X's).
    tmpls : list of ndarray
        Each term's k x k template.
    n_levels : list of int
        Levels per term.

    Returns
    -------
    ndarray, shape (m, c)

    Examples
    --------
    >>> lambda_transposed_times(np.ones((3, 1)), [np.array([[2.0, 0.0], [1.0, 3.0]])], [1]).ravel().tolist()
    [3.0, 3.0, 1.0]
    """
    out = rows.copy()
    for tmpl, n, term in _term_rows(tmpls, n_levels):
        block = rows[term].reshape(n, tmpl.shape[0], -1)
        out[term] = np.einsum("ba,lbc->lac", tmpl, block).reshape(len(block) * tmpl.shape[0], -1)
    return out


def random_part(codes: list[np.ndarray], zs: list[np.ndarray], effects: list[np.ndarray]) -> np.ndarray:
    """Z b: each row's random-effects contribution; a code of -1 (unseen level) contributes 0.

    Parameters
    ----------
    codes : list of ndarray of int
        Each term's level per row.
    zs : list of ndarray, shape (n, k)
        Each term's model matrix.
    effects : list of ndarray, shape (levels, k)
        Each term's random effects.

    Returns
    -------
    ndarray, shape (n,)
    """
    total = np.zeros(len(codes[0])) if codes else np.zeros(0)
    for c, z, b in zip(codes, zs, effects):
        c = np.asarray(c)
        rows = np.where((c >= 0)[:, None], b[np.maximum(c, 0)], 0.0)
        total += np.einsum("ij,ij->i", np.asarray(z, dtype=float), rows)
    return total


def scalar_row_scales(theta: np.ndarray, layout: BlockLayout) -> np.ndarray:
    """For scalar terms, the diagonal of Lambda over the rest's rows, 1 on the rows of X and y."""
    return np.concatenate([np.repeat(theta[1:], layout.n_levels[1:]), np.ones(layout.p + 1)])


SCALE_RATIO = 10.0
"""Columns of Z whose root mean squares differ by more than this are optimised on one scale."""


def root_mean_squares(matrix: np.ndarray) -> np.ndarray:
    """Each column's root mean square, 1 for a column of zeros (a scale to divide the column by).

    Examples
    --------
    >>> import numpy as np
    >>> root_mean_squares(np.array([[3.0, 0.0], [-3.0, 0.0]])).tolist()
    [3.0, 1.0]
    """
    return root_mean_squares_of_sums(np.sum(np.square(matrix), axis=0), matrix.shape[0])


def root_mean_squares_of_sums(squares: np.ndarray, n: int) -> np.ndarray:
    """Columns' root mean squares from their sums of squares over ``n`` rows, 1 for a column of zeros (as
    :func:`root_mean_squares`, for rows summed in parts).

    Examples
    --------
    >>> import numpy as np
    >>> root_mean_squares_of_sums(np.array([18.0, 0.0]), 2).tolist()
    [3.0, 1.0]
    """
    rms = np.sqrt(np.asarray(squares, dtype=float) / max(n, 1))
    return np.where(rms > 0, rms, 1.0)


def column_scales(terms: list[ReTerm]) -> list[np.ndarray]:
    """Each term's columns' root mean squares (1 for a column of zeros)."""
    return [root_mean_squares(t.z) for t in terms]


def theta_scales(scales: list[np.ndarray], ratio: float = SCALE_RATIO) -> np.ndarray | None:
    """Per theta entry, the root mean square of its template row's column of Z, where those differ by more than
    ``ratio`` (a slope on values in the thousands beside an intercept); None otherwise.

    A model optimised on Z's columns divided by these (:func:`rescaled_terms`)
    has its theta entries on one scale, ``theta = theta' / scales``, and the same
    criterion: Z diag(1/s) times diag(s) T is Z T.

    Parameters
    ----------
    scales : list of ndarray
        Per term, its columns' root mean squares (:func:`column_scales`).
    ratio : float
        The spread of scales that calls for rescaling.

    Examples
    --------
    >>> import numpy as np
    >>> from mixedfx.design.reterms import ReTerm
    >>> term = ReTerm(group="g", codes=np.zeros(2, dtype=np.int64), levels=["a"], z=np.array([[1.0, 1e3], [1.0, 3e3]]),
    ...               z_names=["(Intercept)", "x"], text="x | g")
    >>> theta_scales(column_scales([term])).round().tolist()  # theta is (T11, T21, T22): rows 1, 2, 2
    [1.0, 2236.0, 2236.0]
    """
    # every column heads a diagonal entry, so the entries' spread is the columns' (a few Python floats)
    columns = [value for term in scales for value in term.tolist()]
    return theta_entry_scales(scales) if columns and max(columns) > ratio * min(columns) else None


def theta_entry_scales(scales: list[np.ndarray]) -> np.ndarray:
    """Per theta entry, the scale of its template row's column of Z (``scales``: per term, its columns').

    Examples
    --------
    >>> import numpy as np
    >>> theta_entry_scales([np.array([1.0, 10.0]), np.array([2.0])]).tolist()  # (T11, T21, T22), then T11
    [1.0, 10.0, 10.0, 2.0]
    """
    rows = [s[[i for j in range(len(s)) for i in range(j, len(s))]] for s in scales]
    return np.concatenate(rows) if rows else np.ones(0)


def rescaled_terms(terms: list[ReTerm], scales: list[np.ndarray]) -> list[ReTerm]:
    """The terms with each column of Z divided by its scale (its root mean square: see :func:`theta_scales`)."""
    return [replace(t, z=t.z / s) for t, s in zip(terms, scales)]
