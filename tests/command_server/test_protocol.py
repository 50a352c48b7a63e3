"""The framing both ends of the command server read."""

import socket

from mixedfx.command_server.protocol import REPLY, receive_exactly


def test_a_reply_sent_in_pieces_is_read_whole():
    sender, receiver = socket.socketpair()
    with sender, receiver:
        message = REPLY.pack(b"S", 2)
        sender.sendall(message[:2])
        sender.sendall(message[2:])
        assert REPLY.unpack(receive_exactly(receiver, REPLY.size)) == (b"S", 2)


def test_a_connection_closed_early_gives_none():
    sender, receiver = socket.socketpair()
    with receiver:
        sender.sendall(b"P")
        sender.close()
        assert receive_exactly(receiver, REPLY.size) is None
