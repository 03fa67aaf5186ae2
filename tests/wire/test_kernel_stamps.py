"""Kernel receive and transmit timestamps on real loopback sockets, and the fallback without."""

from __future__ import annotations

import socket
import sys
import time
from collections.abc import Iterator

import pytest

from stress.wire import kernel_stamps

# The conversion to the monotonic clock reads an offset at a slightly different moment than the
# kernel stamped; a clock step in between could move a stamp by that much, never more here.
SLACK_NS = 1_000_000
LINUX = sys.platform == "linux"


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    server.settimeout(5)
    listener.close()
    yield client, server
    client.close()
    server.close()


def test_receive_stamp_is_the_kernel_s(pair: tuple[socket.socket, socket.socket]) -> None:
    client, server = pair
    if not LINUX:
        pytest.skip("kernel receive stamps are asserted on Linux")
    assert kernel_stamps.enable(server)
    assert kernel_stamps.wait_until_on(timeout=5)
    before = time.monotonic_ns()
    client.send(b"ping")
    time.sleep(0.01)  # the stamp is the arrival's, not the (later) read's
    read_at = time.monotonic_ns()
    data, stamp = kernel_stamps.recv_stamped(server, 64)
    assert data == b"ping"
    assert stamp is not None
    assert before - SLACK_NS <= stamp <= read_at + SLACK_NS
    assert stamp < read_at - 5_000_000, "a kernel stamp predates the late read by ~10 ms"


def test_transmit_stamp_is_read_from_the_error_queue(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    if not LINUX:
        pytest.skip("kernel transmit stamps are asserted on Linux")
    assert kernel_stamps.stamp_sends(client, True)
    before = time.monotonic_ns()
    client.send(b"x")
    after = time.monotonic_ns()
    sent = kernel_stamps.sent_stamp(client)
    assert sent is not None
    assert before - SLACK_NS <= sent <= after + SLACK_NS
    assert kernel_stamps.sent_stamp(client) is None, "reading drains the error queue"
    assert kernel_stamps.stamp_sends(client, False)
    client.send(b"y")
    assert kernel_stamps.sent_stamp(client) is None, "off means no stamp"
    assert server.recv(8) == b"xy"


def test_without_kernel_support_there_is_no_stamp(
    pair: tuple[socket.socket, socket.socket], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(kernel_stamps, "_SUPPORTED", False)
    client, server = pair
    assert not kernel_stamps.enable(server)
    assert not kernel_stamps.stamp_sends(client, True)
    client.send(b"ping")
    assert kernel_stamps.recv_stamped(server, 64) == (b"ping", None)
    assert kernel_stamps.sent_stamp(client) is None


def test_a_socket_without_stamps_enabled_reports_none(
    pair: tuple[socket.socket, socket.socket],
) -> None:
    client, server = pair
    client.send(b"ping")
    assert kernel_stamps.recv_stamped(server, 64) == (b"ping", None)
