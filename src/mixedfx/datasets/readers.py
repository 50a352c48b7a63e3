"""Reading a data table from a bundled data set's name or a file path."""

from __future__ import annotations

import warnings
from pathlib import Path

import pandas as pd

from mixedfx import datasets
from mixedfx.errors import DataError

__all__ = ["read_data"]

_DELIMITED = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_COMPRESSED = {".gz", ".bz2", ".xz", ".zip", ".zst"}  # pandas reads these by their extension


def read_data(source: str) -> pd.DataFrame:
    """Load a bundled data set by name, or read a CSV, TSV, Parquet or whitespace-separated file.

    Parameters
    ----------
    source : str
        A bundled data set's name (see ``mixedfx datasets``) or a path. A file
        whose suffix is not .csv, .tsv, .tab or .parquet is read as R's
        ``read.table(header = TRUE)`` reads it: fields separated by whitespace,
        a header line. A compressed file (.gz, .bz2, .xz, .zip, .zst) is read by
        the suffix before that (``data.csv.gz`` as CSV). Only regular files are read.

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
    if not path.is_file():
        raise DataError(f"{source} is not a regular file (a device, pipe or socket); give a data file")
    suffixes = [x.lower() for x in path.suffixes]
    compressed = bool(suffixes) and suffixes[-1] in _COMPRESSED
    suffix = suffixes[-2] if compressed and len(suffixes) > 1 else path.suffix.lower()
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
    frame.attrs["name"] = path.name[: -len("".join(path.suffixes))] if path.suffixes else path.stem
    _warn_of_stray_text(frame)
    return frame


def _warn_of_stray_text(frame: pd.DataFrame) -> None:
    """Say so where a column of numbers was read as text because of a few values that are not numbers."""
    for name in frame.columns:
        if not pd.api.types.is_string_dtype(frame[name].dtype):
            continue
        column = frame[name].dropna()
        numbers = pd.to_numeric(column, errors="coerce")
        stray = numbers.isna()
        if 0 < stray.sum() <= 0.1 * len(column):
            first = column[stray].iloc[0]
            warnings.warn(f"column {name!r} holds numbers but {int(stray.sum())} value(s) are not (e.g. "
                          f"{str(first)[:40]!r} in row {column[stray].index[0]}), so it is read as text (a factor); "
                          "fix or remove those values if it is numeric", stacklevel=2)
