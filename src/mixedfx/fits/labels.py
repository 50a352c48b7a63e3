"""The labels of a fit's tables (coefficient names), as pandas Indexes made once per set of names.

With pandas 3 an Index of text built from a list is an Arrow string array:
building it took most of ``fit.fixef``'s time (0.1 ms; a bootstrap reads it on
every refit). Indexes are immutable but for their ``name``, so each table gets
a copy (which shares the values) of the one made for its names.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import pandas as pd

__all__ = ["names_index"]


@lru_cache(maxsize=256)
def _shared_index(names: tuple[str, ...]) -> pd.Index:
    return pd.Index(names)


def names_index(names: Sequence[str]) -> pd.Index:
    """An Index of ``names`` for one table: a copy of the Index made once for these names.

    Examples
    --------
    >>> names_index(["(Intercept)", "Days"]).tolist()
    ['(Intercept)', 'Days']
    >>> names_index(["a"]) is names_index(["a"])
    False
    """
    return _shared_index(tuple(names)).copy()
