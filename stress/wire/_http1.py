"""HTTP/1.1 over one :class:`Transport`: hand-written request bytes, responses parsed by h11.

Requests are formatted directly (request line, Host, caller headers, Content-Length, body):
it is several times cheaper than h11's serializer and lets the last-byte engine split the
exact bytes it will send. h11 is still told about each request (method, target, Host and any
``Connection`` header), because its state machine needs them to frame the response strictly:
chunked or Content-Length bodies, HEAD, ``Connection: close`` and keep-alive reuse.
"""

from __future__ import annotations

import math
import re
import time

import h11

from stress.wire._keep_alive import idle_limit
from stress.wire._models import Origin, WireRequest, WireResponse
from stress.wire._transport import Transport, WireFailure

__all__ = ["H1Connection", "encode_request"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_FORBIDDEN = re.compile("[\r\n\0]")


def encode_request(req: WireRequest, origin: Origin, target: str) -> bytes:
    """The exact HTTP/1.1 bytes of ``req``: Host first, Content-Length added when needed."""
    method = req.method.upper()
    host = framed = False
    parts = [method, " ", target, " HTTP/1.1\r\n"]
    for name, value in req.headers:
        if not name or _FORBIDDEN.search(name) or _FORBIDDEN.search(value):
            raise ValueError(f"invalid header {name!r}")
        lower = name.lower()
        if lower == "host":
            host = True
        elif lower == "content-length" or lower == "transfer-encoding":
            framed = True
        parts += (name, ": ", value, "\r\n")
    if not host:
        parts[4:4] = ("Host: ", origin.authority, "\r\n")
    if not framed and (req.body or method in _BODY_METHODS):
        parts += ("Content-Length: ", str(len(req.body)), "\r\n")
    parts.append("\r\n")
    head = "".join(parts).encode("latin-1")
    return head + req.body if req.body else head


class H1Connection:
    """One keep-alive HTTP/1.1 connection: one request at a time, reused while h11 allows it."""

    http_version = "HTTP/1.1"

    def __init__(self, transport: Transport, origin: Origin) -> None:
        self.transport = transport
        self.origin = origin
        self._h11 = h11.Connection(h11.CLIENT)
        self.requests_completed = 0
        self._idle_until = math.inf  # monotonic time after which the server may close it

    def begin(self, req: WireRequest, target: str) -> None:
        """Tell h11 a request is on its way (its body is ours to send, not h11's)."""
        headers = [("host", self.origin.authority)]
        headers += [(k, v) for k, v in req.headers if k.lower() == "connection"]
        try:
            self._h11.send(h11.Request(method=req.method.upper(), target=target, headers=headers))
            self._h11.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:
            raise ValueError(f"cannot send this request: {exc}") from exc

    async def read_response(self) -> WireResponse:
        """Read one complete response; raises :class:`WireFailure` on EOF or a protocol error."""
        status = 0
        headers: list[tuple[str, str]] = []
        body = bytearray()
        eof = False
        while True:
            try:
                event = self._h11.next_event()
            except h11.RemoteProtocolError as exc:
                self.transport.close()
                if eof:
                    raise WireFailure("reset", "connection closed mid-response") from exc
                raise WireFailure("protocol", str(exc)) from exc
            if event is h11.NEED_DATA:
                data = await self.transport.receive()
                eof = not data
                self._h11.receive_data(data)
            elif isinstance(event, h11.Response):
                status = event.status_code
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers]
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                self.transport.close()
                raise WireFailure("reset", "connection closed before a response")
            # InformationalResponse (1xx) is skipped: the final response follows it.
        self.requests_completed += 1
        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            self._keep_alive_hint(headers)
        else:
            self.transport.close()
        return WireResponse(status, tuple(headers), bytes(body), self.http_version)

    def _keep_alive_hint(self, headers: list[tuple[str, str]]) -> None:
        for name, value in headers:
            if name == "keep-alive":  # h11 gives names in lower case
                limit = idle_limit(value)
                if limit is not None:
                    self._idle_until = time.monotonic() + limit
                return

    def is_reusable(self) -> bool:
        """True when the next request may go on this connection: h11 allows it, the server
        has not closed it, and it has not been idle for as long as the server's Keep-Alive
        timeout allows (see :mod:`stress.wire._keep_alive`)."""
        return (
            self._h11.our_state is h11.IDLE
            and time.monotonic() < self._idle_until
            and self.transport.is_reusable()
        )

    def close(self) -> None:
        """Close the underlying socket."""
        self.transport.close()
