"""A minimal pipelined RESP2 client for the token store.

Why this module exists: redis-py spent about 120 us of Python per command here (connection
pool checkout, retry wrapper, per-argument encoders, timeout context managers, a layered
parser), several times the cost of the Lua script a refresh runs. The store needs only plain
commands, pipelines and EVALSHA, so this client does just that: one connection per process on
asyncio protocol callbacks, replies matched to callers in order (Redis answers in order on a
connection), so concurrent requests share the socket without a pool, and commands queued in
one loop iteration leave in one write. A pipeline's commands are contiguous on the wire, so
MULTI ... EXEC in one pipeline is a transaction.

Failure model, the same as the redis-py client it replaced: no retries (a refresh is not
idempotent). A reply that takes longer than ``timeout`` fails its caller with ``TimeoutError``
and aborts the connection, because what the server did with the in-flight commands is unknown;
every other caller waiting on that connection gets ``ConnectionError``; the next command
connects again. Both are ``OSError``, which the store turns into 503. Redis error replies raise
``RespError`` (``LOADING`` raises ``RespUnavailable``, a ``ConnectionError``). A ``NOSCRIPT``
reply (a restarted Redis) is answered by sending the script itself with ``EVAL``, which is safe:
the script did not run.

URLs: ``redis://[[user]:password@]host[:port][/db]``, ``rediss://`` (TLS with the default
context) and ``unix://path[?db=N]``.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections import deque
from collections.abc import Sequence
from typing import cast
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = ["Reply", "RespClient", "RespError", "RespUnavailable", "Script"]

Reply = str | int | None | list["Reply"] | Exception
Arg = str | int


class RespError(Exception):
    """Redis answered a command with an error reply."""


class RespUnavailable(ConnectionError):
    """Redis answered but cannot serve yet (``LOADING``); treated like an outage."""


class _Incomplete(Exception):
    """The buffer does not hold a whole reply yet."""


class Script:
    """A Lua script and its SHA-1, for EVALSHA with an EVAL fallback."""

    __slots__ = ("sha", "source")

    def __init__(self, source: str) -> None:
        self.source = source
        self.sha = hashlib.sha1(source.encode()).hexdigest()


def encode_command(args: Sequence[Arg]) -> bytes:
    """One command as a RESP array of bulk strings (built as text, encoded once)."""
    pieces = [f"*{len(args)}\r\n"]
    for arg in args:
        text = str(arg)
        size = len(text) if text.isascii() else len(text.encode())
        pieces.append(f"${size}\r\n{text}\r\n")
    return "".join(pieces).encode()


def _parse(buf: bytearray, pos: int) -> tuple[Reply, int]:
    """One reply starting at ``pos``: (value, position after it); raises ``_Incomplete``."""
    end = buf.find(b"\r\n", pos)
    if end < 0:
        raise _Incomplete
    kind = buf[pos]
    line = buf[pos + 1 : end]
    pos = end + 2
    if kind == 36:  # $ bulk string
        size = int(line)
        if size < 0:
            return None, pos
        stop = pos + size
        if stop + 2 > len(buf):
            raise _Incomplete
        return buf[pos:stop].decode(), stop + 2
    if kind == 42:  # * array
        count = int(line)
        if count < 0:
            return None, pos
        items: list[Reply] = []
        for _ in range(count):
            item, pos = _parse(buf, pos)
            items.append(item)
        return items, pos
    if kind == 58:  # : integer
        return int(line), pos
    if kind == 43:  # + simple string
        return line.decode(), pos
    if kind == 45:  # - error
        text = line.decode()
        error = RespUnavailable(text) if text.startswith("LOADING") else RespError(text)
        return error, pos
    raise ConnectionError(f"unexpected RESP type byte {kind!r}")


class _Pending:
    """A caller waiting for ``count`` replies."""

    __slots__ = ("count", "future", "replies")

    def __init__(self, future: asyncio.Future[list[Reply]], count: int) -> None:
        self.future = future
        self.count = count
        self.replies: list[Reply] = []


class _Protocol(asyncio.Protocol):
    """One Redis connection: writes commands, hands replies to waiters in order."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.pending: deque[_Pending] = deque()
        self.buffer = bytearray()
        self.outbox: list[bytes] = []
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def connection_lost(self, exc: Exception | None) -> None:
        self.fail(ConnectionError(f"Redis connection lost: {exc or 'closed by server'}"))

    def fail(self, exc: Exception) -> None:
        """Close the connection and fail every waiter with ``exc``."""
        self.closed = True
        self.outbox.clear()
        if self.transport is not None:
            self.transport.abort()
        while self.pending:
            waiter = self.pending.popleft()
            if not waiter.future.done():
                waiter.future.set_exception(exc)

    def data_received(self, data: bytes) -> None:
        buf = self.buffer
        buf += data
        pos = 0
        try:
            while pos < len(buf) and self.pending:
                reply, pos_after = _parse(buf, pos)
                pos = pos_after
                waiter = self.pending[0]
                waiter.replies.append(reply)
                if len(waiter.replies) == waiter.count:
                    self.pending.popleft()
                    if not waiter.future.done():  # a cancelled caller still consumes its replies
                        waiter.future.set_result(waiter.replies)
        except _Incomplete:
            pass
        except (ValueError, ConnectionError) as exc:
            self.fail(ConnectionError(f"malformed Redis reply: {exc}"))
            return
        if pos:
            del buf[:pos]
        if buf and not self.pending:
            self.fail(ConnectionError("Redis sent a reply nobody asked for"))

    def send(self, payload: bytes, count: int) -> asyncio.Future[list[Reply]]:
        """Write ``payload`` now on an idle connection; otherwise queue it, and everything
        queued in one loop iteration goes out in one write.

        A socket write costs about as much as the rest of a round trip's Python, and under
        load several requests reach Redis in the same iteration; an idle connection (nothing
        in flight) writes at once, so a lone request does not wait for the next iteration.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Reply]] = loop.create_future()
        idle = not self.pending
        self.pending.append(_Pending(future, count))
        if self.outbox:
            self.outbox.append(payload)
        elif idle and self.transport is not None:
            self.transport.write(payload)
        else:
            self.outbox.append(payload)
            loop.call_soon(self._flush)
        return future

    def _flush(self) -> None:
        if self.outbox and self.transport is not None and not self.closed:
            self.transport.write(b"".join(self.outbox))
        self.outbox.clear()


class RespClient:
    """Pipelined RESP2 commands on one lazily (re)connected connection."""

    def __init__(self, url: str, timeout: float) -> None:
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        self._timeout = timeout
        self._unix = parts.path if parts.scheme == "unix" else ""
        self._host = parts.hostname or "127.0.0.1"
        self._port = parts.port or 6379
        self._ssl = ssl.create_default_context() if parts.scheme == "rediss" else None
        if parts.scheme not in ("redis", "rediss", "unix"):
            raise ValueError(f"unsupported Redis URL scheme {parts.scheme!r}")
        db = query.get("db", [""])[0] or ("" if self._unix else parts.path.lstrip("/"))
        self._setup: list[list[Arg]] = []
        if parts.password is not None:
            password = unquote(parts.password)
            user = unquote(parts.username) if parts.username else ""
            self._setup.append(["AUTH", user, password] if user else ["AUTH", password])
        if db and db != "0":
            self._setup.append(["SELECT", db])
        self._proto: _Protocol | None = None
        self._connect_lock = asyncio.Lock()

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        if self._unix:
            connecting = loop.create_unix_connection(_Protocol, self._unix)
        else:
            connecting = loop.create_connection(_Protocol, self._host, self._port, ssl=self._ssl)
        _, proto = await asyncio.wait_for(connecting, self._timeout)
        if self._setup:
            payload = b"".join(encode_command(cmd) for cmd in self._setup)
            replies = await self._wait(proto, proto.send(payload, len(self._setup)))
            for reply in replies:
                if isinstance(reply, Exception):
                    proto.fail(ConnectionError("Redis connection set-up failed"))
                    raise reply
        return proto

    async def _protocol(self) -> _Protocol:
        proto = self._proto
        if proto is not None and not proto.closed:
            return proto
        async with self._connect_lock:
            if self._proto is None or self._proto.closed:
                self._proto = await self._connect()
            return self._proto

    async def _wait(self, proto: _Protocol, future: asyncio.Future[list[Reply]]) -> list[Reply]:
        def expire() -> None:
            if not future.done():
                future.set_exception(TimeoutError(f"no Redis reply within {self._timeout} s"))
                proto.fail(ConnectionError("Redis connection aborted after a timeout"))

        timer = asyncio.get_running_loop().call_later(self._timeout, expire)
        try:
            return await future
        finally:
            timer.cancel()

    async def pipeline(self, commands: Sequence[Sequence[Arg]]) -> list[Reply]:
        """Send ``commands`` in one write; their replies, error replies as exception objects."""
        proto = await self._protocol()
        payload = b"".join(encode_command(cmd) for cmd in commands)
        return await self._wait(proto, proto.send(payload, len(commands)))

    async def execute(self, *command: Arg) -> Reply:
        """One command; raises ``RespError`` for an error reply."""
        (reply,) = await self.pipeline([command])
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def evalsha(self, script: Script, keys: Sequence[Arg], args: Sequence[Arg]) -> Reply:
        """Run ``script`` by SHA; if Redis lost it (NOSCRIPT), send the source once."""
        tail = [len(keys), *keys, *args]
        (reply,) = await self.pipeline([["EVALSHA", script.sha, *tail]])
        if isinstance(reply, RespError) and str(reply).startswith("NOSCRIPT"):
            (reply,) = await self.pipeline([["EVAL", script.source, *tail]])
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def close(self) -> None:
        """Close the connection (callers still waiting get ``ConnectionError``)."""
        if self._proto is not None:
            self._proto.fail(ConnectionError("Redis client closed"))
            self._proto = None
