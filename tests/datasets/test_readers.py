"""Reading tables from bundled names and files."""

import pandas as pd
import pytest

from mixedfx.datasets.readers import read_data


def test_bundled_name():
    assert read_data("Dyestuff").attrs["name"] == "Dyestuff"


@pytest.mark.parametrize("suffix,sep", [(".csv", ","), (".tsv", "\t"), (".txt", " ")])
def test_delimited_files(tmp_path, suffix, sep):
    path = tmp_path / f"mydata{suffix}"
    path.write_text(sep.join(["y", "g"]) + "\n" + "\n".join(sep.join([str(i * 1.5), f"g{i % 3}"]) for i in range(9)))
    frame = read_data(str(path))
    assert list(frame.columns) == ["y", "g"]
    assert frame["y"].iloc[2] == 3.0
    assert frame.attrs["name"] == "mydata"


def test_whitespace_file_with_aligned_columns(tmp_path):
    path = tmp_path / "aligned.dat"
    path.write_text("  y    g\n 1.0   a\n 2.5   b\n")
    frame = read_data(str(path))
    assert frame["g"].tolist() == ["a", "b"]


def test_parquet(tmp_path):
    path = tmp_path / "d.parquet"
    pd.DataFrame({"y": [1.0, 2.0], "g": ["a", "b"]}).to_parquet(path)
    assert read_data(str(path))["y"].tolist() == [1.0, 2.0]


def test_missing_file_and_unknown_name():
    with pytest.raises(ValueError, match="no such file"):
        read_data("nowhere/data.csv")
    with pytest.raises(ValueError, match="neither a file nor a bundled data set"):
        read_data("notadataset")
