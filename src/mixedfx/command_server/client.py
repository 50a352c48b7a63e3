"""Hand a command-line call to the running server, start the server, stop it.

A call travels as one request: a 4-byte length with the caller's three standard
streams attached (``SCM_RIGHTS``), then the JSON of its arguments, working
directory and environment. The server's fork answers with its process id (so
that Ctrl-C reaches it) and, when the command is done, its exit status.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

from mixedfx.command_server.address import SOCKET_PATH_LIMIT, socket_path
from mixedfx.command_server.protocol import HEADER, REPLY, receive_exactly

__all__ = ["START_SECONDS", "forward", "serving", "start", "stop"]

START_SECONDS = 120.0  # the server compiles the first fits' kernels where numba's cache lacks them


def _connected(path: Path) -> socket.socket | None:
    """A connection to the server at ``path``, or None where none answers (a socket left by a server that
    ended is removed)."""
    if len(str(path)) > SOCKET_PATH_LIMIT or not path.exists():
        return None
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
    except ConnectionRefusedError:
        connection.close()
        path.unlink(missing_ok=True)
        return None
    except OSError:
        connection.close()
        return None
    return connection


def _request(connection: socket.socket, message: dict) -> None:
    body = json.dumps(message).encode()
    socket.send_fds(connection, [HEADER.pack(len(body))], [0, 1, 2])
    connection.sendall(body)


def _reply(connection: socket.socket) -> tuple[bytes, int] | None:
    """The next (kind, number) the server's fork sends, or None where it closed the connection first."""
    data = receive_exactly(connection, REPLY.size)
    return None if data is None else REPLY.unpack(data)


def forward(argv: list[str]) -> int | None:
    """Run the command ``mixedfx argv`` in the server, if one serves this installation.

    Returns
    -------
    int or None
        The command's exit status, or None where no server answers (the caller
        then runs the command itself).

    Examples
    --------
    >>> from mixedfx.command_server.client import forward
    >>> forward(["datasets"]) in (None, 0)
    True
    """
    try:
        connection = _connected(socket_path())
    except OSError:
        return None
    if connection is None:
        return None
    with connection:
        try:
            _request(connection, {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ)})
            started = _reply(connection)
        except OSError:
            return None  # the server went away before taking the call: run it here
        if started is None:
            return None
        worker = started[1]
        while True:
            try:
                ended = _reply(connection)
                break
            except KeyboardInterrupt:
                os.kill(worker, signal.SIGINT)  # the fork stops as the command would here
        if ended is None:
            print("mixedfx: error: the command server's worker ended without an exit status", file=sys.stderr)
            return 1
        return ended[1]


def _answered(message: dict) -> bool:
    """Send ``message`` (no command) to this installation's server; whether one answered."""
    connection = _connected(socket_path())
    if connection is None:
        return False
    with connection:
        _request(connection, message)
        return _reply(connection) is not None


def serving() -> bool:
    """Whether a server answers this installation's commands."""
    return _answered({"ping": True})


def start(idle_minutes: float) -> Path:
    """Start the server in the background; it ends after ``idle_minutes`` without a call.

    Returns once it answers (it loads the common fits' kernels first).

    Raises
    ------
    OSError
        Where it does not answer within :data:`START_SECONDS`, or the socket's path is too long.
    """
    path = socket_path()
    if len(str(path)) > SOCKET_PATH_LIMIT:
        raise OSError(f"the server's socket path {path} is longer than {SOCKET_PATH_LIMIT} characters: "
                      f"set XDG_RUNTIME_DIR to a shorter private folder")
    if serving():
        return path
    log = path.with_suffix(".log")
    worker = os.posix_spawn(sys.executable, [sys.executable, "-m", "mixedfx.command_server.server",
                                             "--idle-minutes", str(idle_minutes)], os.environ,
                            file_actions=[(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
                                          (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0),
                                          (os.POSIX_SPAWN_OPEN, 2, str(log), os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
                                           0o600)],
                            setsid=True)
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if os.waitpid(worker, os.WNOHANG) != (0, 0):
            reason = log.read_text(errors="replace").strip().splitlines() if log.exists() else []
            raise OSError(f"the command server stopped on start: {reason[-1] if reason else 'no reason given'} "
                          f"(its log: {log})")
        if serving():
            return path
        time.sleep(0.05)
    os.kill(worker, signal.SIGTERM)
    raise OSError(f"the command server did not answer within {START_SECONDS:.0f} s (its log: {log})")


def stop() -> bool:
    """Stop this installation's server; returns whether one was running."""
    return _answered({"stop": True})
