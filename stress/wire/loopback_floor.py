"""The loopback floor: how far apart N back-to-back small writes land on this machine.

Why: an engine's arrival spread mixes two things, the engine's own slack and what the machine
cannot do faster (on loopback every write runs the receiver's TCP processing, so N writes take
N times that however they are issued). To tell them apart, calibration measures the second in
the same run: one byte on each of N idle loopback connections, released exactly as the tight
engines release their final bytes (:func:`stress.wire._release.release`: one batched call, or a
send loop), with the arrivals stamped by the kernel on the far ends
(:mod:`stress.wire.kernel_stamps`). Nobody waits on those far ends, so no wake-up is paid: the
figure is the floor, and an engine within a small factor of it has little slack left.

Usage::

    with LoopbackFloor(32) as floor:
        spread_ns = floor.measure(8)   # last minus first arrival of 8 one-byte writes
"""

from __future__ import annotations

import contextlib
import socket

from stress.wire import kernel_stamps
from stress.wire._release import release
from stress.wire._transport import Transport
from stress.wire.kernel_stamps import Clock

__all__ = ["LoopbackFloor"]

_RECV_TIMEOUT = 5.0


class LoopbackFloor:
    """``size`` connected loopback pairs; :meth:`measure` releases one byte on the first n."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.clock: Clock = kernel_stamps.KERNEL
        self.batched = False
        self._listener: socket.socket | None = None
        self._pairs: list[tuple[Transport, socket.socket]] = []

    def __enter__(self) -> LoopbackFloor:
        listener = socket.create_server(("127.0.0.1", 0), backlog=max(self.size, 128))
        self._listener = listener
        with contextlib.ExitStack() as undo:
            undo.callback(self.close)  # unless every pair is ready
            stamped = kernel_stamps.enable(listener)
            for _ in range(self.size):
                client = socket.create_connection(listener.getsockname(), timeout=_RECV_TIMEOUT)
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                client.setblocking(False)
                server, _ = listener.accept()
                server.settimeout(_RECV_TIMEOUT)
                stamped = kernel_stamps.enable(server) and stamped
                self._pairs.append((Transport(client), server))
            if not stamped or not kernel_stamps.wait_until_on():
                self.clock = kernel_stamps.LOOP
            undo.pop_all()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def measure(self, n: int) -> int:
        """Last minus first arrival (ns) of one byte written on each of ``n`` connections.

        With kernel stamps the arrivals are the kernel's; without, the figure is the release's
        own duration by the writer's clock (``clock`` says which).
        """
        if not 1 <= n <= len(self._pairs):
            raise ValueError(f"n must be from 1 to {len(self._pairs)}, not {n}")
        pairs = self._pairs[:n]
        released = release([transport for transport, _ in pairs], [b"x"] * n)
        self.batched = released.batched
        failed = [error for error in released.errors if error is not None]
        if failed:
            raise OSError(f"loopback write failed: {failed[0]}")
        arrivals = []
        for _, server in pairs:
            data, stamp = kernel_stamps.recv_stamped(server, 16)
            if data != b"x":
                raise OSError("loopback floor connection closed")
            arrivals.append(stamp)
        stamps = [stamp for stamp in arrivals if stamp is not None]
        if len(stamps) < n:
            self.clock = kernel_stamps.LOOP
            return released.window_ns
        return max(stamps) - min(stamps)

    def close(self) -> None:
        """Close every socket."""
        for transport, server in self._pairs:
            transport.close()
            server.close()
        self._pairs.clear()
        if self._listener is not None:
            self._listener.close()
            self._listener = None
