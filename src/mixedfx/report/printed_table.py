"""A DataFrame that prints as R prints the table it stands for."""

from __future__ import annotations

import pandas as pd

from mixedfx.report.html import PreformattedHtml


class PrintedTable(PreformattedHtml, pd.DataFrame):
    """A DataFrame whose ``repr`` is its ``str``: a subclass gives ``__str__`` R's print of it.

    In a notebook it shows as that print too (:class:`PreformattedHtml`), not as pandas' grid of raw numbers.

    Anything derived from it (a slice, a column, arithmetic) is a plain DataFrame
    or Series, so the print, which reads ``attrs``, never meets a partial table.

    Examples
    --------
    >>> class Shouted(PrintedTable):
    ...     def __str__(self) -> str:
    ...         return "TABLE OF " + str(len(self)) + " ROWS"
    >>> table = Shouted({"a": [1, 2]})
    >>> table
    TABLE OF 2 ROWS
    >>> type(table.head(1)).__name__
    'DataFrame'
    """

    @property
    def _constructor(self):
        return pd.DataFrame

    def __repr__(self) -> str:
        return self.__str__()
