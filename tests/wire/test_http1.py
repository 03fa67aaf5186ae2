"""HTTP/1.1 on the wire client against a real h11 server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import time

import anyio
import pytest

from stress.wire import WireClient, WireRequest
from stress.wire._keep_alive import idle_limit

from .conftest import Server

pytestmark = pytest.mark.anyio


async def test_content_length_and_keep_alive_reuse(h1_server: Server) -> None:
    async with WireClient(http2="never") as client:
        first = await client.request(WireRequest("GET", h1_server.url("/echo")), timeout=5)
        second = await client.request(WireRequest("GET", h1_server.url("/echo")), timeout=5)
        assert client.statistics().connections_opened == 1
    assert first.response is not None
    assert second.response is not None
    assert first.response.status == 200
    assert json.loads(second.response.body)["requests_on_conn"] == 2
    assert first.sent
    assert first.error is None
    assert 0 < first.send_ns <= first.recv_ns
    assert first.response.http_version == "HTTP/1.1"


async def test_chunked_body(h1_server: Server) -> None:
    async with WireClient(http2="never") as client:
        outcome = await client.request(WireRequest("GET", h1_server.url("/chunked")), timeout=5)
    assert outcome.response is not None
    assert outcome.response.body == b"hello world"
    assert ("transfer-encoding", "chunked") in outcome.response.headers


async def test_post_body_headers_and_no_expect(h1_server: Server) -> None:
    req = WireRequest(
        "POST",
        h1_server.url("/echo?x=1"),
        (("Content-Type", "application/x-www-form-urlencoded"),),
        b"grant_type=refresh_token&refresh_token=abc",
    )
    async with WireClient(http2="never") as client:
        outcome = await client.request(req, timeout=5)
    assert outcome.response is not None
    doc = json.loads(outcome.response.body)
    assert doc["body"] == "grant_type=refresh_token&refresh_token=abc"
    names = {k for k, _ in doc["headers"]}
    assert "expect" not in names
    assert ["content-length", "42"] in doc["headers"]
    assert ["host", f"127.0.0.1:{h1_server.port}"] in doc["headers"]


async def test_informational_response_is_skipped(h1_server: Server) -> None:
    async with WireClient(http2="never") as client:
        outcome = await client.request(WireRequest("GET", h1_server.url("/continue")), timeout=5)
    assert outcome.response is not None
    assert (outcome.response.status, outcome.response.body) == (200, b"after")


async def test_all_set_cookie_headers_are_kept(h1_server: Server) -> None:
    async with WireClient(http2="never") as client:
        outcome = await client.request(WireRequest("GET", h1_server.url("/cookies")), timeout=5)
    assert outcome.response is not None
    cookies = [v for k, v in outcome.response.headers if k == "set-cookie"]
    assert cookies == ["a=1", "b=2"]


async def _connections(client: WireClient, urls: list[str], pause: float = 0.0) -> int:
    for url in urls:
        outcome = await client.request(WireRequest("GET", url), timeout=5)
        assert outcome.response is not None
        await anyio.sleep(pause)
    return client.statistics().connections_opened


async def test_a_keep_alive_timeout_hint_bounds_reuse(h1_server: Server) -> None:
    # Reused until a second before the hinted timeout: never sent into the server's close.
    async with WireClient(http2="never") as client:
        assert await _connections(client, [h1_server.url("/keep-alive-60")] * 3) == 1
    async with WireClient(http2="never") as client:
        assert await _connections(client, [h1_server.url("/keep-alive-1")] * 3) == 3
    async with WireClient(http2="never") as client:
        urls = [h1_server.url("/keep-alive-2"), h1_server.url("/echo")]
        assert await _connections(client, urls, pause=1.1) == 2


async def test_a_keep_alive_timeout_hint_bounds_a_bursts_reuse(h1_server: Server) -> None:
    reqs = [WireRequest("GET", h1_server.url("/keep-alive-1"))] * 2
    async with WireClient(http2="never") as client:
        for _ in range(2):
            result = await client.burst(reqs, engine="last-byte", timeout=5)
            assert all(o.response is not None for o in result.outcomes)
        assert client.statistics().connections_opened == 4
    async with WireClient(http2="never") as client:
        reqs = [WireRequest("GET", h1_server.url("/keep-alive-60"))] * 2
        for _ in range(2):
            await client.burst(reqs, engine="last-byte", timeout=5)
        assert client.statistics().connections_opened == 2


@pytest.mark.parametrize(
    ("value", "limit"),
    [
        ("timeout=5", 4.0),
        ("timeout=5, max=100", 4.0),
        ("max=100, Timeout=30", 29.0),
        ("timeout=1", 0.0),
        ("max=100", None),
        ("timeout=soon", None),
        ("timeout=-3", None),
    ],
)
def test_the_keep_alive_hint_is_read_with_a_margin(value: str, limit: float | None) -> None:
    assert idle_limit(value) == limit


async def test_connection_close_is_not_reused(h1_server: Server) -> None:
    async with WireClient(http2="never") as client:
        closed = await client.request(WireRequest("GET", h1_server.url("/close")), timeout=5)
        after = await client.request(WireRequest("GET", h1_server.url("/echo")), timeout=5)
        assert client.statistics().connections_opened == 2
    assert closed.response is not None
    assert closed.response.body == b"bye"
    assert after.response is not None
    assert after.error is None


async def test_reset_after_request_is_indeterminate(h1_server: Server) -> None:
    async with WireClient(http2="never") as client:
        outcome = await client.request(WireRequest("POST", h1_server.url("/reset")), timeout=5)
    assert outcome.response is None
    assert outcome.sent is True
    assert outcome.error == "reset"


async def test_refused_port_is_not_sent() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with WireClient(http2="never") as client:
        outcome = await client.request(
            WireRequest("POST", f"http://127.0.0.1:{port}/token"), timeout=5
        )
    assert outcome.sent is False
    assert outcome.error == "connect"
    assert outcome.response is None


async def test_timeout_after_sending_is_indeterminate(h1_server: Server) -> None:
    async with WireClient(http2="never") as client:
        outcome = await client.request(WireRequest("GET", h1_server.url("/slow")), timeout=0.2)
    assert outcome.sent is True
    assert outcome.error == "timeout"
    assert outcome.recv_ns - outcome.send_ns >= 150_000_000


async def test_auto_falls_back_to_http1_for_h1_only_server(h1_server: Server) -> None:
    async with WireClient(http2="auto") as client:
        outcome = await client.request(WireRequest("GET", h1_server.url("/echo")), timeout=5)
    assert outcome.response is not None
    assert outcome.response.http_version == "HTTP/1.1"


async def test_the_latest_accepted_connection_is_dated_at_its_attempt(h1_server: Server) -> None:
    """What tells a target's refusal from its death: a connection accepted after it. A request
    on a reused connection says nothing of the time after that connection was opened."""
    url = h1_server.url("/echo")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        refused = f"http://127.0.0.1:{sock.getsockname()[1]}/token"
    async with WireClient(http2="never") as client:
        assert client.last_connected(url) is None
        before = time.monotonic_ns()
        first = await client.request(WireRequest("GET", url), timeout=5)
        opened = client.last_connected(url)
        assert opened is not None
        assert before <= opened <= first.send_ns
        reused = await client.request(WireRequest("GET", url), timeout=5)
        assert client.last_connected(url) == opened
        burst = await client.burst([WireRequest("GET", url)] * 2, engine="last-byte", timeout=5)
        latest = client.last_connected(url)
        assert latest is not None
        assert reused.recv_ns <= latest <= burst.outcomes[1].send_ns
        assert (await client.request(WireRequest("GET", refused), timeout=5)).error == "connect"
        assert client.last_connected(refused) is None
