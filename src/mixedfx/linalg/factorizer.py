"""The factoriser of a model's penalised system, chosen once when the model is built.

The shape of the cross-products decides how the system is best factored, and
that shape never changes while a model is optimised; so :func:`factorizer_for`
looks at it once and returns one of these, whose ``name`` the optimiser's
summary records (``fit.opt_summary.factorizer``):

``"one term (compiled)"`` :class:`OneTermFactorizer`
    One random-effects term and a dense coupling (``(Days | Subject)``): the
    whole factor in one compiled pass, levels with equal blocks grouped.
``"scalar terms, small rest (compiled)"`` :class:`SmallScalarFactorizer`
    Scalar terms, a dense coupling and a rest of at most ``SMALL_REST`` rows
    (``(1 | plate) + (1 | sample)``): the criterion in one compiled call.
``"scalar terms, dense rest"`` :class:`ScalarDenseFactorizer`
    Scalar terms with a dense coupling and a larger rest.
``"scalar terms, sparse coupling"`` :class:`ScalarSparseFactorizer`
    Crossed scalar terms on many levels (InstEval, ratings): the rest's Schur
    update from the coupling's non-zeros, formed and factored in a workspace.
``"vector-valued terms, dense coupling"`` :class:`VectorDenseFactorizer`
    Several terms, one at least vector-valued, a dense coupling (crossed
    maximal models): the templates applied level by level as batched products.
``"vector-valued rest, scalar first term, sparse coupling"`` :class:`VectorRestFactorizer`
    A scalar first term on many levels crossed with vector-valued terms
    (``(service | d) + (1 | s)``): the coupling's Gram as for scalar terms, the
    rest's templates applied in one compiled pass.
``"blocked"`` :class:`BlockedFactorizer`
    A vector-valued first term and a sparse coupling: block-diagonal templates
    applied as sparse products.

Every kind raises ``numpy.linalg.LinAlgError`` when the system is numerically
singular (:mod:`mixedfx.linalg.pivots`); objectives turn that into ``inf``.
The compiled modules load (with numba) on a factoriser's first use.
"""

from __future__ import annotations

from functools import cached_property, partial
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from mixedfx.linalg.cross import CrossProducts
from mixedfx.linalg.derivatives import TemplateDerivatives, dense_derivatives
from mixedfx.linalg.factor import BlockedFactor, as_dense, block_diagonal, is_sparse
from mixedfx.linalg.layout import kernel_theta, scalar_row_scales, templates
from mixedfx.linalg.lazy import as_is
from mixedfx.linalg.pivots import OK
from mixedfx.linalg.threads import blas_threads

if TYPE_CHECKING:
    import scipy.sparse as sp

    from mixedfx.linalg.one_term import LevelGrouping

__all__ = ["Factorizer", "OneTermFactorizer", "ScalarFactorizer", "SmallScalarFactorizer",
           "ScalarDenseFactorizer", "ScalarSparseFactorizer", "VectorDenseFactorizer", "VectorRestFactorizer",
           "BlockedFactorizer", "factorizer_for", "factorize", "SMALL_REST"]

# Rest blocks up to this size are factored by compiled loops within one call for the criterion
SMALL_REST = 64
_SINGULAR = "the penalised cross-product matrix is numerically singular"


