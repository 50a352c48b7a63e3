"""Exception classes shared across mixedfx.

Every error a user can cause with a formula or a data set is a ``ValueError``
subclass, so ``except ValueError`` catches them all.
"""

from __future__ import annotations

__all__ = ["MixedFxError", "FormulaError", "DataError"]


class MixedFxError(ValueError):
    """Base class of mixedfx's user-facing errors."""


class FormulaError(MixedFxError):
    """A model formula that cannot be parsed or is not a valid mixed-model formula."""


class DataError(MixedFxError):
    """Data that do not fit the model: missing columns, missing values, bad types."""
