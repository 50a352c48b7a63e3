"""Reading a data table from a bundled data set's name or a file path."""

from __future__ import annotations

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
    return frame