class Factorizer:
    """Factors one model's penalised system at any theta.

    Parameters
    ----------
    cross : CrossProducts
        The model's blocks.

    Attributes
    ----------
    name : str
        What kind of factoriser this is (recorded in ``OptSummary.factorizer``).
    gradient : str or None
        Which analytic gradient of lmer's criterion this kind gives: ``"scalar"``
        (from its factor, :func:`mixedfx.lmm.gradient.criterion_gradient`),
        ``"vector"`` (from :meth:`factor_with_derivatives`) or None.
    information_steps : str or None
        Whether lmer starts with Newton steps on the average information, and
        how: ``"blocks"`` (:mod:`mixedfx.lmm.information`, from this factor's
        blocks: where an evaluation costs a large factorisation, so that the
        steps' few evaluations pay for their solves), ``"one term, compiled"``
        (:mod:`mixedfx.lmm.one_term_steps`, the whole run in one compiled call
        on :class:`OneTermFactorizer`'s ``blocks``, for a term of three columns
        or more) or None.
    compiled_steps : bool
        Whether :mod:`mixedfx.lmm.one_term_steps` can run on this kind's
        ``blocks`` (:class:`OneTermFactorizer`, whatever the term's width): a
        fit takes them where ``information_steps`` says so, a refit from
        another fit's optimum wherever they can run.
    compiled_criterion : functools.partial or None
        Where the criterion's parts are one compiled call, that call over the
        blocks (a kernel of :mod:`mixedfx.linalg.one_term`, theta its last
        argument): nlopt then calls it without Python
        (:mod:`mixedfx.lmm.compiled_objective`). None for the other kinds.
    """

    name: ClassVar[str] = ""
    gradient: str | None = None
    information_steps: str | None = None
    calls_blas: ClassVar[bool] = True
    compiled_steps: ClassVar[bool] = False
    compiled_criterion: partial | None = None

    def __init__(self, cross: CrossProducts) -> None:
        self.cross = cross

    @property
    def blas_threads(self) -> int | None:
        """BLAS threads while optimising with this factoriser (:mod:`mixedfx.linalg.threads`): one where it calls
        no BLAS (the optimiser's own BLAS calls are tiny) or its rest is small, None (BLAS's own) where it is large."""
        return blas_threads(self.cross.a_rr.shape[0], self.cross.a_r1.shape[1]) if self.calls_blas else 1

    def with_cross(self, cross: CrossProducts) -> Factorizer:
        """The same kind for blocks of the same structure (another response, a fixed effect moved to the offset)."""
        return type(self)(cross)

    def factor(self, theta: np.ndarray, workspace: np.ndarray | None = None) -> BlockedFactor:
        """The blocked Cholesky factor at ``theta`` (internal term order).

        Parameters
        ----------
        theta : ndarray
        workspace : ndarray, shape (m, m), optional
            Where a kind that forms its rest block in place may form it (the
            factor's ``l_rr`` is then a view of it, valid until the next call).

        Returns
        -------
        BlockedFactor

        Raises
        ------
        numpy.linalg.LinAlgError
            When the system is numerically singular (a rank-deficient X).
        """
        raise NotImplementedError

    def criterion_parts(self, theta: np.ndarray) -> tuple[float, float, float]:
        """log |L_Z|^2, log |R_X|^2 and the penalised residual sum of squares at ``theta``.

        Raises
        ------
        numpy.linalg.LinAlgError
            As :meth:`factor`.
        """
        factor = self.factor(theta)
        return factor.logdet_re, factor.logdet_x, factor.pwrss

    def factor_with_derivatives(self, theta: np.ndarray, size: int) -> tuple[BlockedFactor, TemplateDerivatives]:
        """The factor at ``theta`` and :class:`~mixedfx.linalg.derivatives.TemplateDerivatives` (kinds whose
        ``gradient`` is ``"vector"``).

        Parameters
        ----------
        theta : ndarray
        size : int
            Rows of the rest inside the log-determinant: ``q_rest + p`` for REML, ``q_rest`` for the deviance.

        Raises
        ------
        numpy.linalg.LinAlgError
            As :meth:`factor`.
        """
        raise NotImplementedError


