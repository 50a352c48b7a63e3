"""The command server's loop: warm once, then a fork per call (``python -m mixedfx.command_server.server``).

The server imports what a fit needs and fits :data:`mixedfx.precompile.FIRST_FITS`,
which loads their compiled kernels; then the objects made so far are frozen
(:func:`gc.freeze`), so forks share their memory pages and collections skip them.
Each call is served by a fork that takes the caller's standard streams, working
directory and environment and runs :func:`mixedfx.cli.main`: what the command
prints, and its exit status, are those of a command run by the caller. The
server ends after ``--idle-minutes`` without a call, on ``mixedfx serve --stop``
or on SIGTERM, removing its socket.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import signal
import socket
import sys
import traceback
from pathlib import Path
from typing import NoReturn

from mixedfx.command_server.address import socket_path
from mixedfx.command_server.protocol import HEADER, REPLY, receive_exactly

__all__ = ["serve"]


def _warm() -> None:
    """Import the command's modules and load the common fits' kernels (:mod:`mixedfx.precompile`) into this
    process, which every call's fork shares."""
    import mixedfx.cli  # noqa: F401 - loaded here so every fork has it
    from mixedfx.datasets.readers import read_data  # noqa: F401
    from mixedfx.precompile import precompile

    precompile(here=True)


def _received(connection: socket.socket) -> tuple[dict, list[int]]:
    header, fds, _, _ = socket.recv_fds(connection, HEADER.size, 3)
    body = receive_exactly(connection, HEADER.unpack(header)[0]) if len(header) == HEADER.size else None
    if body is None:
        raise ConnectionError("a short request")
    return json.loads(body), fds


def _answer(connection: socket.socket) -> int:
    """Serve one call in this fork; returns the exit status."""
    request, fds = _received(connection)
    if request.get("stop"):
        os.kill(os.getppid(), signal.SIGTERM)
    if "argv" not in request:
        connection.sendall(REPLY.pack(b"S", 0))
        return 0
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.argv = ["mixedfx", *request["argv"]]
    connection.sendall(REPLY.pack(b"P", os.getpid()))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from mixedfx.cli import main

    try:
        status = main(request["argv"])
    except SystemExit as exc:  # argparse's --help and usage errors
        status = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    except KeyboardInterrupt:
        status = 130
    except BaseException:  # noqa: BLE001 - a bug shows as it would in the caller's own process
        traceback.print_exc()
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except OSError:
            pass
    connection.sendall(REPLY.pack(b"S", status))
    return status


def serve(path: Path, idle_seconds: float) -> None:
    """Listen on ``path`` until ``idle_seconds`` pass without a call, forking for each call.

    Examples
    --------
    >>> from mixedfx.command_server.server import serve  # run by ``mixedfx serve``, not called directly
    >>> callable(serve)
    True
    """
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    path.unlink(missing_ok=True)
    listener.bind(str(path))
    listener.listen(16)
    listener.settimeout(idle_seconds)

    def end(*_: object) -> NoReturn:
        path.unlink(missing_ok=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, end)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # forks are reaped as they end
    null = os.open(os.devnull, os.O_RDWR)
    for target in (0, 1, 2):
        os.dup2(null, target)  # calls bring their own streams
    path.with_suffix(".log").unlink(missing_ok=True)  # the start's log, read only where the start fails
    gc.freeze()
    while True:
        try:
            connection, _ = listener.accept()
        except TimeoutError:
            end()
        if os.fork() == 0:
            listener.close()
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            try:
                status = _answer(connection)
            except Exception:  # noqa: BLE001 - a broken call ends its fork, never the server
                status = 1
            os._exit(status)
        connection.close()


def _main() -> None:
    parser = argparse.ArgumentParser(prog="python -m mixedfx.command_server.server")
    parser.add_argument("--idle-minutes", type=float, required=True)
    args = parser.parse_args()
    _warm()
    serve(socket_path(), 60.0 * args.idle_minutes)


if __name__ == "__main__":
    _main()
