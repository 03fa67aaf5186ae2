"""Keep-alive connections per origin, and which protocol each origin speaks.

HTTP/1.1 connections are checked out one request at a time and returned when their parser says they
can be reused; a connection the peer has closed (or that holds unread bytes) is dropped when it is
next taken. Single requests on cleartext origins use protocol-callback connections
(:mod:`stress.wire._h1_protocol`), kept in their own idle list: the burst engines need the socket
connections (:class:`H1Connection`), whose sends they control byte by byte. Each HTTP/2 origin has
one shared connection, replaced when it dies or receives GOAWAY. The protocol of an origin is learnt
once: ALPN for https; for http with ``http2="auto"`` a prior-knowledge probe (preface + SETTINGS: a
server that answers with its own SETTINGS speaks h2c, anything else is HTTP/1.1 and the probe
connection is dropped).
"""

from __future__ import annotations

import ssl
import time
from dataclasses import dataclass, field
from typing import Literal

import anyio

from stress.client_certificate import ClientCertificate
from stress.wire._h1_protocol import H1Protocol, Watchdog, open_connection
from stress.wire._http1 import H1Connection
from stress.wire._http2 import H2Connection
from stress.wire._models import HTTP2Mode, Origin
from stress.wire._transport import Transport, WireFailure, make_ssl_context

__all__ = ["Pool", "Protocol"]

Protocol = Literal["h1", "h2"]
_PROBE_TIMEOUT = 2.0


@dataclass
class _OriginState:
    protocol: Protocol | None = None
    idle: list[H1Connection] = field(default_factory=list)
    idle_fast: list[H1Protocol] = field(default_factory=list)
    h2: H2Connection | None = None
    retired: list[H2Connection] = field(default_factory=list)
    lock: anyio.Lock = field(default_factory=anyio.Lock)


class Pool:
    """The connections of one :class:`~stress.wire.WireClient`."""

    def __init__(
        self,
        *,
        ca_file: str | None,
        insecure: bool,
        http2: HTTP2Mode,
        certificate: ClientCertificate | None = None,
    ) -> None:
        self._ca_file = ca_file
        self._insecure = insecure
        self._certificate = certificate
        self.http2 = http2
        self._contexts: dict[tuple[str, ...], ssl.SSLContext] = {}
        self._origins: dict[Origin, _OriginState] = {}
        self.connections_opened = 0
        # Per origin, the monotonic ns at which the latest connection it accepted was attempted.
        self.connected: dict[Origin, int] = {}
        self.watchdog = Watchdog()
        self.http1_requests = False  # single cleartext requests on HTTP/1.1 even if h2c is spoken

    def _state(self, origin: Origin) -> _OriginState:
        state = self._origins.get(origin)
        if state is None:
            state = self._origins[origin] = _OriginState()
        return state

    async def _connect(self, origin: Origin, alpn: tuple[str, ...]) -> Transport:
        context = None
        if origin.scheme == "https":
            context = self._contexts.get(alpn)
            if context is None:
                context = make_ssl_context(
                    ca_file=self._ca_file,
                    insecure=self._insecure,
                    alpn=alpn,
                    certificate=self._certificate,
                )
                self._contexts[alpn] = context
        attempted = time.monotonic_ns()
        transport = await Transport.connect(origin, context)
        self.connections_opened += 1
        self.connected[origin] = attempted
        return transport

    async def protocol(self, origin: Origin) -> Protocol:
        """The protocol ``origin`` is used with, discovered on first use."""
        state = self._state(origin)
        if state.protocol is not None:
            return state.protocol
        async with state.lock:
            if state.protocol is None:
                state.protocol = await self._discover(origin, state)
            return state.protocol

    async def _discover(self, origin: Origin, state: _OriginState) -> Protocol:
        if self.http2 == "never":
            return "h1"
        if origin.scheme == "https":
            offer = ("h2",) if self.http2 == "always" else ("h2", "http/1.1")
            transport = await self._connect(origin, offer)
            if transport.alpn == "h2":
                state.h2 = await self._start_h2(transport, origin)
                return "h2"
            if self.http2 == "always":
                transport.close()
                raise WireFailure("tls", f"{origin} did not negotiate h2 via ALPN")
            state.idle.append(H1Connection(transport, origin))
            return "h1"
        if self.http2 == "always":
            state.h2 = await self._start_h2(await self._connect(origin, ()), origin)
            return "h2"
        conn = H2Connection(await self._connect(origin, ()), origin)
        try:
            with anyio.fail_after(_PROBE_TIMEOUT):
                await conn.start()
        except (WireFailure, TimeoutError):
            conn.close()
            return "h1"
        state.h2 = conn
        return "h2"

    async def _start_h2(self, transport: Transport, origin: Origin) -> H2Connection:
        conn = H2Connection(transport, origin)
        try:
            await conn.start()
        except BaseException:
            conn.close()
            raise
        return conn

    async def get_h2(self, origin: Origin) -> H2Connection:
        """The origin's shared HTTP/2 connection, opened (and warmed) if needed."""
        state = self._state(origin)
        if state.h2 is not None and state.h2.available:
            return state.h2
        async with state.lock:
            if state.h2 is None or not state.h2.available:
                if state.h2 is not None:
                    state.retired.append(state.h2)
                alpn = ("h2",) if origin.scheme == "https" else ()
                state.h2 = await self._start_h2(await self._connect(origin, alpn), origin)
            return state.h2

    async def get_h1(self, origin: Origin) -> H1Connection:
        """An idle reusable HTTP/1.1 connection to ``origin``, or a fresh one."""
        state = self._state(origin)
        while state.idle:
            conn = state.idle.pop()
            if conn.is_reusable():
                return conn
            conn.close()
        alpn = ("http/1.1",) if origin.scheme == "https" else ()
        return H1Connection(await self._connect(origin, alpn), origin)

    def put_h1(self, conn: H1Connection) -> None:
        """Give a connection back after a complete exchange; closed ones are dropped."""
        if conn.transport.closed:
            return
        self._state(conn.origin).idle.append(conn)

    def fast_idle(self, origin: Origin) -> tuple[bool, list[H1Protocol] | None]:
        """Whether single requests to ``origin`` use protocol-callback connections.

        Returns ``(settled, idle)``: ``idle`` is the origin's list of idle protocol-callback
        connections when they are used (cleartext HTTP/1.1), else None; ``settled`` is False
        while the origin's protocol is still to be discovered (the answer may change).
        """
        if origin.scheme != "http":
            return True, None
        state = self._state(origin)
        if self.http2 == "never" or self.http1_requests or state.protocol == "h1":
            return True, state.idle_fast
        return state.protocol is not None, None

    async def open_fast(self, origin: Origin) -> H1Protocol:
        """A new protocol-callback connection (cleartext HTTP/1.1) to ``origin``."""
        attempted = time.monotonic_ns()
        conn = await open_connection(origin)
        self.connections_opened += 1
        self.connected[origin] = attempted
        return conn

    def close(self) -> None:
        """Close every connection."""
        for state in self._origins.values():
            for fast in state.idle_fast:
                fast.close()
            state.idle_fast.clear()
            for conn in state.idle:
                conn.close()
            state.idle.clear()
            for h2conn in [*state.retired, *([state.h2] if state.h2 else [])]:
                h2conn.close()
            state.retired.clear()
            state.h2 = None
