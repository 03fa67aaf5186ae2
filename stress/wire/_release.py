"""The release of a burst: each connection's last bytes handed to the kernel, back to back.

Both tight engines end this way: last-byte writes one final byte per HTTP/1.1 connection,
single-packet one write per HTTP/2 connection. With two writes or more and Linux AIO available
(:mod:`stress.wire._aio`) they all go out in one system call, so nothing the burst wakes can run
between them; otherwise in a loop that does nothing but send and read the clock. A write the
batch could not place (no room in the socket, not submitted) is sent again at once by the
loop's own path, which buffers what the kernel refuses for a later flush.

Reading the kernel's transmit stamps back costs a few system calls per connection (about
130 us for eight on this project's 2-core benchmark machine), and right after a release is
when a server on the same host needs every core for the burst: :func:`hand_over` only writes,
and its :meth:`Handover.stamped` reads the stamps when the caller is ready to look (the
last-byte engine, after its ``collect_after`` wait). :func:`release` does both at once.

Usage::

    released = release([conn.transport for conn in conns], final_bytes)
    released.stamps[i], released.errors[i], released.window_ns

    handover = hand_over(transports, final_bytes)   # the writes, nothing else
    ...                                             # the server works on the burst
    released = handover.stamped()                   # the same Released as release()
"""

from __future__ import annotations

import errno
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from stress.wire import _aio, kernel_stamps
from stress.wire._transport import Transport, WireFailure

__all__ = ["Handover", "Released", "hand_over", "release"]


@dataclass(frozen=True)
class Released:
    """What a release did, per write (same order as given) and as a whole.

    ``stamps[i]``: when write ``i`` left, ``time.monotonic_ns()``: the kernel's transmit stamp
    where it gives one, else the clock read once the write was in the kernel's hands (for a
    batch, the end of the call); ``errors[i]``: why write ``i`` failed, or None; ``window_ns``:
    last minus first stamp, or for a batch without kernel stamps the call's duration;
    ``batched``: True when one system call carried the writes; ``kernel_stamped``: True when
    every write that went out has the kernel's stamp.
    """

    stamps: list[int]
    errors: list[WireFailure | None]
    window_ns: int
    batched: bool
    kernel_stamped: bool


def release(transports: Sequence[Transport], wires: Sequence[bytes]) -> Released:
    """Hand ``wires[i]`` to ``transports[i]`` for every i, as close together as this host can."""
    return hand_over(transports, wires).stamped()


@dataclass
class Handover:
    """Writes done, transmit stamps not read yet: :meth:`stamped` reads them, once."""

    transports: Sequence[Transport]
    live: list[int]
    stamped_writes: list[int]  # the writes that asked for the kernel's transmit stamp
    stamps: list[int]
    errors: list[WireFailure | None]
    start: int
    batched: bool

    def stamped(self) -> Released:
        """The release as it happened: the kernel's stamps where it gave them."""
        transports, stamps, errors = self.transports, self.stamps, self.errors
        kernel = 0
        offset = kernel_stamps.realtime_offset()
        for i in self.stamped_writes:
            sock = transports[i].sock
            sent = kernel_stamps.sent_stamp(sock, offset)
            kernel_stamps.stamp_sends(sock, False)
            transports[i].stamps_sends = sent is None  # a stamp may still come: drain it later
            if sent is not None and errors[i] is None and not transports[i].has_pending:
                stamps[i] = sent
                kernel += 1
        self.stamped_writes = []
        sent_out = [i for i in self.live if errors[i] is None and not transports[i].has_pending]
        kernel_stamped = bool(sent_out) and kernel == len(sent_out)
        if kernel_stamped or not self.batched:
            written = [stamp for stamp in stamps if stamp]
            window = max(written) - min(written) if written else 0
        else:
            window = max(stamps) - self.start
        return Released(list(stamps), list(errors), window, self.batched, kernel_stamped)


def hand_over(transports: Sequence[Transport], wires: Sequence[bytes]) -> Handover:
    """Write ``wires[i]`` to ``transports[i]`` for every i, and nothing more (see the module)."""
    count = len(transports)
    stamps = [0] * count
    errors: list[WireFailure | None] = [None] * count
    live = [i for i in range(count) if wires[i] and not transports[i].closed]
    stamped = [i for i in live if _stamp_sends(transports[i])]
    batch = [i for i in live if not transports[i].has_pending]
    if len(batch) < 2 or not _aio.available():
        _send_each(transports, wires, range(count), stamps, errors)
        return Handover(transports, live, stamped, stamps, errors, min(stamps, default=0), False)
    fds = [transports[i].sock.fileno() for i in batch]
    results, start, end = _aio.write_all(fds, [wires[i] for i in batch])
    left = set(range(count)).difference(batch)
    for i, result in zip(batch, results, strict=True):
        stamps[i] = end
        if result >= 0:
            transports[i].took(wires[i], result)
        elif result == -errno.EAGAIN:
            left.add(i)
        else:
            errors[i] = WireFailure("reset", f"send failed: {os.strerror(-result)}")
    _send_each(transports, wires, sorted(left), stamps, errors)
    return Handover(transports, live, stamped, stamps, errors, start, True)


def _stamp_sends(transport: Transport) -> bool:
    """Ask for the kernel's transmit stamp of the coming write (not for one queued behind)."""
    if transport.has_pending or not kernel_stamps.stamp_sends(transport.sock, True):
        return False
    transport.stamps_sends = True
    return True


def _send_each(
    transports: Sequence[Transport],
    wires: Sequence[bytes],
    indexes: Iterable[int],
    stamps: list[int],
    errors: list[WireFailure | None],
) -> None:
    # The loop: nothing but send and a clock read per connection.
    for i in indexes:
        try:
            transports[i].write_wire(wires[i])
        except WireFailure as exc:
            errors[i] = exc
        stamps[i] = time.monotonic_ns()
