"""The outcomes of a compiled PIRLS run, named once.

They continue :mod:`mixedfx.linalg.pivots`' numbering (``OK`` 0,
``NOT_POSITIVE_DEFINITE`` 1), so one value means one thing in every kernel.
:func:`mixedfx.glmm.pirls.raise_for_status` turns them into the errors the
Python PIRLS raises.
"""

from mixedfx.linalg.pivots import NOT_POSITIVE_DEFINITE, OK

__all__ = ["OK", "NOT_POSITIVE_DEFINITE", "NOT_FINITE", "HALVING_FAILED", "NOT_CONVERGED"]

NOT_FINITE = 2
"""The working weights or response left the finite numbers (the means left the family's range)."""
HALVING_FAILED = 3
"""Step-halving could not bring the penalised deviance back down."""
NOT_CONVERGED = 4
"""The iterations ran out before the penalised deviance settled."""