class OneTermFactorizer(Factorizer):
    """One random-effects term with a dense coupling: :mod:`mixedfx.linalg.one_term`'s compiled factor."""

    name = "one term (compiled)"
    calls_blas = False
    compiled_steps = True

    def __init__(self, cross: CrossProducts, grouping: LevelGrouping | None = None) -> None:
        super().__init__(cross)
        # With fewer than six parameters BOBYQA takes 20 to 60 compiled evaluations of microseconds, along
        # lme4's own path: its optimum is lme4's to about 1e-8 in theta, where the steps' (as exact, a criterion
        # lower by about 1e-9) sits 1e-5 away, and every quantity read off the fit moves with it. A refit, whose
        # BOBYQA run from the fit's theta is no fit's path, takes the steps whatever the width (compiled_steps)
        if cross.layout.ks[0] > 2:
            self.gradient, self.information_steps = "vector", "one term, compiled"
        self.blocks = tuple(np.ascontiguousarray(a, dtype=float) for a in (cross.a11, cross.a_r1, cross.a_rr))
        self._given_grouping = grouping

    @cached_property
    def grouping(self) -> LevelGrouping:
        """The levels grouped by their blocks (:func:`mixedfx.linalg.one_term.level_grouping`): given by
        :meth:`with_cross` for a refit's blocks, else formed on first use."""
        from mixedfx.linalg.one_term import level_grouping  # noqa: PLC0415 - numba loads with the first factoriser

        return level_grouping(self.blocks[0]) if self._given_grouping is None else self._given_grouping

    @cached_property
    def compiled_criterion(self) -> partial:
        """The compiled criterion over the blocks, levels with equal blocks grouped (formed on first use: the
        information steps do not need it); a partial over the blocks, which pickles with them."""
        from mixedfx.linalg.one_term import (  # noqa: PLC0415 - numba loads with the first factoriser
            class_criterion_parts,
            criterion_parts,
            level_classes,
        )

        a11, a_r1, a_rr = self.blocks
        classes = level_classes(a11, a_r1, self.grouping)
        return (partial(criterion_parts, a11, a_r1, a_rr) if classes is None
                else partial(class_criterion_parts, *classes, a_rr))

    def with_cross(self, cross: CrossProducts) -> OneTermFactorizer:
        """The same kind for other blocks; the levels' grouping is kept where ``a11`` is the same (a refit's)."""
        return OneTermFactorizer(cross, self.grouping if cross.a11 is self.cross.a11 else None)

    def factor(self, theta: np.ndarray, workspace: np.ndarray | None = None) -> BlockedFactor:
        from mixedfx.linalg.one_term import factor_one_term  # noqa: PLC0415

        status, l11, l_r1, l_rr = factor_one_term(*self.blocks, kernel_theta(theta))
        if status != OK:
            raise np.linalg.LinAlgError(_SINGULAR)
        return BlockedFactor(l11=l11, l_rr=l_rr, layout=self.cross.layout, coupling=partial(as_is, l_r1))

    def criterion_parts(self, theta: np.ndarray) -> tuple[float, float, float]:
        return _checked_parts(self.compiled_criterion, theta)

    def factor_with_derivatives(self, theta: np.ndarray, size: int) -> tuple[BlockedFactor, TemplateDerivatives]:
        from mixedfx.linalg.one_term_gradient import one_term_derivatives  # noqa: PLC0415

        status, l11, l_r1, l_rr, logdet, spread = one_term_derivatives(*self.blocks,
                                                                       kernel_theta(theta), size)
        if status != OK:
            raise np.linalg.LinAlgError(_SINGULAR)
        factor = BlockedFactor(l11=l11, l_rr=l_rr, layout=self.cross.layout, coupling=partial(as_is, l_r1))
        return factor, TemplateDerivatives(logdet=[logdet], spread=[spread])


class ScalarFactorizer(Factorizer):
    """Every term scalar: Lambda is diagonal, so ``L_r1 L_r1' = R A_r1 diag(c^2) A_r1' R`` (R, c diagonal).

    R is the rest's row scales (theta of each row's term, 1 for [X y]) and c the
    first term's ``theta_1 / L11``; the kinds differ in how they form the rest.
    """

    @cached_property
    def schur(self):
        """:class:`mixedfx.linalg.sparse_gram.ScalarSchur` of the coupling (formed on first use)."""
        from mixedfx.linalg.sparse_gram import ScalarSchur  # noqa: PLC0415

        return ScalarSchur(self.cross.a_r1)

    def factor(self, theta: np.ndarray, workspace: np.ndarray | None = None) -> BlockedFactor:
        cp = self.cross
        l11, right = _level_factors(cp, theta)
        rows, cols = scalar_row_scales(theta, cp.layout), right[:, 0, 0]
        l_rr = self._factor_rest(rows, cols**2, workspace)
        return BlockedFactor(l11=l11, l_rr=l_rr, layout=cp.layout, coupling=partial(_scale_rows_cols, cp.a_r1, rows,
                                                                                    cols))

    def _factor_rest(self, rows: np.ndarray, col_weights: np.ndarray, workspace: np.ndarray | None) -> np.ndarray:
        """L_rr of ``R (A_rr - A_r1 diag(col_weights) A_r1') R + I``."""
        raise NotImplementedError


class ScalarDenseFactorizer(ScalarFactorizer):
    """Scalar terms with a dense coupling: the rest's Schur update as one weighted Gram product."""

    name = "scalar terms, dense rest"

    def _factor_rest(self, rows: np.ndarray, col_weights: np.ndarray, workspace: np.ndarray | None) -> np.ndarray:
        cp = self.cross
        rest = rows[:, None] * (cp.a_rr - (cp.a_r1 * col_weights[None, :]) @ cp.a_r1.T) * rows[None, :]
        return _factor_rest(cp, _scalar_reference(cp, rows), rest, add_identity=True)


