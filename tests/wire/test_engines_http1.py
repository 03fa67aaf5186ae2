"""The none, barrier and last-byte engines over HTTP/1.1, observed from the server side."""

from __future__ import annotations

import socket
import time

import pytest

from stress.wire import WireClient, WireRequest, kernel_stamps

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
