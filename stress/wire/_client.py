"""The wire client: single requests on pooled keep-alive connections, and synchronised bursts.

It is the tester's data plane (httpx stays the control plane: discovery, login, probes). Usage::

    async with WireClient(http2="auto") as client:
        outcome = await client.request(WireRequest("GET", "http://127.0.0.1:8000/healthz"),
                                       timeout=5)
        burst = await client.burst([refresh] * 8, engine="auto", timeout=5)

Single requests to cleartext HTTP/1.1 origins run on protocol callbacks parsed by llhttp
(:mod:`stress.wire._h1_protocol`), the cheap path sustained load needs; bursts, https and HEAD
use socket connections parsed by h11. Outcomes never raise for network trouble: every error
becomes a :class:`WireOutcome` whose ``sent`` flag tells the runner whether the server may
have seen the request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import get_args

import anyio

from stress.client_certificate import ClientCertificate
from stress.wire._burst import Slot, run_burst
from stress.wire._h1_protocol import H1Protocol, exchange
from stress.wire._http1 import encode_request
from stress.wire._models import (
    BurstResult,
    Engine,
    HTTP2Mode,
    Origin,
    WireOutcome,
    WireRequest,
    split_url,
)
from stress.wire._pool import Pool
from stress.wire._transport import WireFailure

__all__ = ["ClientStatistics", "WireClient"]

_ROUTE_CACHE_SIZE = 4096  # distinct URLs whose route is remembered (a run uses a handful)
_Route = tuple[Origin, str, "list[H1Protocol] | None"]
"""A URL's origin, request target and, when single requests there use the protocol-callback
path, the idle list of that origin's connections."""


@dataclass(frozen=True)
class ClientStatistics:
    """Counters for tests and reports: how many connections the client has opened."""

    connections_opened: int


