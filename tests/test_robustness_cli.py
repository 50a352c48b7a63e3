"""Robustness of the command line (issue 5): bad input gives one or two lines on stderr, no traceback, status 2."""

import subprocess
import sys

import numpy as np
import pytest

import mixedfx as mfx


def run(*args):
    return subprocess.run([sys.executable, "-m", "mixedfx.cli", *args], capture_output=True, text=True, timeout=120)


def assert_error(out, *fragments):
    """A short error on stderr naming every fragment, nothing on stdout, a non-zero status."""
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, out.stderr
    assert ": error: " in lines[0]
    for fragment in fragments:
        assert fragment in out.stderr, (fragment, out.stderr)


@pytest.fixture(scope="module")
def csv_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    sleep = mfx.datasets.load("sleepstudy")
    spoiled = sleep.assign(w=1.0, text=np.where(sleep["Reaction"] > 300, "slow", "fast"), one="a")
    spoiled.loc[3, "w"] = -1.0
    spoiled.to_csv(folder / "spoiled.csv", index=False)
    (folder / "empty.csv").write_text("")
    (folder / "header.csv").write_text("Reaction,Days,Subject\n")
    (folder / "binary.csv").write_bytes(b"\xff\xfe\x00\x81 not text")
    return folder


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["Reaction ~ Dayz + (1 | Subject)", "--data", "sleepstudy"], ["'Dayz'", "did you mean 'Days'"]),
        (["Reaction ~ Days + (1 | Subject", "--data", "sleepstudy"],
         ["unclosed parenthesis", "position 19", "Reaction ~ Days + (1 | Subject"]),
        (["Reaction ~ Days + ( | Subject)", "--data", "sleepstudy"], ["empty random-effects term"]),
        (["Reaction ~ Days", "--data", "sleepstudy"], ["No random effects terms specified in formula"]),
        (["Reaction ~ Days + (1 | Subject)", "--data", "sleepstudy", "--family", "binomal"],
         ["unknown family 'binomal'", "valid families: binomial"]),
        (["Reaction ~ Days + (1 | Subject)", "--data", "sleepstudy", "--family", "poisson", "--link", "logit"],
         ["unknown link 'logit' for the poisson family", "valid links: log, identity, sqrt"]),
        (["Reaction ~ Days + (Days | Subject)", "--data", "sleepstudy", "--family", "Gamma", "--nagq", "5"],
         ["nAGQ > 1 is only available"]),
        (["Reaction ~ Days + (1 | Subject)", "--data", "no_such_set"], ["neither a file nor a bundled data set"]),
        (["Reaction ~ Days + (1 | Subject)", "--data", "missing/file.csv"], ["no such file: missing/file.csv"]),
    ],
)
def test_bad_model_or_data_name(args, fragments):
    assert_error(run("fit", *args), *fragments)


@pytest.mark.parametrize(
    ("formula", "file", "extra", "fragments"),
    [
        ("text ~ Days + (1 | Subject)", "spoiled.csv", [], ["response must be numeric", "text"]),
        ("Reaction ~ Days + (1 | one)", "spoiled.csv", [], ["> 1 sampled level (problems: one)"]),
        ("Reaction ~ Days + (1 | Subject)", "spoiled.csv", ["--weights", "w"],
         ["negative weights", "weights column 'w'", "row 3"]),
        ("Reaction ~ Days + (1 | Subject)", "spoiled.csv", ["--weights", "wt"], ["'wt' not found", "did you mean"]),
        ("Reaction ~ Days + (1 | Subject)", "empty.csv", [], ["could not read", "empty.csv"]),
        ("Reaction ~ Days + (1 | Subject)", "header.csv", [], ["the data have no rows"]),
        ("Reaction ~ Days + (1 | Subject)", "binary.csv", [], ["could not read", "binary.csv"]),
        ("Reaction ~ Days + (1 | Subject)", ".", [], ["is a folder"]),
    ],
)
def test_bad_data_files(csv_files, formula, file, extra, fragments):
    assert_error(run("fit", formula, "--data", str(csv_files / file), *extra), *fragments)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["fit"], "the following arguments are required: formula, --data"),
        (["fit", "y ~ (1 | g)", "--data", "sleepstudy", "--nagq", "many"], "invalid int value: 'many'"),
        (["refit"], "invalid choice: 'refit'"),
    ],
)
def test_bad_command_lines_are_two_lines(args, fragment):
    out = run(*args)
    assert out.returncode == 2 and "Traceback" not in out.stderr and out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 2 and fragment in lines[0] and "--help" in lines[1]


def test_warnings_are_one_line_each():
    out = run("fit", "Reaction ~ Days + (1 | Subject)", "--data", "sleepstudy", "--family", "gaussian")
    assert out.returncode == 0, out.stderr
    assert out.stderr.strip().splitlines() == [
        "mixedfx: warning: calling glmer() with family=gaussian (identity link) as a shortcut to lmer() is "
        "deprecated; please call lmer() directly"]


def test_non_regular_files_are_refused(tmp_path):
    """A FIFO hung the command forever and /dev/zero was read until memory ran out ([robustness] item 10)."""
    import os

    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert_error(run("fit", "y ~ 1 + (1 | g)", "--data", str(fifo)), "is not a regular file")
    assert_error(run("fit", "y ~ 1 + (1 | g)", "--data", "/dev/zero"), "is not a regular file")


def test_compressed_csv_is_read_by_its_real_extension(tmp_path):
    path = tmp_path / "sleep.csv.gz"
    mfx.datasets.load("sleepstudy").to_csv(path, index=False)
    out = run("fit", "Reaction ~ Days + (1 | Subject)", "--data", str(path))
    assert out.returncode == 0 and "Data: sleep\n" in out.stdout, out.stderr


def test_a_huge_field_gives_a_short_error(tmp_path):
    """One 5 MB field became a 5 MB 'one-line' error ([robustness] item 11)."""
    path = tmp_path / "huge.csv"
    path.write_text("y,g\n1,a\n2," + "b" * 5_000_000 + "\n")
    out = run("fit", "y ~ 1 + (1 | nosuch" + "x" * 5000 + ")", "--data", str(path))
    assert out.returncode == 2 and len(out.stderr) < 1000


def test_output_cut_short_by_the_reader_is_no_error():
    command = f"{sys.executable} -m mixedfx.cli fit 'Reaction ~ Days + (1 | Subject)' --data sleepstudy | head -1"
    out = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=120)
    assert out.stdout.startswith("Linear mixed model fit by REML") and out.stderr == ""


def test_a_stray_text_value_in_a_numeric_column_is_reported(tmp_path):
    """It silently made the column a factor (issue [robustness], command line)."""
    path = tmp_path / "stray.csv"
    rows = [f"{i},{i if i != 3 else 'oops'},{'abc'[i % 3]}" for i in range(1, 31)]
    path.write_text("y,x,g\n" + "\n".join(rows) + "\n")
    out = run("fit", "y ~ x + (1 | g)", "--data", str(path))
    assert "column 'x' holds numbers but 1 value(s) are not (e.g. 'oops'" in out.stderr
