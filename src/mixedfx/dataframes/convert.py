"""Any data frame a user hands in, as the pandas DataFrame the model stages read.

pandas passes through untouched. polars (eager or lazy), pyarrow Tables and
the other libraries narwhals knows are converted by narwhals; other objects by
the Arrow PyCapsule stream (``__arrow_c_stream__``) or the dataframe
interchange protocol (``__dataframe__``), both through pyarrow. Categorical
columns keep their categories' order (a polars Enum's, an Arrow dictionary's),
which the model reads as a factor's level order; an ordered one (a polars Enum)
is an ordered factor, with R's polynomial contrasts. :func:`column_array` reads
one column of a pandas frame as its array, without building a Series;
:func:`unknown_column` is the error for a name the frame does not have.
"""

from __future__ import annotations

import difflib
import weakref
from typing import Any

import numpy as np
import pandas as pd

from mixedfx.dataframes.dask_frames import is_dask_frame
from mixedfx.errors import DataError

__all__ = ["as_pandas", "column_array", "read_only", "unknown_column", "DataFrameLike"]

#: What ``data=`` accepts: any object :func:`as_pandas` converts.
DataFrameLike = Any

_KINDS = "a pandas, polars or pyarrow data frame, or one with __arrow_c_stream__ or __dataframe__"


def _needs(package: str, data: Any, name: str) -> TypeError:
    return TypeError(f"{name} is a {type(data).__module__}.{type(data).__name__}: converting it to pandas needs "
                     f"{package} (pip install {package})")


def as_pandas(data: Any, name: str = "data") -> pd.DataFrame:
    """``data`` as a pandas DataFrame (the same object when it is one).

    Parameters
    ----------
    data : data frame
        pandas; polars ``DataFrame`` or ``LazyFrame`` (collected here); a
        pyarrow ``Table``; any frame narwhals supports; or an object with the
        Arrow PyCapsule stream or the dataframe interchange protocol.
    name : str
        The argument's name, for the error message.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    TypeError
        ``data`` is not a data frame, or converting it needs a package that is
        not installed (the message names it).

    Examples
    --------
    >>> import pyarrow as pa
    >>> frame = as_pandas(pa.table({"y": [1.0, 2.0], "g": pa.array(["b", "a"]).dictionary_encode()}))
    >>> list(frame["g"].cat.categories)
    ['b', 'a']
    >>> as_pandas([1, 2])
    Traceback (most recent call last):
    ...
    TypeError: data must be a pandas, polars or pyarrow data frame, or one with __arrow_c_stream__ or __dataframe__, not list
    """
    if isinstance(data, pd.DataFrame):
        return data
    if is_dask_frame(data):
        raise TypeError(f"{name} is a Dask DataFrame, which only lmer and glmer fit partition by partition; it is "
                        f"not collected silently: pass {name}.compute() to use it in memory "
                        "(fit.predict takes Dask frames)")
    import narwhals as nw  # only for other frames: it costs pandas users' import time nothing

    frame = nw.from_native(data, pass_through=True)
    if isinstance(frame, nw.LazyFrame):
        frame = frame.collect()
    if isinstance(frame, nw.DataFrame):
        try:
            return frame.to_pandas()
        except ModuleNotFoundError as exc:
            raise _needs(exc.name or "pyarrow", data, name) from None
    if hasattr(data, "__arrow_c_stream__") or hasattr(data, "__dataframe__"):
        try:
            import pyarrow as pa
            import pyarrow.interchange
        except ModuleNotFoundError:
            raise _needs("pyarrow", data, name) from None
        table = pa.table(data) if hasattr(data, "__arrow_c_stream__") else pyarrow.interchange.from_dataframe(data)
        return table.to_pandas()
    raise TypeError(f"{name} must be {_KINDS}, not {type(data).__name__}")


