"""The messages between a command and the server: their framing, defined once for both ends.

A request is :data:`HEADER` (the JSON body's length, with the caller's three
standard streams attached) and the body; each reply is :data:`REPLY`, a kind
(``b"P"``: the fork's process id; ``b"S"``: the exit status) and a number.
"""

from __future__ import annotations

import socket
import struct

__all__ = ["HEADER", "REPLY", "receive_exactly"]

HEADER = struct.Struct("!I")
REPLY = struct.Struct("!ci")


def receive_exactly(connection: socket.socket, size: int) -> bytes | None:
    """``size`` bytes from the connection, or None where it closes before they all came.

    Examples
    --------
    >>> import socket
    >>> ends = socket.socketpair()
    >>> ends[0].sendall(b"abc"); ends[0].close()
    >>> receive_exactly(ends[1], 2), receive_exactly(ends[1], 2)
    (b'ab', None)
    """
    data = b""
    while len(data) < size:
        chunk = connection.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data
