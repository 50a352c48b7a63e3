"""Exception classes shared across mixedfx.

Every error a user can cause with a formula or a data set is a ``ValueError``
subclass, so ``except ValueError`` catches them all.
"""

from __future__ import annotations

__all__ = ["MixedFxError", "FormulaError", "DataError", "RowsElsewhereError"]


MAX_MESSAGE = 600
"""The longest message an error carries: data quoted in it (a 5 MB field of a CSV) are cut."""


class MixedFxError(ValueError):
    """Base class of mixedfx's user-facing errors; messages longer than :data:`MAX_MESSAGE` are shortened.

    Examples
    --------
    >>> len(str(MixedFxError("x" * 10_000))) <= MAX_MESSAGE
    True
    """

    def __init__(self, message: object = "", *args: object) -> None:
        text = str(message)
        if len(text) > MAX_MESSAGE:
            kept = MAX_MESSAGE - 40  # room for the note
            text = f"{text[:kept]} ... [{len(text) - kept} characters left out]"
        super().__init__(text, *args)


class FormulaError(MixedFxError):
    """A model formula that cannot be parsed or is not a valid mixed-model formula."""


class DataError(MixedFxError):
    """Data that do not fit the model: missing columns, missing values, bad types."""


class RowsElsewhereError(MixedFxError):
    """A computation that needs the model's rows in this process, asked of a fit whose rows stay on Dask workers."""
