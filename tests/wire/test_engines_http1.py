"""The none, barrier and last-byte engines over HTTP/1.1, observed from the server side."""

from __future__ import annotations

import asyncio
import socket
import time

import anyio
import pytest

from stress.wire import WireClient, WireRequest, _burst, kernel_stamps, tcp_acks
from stress.wire._release import Handover, hand_over
from stress.wire._transport import Transport

from .conftest import Server

pytestmark = pytest.mark.anyio

BODY = b"grant_type=refresh_token&refresh_token=abc"


def _refresh(server: Server) -> WireRequest:
    return WireRequest("POST", server.url("/token"), (("Content-Type", "x"),), BODY)


@pytest.mark.parametrize("engine", ["none", "barrier", "last-byte"])
async def test_engine_delivers_every_request(h1_server: Server, engine: str) -> None:
    async with WireClient(http2="never", settle=0.002) as client:
        result = await client.burst([_refresh(h1_server)] * 6, engine=engine, timeout=5)
    assert result.engine == engine
    assert [o.response.status if o.response else None for o in result.outcomes] == [200] * 6
    assert all(o.sent and o.error is None for o in result.outcomes)
    assert len(h1_server.rec.arrivals) == 6
    stamps = [o.send_ns for o in result.outcomes]
    # A batched release (one io_submit) stamps every request at its end and reports how long
    # the call took, so the spread covers the stamps and may exceed them.
    assert result.release_spread_ns >= max(stamps) - min(stamps)


async def test_last_byte_holds_back_exactly_one_byte(h1_server: Server) -> None:
    reqs = [_refresh(h1_server)] * 4
    async with WireClient(http2="never", settle=0.02) as client:
        result = await client.burst(reqs, engine="last-byte", timeout=5)
    assert all(o.error is None for o in result.outcomes)
    release = min(o.send_ns for o in result.outcomes)
    assert len(h1_server.rec.connections) == 4
    for conn in h1_server.rec.connections:
        before = b"".join(data for t, data in conn.chunks if t < release)
        after = b"".join(data for t, data in conn.chunks if t >= release)
        assert after == BODY[-1:]
        assert before.endswith(BODY[:-1])


async def test_last_byte_reads_late_but_dates_each_response_by_its_arrival(
    h1_server: Server,
) -> None:
    wait = 0.2
    async with WireClient(http2="never", settle=0.002, collect_after=wait) as client:
        await client.burst([_refresh(h1_server)] * 4, engine="last-byte", timeout=5)
        # The pooled connections keep receive stamping on; Linux turns it on a moment later.
        if not kernel_stamps.wait_until_on(timeout=5):
            pytest.skip("this kernel gives no receive stamps")
        h1_server.rec.answered.clear()
        result = await client.burst([_refresh(h1_server)] * 4, engine="last-byte", timeout=5)
        done = time.monotonic_ns()
    assert all(o.error is None for o in result.outcomes)
    release = max(o.send_ns for o in result.outcomes)
    assert done - release >= wait * 1e9, "the responses were read only after the wait"
    # A loopback segment is stamped inside the server's send, before its clock reads
    # `answered`: a response dated by the (late) read instead would come after that.
    slack = 1_000_000  # the stamp's conversion to the monotonic clock
    assert len(h1_server.rec.answered) == 4
    for outcome in result.outcomes:
        assert outcome.send_ns <= outcome.recv_ns <= max(h1_server.rec.answered) + slack


async def test_burst_reuses_warm_connections(h1_server: Server) -> None:
    async with WireClient(http2="never", settle=0.001) as client:
        await client.burst([_refresh(h1_server)] * 3, engine="last-byte", timeout=5)
        await client.burst([_refresh(h1_server)] * 3, engine="barrier", timeout=5)
        assert client.statistics().connections_opened == 3


async def test_auto_picks_last_byte_for_http1(h1_server: Server) -> None:
    async with WireClient(http2="auto", settle=0.001) as client:
        result = await client.burst([_refresh(h1_server)] * 2, engine="auto", timeout=5)
    assert result.engine == "last-byte"
    assert all(o.error is None for o in result.outcomes)