class WireClient:
    """HTTP/1.1 and HTTP/2 client on raw sockets, built for tight bursts.

    ``ca_file`` adds a CA bundle for https; ``insecure`` disables certificate checks (explicit
    opt-in); ``certificate`` is presented to servers that want a client certificate (mutual
    TLS). ``http2``: ``auto`` uses h2 when ALPN (https) or a prior-knowledge probe (http)
    says the origin speaks it, ``never`` sticks to HTTP/1.1, ``always`` requires h2.
    ``settle`` is the pause between sending the request prefixes and releasing the final
    bytes/frames in the last-byte and single-packet engines (seconds); ``collect_after`` is
    the last-byte engine's pause between the release and reading the responses (seconds; see
    :mod:`stress.wire._burst` for why, and why it does not show in latencies).

    ``http1_requests`` (opt-in, with ``http2="auto"``): single requests to cleartext origins use
    HTTP/1.1 keep-alive even where the origin also speaks h2c, while bursts still use what
    ``http2`` selects (single-packet needs h2). Why: a single request over h2 goes through the
    pure-Python h2 state machine and costs about 6x the CPU of the HTTP/1.1 protocol-callback
    path, which matters for sustained load against h2c servers such as the reference server.
    Only for origins that speak HTTP/1.1 too (prior-knowledge-only h2c servers do not).
    """

    def __init__(
        self,
        *,
        ca_file: str | None = None,
        insecure: bool = False,
        http2: HTTP2Mode = "auto",
        settle: float = 0.005,
        collect_after: float = 0.003,
        http1_requests: bool = False,
        certificate: ClientCertificate | None = None,
    ) -> None:
        if http2 not in get_args(HTTP2Mode):
            raise ValueError(f"http2 must be one of {get_args(HTTP2Mode)}, not {http2!r}")
        if http1_requests and http2 == "always":
            raise ValueError("http1_requests needs http2='auto' (or 'never'), not 'always'")
        self._pool = Pool(ca_file=ca_file, insecure=insecure, http2=http2, certificate=certificate)
        self._pool.http1_requests = http1_requests
        self._routes: dict[str, _Route] = {}
        self.settle = settle
        self.collect_after = collect_after

    async def __aenter__(self) -> WireClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.aclose()

    def aclose(self) -> None:
        """Close every pooled connection."""
        self._pool.close()

    def statistics(self) -> ClientStatistics:
        """Current counters."""
        return ClientStatistics(connections_opened=self._pool.connections_opened)

    def last_connected(self, url: str) -> int | None:
        """When the latest connection the origin of ``url`` accepted was attempted (monotonic
        ns), or None when it accepted none."""
        return self._pool.connected.get(split_url(url)[0])

    async def request(self, req: WireRequest, *, timeout: float) -> WireOutcome:  # noqa: ASYNC109
        """Send one request on a pooled keep-alive connection and read its response."""
        route = self._routes.get(req.url)
        if route is None:
            route = self._route(req.url)
        origin, target, idle = route
        if idle is not None and req.method.upper() != "HEAD":  # HEAD: h11 knows it has no body
            # HTTP/1.1 on a protocol-callback connection (see stress.wire._h1_protocol).
            data = encode_request(req, origin, target)
            loop = asyncio.get_running_loop()
            deadline = loop.time() + timeout  # the budget covers connecting too
            conn = None
            while idle:
                conn = idle.pop()
                if conn.reusable and conn.idle_until > loop.time():
                    break
                conn.close()
                conn = None
            if conn is None:
                try:
                    with anyio.fail_after(timeout):
                        conn = await self._pool.open_fast(origin)
                except TimeoutError:
                    detail = f"no progress within {timeout:g}s"
                    return WireOutcome(req, None, 0, time.monotonic_ns(), False, "connect", detail)
                except WireFailure as exc:
                    now = time.monotonic_ns()
                    return WireOutcome(req, None, 0, now, False, exc.kind, exc.detail)
            conn.deadline, conn.budget = deadline, timeout
            outcome = await exchange(conn, req, data, self._pool.watchdog)
            if conn.reusable:
                idle.append(conn)
            return outcome
        slot = Slot(0, req, origin, target)
        await self._exchange(slot, timeout)
        assert slot.outcome is not None
        return slot.outcome

    def _route(self, url: str) -> _Route:
        """Split ``url``; remember it once its origin's protocol is settled."""
        origin, target = split_url(url)
        settled, idle = self._pool.fast_idle(origin)
        route = (origin, target, idle)
        if settled:
            if len(self._routes) >= _ROUTE_CACHE_SIZE:
                self._routes.clear()
            self._routes[url] = route
        return route

    async def burst(
        self,
        reqs: Sequence[WireRequest],
        *,
        engine: str,
        timeout: float,  # noqa: ASYNC109 (the runner's contract names it)
    ) -> BurstResult:
        """Release ``reqs`` together with ``engine`` (none|barrier|last-byte|single-packet|auto).

        Outcomes come back in request order; ``engine`` in the result is the one actually used.
        """
        if engine not in get_args(Engine):
            raise ValueError(f"engine must be one of {get_args(Engine)}, not {engine!r}")
        if not reqs:
            return BurstResult([], engine, 0, ())
        return await run_burst(
            self._pool,
            reqs,
            engine=engine,
            budget=timeout,
            settle=self.settle,
            exchange=self._exchange,
            collect_after=self.collect_after,
        )

    async def _exchange(self, slot: Slot, budget: float) -> None:
        """One whole request on the origin's protocol; always leaves ``slot.outcome`` set."""
        try:
            with anyio.fail_after(budget):
                if await self._pool.protocol(slot.origin) == "h2":
                    await self._exchange_h2(slot)
                else:
                    await self._exchange_h1(slot)
        except TimeoutError:
            slot.timed_out(budget)
        except WireFailure as exc:
            slot.fail(exc)

    async def _exchange_h1(self, slot: Slot) -> None:
        conn = await self._pool.get_h1(slot.origin)
        try:
            data = encode_request(slot.request, slot.origin, slot.target)
            conn.begin(slot.request, slot.target)
            conn.transport.write(data)
            slot.sent = True
            await conn.transport.flush()
            slot.send_ns = time.monotonic_ns()
            response = await conn.read_response()
        except BaseException:
            conn.close()
            raise
        slot.outcome = WireOutcome(slot.request, response, slot.send_ns, time.monotonic_ns(), True)
        self._pool.put_h1(conn)

    async def _exchange_h2(self, slot: Slot) -> None:
        conn = await self._pool.get_h2(slot.origin)
        stream = None
        try:
            stream = await conn.begin_request(slot.request, slot.target)
            await conn.send_request(stream)
            slot.sent, slot.send_ns = True, stream.send_ns
            response = await conn.wait_response(stream)
        except BaseException:
            slot.sent = slot.sent or (stream is not None and stream.wrote)
            raise
        slot.outcome = WireOutcome(slot.request, response, slot.send_ns, time.monotonic_ns(), True)
