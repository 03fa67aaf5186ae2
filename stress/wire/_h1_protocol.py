"""HTTP/1.1 keep-alive exchanges on asyncio protocol callbacks, parsed by llhttp (httptools).

Why a second HTTP/1.1 path beside :class:`~stress.wire._http1.H1Connection`: sustained load
(``WireClient.request``, one op at a time on pooled connections) is judged by client CPU per
request, and there the socket-plus-h11 path cost about 16x wrk's CPU: h11 builds and validates
an event per request and parses in Python, and every response needed anyio ``wait_readable``
rounds. Here the event loop (uvloop when installed) calls :meth:`H1Protocol.data_received` with
the bytes, llhttp frames the response in C (strict: no lenient flags are set, so bad framing,
bad chunk sizes, bad header bytes and Content-Length plus Transfer-Encoding are errors), and a
request costs one ``write`` and one awaited future. The burst engines keep the socket path: they
must hand pre-encoded (pre-encrypted) final bytes to the kernel in a loop with nothing else in
it, which an asyncio transport cannot promise, and their precision does not depend on parse cost.

Scope (the client decides): cleartext ``http://`` origins and every method but HEAD
(httptools cannot tell llhttp that a response has no body because of the request method; h11
can, so HEAD stays on the socket path, as does https).

``send_ns`` keeps its meaning: the write buffer's high-water mark is 0, so a write the kernel
did not take whole pauses the protocol, and the stamp is taken once ``resume_writing`` says the
last byte has been handed over.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import cast

import httptools

from stress.wire._keep_alive import idle_limit
from stress.wire._models import (
    ErrorClass,
    Origin,
    WireOutcome,
    WireRequest,
    WireResponse,
    completed,
    response,
)
from stress.wire._transport import WireFailure, connect_socket

__all__ = ["H1Protocol", "Watchdog", "exchange", "open_connection"]

TICK = 0.01
"""How late a deadline may fire at most, and the least time between two checks (seconds)."""


class Watchdog:
    """Ends exchanges that outlive their deadline, with one timer for all of them.

    Why not ``loop.call_at`` per request: under uvloop every call allocates, starts, stops and
    frees a libuv timer, measured at about 5 us of a request's 30 us of client CPU. Here a
    request costs a set insertion and removal and one comparison: the one timer is armed for
    the earliest deadline in flight, and re-armed only when an exchange starts with an earlier
    one. Under sustained load with one op timeout it fires about once per timeout; ticking
    every :data:`TICK` seconds instead woke the loop a hundred times a second, each wake-up
    costing about what parsing a response does. A deadline fires at most one tick late.
    """

    def __init__(self) -> None:
        self.inflight: set[H1Protocol] = set()
        """Connections with an exchange in flight: add, then :meth:`watch`."""
        self.ticking: asyncio.AbstractEventLoop | None = None
        """The loop whose timer is armed (None when idle; a client may outlive a loop)."""
        self.due = math.inf
        """The loop time the armed timer fires at."""
        self._timer: asyncio.TimerHandle | None = None

    def watch(self, conn: H1Protocol, loop: asyncio.AbstractEventLoop) -> None:
        """Make sure the timer fires by ``conn.deadline`` (``conn`` is in :attr:`inflight`)."""
        if self.ticking is not loop or conn.deadline < self.due:
            self._arm(loop, conn.deadline)

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None and self.ticking is loop:
            self._timer.cancel()  # a timer of an earlier loop is left to that loop
        self.ticking, self.due = loop, when
        self._timer = loop.call_at(when, self._tick, loop)

    def _tick(self, loop: asyncio.AbstractEventLoop) -> None:
        if self.ticking is not loop:
            return  # superseded by a timer on a newer loop
        self._timer = None
        now = loop.time()
        for conn in [c for c in self.inflight if c.deadline <= now]:
            self.inflight.discard(conn)
            conn.expire()
        if self.inflight:
            earliest = min(c.deadline for c in self.inflight)
            self._arm(loop, max(earliest, now + TICK))
        else:
            self.ticking, self.due = None, math.inf


_NAMES: dict[bytes, str] = {}
"""Header names as sent -> lower-case str: a server repeats the same few names on every
response, so each is decoded once (bounded by :data:`_NAMES_SIZE`)."""
_NAMES_SIZE = 512


class _Unexpected(Exception):
    """Raised inside a parser callback when the peer sends a message nobody asked for."""


class H1Protocol(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection: one request at a time, response framed by llhttp."""

    def __init__(self, origin: Origin) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.reusable = True
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[WireResponse] | None = None
        self._drained: asyncio.Future[None] | None = None
        self._paused = False
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._started = False
        self._in_body = False
        self.requests_completed = 0
        self.deadline = 0.0  # loop time when the exchange in flight times out
        self.idle_until = math.inf  # loop time after which the server may close it (Keep-Alive)
        self._keep_alive: str | None = None
        self.budget = 0.0
        self.loop = asyncio.get_running_loop()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, though they implement it.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.set_write_buffer_limits(high=0)

    def data_received(self, data: bytes) -> None:
        if self._waiter is None:
            self._fail("protocol", "bytes received while no request was in flight")
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail("protocol", "the server switched protocols")
        except httptools.HttpParserCallbackError as exc:
            if isinstance(exc.__context__, _Unexpected):
                self._fail("protocol", "the server sent more than one response")
            else:
                self._fail("protocol", str(exc))
        except httptools.HttpParserError as exc:
            self._fail("protocol", str(exc) or type(exc).__name__)

    def eof_received(self) -> bool:
        framed = any(k in ("content-length", "transfer-encoding") for k, _ in self._headers)
        if self._in_body and not framed and self._waiter is not None:
            self.reusable = False  # a body delimited by the end of the connection
            self.on_message_complete()
        elif self._started:
            self._fail("reset", "connection closed mid-response")
        else:
            self._fail("reset", "connection closed before a response")
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self.reusable = False
        detail = f"connection lost: {exc}" if exc else "connection closed before a response"
        self._fail("reset", detail)

    def pause_writing(self) -> None:
        self._paused = True

    def resume_writing(self) -> None:
        self._paused = False
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    # -- httptools callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self._waiter is None:
            raise _Unexpected
        self._headers = []
        self._body = []
        self._started = True
        self._in_body = False
        self._keep_alive = None

    def on_header(self, name: bytes, value: bytes) -> None:
        key = _NAMES.get(name)
        if key is None:
            key = name.decode("latin-1").lower()
            if len(_NAMES) < _NAMES_SIZE:
                _NAMES[name] = key
        text = value.decode("latin-1")
        self._headers.append((key, text))
        if key == "keep-alive":
            self._keep_alive = text

    def on_headers_complete(self) -> None:
        self._in_body = True

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        status = self._parser.get_status_code()
        self._in_body = self._started = False
        if status < 200:
            return  # 1xx (100 Continue, 103 Early Hints): the final response follows
        waiter = self._waiter
        self._waiter = None
        if not self._parser.should_keep_alive():
            self.reusable = False
        elif self._keep_alive is not None:
            limit = idle_limit(self._keep_alive)
            if limit is not None:
                self.idle_until = self.loop.time() + limit
                if limit <= 0:
                    self.reusable = False
        body = self._body[0] if len(self._body) == 1 else b"".join(self._body)
        self.requests_completed += 1
        if waiter is not None and not waiter.done():
            waiter.set_result(response(status, tuple(self._headers), body, "HTTP/1.1"))
        self._headers = []

    # -- used by exchange() ----------------------------------------------------------------

    def _fail(self, kind: ErrorClass, detail: str) -> None:
        self._abort(WireFailure(kind, detail))

    def expire(self) -> None:
        """The exchange in flight ran out of time: end it with ``TimeoutError`` and close."""
        self._abort(TimeoutError(f"no progress within {self.budget:g}s"))

    def _abort(self, exc: Exception) -> None:
        """End the exchange in flight (both of its waits) with ``exc`` and close."""
        self.reusable = False
        waiter, self._waiter = self._waiter, None
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_exception(exc)
        self.close()

    def close(self) -> None:
        """Close the connection at once (the tester never needs a graceful close)."""
        self.reusable = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()


