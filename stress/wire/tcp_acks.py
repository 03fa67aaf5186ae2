"""Whether the peer's TCP has taken everything written to a socket (Linux ``SIOCOUTQ``).

Why: a server that accepts connections slowly (a small listen backlog, a threaded development
server) lets a burst's fresh connections overflow its accept queue. The client's side of such a
connection is established, but the server's kernel has dropped the handshake's last ACK (or
answered with a SYN cookie) and drops the data too, until the client retransmits. A last-byte
release sent meanwhile reaches a connection the server does not know, and the server resets it:
measured against a threaded ``wsgiref`` server with a listen backlog of 10, 14 to 21 of 128
refreshes in bursts of 8 came back reset. A fresh connection acknowledges its first data at once
(the receiver starts in quick-ACK mode), so bytes still unacknowledged after the settle mark a
connection the server has not taken yet, and the release waits for them.

Only connections that have carried no bytes before the burst are asked: on a kept-alive one
the server delays its ACK to ride on the response (about 40 ms here), and a connection that has
carried an exchange (a request, or a TLS handshake) is one the server took. Where the queue
cannot be read (another OS), :func:`unacknowledged` returns None and the caller waits only its
settle.
"""

from __future__ import annotations

import fcntl
import socket
import struct
import sys
import termios

__all__ = ["unacknowledged"]

_INT = struct.Struct("i")


def unacknowledged(sock: socket.socket) -> int | None:
    """Bytes written to ``sock`` that its peer has not acknowledged (sent or still queued);
    None where this cannot be known."""
    if sys.platform != "linux" or sock.fileno() < 0:
        return None
    try:
        queued = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, bytes(_INT.size))
    except OSError:
        return None
    return int(_INT.unpack(queued)[0])
