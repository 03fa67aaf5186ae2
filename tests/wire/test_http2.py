"""HTTP/2 on the wire client: h2c prior knowledge, streams, resets, single-packet, waves."""

from __future__ import annotations

import anyio
import pytest

from stress.wire import WireClient, WireRequest

from .conftest import Server, start_h2_server

pytestmark = pytest.mark.anyio

BODY = b"grant_type=refresh_token&refresh_token=abc"


def _frames(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(type, flags, stream id, payload) of each complete frame in ``data``."""
    frames = []
    if data.startswith(b"PRI * HTTP/2.0"):
        data = data[24:]
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        kind, flags = data[3], data[4]
        stream_id = int.from_bytes(data[5:9], "big") & 0x7FFFFFFF
        frames.append((kind, flags, stream_id, data[9 : 9 + length]))
        data = data[9 + length :]
    return frames


def _end_stream_data(chunk: bytes) -> list[tuple[int, bytes]]:
    return [
        (sid, payload) for kind, flags, sid, payload in _frames(chunk) if kind == 0 and flags & 1
    ]


async def test_request_over_h2c(h2_server: Server) -> None:
    async with WireClient(http2="always") as client:
        req = WireRequest("POST", h2_server.url("/token"), (("Content-Type", "x"),), BODY)
        first = await client.request(req, timeout=5)
        second = await client.request(req, timeout=5)
        assert client.statistics().connections_opened == 1
    assert first.response is not None
    assert second.response is not None
    assert first.response.http_version == "HTTP/2"
    assert first.response.body == BODY
    assert [v for k, v in first.response.headers if k == "set-cookie"] == ["a=1", "b=2"]
    assert first.response.header("x-arrival-ns") is not None


async def test_auto_detects_h2c_with_prior_knowledge(h2_server: Server) -> None:
    async with WireClient(http2="auto") as client:
        outcome = await client.request(WireRequest("GET", h2_server.url("/")), timeout=5)
    assert outcome.response is not None
    assert outcome.response.http_version == "HTTP/2"


async def test_rst_stream_is_indeterminate_reset(h2_server: Server) -> None:
    async with WireClient(http2="always") as client:
        outcome = await client.request(
            WireRequest("POST", h2_server.url("/rst"), (), BODY), timeout=5
        )
        healthy = await client.request(WireRequest("GET", h2_server.url("/")), timeout=5)
    assert (outcome.sent, outcome.error) == (True, "reset")
    assert healthy.response is not None


async def test_a_graceful_goaway_still_delivers_the_answer_in_flight(h2_server: Server) -> None:
    # The server says GOAWAY and PINGs before it answers the stream it is finishing.
    async with WireClient(http2="always") as client:
        drained = await client.request(
            WireRequest("POST", h2_server.url("/drain"), (), BODY), timeout=5
        )
        after = await client.request(WireRequest("GET", h2_server.url("/")), timeout=5)
        opened = client.statistics().connections_opened
    assert (drained.error, drained.error_detail) == (None, None)
    assert drained.response is not None
    assert (drained.response.status, drained.response.body) == (200, BODY)
    assert after.response is not None
    assert after.response.status == 200
    assert opened == 2  # the connection going away took no new stream


async def test_a_stream_above_the_goaways_last_id_is_refused_unsent(h2_server: Server) -> None:
    reqs = [
        WireRequest("POST", h2_server.url("/drain"), (), BODY),
        WireRequest("POST", h2_server.url("/hold"), (), BODY),
    ]
    async with WireClient(http2="always") as client:
        result = await client.burst(reqs, engine="single-packet", timeout=5)
    drained, held = result.outcomes
    assert drained.response is not None
    assert drained.response.status == 200
    assert (held.sent, held.error) == (False, "refused")


async def test_single_packet_sends_every_final_frame_in_one_write(h2_server: Server) -> None:
    n = 12
    reqs = [WireRequest("POST", h2_server.url("/token"), (), BODY)] * n
    async with WireClient(http2="always", settle=0.02) as client:
        result = await client.burst(reqs, engine="single-packet", timeout=5)
    assert result.engine == "single-packet"
    assert [o.response.body if o.response else None for o in result.outcomes] == [BODY] * n
    assert result.release_spread_ns == 0
    release = result.outcomes[0].send_ns
    (conn,) = h2_server.rec.connections
    before = [data for t, data in conn.chunks if t < release]
    after = [data for t, data in conn.chunks if t >= release]
    assert not any(_end_stream_data(chunk) for chunk in before)
    finals = _end_stream_data(after[0])
    assert len(finals) == n
    assert {payload for _, payload in finals} == {BODY[-1:]}


async def test_single_packet_without_body_uses_empty_final_frame(h2_server: Server) -> None:
    reqs = [WireRequest("GET", h2_server.url("/"))] * 3
    async with WireClient(http2="always", settle=0.01) as client:
        result = await client.burst(reqs, engine="auto", timeout=5)
    assert result.engine == "single-packet"
    assert all(o.response is not None and o.response.status == 200 for o in result.outcomes)
    release = result.outcomes[0].send_ns
    (conn,) = h2_server.rec.connections
    after = [data for t, data in conn.chunks if t >= release]
    assert [payload for _, payload in _end_stream_data(after[0])] == [b""] * 3


async def test_burst_above_stream_limit_runs_in_waves() -> None:
    server, info = await start_h2_server(max_streams=4)
    try:
        reqs = [WireRequest("POST", info.url("/token"), (), BODY)] * 10
        async with WireClient(http2="always", settle=0.002) as client:
            result = await client.burst(reqs, engine="single-packet", timeout=5)
    finally:
        server.close()
    assert all(o.error is None for o in result.outcomes)
    assert any("3 waves" in note and "4 concurrent streams" in note for note in result.notes)
    assert len(info.rec.arrivals) == 10


async def test_concurrent_bursts_share_the_stream_limit() -> None:
    """Bursts from several sessions at once on one connection never exceed the peer's limit."""
    server, info = await start_h2_server(max_streams=4)
    results = []
    try:
        reqs = [WireRequest("POST", info.url("/token"), (), BODY)] * 3
        async with WireClient(http2="always", settle=0.002) as client:

            async def one() -> None:
                results.append(await client.burst(reqs, engine="single-packet", timeout=5))

            async with anyio.create_task_group() as tg:
                for _ in range(5):
                    tg.start_soon(one)
    finally:
        server.close()
    assert len(results) == 5
    assert all(o.error is None for r in results for o in r.outcomes)
    assert len(info.rec.arrivals) == 15


@pytest.mark.parametrize("engine", ["none", "barrier"])
async def test_plain_engines_over_h2(h2_server: Server, engine: str) -> None:
    reqs = [WireRequest("POST", h2_server.url("/token"), (), BODY)] * 5
    async with WireClient(http2="always") as client:
        result = await client.burst(reqs, engine=engine, timeout=5)
    assert result.engine == engine
    assert all(o.response is not None and o.response.body == BODY for o in result.outcomes)


async def test_last_byte_refuses_http2_always(h2_server: Server) -> None:
    async with WireClient(http2="always") as client:
        with pytest.raises(ValueError, match="last-byte"):
            await client.burst(
                [WireRequest("GET", h2_server.url("/"))], engine="last-byte", timeout=5
            )


async def test_single_packet_on_http1_origin_falls_back(h1_server: Server) -> None:
    async with WireClient(http2="never", settle=0.001) as client:
        result = await client.burst(
            [WireRequest("GET", h1_server.url("/"))] * 2, engine="single-packet", timeout=5
        )
    assert result.engine == "last-byte"
    assert result.notes
    assert all(o.response is not None for o in result.outcomes)


async def test_two_origins_keep_their_own_connections(h2_server: Server) -> None:
    server, other = await start_h2_server()
    try:
        reqs = [
            WireRequest("POST", url, (), BODY)
            for url in (h2_server.url("/a"), other.url("/b"), h2_server.url("/c"), other.url("/d"))
        ]
        async with WireClient(http2="always", settle=0.005) as client:
            result = await client.burst(reqs, engine="single-packet", timeout=5)
    finally:
        server.close()
    assert all(o.error is None for o in result.outcomes)
    assert len(h2_server.rec.arrivals) == 2
    assert len(other.rec.arrivals) == 2
