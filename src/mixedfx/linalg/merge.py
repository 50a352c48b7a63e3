"""Terms on the same grouping factor factored as one term with a block-diagonal template.

``(1 + x || g)`` is lme4's ``(1 | g) + (0 + x | g)``: two terms whose levels are
the same. Kept apart, only one of them can be the first term, whose levels the
factorisation eliminates block by block; the other lands in the dense rest. As
one term of k columns (MixedModels.jl's ``zerocorr``), every such term is
eliminated level by level and the rest shrinks by their columns: on
``maximal_2k`` with ``||`` the rest goes from 305 rows to 137. The merged term's
template is block diagonal, the blocks the terms' own templates, the entries
between them fixed at 0.

:class:`TermMerge` maps between the terms (lme4's, as the optimiser and the fit
see them) and the merged ones (as the factoriser sees them): theta, the
factor's random effects and conditional covariances, and the gradient's
per-template derivatives.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mixedfx.linalg.cross import CrossProducts
from mixedfx.linalg.derivatives import TemplateDerivatives
from mixedfx.linalg.factor import BlockedFactor
from mixedfx.linalg.factorizer import Factorizer
from mixedfx.linalg.layout import TermLayout

__all__ = ["TermMerge", "merge_shared_groups", "MergedFactor", "MergedFactorizer"]


@dataclass(frozen=True)
class TermMerge:
    """How the terms (internal order) sit in the merged terms.

    Attributes
    ----------
    layouts : list of TermLayout
        The merged terms, in the order of their first member.
    members : list of list of int
        Each merged term's terms (indices into the terms), in column order.
    ks : list of int
        Columns per term.
    """

    layouts: list[TermLayout]
    members: list[list[int]]
    ks: list[int]
    _theta_source: np.ndarray = field(init=False, repr=False, compare=False)
    _u_order: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        theta_offsets = np.concatenate([[0], np.cumsum([k * (k + 1) // 2 for k in self.ks])])
        sources, u_order, u_offsets = [], [], self._u_offsets()
        for layout, members in zip(self.layouts, self.members):
            # the merged template's lower triangle, column-major: a member's own entry, or -1 between members
            owner = np.concatenate([np.full(self.ks[m], m) for m in members])
            within = np.concatenate([np.arange(self.ks[m]) for m in members])
            for c in range(layout.k):
                for r in range(c, layout.k):
                    m = owner[r]
                    if owner[c] != m:
                        sources.append(-1)
                        continue
                    k, i, j = self.ks[m], within[r], within[c]
                    # position of (i, j) in the member's column-major lower triangle
                    sources.append(theta_offsets[m] + j * k - j * (j - 1) // 2 + (i - j))
            # the merged term's u, level-major over its columns, from each member's level-major u
            levels = np.arange(layout.n_levels)[:, None]
            columns = np.concatenate([u_offsets[m] + levels * self.ks[m] + np.arange(self.ks[m]) for m in members],
                                     axis=1)
            u_order.append(columns.ravel())
        object.__setattr__(self, "_theta_source", np.asarray(sources, dtype=np.int64))
        # merged u at position p holds the terms' u at _u_order[p]
        object.__setattr__(self, "_u_order", np.concatenate(u_order))

    def _u_offsets(self) -> np.ndarray:
        n_levels = np.empty(len(self.ks), dtype=np.int64)
        for layout, members in zip(self.layouts, self.members):
            n_levels[members] = layout.n_levels
        return np.concatenate([[0], np.cumsum(np.asarray(self.ks) * n_levels)])[:-1]

    def expand(self, theta: np.ndarray) -> np.ndarray:
        """The merged terms' theta from the terms' (zeros between members)."""
        theta = np.asarray(theta, dtype=float)
        return np.where(self._theta_source >= 0, theta[np.maximum(self._theta_source, 0)], 0.0)

    def unmerge_effects(self, u: np.ndarray) -> np.ndarray:
        """The terms' spherical random effects (term by term, level-major) from the merged terms'."""
        out = np.empty_like(u)
        out[self._u_order] = u
        return out

    def unmerge_blocks(self, blocks: list[np.ndarray]) -> list[np.ndarray]:
        """Per-term (levels, k, k) stacks from the merged terms' stacks."""
        out: list[np.ndarray] = [np.empty(0)] * len(self.ks)
        for stack, members in zip(blocks, self.members):
            offset = 0
            for m in members:
                out[m] = stack[:, offset: offset + self.ks[m], offset: offset + self.ks[m]]
                offset += self.ks[m]
        return out

    def unmerge_derivatives(self, derivatives: TemplateDerivatives) -> TemplateDerivatives:
        """The terms' template derivatives: each term's block of its merged term's matrices."""
        return TemplateDerivatives(logdet=[b[0] for b in self.unmerge_blocks([d[None] for d in derivatives.logdet])],
                                   spread=[b[0] for b in self.unmerge_blocks([d[None] for d in derivatives.spread])])

    def factor(self, factor: BlockedFactor) -> MergedFactor:
        """The merged terms' factor, answering in the terms' order."""
        return MergedFactor(l11=factor.l11, l_rr=factor.l_rr, layout=factor.layout, coupling=factor.coupling,
                            merge=self)


