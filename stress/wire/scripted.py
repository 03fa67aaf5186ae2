"""A wire client that answers from a function instead of the network, for in-process tests.

In the spirit of httpx's ``MockTransport``: the runner and every client profile can be tested
without sockets or servers, on exactly the outcomes the real client produces. The handler gets
each request and returns a :class:`WireResponse`, or raises :class:`ScriptedError` to play a
network failure: ``sent=False`` for one where the server certainly saw nothing (a refused
connection), ``sent=True`` for one after the request went out (a reset, a lost response).
Every request plays a connection of its own, accepted unless it was refused that way.
A handler that outlives the timeout is a timeout, as on the wire. Usage::

    async def handler(request: WireRequest) -> WireResponse:
        return WireResponse(200, (("content-type", "application/json"),), b"{}", "1.1")

    client = ScriptedWire(handler)
    outcome = await client.request(WireRequest("GET", "http://127.0.0.1:1/"), timeout=1)
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence

import anyio

from stress.wire._models import (
    BurstResult,
    ErrorClass,
    Origin,
    WireOutcome,
    WireRequest,
    WireResponse,
    split_url,
)

__all__ = ["Handler", "ScriptedError", "ScriptedWire"]

Handler = Callable[[WireRequest], Awaitable[WireResponse]]


class ScriptedError(Exception):
    """Raised by a handler to play a network failure of class ``error``."""

    def __init__(self, error: ErrorClass, *, sent: bool) -> None:
        super().__init__(error)
        self.error: ErrorClass = error
        self.sent = sent


class ScriptedWire:
    """Answers requests and bursts from ``handler``; a burst's requests run concurrently."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.requests: list[WireRequest] = []
        self._connected: dict[Origin, int] = {}

    def last_connected(self, url: str) -> int | None:
        """When the latest request to the origin of ``url`` that was not refused began."""
        return self._connected.get(split_url(url)[0])

    async def request(self, req: WireRequest, *, timeout: float) -> WireOutcome:  # noqa: ASYNC109
        """One request through the handler, classified as the real client classifies it."""
        self.requests.append(req)
        send_ns = time.monotonic_ns()
        where = split_url(req.url)[0]
        try:
            with anyio.fail_after(timeout):
                answer = await self._handler(req)
        except TimeoutError:
            self._connected[where] = send_ns
            return WireOutcome(req, None, send_ns, time.monotonic_ns(), True, "timeout")
        except ScriptedError as exc:
            if not exc.sent:
                return WireOutcome(req, None, 0, time.monotonic_ns(), False, exc.error)
            self._connected[where] = send_ns
            return WireOutcome(req, None, send_ns, time.monotonic_ns(), True, exc.error)
        self._connected[where] = send_ns
        return WireOutcome(req, answer, send_ns, time.monotonic_ns(), True)

    async def burst(
        self,
        reqs: Sequence[WireRequest],
        *,
        engine: str,
        timeout: float,  # noqa: ASYNC109 (the runner's contract names it)
    ) -> BurstResult:
        """Every request at once in a task group; the engine asked for is reported as used."""
        outcomes: list[WireOutcome | None] = [None] * len(reqs)

        async def one(i: int) -> None:
            outcomes[i] = await self.request(reqs[i], timeout=timeout)

        async with anyio.create_task_group() as tg:
            for i in range(len(reqs)):
                tg.start_soon(one, i)
        done = [o for o in outcomes if o is not None]
        sends = [o.send_ns for o in done if o.sent]
        spread = max(sends) - min(sends) if sends else 0
        return BurstResult(done, "none" if engine == "auto" else engine, spread)
