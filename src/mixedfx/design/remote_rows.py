"""Rows that stay on a cluster's workers: what a distributed fit holds in place of its row-wise arrays.

A fit made from a Dask DataFrame never gathers its rows. Its ``ModelMatrices``
hold :class:`RemoteRows` where an in-memory fit holds y, X, the offset, the
weights and each term's codes and model matrix: they know their shape, so
counts (``nobs``) and sizes read as usual, and any use of their values raises
:class:`~mixedfx.errors.RowsElsewhereError`, which says how to get the
answer. Whatever a distributed fit computes from its rows it computes through
passes over the partitions (:mod:`mixedfx.distributed`).
"""

from __future__ import annotations

from typing import NoReturn

import numpy as np

from mixedfx.errors import RowsElsewhereError

__all__ = ["RemoteRows", "rows_elsewhere"]

_NEEDS_ROWS = ("this needs the model's rows in this process, but the fit was made from a Dask DataFrame whose rows "
               "stay on the workers; fit the rows in memory (data=ddf.compute()) for it")


class RemoteRows:
    """An array's shape without its values: n rows on a cluster's workers.

    Parameters
    ----------
    shape : tuple of int
        The array's shape (rows first).
    what : str
        What the array holds, for the error message.

    Examples
    --------
    >>> y = RemoteRows((1_000_000,), "the response")
    >>> y.shape, len(y)
    ((1000000,), 1000000)
    >>> y + 1  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    mixedfx.errors.RowsElsewhereError: the response: this needs the model's rows in this process, ...
    """

    def __init__(self, shape: tuple[int, ...], what: str) -> None:
        self.shape = tuple(int(s) for s in shape)
        self.what = what

    @property
    def ndim(self) -> int:
        """Dimensions."""
        return len(self.shape)

    @property
    def size(self) -> int:
        """Elements."""
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return f"RemoteRows(shape={self.shape}, what={self.what!r})"

    def _refuse(self, *_: object, **__: object) -> NoReturn:
        raise rows_elsewhere(self.what)

    def __array_ufunc__(self, *_: object, **__: object) -> NoReturn:
        """Any numpy ufunc given these rows (``np.exp(y)``, ``array += y``) refuses as the operators do."""
        raise rows_elsewhere(self.what)

    __array__ = __getitem__ = __iter__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _refuse
    __matmul__ = __rmatmul__ = __pow__ = __neg__ = __lt__ = __le__ = __gt__ = __ge__ = _refuse
    ravel = copy = astype = sum = mean = reshape = _refuse


def rows_elsewhere(what: str) -> RowsElsewhereError:
    """The error for ``what`` asked of a fit whose rows stay on Dask workers.

    Examples
    --------
    >>> str(rows_elsewhere("a residual plot")).startswith("a residual plot: this needs")
    True
    """
    return RowsElsewhereError(f"{what}: {_NEEDS_ROWS}")