@dataclass(frozen=True)
class MergedFactor(BlockedFactor):
    """A :class:`~mixedfx.linalg.factor.BlockedFactor` of merged terms whose random effects and conditional
    covariances come back in the terms' order (log-determinants, pwrss and R_X need no mapping)."""

    merge: TermMerge | None = field(default=None, repr=False, compare=False)

    def solve_coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        beta, u = super().solve_coefficients()
        return beta, self.merge.unmerge_effects(u)

    def conditional_covariance_blocks(self) -> list[np.ndarray]:
        return self.merge.unmerge_blocks(super().conditional_covariance_blocks())


def merge_shared_groups(layouts: list[TermLayout], groups: list[str]) -> TermMerge | None:
    """The merge of the terms that share a grouping factor, or None where every term has its own.

    Parameters
    ----------
    layouts : list of TermLayout
        The terms, internal order.
    groups : list of str
        Each term's grouping factor (terms with one name have the same levels).

    Returns
    -------
    TermMerge or None

    Examples
    --------
    >>> import mixedfx as mfx
    >>> design = mfx.lmer_design("Reaction ~ Days + (Days || Subject)", mfx.datasets.load("sleepstudy"))
    >>> from mixedfx.linalg.layout import term_layouts
    >>> merge = merge_shared_groups(term_layouts(design.ordered_terms), [t.group for t in design.ordered_terms])
    >>> [t.k for t in merge.layouts], merge.expand(np.array([0.9, 0.2])).tolist()
    ([2], [0.9, 0.0, 0.2])
    """
    members: dict[str, list[int]] = {}
    for i, group in enumerate(groups):
        members.setdefault(group, []).append(i)
    if all(len(m) == 1 for m in members.values()):
        return None
    merged = [TermLayout(codes=layouts[m[0]].codes, z=np.column_stack([layouts[i].z for i in m]),
                         n_levels=layouts[m[0]].n_levels) for m in members.values()]
    return TermMerge(layouts=merged, members=list(members.values()), ks=[t.k for t in layouts])


class MergedFactorizer(Factorizer):
    """A factoriser of the merged terms' blocks that takes and gives the terms' theta, effects and derivatives.

    Parameters
    ----------
    inner : Factorizer
        The factoriser of the merged terms' cross-products (chosen by their shape).
    merge : TermMerge
    """

    def __init__(self, inner: Factorizer, merge: TermMerge) -> None:
        super().__init__(inner.cross)
        self.inner, self.merge = inner, merge
        self.name = f"{inner.name}; terms on one grouping factor merged"
        self.calls_blas = inner.calls_blas
        # a term-wise gradient comes from the merged terms' template derivatives; the scalar formulas do not apply
        self.gradient = "vector" if inner.gradient == "vector" else None

    def with_cross(self, cross: CrossProducts) -> Factorizer:
        return MergedFactorizer(self.inner.with_cross(cross), self.merge)

    def factor(self, theta: np.ndarray, workspace: np.ndarray | None = None) -> BlockedFactor:
        return self.merge.factor(self.inner.factor(self.merge.expand(theta), workspace))

    def criterion_parts(self, theta: np.ndarray) -> tuple[float, float, float]:
        return self.inner.criterion_parts(self.merge.expand(theta))

    def factor_with_derivatives(self, theta: np.ndarray, size: int) -> tuple[BlockedFactor, TemplateDerivatives]:
        factor, derivatives = self.inner.factor_with_derivatives(self.merge.expand(theta), size)
        return self.merge.factor(factor), self.merge.unmerge_derivatives(derivatives)
