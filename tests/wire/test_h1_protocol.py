"""The protocol-callback HTTP/1.1 path (llhttp) against scripted servers on 127.0.0.1.

``WireClient.request`` sends single cleartext requests this way (see
``stress/wire/_h1_protocol.py``); the h11 server tests in test_http1.py cover the ordinary
cases. These servers write exact bytes, so the tests can reach what a well-behaved server never
sends: bodies delimited by EOF, bad framing, unsolicited responses, slow readers.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import anyio
import pytest

from stress.wire import WireClient, WireOutcome, WireRequest, WireResponse
from stress.wire._models import build_request, completed, response

pytestmark = pytest.mark.anyio


@pytest.fixture(params=[False, True], ids=["asyncio", "uvloop"])
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, bool]]:
    """Both loops: callbacks and write-buffer signals differ between them."""
    return "asyncio", {"use_uvloop": request.param}


Script = Callable[[asyncio.StreamReader, asyncio.StreamWriter, "Scripted"], Awaitable[None]]
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


@dataclass
class Scripted:
    """A server whose every connection runs ``script``; counts connections."""

    port: int = 0
    connections: int = 0
    notes: dict[str, int] = field(default_factory=dict)

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's head (and its Content-Length body); b"" at EOF."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return b""
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    return head


@pytest.fixture
async def scripted() -> AsyncIterator[Callable[[Script], Awaitable[Scripted]]]:
    servers: list[asyncio.Server] = []

    async def start(script: Script) -> Scripted:
        info = Scripted()

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            info.connections += 1
            try:
                await script(reader, writer, info)
            except (ConnectionError, asyncio.IncompleteReadError):
                pass
            finally:
                writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        servers.append(server)
        info.port = server.sockets[0].getsockname()[1]
        return info

    yield start
    for server in servers:
        server.close()


async def test_body_delimited_by_eof(scripted: Callable[[Script], Awaitable[Scripted]]) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: Scripted) -> None:
        await read_request(r)
        w.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end")
        await w.drain()

    server = await scripted(script)
    async with WireClient(http2="never") as client:
        first = await client.request(WireRequest("GET", server.url()), timeout=5)
        second = await client.request(WireRequest("GET", server.url()), timeout=5)
        assert client.statistics().connections_opened == 2
    for outcome in (first, second):
        assert outcome.error is None
        assert outcome.response is not None
        assert outcome.response.body == b"until the end"
    assert server.connections == 2


async def test_head_response_has_no_body(scripted: Callable[[Script], Awaitable[Scripted]]) -> None:
    # HEAD stays on the h11 path: a Content-Length without a body must not be waited for.
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: Scripted) -> None:
        while await read_request(r):
            w.write(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n")
            await w.drain()

    server = await scripted(script)
    async with WireClient(http2="never") as client:
        head = await client.request(WireRequest("HEAD", server.url()), timeout=2)
    assert head.error is None
    assert head.response is not None
    assert (head.response.status, head.response.body) == (200, b"")


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"2\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nok\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 2\r\n\r\nok",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
        b"HTTP/9.9 200 OK\r\nContent-Length: 2\r\n\r\nok",
    ],
    ids=["cl-and-te", "bad-chunk-size", "space-in-name", "two-lengths", "bad-version"],
)
async def test_bad_framing_is_a_protocol_error(
    scripted: Callable[[Script], Awaitable[Scripted]], reply: bytes
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: Scripted) -> None:
        await read_request(r)
        w.write(reply)
        await w.drain()
        await r.read()

    server = await scripted(script)
    async with WireClient(http2="never") as client:
        outcome = await client.request(WireRequest("GET", server.url()), timeout=2)
    assert outcome.response is None
    assert (outcome.sent, outcome.error) == (True, "protocol")


async def test_unsolicited_response_retires_the_connection(
    scripted: Callable[[Script], Awaitable[Scripted]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: Scripted) -> None:
        while await read_request(r):
            w.write(OK + OK)  # one answer too many
            await w.drain()

    server = await scripted(script)
    async with WireClient(http2="never") as client:
        first = await client.request(WireRequest("GET", server.url()), timeout=2)
        second = await client.request(WireRequest("GET", server.url()), timeout=2)
        assert client.statistics().connections_opened == 2
    for outcome in (first, second):
        assert outcome.response is not None
        assert outcome.response.body == b"ok"


async def test_idle_connection_closed_by_peer_is_replaced(
    scripted: Callable[[Script], Awaitable[Scripted]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: Scripted) -> None:
        await read_request(r)
        w.write(OK)  # keep-alive framing, then the server closes anyway (idle timeout)
        await w.drain()

    server = await scripted(script)
    async with WireClient(http2="never") as client:
        first = await client.request(WireRequest("GET", server.url()), timeout=2)
        await anyio.sleep(0.05)  # the FIN arrives while the connection is idle
        second = await client.request(WireRequest("GET", server.url()), timeout=2)
        assert client.statistics().connections_opened == 2
    assert first.error is None
    assert second.error is None


async def test_send_ns_waits_for_a_slow_reader(
    scripted: Callable[[Script], Awaitable[Scripted]],
) -> None:
    # A body far larger than the socket buffers: the final byte reaches the kernel only after
    # the server starts reading, and send_ns must say so.
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, info: Scripted) -> None:
        await asyncio.sleep(0.3)
        info.notes["reading_ns"] = time.monotonic_ns()
        await read_request(r)
        w.write(OK)
        await w.drain()

    server = await scripted(script)
    body = b"x" * (16 * 1024 * 1024)
    async with WireClient(http2="never") as client:
        outcome = await client.request(WireRequest("POST", server.url(), (), body), timeout=10)
    assert outcome.error is None
    assert outcome.send_ns > server.notes["reading_ns"]


async def test_cancelled_request_closes_its_connection(
    scripted: Callable[[Script], Awaitable[Scripted]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: Scripted) -> None:
        head = await read_request(r)
        if head.startswith(b"GET /slow"):
            await asyncio.sleep(30)
        w.write(OK)
        await w.drain()
        await r.read()

    server = await scripted(script)
    async with WireClient(http2="never") as client:
        with anyio.move_on_after(0.1) as scope:
            await client.request(WireRequest("GET", server.url("/slow")), timeout=5)
        assert scope.cancelled_caught
        after = await client.request(WireRequest("GET", server.url("/fast")), timeout=2)
        assert client.statistics().connections_opened == 2
    assert after.error is None


async def test_many_concurrent_requests_share_few_connections(
    scripted: Callable[[Script], Awaitable[Scripted]],
) -> None:
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: Scripted) -> None:
        while await read_request(r):
            w.write(OK)
            await w.drain()

    server = await scripted(script)
    statuses: list[int] = []
    async with WireClient(http2="never") as client:

        async def loop() -> None:
            for _ in range(50):
                outcome = await client.request(WireRequest("GET", server.url()), timeout=2)
                statuses.append(outcome.response.status if outcome.response else 0)

        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(loop)
        assert client.statistics().connections_opened == 8
    assert statuses == [200] * 400


def test_fast_constructors_equal_the_dataclass_ones() -> None:
    req = WireRequest("GET", "http://127.0.0.1:1/x")
    made = response(200, (("a", "b"),), b"ok", "HTTP/1.1")
    assert made == WireResponse(200, (("a", "b"),), b"ok", "HTTP/1.1")
    assert completed(req, made, 1, 2) == WireOutcome(req, made, 1, 2, True)
    built = build_request("POST", "http://127.0.0.1:1/t", (("c", "d"),), b"x=1")
    assert built == WireRequest("POST", "http://127.0.0.1:1/t", (("c", "d"),), b"x=1")
    assert build_request("GET", "http://127.0.0.1:1/x") == req
    assert hash(built) == hash(WireRequest("POST", "http://127.0.0.1:1/t", (("c", "d"),), b"x=1"))
    assert hash(made) == hash(WireResponse(200, (("a", "b"),), b"ok", "HTTP/1.1"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.status = 500  # type: ignore[misc]


async def test_deadline_ends_a_silent_exchange(
    scripted: Callable[[Script], Awaitable[Scripted]],
) -> None:
    # One watchdog timer serves every exchange: the deadline fires within a tick or two.
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: Scripted) -> None:
        head = await read_request(r)
        if head.startswith(b"GET /silent"):
            await r.read()  # never answers
        w.write(OK)
        await w.drain()
        await r.read()

    server = await scripted(script)
    async with WireClient(http2="never") as client:
        started = time.monotonic()
        silent = await client.request(WireRequest("GET", server.url("/silent")), timeout=0.2)
        elapsed = time.monotonic() - started
        after = await client.request(WireRequest("GET", server.url("/fine")), timeout=2)
        assert client.statistics().connections_opened == 2
    assert (silent.sent, silent.error, silent.response) == (True, "timeout", None)
    assert 0.19 <= elapsed < 1.0  # uvloop's clock has millisecond resolution
    assert silent.error_detail == "no progress within 0.2s"
    assert after.error is None


async def test_a_shorter_deadline_started_later_still_fires_on_time(
    scripted: Callable[[Script], Awaitable[Scripted]],
) -> None:
    # The one timer is armed for the earliest deadline in flight: an exchange with a short
    # timeout, started while a long one is waiting, re-arms it earlier.
    async def script(r: asyncio.StreamReader, w: asyncio.StreamWriter, _: Scripted) -> None:
        await read_request(r)
        await r.read()  # never answers

    server = await scripted(script)
    outcomes: dict[str, WireOutcome] = {}
    async with WireClient(http2="never") as client:

        async def send(name: str, budget: float) -> None:
            request = WireRequest("GET", server.url(f"/{name}"))
            outcomes[name] = await client.request(request, timeout=budget)

        async with anyio.create_task_group() as tg:
            tg.start_soon(send, "long", 1.5)
            await anyio.sleep(0.05)
            started = time.monotonic()
            await send("short", 0.2)
            elapsed = time.monotonic() - started
            assert "long" not in outcomes  # still waiting: the short one did not end it
    assert 0.19 <= elapsed < 1.0
    assert (outcomes["short"].error, outcomes["long"].error) == ("timeout", "timeout")
    assert outcomes["long"].error_detail == "no progress within 1.5s"
