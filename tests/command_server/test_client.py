"""Commands handed to a running server print and exit as they do when run by the caller."""

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from mixedfx.cli import main

pytestmark = pytest.mark.skipif(os.name != "posix", reason="the command server forks and listens on a Unix socket")


def command(env, *args, cwd=None, python_options=()):
    return subprocess.run([sys.executable, *python_options, "-m", "mixedfx.cli", *args], check=False,
                          capture_output=True,
                          text=True, timeout=300, env=env, cwd=cwd)


@pytest.fixture(scope="module")
def served():
    """The environment of commands that find a server (a private runtime folder short enough for a socket)."""
    folder = tempfile.mkdtemp(prefix="mfx")
    env = dict(os.environ, XDG_RUNTIME_DIR=folder)
    started = command(env, "serve", "--idle-minutes", "3")
    assert started.returncode == 0, started.stderr
    assert "a warm server answers" in started.stdout
    yield env
    command(env, "serve", "--stop")
    shutil.rmtree(folder, ignore_errors=True)


def test_served_fit_prints_what_the_command_prints_itself(served, capsys):
    assert main(["fit", "Yield ~ 1 + (1 | Batch)", "--data", "Dyestuff"]) == 0
    expected = capsys.readouterr().out
    out = command(served, "fit", "Yield ~ 1 + (1 | Batch)", "--data", "Dyestuff", python_options=("-X", "importtime"))
    assert out.returncode == 0
    assert out.stdout == expected
    # the fit ran in the server: the calling process imported neither pandas nor numba
    imported = {line.split("|")[-1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}
    assert "mixedfx.command_server.client" in imported
    assert not imported & {"pandas", "numba", "numpy"}


def test_served_error_has_the_status_and_message_of_the_command(served):
    out = command(served, "fit", "Yield ~ 1 + (1 | Batchx)", "--data", "Dyestuff")
    assert out.returncode == 2
    assert out.stderr.startswith("mixedfx: error: column 'Batchx' not found")
    assert out.stdout == ""
    usage = command(served, "fit", "--bogus")
    assert usage.returncode == 2 and "arguments are required: formula, --data" in usage.stderr


def test_served_command_reads_files_from_the_callers_folder(served, tmp_path):
    (tmp_path / "small.csv").write_text("y,g\n" + "".join(f"{i % 7 + i % 3},{'ab'[i % 2]}{i % 4}\n"
                                                          for i in range(40)))
    out = command(served, "fit", "y ~ 1 + (1 | g)", "--data", "small.csv", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert '"nobs": 40' in out.stdout


def test_status_and_stop(served):
    assert "is running" in command(served, "serve", "--status").stdout
    assert command(served, "serve", "--status", "--stop").returncode == 2


def test_idle_server_ends_and_the_command_runs_itself(tmp_path):
    folder = tempfile.mkdtemp(prefix="mfx")
    env = dict(os.environ, XDG_RUNTIME_DIR=folder)
    try:
        assert command(env, "serve", "--idle-minutes", "0.01").returncode == 0
        sockets = list(Path(folder, "mixedfx").glob("*.sock"))
        assert len(sockets) == 1
        deadline = time.monotonic() + 30
        while sockets[0].exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not sockets[0].exists()
        assert "is not running" in command(env, "serve", "--status").stdout
        out = command(env, "datasets")
        assert out.returncode == 0 and "sleepstudy" in out.stdout
    finally:
        command(env, "serve", "--stop")
        shutil.rmtree(folder, ignore_errors=True)


def test_bad_idle_minutes_is_refused():
    assert main(["serve", "--idle-minutes", "0"]) == 2
