"""The release of a burst's final bytes: one batched call where Linux AIO exists, else a loop.

Real loopback TCP sockets: the client ends are wrapped in :class:`Transport` as the engines use
them, and the accepted ends show exactly what arrived.
"""

from __future__ import annotations

import contextlib
import platform
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator

import anyio
import pytest

from stress.wire import _aio
from stress.wire._release import hand_over, release
from stress.wire._transport import Transport, WireFailure

LINUX_X86 = sys.platform == "linux" and platform.machine() == "x86_64"


@pytest.fixture
def pairs() -> Iterator[list[tuple[Transport, socket.socket]]]:
    """Four connected loopback pairs: (client transport, accepted server socket)."""
    listener = socket.create_server(("127.0.0.1", 0))
    made: list[tuple[Transport, socket.socket]] = []
    try:
        for _ in range(4):
            client = socket.create_connection(listener.getsockname())
            client.setblocking(False)
            server, _ = listener.accept()
            server.settimeout(5)
            made.append((Transport(client), server))
        yield made
    finally:
        listener.close()
        for transport, server in made:
            transport.close()
            server.close()


def _read(server: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = server.recv(size - len(data))
        assert chunk, "the peer closed early"
        data += chunk
    return data


def test_aio_is_there_on_linux_x86_64() -> None:
    if not LINUX_X86:
        pytest.skip("batching is asserted where this suite runs in CI (Linux x86-64)")
    assert _aio.available()


@pytest.mark.parametrize("batched", [True, False])
def test_each_connection_gets_its_own_bytes(
    pairs: list[tuple[Transport, socket.socket]], batched: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if batched and not _aio.available():
        pytest.skip("no Linux AIO here")
    if not batched:
        monkeypatch.setattr(_aio, "available", lambda: False)
    wires = [f"final-{i}".encode() for i in range(len(pairs))]
    released = release([t for t, _ in pairs], wires)
    assert released.batched is batched
    assert released.errors == [None] * len(pairs)
    assert all(stamp > 0 for stamp in released.stamps)
    assert released.window_ns >= max(released.stamps) - min(released.stamps)
    if sys.platform == "linux":
        # Each write has the kernel's own transmit stamp, in the order the writes were made
        # (a batch without them would stamp every write with the end of the call).
        assert released.kernel_stamped
        assert released.stamps == sorted(set(released.stamps))
        assert released.window_ns == released.stamps[-1] - released.stamps[0]
    for (transport, server), wire in zip(pairs, wires, strict=True):
        assert not transport.has_pending
        assert _read(server, len(wire)) == wire


def test_stamps_read_later_are_the_times_of_the_writes(
    pairs: list[tuple[Transport, socket.socket]],
) -> None:
    if sys.platform != "linux":
        pytest.skip("kernel transmit stamps are Linux's")
    wires = [f"final-{i}".encode() for i in range(len(pairs))]
    before = time.monotonic_ns()
    handover = hand_over([t for t, _ in pairs], wires)
    written = time.monotonic_ns()
    time.sleep(0.05)  # what the last-byte engine's wait before reading does
    released = handover.stamped()
    # The bytes left at the hand-over, and the stamps read 50 ms later say so: the kernel's.
    assert released.kernel_stamped
    assert all(before <= stamp <= written for stamp in released.stamps)
    assert released.errors == [None] * len(pairs)
    for (transport, server), wire in zip(pairs, wires, strict=True):
        assert not transport.stamps_sends  # stamping is off again, its queue drained
        assert _read(server, len(wire)) == wire


async def _flush_while_draining(transport: Transport, server: socket.socket, size: int) -> bytes:
    """Flush ``transport`` while a thread reads ``size`` bytes from its peer; those bytes."""
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(_read(server, size)))
    reader.start()
    with anyio.fail_after(10):
        await transport.flush()
    reader.join(10)
    return received[0]


@pytest.mark.anyio
async def test_a_connection_with_bytes_pending_is_sent_after_them(
    pairs: list[tuple[Transport, socket.socket]],
) -> None:
    # The first connection's kernel buffers are full, so its part of the release must wait
    # behind what it already queued: it is left out of the batch and appended in order.
    (first, first_server), *others = pairs
    queued = b""
    while not first.has_pending:
        chunk = bytes([len(queued) % 251]) * 65536
        first.write_wire(chunk)
        queued += chunk
    final = b"the final bytes"
    released = release([t for t, _ in pairs], [final] + [b"x"] * len(others))
    assert released.errors == [None] * len(pairs)
    assert [_read(server, 1) for _, server in others] == [b"x"] * len(others)
    data = await _flush_while_draining(first, first_server, len(queued) + len(final))
    assert data == queued + final


@pytest.mark.anyio
async def test_a_partial_batched_write_is_completed_in_order(
    pairs: list[tuple[Transport, socket.socket]],
) -> None:
    if not _aio.available():
        pytest.skip("no Linux AIO here")
    (first, first_server), (second, second_server), *_ = pairs
    # Fill the kernel's buffers behind the transport's back, then free a little room: the
    # batched write is taken in part, and the transport must queue exactly the rest.
    raw = first._sock
    queued = 0
    with contextlib.suppress(BlockingIOError):
        while True:
            queued += raw.send(b"q" * 65536)
    assert _read(first_server, 65536) == b"q" * 65536
    big = bytes(range(256)) * 4096  # 1 MiB, more than the room just made
    released = release([first, second], [big, b"y"])
    assert released.batched
    assert released.errors == [None, None]
    assert first.has_pending, "the kernel took part of the write; the rest waits in order"
    assert _read(second_server, 1) == b"y"
    data = await _flush_while_draining(first, first_server, queued - 65536 + len(big))
    assert data == b"q" * (queued - 65536) + big


def test_a_reset_or_closed_connection_fails_alone(
    pairs: list[tuple[Transport, socket.socket]],
) -> None:
    (reset, reset_server), (closed, _), *rest = pairs
    # An RST from the peer: the next write fails with ECONNRESET or EPIPE.
    reset_server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    reset_server.close()
    _drain_reset(reset)
    closed.close()
    released = release([reset, closed, *(t for t, _ in rest)], [b"a", b"b", b"c", b"d"])
    assert isinstance(released.errors[0], WireFailure)
    assert released.errors[0].kind == "reset"
    assert isinstance(released.errors[1], WireFailure)
    assert released.errors[2:] == [None, None]
    assert [_read(server, 1) for _, server in rest] == [b"c", b"d"]


def _drain_reset(transport: Transport) -> None:
    """Wait until the client socket has seen the peer's RST (one recv reports it)."""
    transport._sock.settimeout(5)
    with pytest.raises(ConnectionResetError):
        transport._sock.recv(1)
    transport._sock.setblocking(False)
