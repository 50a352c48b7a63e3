"""Data sets bundled with mixedfx (the classic lme4 examples), as pandas DataFrames.

Each data set is a CSV file plus a schema (``<name>.schema.json``) that gives every
column's type and, for factors, the level order R uses.
"""

from __future__ import annotations

import json
from importlib import resources

import pandas as pd

__all__ = ["load", "names", "describe"]

_DATA = resources.files(__name__) / "data"


def names() -> list[str]:
    """Names of the bundled data sets, sorted case-insensitively."""
    found = [p.name[: -len(".schema.json")] for p in _DATA.iterdir() if p.name.endswith(".schema.json")]
    return sorted(found, key=str.lower)


def _schema(name: str) -> dict:
    path = _DATA / f"{name}.schema.json"
    if not path.is_file():
        known = names()
        lower = {k.lower(): k for k in known}
        if name.lower() in lower:
            return _schema(lower[name.lower()])
        raise ValueError(f"no bundled data set named {name!r}; available: {', '.join(known)}")
    return json.loads(path.read_text())


def describe(name: str) -> dict:
    """The schema of a bundled data set: name, nrow, description and column types."""
    return _schema(name)


def load(name: str) -> pd.DataFrame:
    """Load a bundled data set.

    Parameters
    ----------
    name : str
        The data set's name, as listed by :func:`names` (case-insensitive).

    Returns
    -------
    pandas.DataFrame
        Factors are categoricals in the schema's level order (ordered where R's
        factor is ordered); ``df.attrs["name"]`` holds the data set's name.
    """
    schema = _schema(name)
    real_name = schema["name"]
    with (_DATA / f"{real_name}.csv").open("r") as fh:
        df = pd.read_csv(fh, keep_default_na=False, na_values=[""])
    for col, spec in schema["columns"].items():
        kind = spec["type"]
        if kind == "factor":
            values = df[col].astype("string").astype(object).where(df[col].notna(), None)
            df[col] = pd.Categorical(values, categories=spec["levels"], ordered=spec["ordered"])
        elif kind == "integer" and not df[col].isna().any():
            df[col] = df[col].astype("int64")
        elif kind in ("numeric", "integer"):
            df[col] = df[col].astype("float64")
        elif kind == "logical":
            df[col] = df[col].map({"TRUE": True, "FALSE": False, True: True, False: False})
    df.attrs["name"] = real_name
    return df
