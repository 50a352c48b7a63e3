"""A warm process that answers the ``mixedfx`` command's calls (``mixedfx serve``).

A command-line call spends about a second importing pandas, scipy and numba and
loading compiled kernels before its fit, which itself takes milliseconds. The
server imports them once and loads the kernels of the common fits; each call
that finds it running is handed over (its arguments, working directory,
environment and its standard streams) and runs in a fork of the server, so it
starts with everything loaded and prints to the caller's own terminal or pipe.

:mod:`~mixedfx.command_server.address` names the socket of this installation,
:mod:`~mixedfx.command_server.client` hands a call over (cheap to import: the
command imports it before anything else), :mod:`~mixedfx.command_server.server`
is the server's loop.
"""
