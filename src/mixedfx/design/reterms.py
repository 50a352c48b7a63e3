"""The random-effects terms of a mixed model, one per bar term, and lme4's order of them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mixedfx.design.frame import ModelFrame
from mixedfx.design.model_matrix import MatrixSpec, check_finite_columns, matrix_spec, model_matrix
from mixedfx.errors import FormulaError
from mixedfx.formula.frozen import quick_init

__all__ = ["ReTerm", "lme4_term_order", "build_re_term"]


@quick_init
@dataclass(frozen=True)
class ReTerm:
    """One random-effects term after expansion.

    Attributes
    ----------
    group : str
        lme4's grouping-factor name (``"Subject"``, ``"cask:batch"``).
    codes : ndarray of int64, shape (n,)
        Each kept row's level, 0 .. len(levels) - 1.
    levels : list of str
        Level labels in R's order (unused levels dropped).
    z : ndarray of float64, shape (n, k)
        The term's model matrix (a column of ones for ``(1 | g)``).
    z_names : list of str
        R names of z's columns (``["(Intercept)", "Days"]``).
    text : str
        The term as lme4 prints it (``"0 + Days | Subject"``).
    """

    group: str
    codes: np.ndarray
    levels: list[str]
    z: np.ndarray
    z_names: list[str]
    text: str

    @property
    def k(self) -> int:
        """Columns of the term's model matrix (1 for ``(1 | g)``)."""
        return self.z.shape[1]

    @property
    def n_levels(self) -> int:
        """Levels of the grouping factor."""
        return len(self.levels)


def lme4_term_order(n_levels: list[int]) -> list[int]:
    """lme4's order of random-effects terms (mkReTrms).

    When the level counts ever increase along the formula, terms are sorted by
    decreasing number of levels, ties coming out in reverse formula order
    (``rev(order(nl))``); otherwise the formula order stands.

    Examples
    --------
    >>> lme4_term_order([10, 30])
    [1, 0]
    """
    counts = list(map(int, n_levels))  # a few terms: Python's stable sort, without numpy's per-call costs
    if counts == sorted(counts, reverse=True):  # never increasing
        return list(range(len(counts)))
    return sorted(range(len(counts)), key=counts.__getitem__)[::-1]


def build_re_term(frame: ModelFrame, i: int,
                  fixed: tuple[np.ndarray, MatrixSpec] | None = None) -> tuple[ReTerm, MatrixSpec]:
    """The i-th bar term of the frame's formula as a ReTerm, with the spec of its model matrix.

    Parameters
    ----------
    frame : ModelFrame
    i : int
        The term's position in ``frame.formula.bars``.
    fixed : tuple of (ndarray, MatrixSpec), optional
        The frame's fixed-effects matrix (before dependent columns are dropped,
        its columns checked) and its spec. Where it uses R's default contrasts
        (no ``contrasts`` argument), its columns are this term's columns of the
        same names: a term whose columns are all there is taken from it, and
        those columns are not checked again.

    Returns
    -------
    ReTerm, MatrixSpec
    """
    bar = frame.formula.bars[i]
    spec = matrix_spec(frame.slopes[i], frame.values)
    if not spec.names:
        raise FormulaError(f"random-effects term ({bar.text}) has no columns: it needs an intercept or a variable")
    known = () if fixed is None or fixed[1].contrasts_arg else fixed[1].names
    if known and set(spec.names).issubset(known):
        z = np.empty((frame.y.shape[0], len(spec.names)))
        for j, name in enumerate(spec.names):  # column by column: a gather across columns (take) costs 4x more
            z[:, j] = fixed[0][:, known.index(name)]
    else:
        z = model_matrix(spec, frame.values, frame.y.shape[0])
        unchecked = [j for j, name in enumerate(spec.names) if name not in known]
        check_finite_columns(z[:, unchecked] if len(unchecked) < z.shape[1] else z,
                             [spec.names[j] for j in unchecked], frame.rows, f"random-effects term ({bar.text})")
    group = frame.groups[i]
    term = ReTerm(group=bar.group_name, codes=group.codes, levels=list(group.levels), z=z,
                  z_names=list(spec.names), text=bar.text)
    return term, spec
