"""Reading a data table from a bundled data set's name or a file path."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mixedfx import datasets
from mixedfx.errors import DataError

__all__ = ["read_data"]

_DELIMITED = {".csv": ",", ".tsv": "\t", ".tab": "\t"}


def read_data(source: str) -> pd.DataFrame:
    """Load a bundled data set by name, or read a CSV, TSV, Parquet or whitespace-separated file.

    Parameters
    ----------
    source : str
        A bundled data set's name (see ``mixedfx datasets``) or a path. A file
        whose suffix is not .csv, .tsv, .tab or .parquet is read as R's
        ``read.table(header = TRUE)`` reads it: fields separated by whitespace,
        a header line.

    Returns
    -------
    DataFrame
        ``attrs["name"]`` is the data set's name or the file's stem.
    """
    path = Path(source)
    if not path.exists():
        if path.suffix or "/" in source or "\\" in source:
            raise DataError(f"no such file: {source}")
        try:
            return datasets.load(source)
        except ValueError as exc:
            raise DataError(f"{source!r} is neither a file nor a bundled data set ({exc})") from None
    if path.is_dir():
        raise DataError(f"{source} is a folder; give a data file (CSV, TSV, Parquet or whitespace-separated text)")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix in _DELIMITED:
            frame = pd.read_csv(path, sep=_DELIMITED[suffix], keep_default_na=True, na_values=["NA", ""])
        else:
            frame = pd.read_csv(path, sep=r"\s+", na_values=["NA"])
    except ImportError as exc:
        raise DataError(f"reading {source} needs an optional package: {exc}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"could not read {source} as a table: {exc}") from None
    frame.attrs["name"] = path.stem
    return frame