def column_array(data: pd.DataFrame, name: str) -> np.ndarray | pd.api.extensions.ExtensionArray:
    """One column's values as its array: a read-only numpy array, or the column's extension array.

    ``data[name]`` builds a Series (about 20 us with pandas 3, more than a small
    model's whole frame needs otherwise); pandas' ``_get_column_array`` reads the
    block's array directly, and is used where pandas has it (2.1 and later),
    ``data.iloc[:, j].array`` elsewhere. The column's position comes from a
    table of the column labels kept for the labels' lifetime (see
    :func:`_column_positions`).

    Parameters
    ----------
    data : pandas.DataFrame
    name : str
        A column of ``data``.

    Returns
    -------
    ndarray or ExtensionArray
        A numpy array (never writeable: it is a view of the data) for numpy
        dtypes, else the column's extension array (Categorical, strings, nullable types).

    Raises
    ------
    KeyError
        ``name`` is not a column.
    DataError
        Several columns have that name.

    Examples
    --------
    >>> column_array(pd.DataFrame({"x": [1.0, 2.0]}), "x")
    array([1., 2.])
    """
    columns = data.columns
    if type(columns) is pd.Index:  # plain labels: looked up as a dictionary would
        position = _column_positions(columns)[name]
    else:  # a MultiIndex's first-level label, a DatetimeIndex's date text... as pandas reads them
        found = columns.get_loc(name)
        position = int(found) if isinstance(found, int | np.integer) else -1
    if position < 0:
        raise DataError(f"the data have more than one column named {name!r}")
    read = getattr(data, "_get_column_array", None)
    if read is not None:
        values = read(int(position))
    else:
        column = data.iloc[:, int(position)]
        values = column.to_numpy() if isinstance(column.dtype, np.dtype) else column.array
    return read_only(values) if isinstance(values, np.ndarray) else values


def _column_positions(columns: pd.Index) -> dict[Any, int]:
    """Each column label's position, -1 for a label that several columns share.

    A frame's column labels are an immutable Index, replaced when columns are
    added or renamed; the table is kept while that Index lives, as
    ``Index.get_loc`` costs four times a dictionary lookup on every column a
    formula reads.
    """
    kept = _POSITIONS.get(id(columns))
    if kept is not None and kept[0]() is columns:
        return kept[1]
    positions: dict[Any, int] = {}
    for j, label in enumerate(columns):
        positions[label] = -1 if label in positions else j
    key = id(columns)
    _POSITIONS[key] = (weakref.ref(columns, lambda _, key=key: _POSITIONS.pop(key, None)), positions)
    return positions


_POSITIONS: dict[int, tuple[weakref.ref, dict[Any, int]]] = {}
""":func:`_column_positions` by the column Index's identity (an entry leaves when the Index is freed)."""


def read_only(array: np.ndarray) -> np.ndarray:
    """A view of ``array`` that cannot write to it (a column's values are the user's data).

    Examples
    --------
    >>> read_only(np.zeros(2)).flags.writeable
    False
    """
    view = array.view()
    view.setflags(write=False)
    return view


def unknown_column(name: str, columns: pd.Index) -> DataError:
    """A DataError for a missing column, suggesting near matches.

    Parameters
    ----------
    name : str
        The column the formula asked for.
    columns : pandas.Index
        The data's columns.

    Returns
    -------
    DataError
        Naming up to three close matches (difflib), or the columns.

    Examples
    --------
    >>> str(unknown_column("days", pd.Index(["Days", "Reaction"])))
    "column 'days' not found in the data; did you mean 'Days'?"
    """
    names = [str(c) for c in columns]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    lower = [c for c in names if c.lower() == name.lower() and c not in close]
    close = lower + close
    if close:
        hint = "did you mean " + " or ".join(repr(c) for c in close) + "?"
    else:
        shown = ", ".join(names[:20]) + (", ..." if len(names) > 20 else "")
        hint = f"the columns are: {shown}"
    return DataError(f"column {name!r} not found in the data; {hint}")
