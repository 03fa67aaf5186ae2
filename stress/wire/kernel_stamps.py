"""Kernel timestamps: when a TCP segment reached a socket, or left one, not when Python looked.

Why: a server that stamps arrival in its own event loop measures its loop (wake-up, scheduling,
the parsing of other connections) as much as the wire; under load that adds hundreds of
microseconds to a burst's spread. Linux stamps every received segment in the network stack
(``SO_TIMESTAMPNS``) and hands the stamp of the last segment a ``recvmsg`` consumed back as
``SCM_TIMESTAMPNS`` ancillary data, so a reader that is late still learns when the bytes came.
The sending side has the same problem: a clock read after ``send`` returns includes any switch
to another task at the return, so :func:`stamp_sends` asks for the kernel's transmit stamp
(``SO_TIMESTAMPING``, software), which :func:`sent_stamp` reads back from the error queue.

The kernel's stamps are ``CLOCK_REALTIME``; they are converted to ``time.monotonic_ns()`` (the
clock the rest of the tester uses) with an offset read at the same moment. Where the kernel
gives no stamp (another OS, an architecture whose option numbers differ, an option refused),
:func:`enable` and :func:`stamp_sends` say False and the readers return None for the stamp:
callers fall back to their own clock and say so. Usage::

    stamped = enable(sock)
    data, stamp_ns = recv_stamped(sock, 65536)   # stamp_ns is None without kernel stamps
    if stamp_sends(sock, True):
        sock.send(data)
        sent_ns = sent_stamp(sock)
        stamp_sends(sock, False)
"""

from __future__ import annotations

import platform
import socket
import struct
import sys
import time
from typing import Literal

__all__ = [
    "KERNEL",
    "LOOP",
    "Clock",
    "drain_errors",
    "enable",
    "realtime_offset",
    "recv_stamped",
    "sent_stamp",
    "stamp_sends",
    "wait_until_on",
]

Clock = Literal["kernel", "loop"]
"""Which clock stamped an arrival: the kernel's receive timestamp, or the reader's own clock."""
KERNEL: Clock = "kernel"
LOOP: Clock = "loop"

# SO_TIMESTAMPNS (= SCM_TIMESTAMPNS) is 35 in asm-generic/socket.h, which these use; alpha,
# mips, parisc and sparc number it differently and are left to the fallback.
_GENERIC_ARCHES = frozenset(
    {"x86_64", "amd64", "i386", "i686", "aarch64", "arm64", "riscv64", "ppc64le", "ppc64", "s390x"}
)
_SO_TIMESTAMPNS = 35
_SO_TIMESTAMPING = 37  # = SCM_TIMESTAMPING
# SOF_TIMESTAMPING_TX_SOFTWARE | SOFTWARE (report it) | OPT_TSONLY (no packet copy queued)
_TX_FLAGS = (1 << 1) | (1 << 4) | (1 << 11)
_TIMESPEC = struct.Struct("@ll")  # struct timespec: tv_sec, tv_nsec as C longs
_ANCILLARY = socket.CMSG_SPACE(_TIMESPEC.size) if hasattr(socket, "CMSG_SPACE") else 0
_ERROR_ANCILLARY = 512  # scm_timestamping (3 timespecs) and the sock_extended_err beside it
_MSG_ERRQUEUE = getattr(socket, "MSG_ERRQUEUE", 0x2000)


def _supported() -> bool:
    machine = platform.machine().lower()
    return sys.platform == "linux" and (machine in _GENERIC_ARCHES or machine.startswith("arm"))


_SUPPORTED = _supported()


def enable(sock: socket.socket) -> bool:
    """Ask the kernel to stamp what ``sock`` receives; False where it cannot."""
    if not _SUPPORTED:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
    except OSError:
        return False
    return True


def recv_stamped(sock: socket.socket, size: int) -> tuple[bytes, int | None]:
    """Up to ``size`` bytes and the kernel's receive stamp of the last of them (monotonic ns).

    The stamp is None when the kernel attached none (stamps not enabled or not supported).
    Raises what ``recv`` raises (``BlockingIOError`` on a non-blocking socket with nothing).
    """
    if not _SUPPORTED:
        return sock.recv(size), None
    data, ancillary, _, _ = sock.recvmsg(size, _ANCILLARY)
    for level, kind, payload in ancillary:
        if (
            level == socket.SOL_SOCKET
            and kind == _SO_TIMESTAMPNS
            and len(payload) >= _TIMESPEC.size
        ):
            return data, _monotonic(payload, None)
    return data, None


def wait_until_on(timeout: float = 0.5) -> bool:
    """Wait until loopback segments arrive stamped; False if they do not within ``timeout``.

    Linux turns receive stamping on from a work queue a moment after the first socket asks
    for it, so segments that arrive right after :func:`enable` may carry no stamp. Call this
    while the socket that asked stays open (it keeps stamping on).
    """
    if not _SUPPORTED:
        return False
    with (
        socket.create_server(("127.0.0.1", 0)) as listener,
        socket.create_connection(listener.getsockname(), timeout=timeout) as client,
    ):
        server, _ = listener.accept()
        with server:
            server.settimeout(timeout)
            if not enable(server):
                return False
            deadline = time.monotonic() + timeout
            while True:
                client.send(b"w")
                if recv_stamped(server, 64)[1] is not None:
                    return True
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.001)


def stamp_sends(sock: socket.socket, on: bool) -> bool:
    """Turn the kernel's transmit stamps of ``sock``'s writes on or off; False where it cannot.

    While on, every segment sent queues a stamp on the socket's error queue: read it with
    :func:`sent_stamp` (an unread error queue keeps the socket reported as ready).
    """
    if not _SUPPORTED:
        return False
    try:
        sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPING, _TX_FLAGS if on else 0)
    except OSError:
        return False
    return True


def sent_stamp(sock: socket.socket, offset: int | None = None) -> int | None:
    """The transmit stamp (monotonic ns) of the last segment sent, draining the error queue.

    None when the kernel queued none (stamps off, or the bytes are still waiting to be sent).
    ``offset`` (:func:`realtime_offset`) converts several stamps with one offset, so that their
    order is the kernel's exactly.
    """
    stamp = None
    while True:
        try:
            _, ancillary, _, _ = sock.recvmsg(1, _ERROR_ANCILLARY, _MSG_ERRQUEUE)
        except OSError:  # BlockingIOError: the queue is empty
            return stamp
        for level, kind, payload in ancillary:
            if (level, kind) == (socket.SOL_SOCKET, _SO_TIMESTAMPING) and len(payload) >= 16:
                stamp = _monotonic(payload, offset)


def drain_errors(sock: socket.socket) -> None:
    """Discard what waits on ``sock``'s error queue (a transmit stamp nobody will read)."""
    sent_stamp(sock)


def realtime_offset() -> int:
    """``CLOCK_REALTIME`` minus ``time.monotonic_ns()`` now: what converts a kernel stamp."""
    return time.time_ns() - time.monotonic_ns()


def _monotonic(payload: bytes, offset: int | None) -> int:
    """A kernel ``struct timespec`` (``CLOCK_REALTIME``) as ``time.monotonic_ns()``."""
    seconds, nanoseconds = _TIMESPEC.unpack_from(payload)
    if offset is None:
        offset = realtime_offset()
    return int(seconds) * 1_000_000_000 + int(nanoseconds) - offset