async def test_burst_to_refused_origin_fails_unsent(h1_server: Server) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/token"
    reqs = [_refresh(h1_server), WireRequest("POST", dead, (), BODY)]
    async with WireClient(http2="never", settle=0.001) as client:
        result = await client.burst(reqs, engine="last-byte", timeout=5)
    ok, refused = result.outcomes
    assert ok.response is not None
    assert ok.sent
    assert refused.sent is False
    assert refused.error == "connect"


async def test_reset_during_burst_is_indeterminate(h1_server: Server) -> None:
    reqs = [WireRequest("POST", h1_server.url("/reset"), (), BODY)] * 2
    async with WireClient(http2="never", settle=0.001) as client:
        result = await client.burst(reqs, engine="barrier", timeout=5)
    assert [(o.sent, o.error) for o in result.outcomes] == [(True, "reset")] * 2


class _SlowTaker:
    """A server whose TCP takes little (a receive buffer at the kernel's minimum) and which reads
    nothing for ``hold`` seconds after accepting: a fresh connection's prefix stays
    unacknowledged meanwhile, as on a server that has not taken the connection yet."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.reading_ns: list[int] = []
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.setblocking(False)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/token"

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        async with anyio.create_task_group() as tg:
            while True:
                conn, _ = await loop.sock_accept(self.sock)
                tg.start_soon(self._answer, conn)

    async def _answer(self, conn: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        with conn:
            await anyio.sleep(self.hold)
            self.reading_ns.append(time.monotonic_ns())
            data = b""
            while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + len(BIG):
                chunk = await loop.sock_recv(conn, 65536)
                if not chunk:
                    return
                data += chunk
            await loop.sock_sendall(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")


BIG = b"x" * 4000  # more than the slow taker's receive window, less than a client's send buffer


async def test_last_byte_waits_until_the_server_has_taken_each_fresh_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = _SlowTaker(hold=0.3)
    released_ns: list[int] = []

    def spy(transports: list[Transport], wires: list[bytes]) -> Handover:
        released_ns.append(time.monotonic_ns())
        return hand_over(transports, wires)

    monkeypatch.setattr(_burst, "hand_over", spy)
    request = WireRequest("POST", server.url, (), BIG)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        async with WireClient(http2="never", settle=0.002) as client:
            result = await client.burst([request] * 2, engine="last-byte", timeout=5)
        tg.cancel_scope.cancel()
    server.sock.close()
    assert [o.response.status if o.response else o.error for o in result.outcomes] == [200] * 2
    # Released only once the server read: with the settle alone it went 2 ms after the prefix.
    assert len(released_ns) == 1
    assert released_ns[0] >= min(server.reading_ns)


async def test_a_prefix_never_taken_fails_the_request_as_unsent() -> None:
    server = _SlowTaker(hold=30)
    request = WireRequest("POST", server.url, (), BIG)
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        async with WireClient(http2="never", settle=0.002) as client:
            result = await client.burst([request], engine="last-byte", timeout=0.3)
        tg.cancel_scope.cancel()
    server.sock.close()
    (outcome,) = result.outcomes
    assert (outcome.sent, outcome.error) == (False, "connect")  # incomplete: never executed
    assert "did not acknowledge" in (outcome.error_detail or "")


async def test_kept_alive_connections_release_without_asking_the_kernel(
    h1_server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Their ACKs are delayed to ride on the response (~40 ms): asking would stall every burst.
    asked: list[object] = []

    def spy(sock: socket.socket) -> int | None:
        asked.append(sock)
        return tcp_acks.unacknowledged(sock)

    monkeypatch.setattr(_burst, "unacknowledged", spy)
    async with WireClient(http2="never", settle=0.002) as client:
        await client.burst([_refresh(h1_server)] * 3, engine="last-byte", timeout=5)
        assert len(asked) == 3  # fresh: asked once each (and answered at once)
        result = await client.burst([_refresh(h1_server)] * 3, engine="last-byte", timeout=5)
    assert len(asked) == 3
    assert all(o.error is None for o in result.outcomes)