class SmallScalarFactorizer(ScalarDenseFactorizer):
    """:class:`ScalarDenseFactorizer` whose criterion is one compiled call (a rest of at most ``SMALL_REST`` rows)."""

    name = "scalar terms, small rest (compiled)"
    calls_blas = False

    def __init__(self, cross: CrossProducts) -> None:
        from mixedfx.linalg.one_term import scalar_criterion_parts  # noqa: PLC0415

        super().__init__(cross)
        layout = cross.layout
        row_term = np.repeat(np.array([*range(1, len(layout.ks)), -1], dtype=np.int64),
                             [*layout.n_levels[1:], layout.p + 1])
        # what the compiled criterion reads: each rest row's term (-1 for [X y]), a11's diagonal, a_r1, a_rr
        self.blocks = (row_term, np.ascontiguousarray(cross.a11[:, 0, 0]), np.ascontiguousarray(cross.a_r1, dtype=float),
                       np.ascontiguousarray(cross.a_rr, dtype=float))
        self.compiled_criterion = partial(scalar_criterion_parts, *self.blocks)

    def criterion_parts(self, theta: np.ndarray) -> tuple[float, float, float]:
        return _checked_parts(self.compiled_criterion, theta)

    def factor(self, theta: np.ndarray, workspace: np.ndarray | None = None) -> BlockedFactor:
        from mixedfx.linalg.one_term import scalar_factor  # noqa: PLC0415

        status, pivots, l_rr, _ = scalar_factor(*self.blocks, kernel_theta(theta))
        if status != OK:
            raise np.linalg.LinAlgError(_SINGULAR)
        l11 = np.sqrt(pivots)
        cp = self.cross
        return BlockedFactor(l11=l11.reshape(-1, 1, 1), l_rr=l_rr, layout=cp.layout,
                             coupling=partial(_scale_rows_cols, cp.a_r1, scalar_row_scales(theta, cp.layout),
                                              theta[0] / l11))


class ScalarSparseFactorizer(ScalarFactorizer):
    """Scalar terms with a sparse coupling: the rest formed by :class:`mixedfx.linalg.sparse_gram.ScalarSchur`."""

    name = "scalar terms, sparse coupling"
    gradient = "scalar"
    information_steps = "blocks"

    def _factor_rest(self, rows: np.ndarray, col_weights: np.ndarray, workspace: np.ndarray | None) -> np.ndarray:
        cp = self.cross
        rest = self.schur.lower(cp.a_rr, col_weights, rows, cp.layout.q_rest, workspace)
        return _factor_rest(cp, _scalar_reference(cp, rows), rest, add_identity=False)


class VectorDenseFactorizer(Factorizer):
    """Several terms, one at least vector-valued, with a dense coupling (crossed maximal models).

    One compiled call (:func:`mixedfx.linalg.vector_dense.factor_dense_coupling`):
    the first term's levels factored block by block, the other templates applied
    level by level on the rest's rows, and the rest's Schur update one Gram product:
    ``L_r1 = Lambda_r' A_r1 blockdiag(T1 L11_i^-T)``, rest
    ``Lambda_r' A_rr Lambda_r + I - L_r1 L_r1'``.
    """

    name = "vector-valued terms, dense coupling"
    gradient = "vector"

    def __init__(self, cross: CrossProducts) -> None:
        super().__init__(cross)
        self.a11 = np.ascontiguousarray(cross.a11, dtype=float)
        self.a_r1 = np.ascontiguousarray(cross.a_r1, dtype=float)
        self.a_rr = np.ascontiguousarray(cross.a_rr, dtype=float)
        self.ks = np.array(cross.layout.ks, dtype=np.int64)
        self.n_levels = np.array(cross.layout.n_levels, dtype=np.int64)

    def factor(self, theta: np.ndarray, workspace: np.ndarray | None = None) -> BlockedFactor:
        from mixedfx.linalg.vector_dense import factor_dense_coupling  # noqa: PLC0415 - numba loads when used

        l11, l_r1 = np.empty_like(self.a11), np.empty_like(self.a_r1)
        l_rr = np.empty_like(self.a_rr) if workspace is None else workspace
        status = factor_dense_coupling(self.a11, self.a_r1, self.a_rr, kernel_theta(theta),
                                       self.ks, self.n_levels, l11, l_r1, l_rr)
        if status != OK:
            raise np.linalg.LinAlgError(_SINGULAR)
        return BlockedFactor(l11=l11, l_rr=l_rr, layout=self.cross.layout, coupling=partial(as_is, l_r1))

    def factor_with_derivatives(self, theta: np.ndarray, size: int) -> tuple[BlockedFactor, TemplateDerivatives]:
        factor = self.factor(theta)
        return factor, dense_derivatives(self.cross, factor, theta, size)


