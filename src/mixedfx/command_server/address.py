"""Where this installation's command server listens.

The socket's name carries a key of the Python executable, the package's folder
and version, and the newest modification time of its modules: a server started
before an upgrade or an edit is not found by calls made after it, which start
afresh (and the old server ends when idle).
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from pathlib import Path

__all__ = ["SOCKET_PATH_LIMIT", "installation_key", "runtime_directory", "socket_path"]

SOCKET_PATH_LIMIT = 100  # AF_UNIX paths hold 104 to 108 bytes, depending on the system

_PACKAGE = Path(__file__).resolve().parent.parent


def installation_key(package: Path = _PACKAGE) -> str:
    """A short hash of this interpreter, the package's location and version, and its modules' newest mtime.

    Parameters
    ----------
    package : Path
        The package's folder (this installation's by default).

    Examples
    --------
    >>> from mixedfx.command_server.address import installation_key
    >>> len(installation_key())
    16
    """
    from mixedfx import __version__

    newest = 0
    folders = [package]
    while folders:
        with os.scandir(folders.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False) and entry.name != "__pycache__":
                    folders.append(entry.path)
                elif entry.name.endswith(".py"):
                    newest = max(newest, entry.stat().st_mtime_ns)
    text = f"{sys.executable}\0{package}\0{__version__}\0{newest}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def runtime_directory() -> Path:
    """The user's private folder for the socket: ``$XDG_RUNTIME_DIR/mixedfx``, else ``<tmp>/mixedfx-<uid>``.

    Created with mode 0700 where missing.

    Raises
    ------
    PermissionError
        Where the folder exists but is not this user's alone (another user could
        then answer this user's commands).
    """
    base = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(base) / "mixedfx" if base else Path(tempfile.gettempdir()) / f"mixedfx-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    info = folder.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise PermissionError(f"{folder} is not private to this user (owner and mode 0700 only): remove it, "
                              f"or set XDG_RUNTIME_DIR to a private folder")
    return folder


def socket_path() -> Path:
    """The socket this installation's server listens on (see the module's note on the key).

    Examples
    --------
    >>> from mixedfx.command_server.address import socket_path
    >>> socket_path().suffix
    '.sock'
    """
    return runtime_directory() / f"server-{installation_key()}.sock"