async def open_connection(origin: Origin) -> H1Protocol:
    """A connected :class:`H1Protocol` (TCP_NODELAY; connect errors are ``WireFailure``)."""
    sock = await connect_socket(origin.host, origin.port)
    loop = asyncio.get_running_loop()
    try:
        _, protocol = await loop.create_connection(lambda: H1Protocol(origin), sock=sock)
    except BaseException:
        sock.close()
        raise
    return protocol


async def exchange(
    conn: H1Protocol, req: WireRequest, data: bytes, watchdog: Watchdog
) -> WireOutcome:
    """Send ``data`` (``req`` encoded) on ``conn``; read the response by ``conn.deadline``.

    Never raises for network trouble or the deadline (the outcome says what happened);
    cancellation closes the connection and propagates. The caller returns ``conn`` to its pool
    when ``conn.reusable`` is still True.
    """
    transport = conn.transport
    assert transport is not None
    loop = conn.loop
    waiter: asyncio.Future[WireResponse] = loop.create_future()
    conn._waiter = waiter
    inflight = watchdog.inflight
    inflight.add(conn)
    watchdog.watch(conn, loop)
    send_ns = 0
    try:
        transport.write(data)
        if conn._paused:  # the kernel did not take it all: wait until it has
            conn._drained = loop.create_future()
            await conn._drained
        send_ns = time.monotonic_ns()
        answer = await waiter
    except (TimeoutError, WireFailure) as exc:
        conn.close()
        if waiter.done() and not waiter.cancelled():
            waiter.exception()  # retrieved: it may have failed both waits
        kind: ErrorClass = exc.kind if isinstance(exc, WireFailure) else "timeout"
        detail = exc.detail if isinstance(exc, WireFailure) else str(exc)
        return WireOutcome(req, None, send_ns, time.monotonic_ns(), True, kind, detail)
    except BaseException:
        conn.close()
        raise
    finally:
        inflight.discard(conn)
        conn._waiter = conn._drained = None
    return completed(req, answer, send_ns, time.monotonic_ns())