class VectorRestFactorizer(Factorizer):
    """A scalar first term with a sparse coupling and vector-valued terms after it (``(service | d) + (1 | s)``).

    The rest is ``Lambda_r' (A_rr - A_r1 diag(c^2) A_r1') Lambda_r + I``, formed by
    :class:`mixedfx.linalg.sparse_gram.BlockSchur`: the templates applied to the
    coupling's non-zeros, then their Gram as for scalar terms.
    """

    name = "vector-valued rest, scalar first term, sparse coupling"
    gradient = "vector"
    information_steps = "blocks"

    def __init__(self, cross: CrossProducts) -> None:
        from mixedfx.linalg.sparse_gram import BlockSchur, rest_blocks  # noqa: PLC0415

        super().__init__(cross)
        self.block_schur = BlockSchur(cross.a_r1, cross.a_rr, rest_blocks(cross.layout))

    def factor(self, theta: np.ndarray, workspace: np.ndarray | None = None) -> BlockedFactor:
        cp = self.cross
        layout = cp.layout
        l11, right = _level_factors(cp, theta)
        cols = right[:, 0, 0]
        tmpls = templates(theta, layout.ks)[1:]
        stacked = self.block_schur.stacked_templates(tmpls)
        rest, reference = self.block_schur.lower(cp.a_rr, cols**2, stacked, layout.q_rest, workspace)
        l_rr = _factor_rest(cp, reference, rest, add_identity=False)
        return BlockedFactor(l11=l11, l_rr=l_rr, layout=layout,
                             coupling=partial(_vector_rest_coupling, cp.a_r1, tmpls, layout.n_levels[1:], layout.p + 1,
                                              cols))

    def factor_with_derivatives(self, theta: np.ndarray, size: int) -> tuple[BlockedFactor, TemplateDerivatives]:
        from mixedfx.linalg.sparse_derivatives import scalar_first_derivatives  # noqa: PLC0415

        factor = self.factor(theta)
        return factor, scalar_first_derivatives(self.cross, factor, theta, size, self.block_schur)


class BlockedFactorizer(Factorizer):
    """Several terms, one at least vector-valued, with a sparse coupling: the other terms' templates applied as
    sparse products."""

    name = "blocked"

    def factor(self, theta: np.ndarray, workspace: np.ndarray | None = None) -> BlockedFactor:
        cp = self.cross
        layout = cp.layout
        l11, right = _level_factors(cp, theta)
        left = _rest_lambda_transposed(templates(theta, layout.ks)[1:], layout.n_levels[1:], layout.p + 1)
        l_r1 = left @ cp.a_r1 @ block_diagonal(right)
        rest = left @ (left @ cp.a_rr).T
        reference = np.diagonal(rest).copy()
        reference[: layout.q_rest] += 1.0
        rest = rest - as_dense(l_r1 @ l_r1.T)
        l_rr = _factor_rest(cp, reference, rest, add_identity=True)
        return BlockedFactor(l11=l11, l_rr=l_rr, layout=layout, coupling=partial(as_is, l_r1))


def factorizer_for(cross: CrossProducts) -> Factorizer:
    """The factoriser for a model's blocks, by their shape.

    Parameters
    ----------
    cross : CrossProducts

    Returns
    -------
    Factorizer

    Examples
    --------
    >>> import numpy as np
    >>> from mixedfx.linalg.cross import cross_products
    >>> from mixedfx.linalg.layout import TermLayout
    >>> codes = np.arange(40) % 8
    >>> term = TermLayout(codes=codes, z=np.ones((40, 1)), n_levels=8)
    >>> factorizer_for(cross_products([term], np.ones((40, 1)), np.arange(40.0))).name
    'one term (compiled)'
    """
    layout = cross.layout
    if len(layout.ks) == 1 and not cross.sparse_coupling:
        return OneTermFactorizer(cross)
    if not layout.all_scalar:
        if not cross.sparse_coupling:
            return VectorDenseFactorizer(cross)
        return VectorRestFactorizer(cross) if layout.ks[0] == 1 else BlockedFactorizer(cross)
    if cross.sparse_coupling:
        return ScalarSparseFactorizer(cross)
    if cross.a_rr.shape[0] <= SMALL_REST:
        return SmallScalarFactorizer(cross)
    return ScalarDenseFactorizer(cross)


