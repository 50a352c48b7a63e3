"""The server's socket: a key that follows the installation, a folder private to the user."""

import os

import pytest

from mixedfx.command_server.address import (
    installation_key,
    runtime_directory,
    socket_path,
)


def test_key_changes_when_a_module_is_edited(tmp_path):
    (tmp_path / "stage").mkdir()
    module = tmp_path / "stage" / "kernel.py"
    module.write_text("x = 1\n")
    before = installation_key(tmp_path)
    assert installation_key(tmp_path) == before
    info = os.stat(module)
    os.utime(module, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    assert installation_key(tmp_path) != before
    assert installation_key() != before  # another package, another key


def test_socket_lives_in_a_private_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    path = socket_path()
    assert path.parent == tmp_path / "mixedfx"
    assert path.parent.stat().st_mode & 0o777 == 0o700


def test_a_shared_folder_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    (tmp_path / "mixedfx").mkdir(mode=0o755)
    os.chmod(tmp_path / "mixedfx", 0o755)
    with pytest.raises(PermissionError, match="not private to this user"):
        runtime_directory()
