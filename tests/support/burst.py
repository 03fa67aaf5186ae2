"""Last-byte synchronised HTTP/1.1 bursts over raw keep-alive sockets, parsed with h11.

Why this module exists: httpx requests issued "at once" spread over milliseconds, which is too
loose to hit a read-to-write race reliably. Here every request is written except its final byte,
then all final bytes go out in one tight loop, so the server completes every request within
microseconds of the others (its ``X-Arrival-Ns`` headers measure the spread).

Usage::

    with BurstClient([("127.0.0.1", 8000)], size=8) as client:
        replies = client.burst([form_post("/oauth/token", {...})] * 8)
"""

from __future__ import annotations

import json
import selectors
import socket
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

import h11

__all__ = ["BurstClient", "RawRequest", "RawResponse", "form_post"]


@dataclass(frozen=True)
class RawRequest:
    """One HTTP/1.1 request: method, path, headers and body."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass
class RawResponse:
    """A parsed response."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


def form_post(
    path: str, fields: Mapping[str, str], headers: Mapping[str, str] | None = None
) -> RawRequest:
    """An ``application/x-www-form-urlencoded`` POST."""
    body = urlencode(dict(fields)).encode()
    all_headers = {"content-type": "application/x-www-form-urlencoded", **(headers or {})}
    return RawRequest("POST", path, tuple(all_headers.items()), body)


class _Conn:
    def __init__(self, address: tuple[str, int]) -> None:
        self.address = address
        self.sock = socket.create_connection(address, timeout=5.0)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.h11 = h11.Connection(our_role=h11.CLIENT)

    def encode(self, req: RawRequest) -> bytes:
        host = f"{self.address[0]}:{self.address[1]}"
        headers = [("host", host), ("content-length", str(len(req.body))), *req.headers]
        data = self.h11.send(h11.Request(method=req.method, target=req.path, headers=headers))
        data = (data or b"") + (self.h11.send(h11.Data(data=req.body)) or b"")
        return data + (self.h11.send(h11.EndOfMessage()) or b"")

    def close(self) -> None:
        self.sock.close()


class BurstClient:
    """``size`` keep-alive connections spread round-robin over ``addresses``."""

    def __init__(self, addresses: Sequence[tuple[str, int]], size: int) -> None:
        self.addresses = list(addresses)
        self.size = size
        self._conns: list[_Conn | None] = [None] * size

    def _conn(self, index: int) -> _Conn:
        conn = self._conns[index]
        if conn is None:
            conn = _Conn(self.addresses[index % len(self.addresses)])
            self._conns[index] = conn
        return conn

    def burst(self, requests: Sequence[RawRequest], timeout: float = 10.0) -> list[RawResponse]:
        """Send ``requests[i]`` on connection ``i``, last bytes together; return responses."""
        if len(requests) > self.size:
            raise ValueError("more requests than connections")
        conns = [self._conn(i) for i in range(len(requests))]
        payloads = [conn.encode(req) for conn, req in zip(conns, requests, strict=True)]
        for conn, payload in zip(conns, payloads, strict=True):
            conn.sock.sendall(payload[:-1])
        time.sleep(0.005)  # let every prefix reach the server before the trigger
        for conn, payload in zip(conns, payloads, strict=True):
            conn.sock.send(payload[-1:])
        return self._collect(conns, timeout)

    def _collect(self, conns: list[_Conn], timeout: float) -> list[RawResponse]:
        results: list[RawResponse | None] = [None] * len(conns)
        partial: dict[int, RawResponse] = {}
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            for i, conn in enumerate(conns):
                conn.sock.setblocking(False)
                sel.register(conn.sock, selectors.EVENT_READ, i)
            pending = len(conns)
            while pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"{pending} responses missing after {timeout}s")
                for key, _ in sel.select(remaining):
                    i = key.data
                    conn = conns[i]
                    data = conn.sock.recv(65536)
                    conn.h11.receive_data(data)
                    if self._drain(conn, i, partial, results):
                        sel.unregister(conn.sock)
                        pending -= 1
        for i, conn in enumerate(conns):
            conn.sock.setblocking(True)
            if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
                conn.h11.start_next_cycle()
            else:
                conn.close()
                self._conns[i] = None
        return [r for r in results if r is not None]

    @staticmethod
    def _drain(
        conn: _Conn, i: int, partial: dict[int, RawResponse], results: list[RawResponse | None]
    ) -> bool:
        while True:
            event = conn.h11.next_event()
            if event is h11.NEED_DATA:
                return False
            if isinstance(event, h11.Response):
                headers = {k.decode(): v.decode() for k, v in event.headers}
                partial[i] = RawResponse(event.status_code, headers, b"")
            elif isinstance(event, h11.Data):
                partial[i].body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                results[i] = partial.pop(i)
                return True
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("server closed the connection mid-response")

    def close(self) -> None:
        """Close every connection."""
        for conn in self._conns:
            if conn is not None:
                conn.close()
        self._conns = [None] * self.size

    def __enter__(self) -> BurstClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