def factorize(cross: CrossProducts, theta: np.ndarray) -> BlockedFactor:
    """The factor at ``theta`` of blocks factored once (a fit's final weights, a test).

    A model factoring many times holds its :func:`factorizer_for` instead.

    Raises
    ------
    numpy.linalg.LinAlgError
        When the system is numerically singular.
    """
    return factorizer_for(cross).factor(theta)


def _checked_parts(compiled: partial, theta: np.ndarray) -> tuple[float, float, float]:
    """A compiled criterion's parts at theta, its failure raised as LinAlgError."""
    status, logdet_re, logdet_x, pwrss = compiled(kernel_theta(theta))
    if status != OK:
        raise np.linalg.LinAlgError(_SINGULAR)
    return logdet_re, logdet_x, pwrss


def _level_factors(cp: CrossProducts, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The first term's per-level factors ``L11_i`` of ``T' A11_i T + I`` and the coupling's right factors ``T L11_i^-T``
    (:func:`mixedfx.linalg.one_term.factor_levels`, without the coupling).

    Raises
    ------
    numpy.linalg.LinAlgError
        When a level's block is not positive definite.
    """
    from mixedfx.linalg.one_term import factor_levels  # noqa: PLC0415

    t1 = templates(theta, cp.layout.ks[:1])[0]
    a11 = np.ascontiguousarray(cp.a11, dtype=float)
    status, l11, _, rights = factor_levels(t1, a11, np.zeros((0, a11.shape[0] * a11.shape[1])))
    if status != OK:
        raise np.linalg.LinAlgError("a diagonal block is not positive definite")
    return l11, rights


def _scalar_reference(cp: CrossProducts, rows: np.ndarray) -> np.ndarray:
    """For scalar terms, the rest's diagonal before the Schur update, identity included (the pivot floor's reference)."""
    reference = rows**2 * np.diagonal(cp.a_rr)
    reference[: cp.layout.q_rest] += 1.0
    return reference


def _factor_rest(cp: CrossProducts, reference: np.ndarray, rest: np.ndarray, add_identity: bool) -> np.ndarray:
    """The rest block factored in place (:func:`mixedfx.linalg.cholesky.cholesky_in_place`), zeros above its diagonal.

    ``add_identity`` adds I on the random-effects rows first (a rest formed without it).
    """
    from mixedfx.linalg.cholesky import cholesky_in_place, zero_upper  # noqa: PLC0415

    rest = np.ascontiguousarray(rest)
    if add_identity:
        qr = cp.layout.q_rest
        rest[np.arange(qr), np.arange(qr)] += 1.0
    status, _ = cholesky_in_place(rest, reference, cp.layout.order, True)
    if status != OK:
        raise np.linalg.LinAlgError(_SINGULAR)
    zero_upper(rest)
    return rest


def _rest_lambda_transposed(tmpls: list[np.ndarray], n_levels: list[int], n_dense: int) -> sp.csr_matrix:
    """Lambda' for the rest: the other terms' block-diagonal templates, identity for X and y."""
    import scipy.sparse as sp  # noqa: PLC0415 - a one-term model's fit does not load scipy.sparse

    blocks = [block_diagonal(np.broadcast_to(t.T, (n, *t.shape)).copy()) for t, n in zip(tmpls, n_levels)]
    blocks.append(sp.identity(n_dense, format="csr"))
    return sp.block_diag(blocks, format="csr")


def _vector_rest_coupling(a_r1: sp.spmatrix, tmpls: list[np.ndarray], n_levels: list[int], n_dense: int,
                          cols: np.ndarray) -> sp.csr_matrix:
    """``L_r1 = Lambda_r' A_r1 diag(cols)`` after a scalar first term (:class:`VectorRestFactorizer`'s, on first use)."""
    import scipy.sparse as sp  # noqa: PLC0415 - a one-term model's fit does not load scipy.sparse

    return (_rest_lambda_transposed(tmpls, n_levels, n_dense) @ a_r1 @ sp.diags(cols)).tocsr()


def _scale_rows_cols(a: np.ndarray | sp.spmatrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray | sp.spmatrix:
    """diag(rows) a diag(cols), keeping a's form (dense or CSR)."""
    if is_sparse(a):
        csr = a.tocsr(copy=True)
        csr.data *= rows[np.repeat(np.arange(csr.shape[0]), np.diff(csr.indptr))] * cols[csr.indices]
        return csr
    return rows[:, None] * a * cols[None, :]
