"""The Redis plumbing of one server process: the client, bounded round trips, scripts.

Why this module exists: the rotation strategies should read as rotation, not as Redis client
tuning. Everything about reaching Redis lives here, and with ``autopipeline`` this is the only
code that imports ``redis``:

- **Standalone or Cluster.** ``Settings.redis_cluster`` selects redis-py's cluster client, which
  routes each command to the node that owns its key's slot; every script and batch the server
  sends touches the keys of one slot (one family, or the JWKS index).
- **Bounded round trips.** Each round trip waits for one of ``MAX_REDIS_CONNECTIONS`` slots and
  for its reply within the Redis timeout, one deadline for the whole round trip (cheaper than
  redis-py's deadline on the send and on every read). Connection errors and timeouts become
  ``StoreUnavailable``, which the app answers with 503 and Retry-After.
- **One retry on a dead connection.** After Redis restarts, the pooled connections to the old
  process fail on first use. redis-py retries a command once, on a fresh connection, after a
  connection error (never after a timeout: a slow Redis is not helped by twice the load). That is
  safe because every command the server sends is safe to run twice: reads; the lease try,
  judged by reading the lease back; and scripts that are idempotent by design (a rotation run
  again recognises its own undelivered successor and answers as the first run did, a
  revocation run again finds the family revoked, a publish run again renews the same entry).
- **Auto-pipelining** (``autopipeline``): the commands of concurrent requests share round trips.
- **Scripts by SHA**, loaded again when Redis has forgotten them (a restart, SCRIPT FLUSH).
- **hiredis packing** for the standalone client, as redis-py's synchronous client does.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Awaitable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import hiredis
import redis
import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    ConnectionError,
    NoScriptError,
    RedisClusterException,
    RedisError,
    TryAgainError,
)
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.typing import EncodableT

from .autopipeline import AutoPipeline, Command
from .settings import Settings

__all__ = [
    "MAX_REDIS_CONNECTIONS",
    "RedisLink",
    "RedisProbeError",
    "Script",
    "StoreUnavailable",
    "cluster_enabled",
    "now_ms",
]

# Connections one server process keeps to Redis (per node on a cluster). Round trips beyond it
# wait for a slot (bounded by the Redis timeout, then 503) instead of failing at once as
# redis-py's plain pool does.
MAX_REDIS_CONNECTIONS = 256
_UNAVAILABLE = (
    ConnectionError,
    RedisTimeoutError,
    TimeoutError,
    BusyLoadingError,
    ClusterDownError,
    TryAgainError,
    RedisClusterException,
    OSError,
)
_T = TypeVar("_T")
logger = logging.getLogger("reference_server.redis")


def now_ms() -> int:
    """Wall-clock milliseconds, as stored in Redis (replicas compare them: keep their clocks
    in sync)."""
    return time.time_ns() // 1_000_000


class StoreUnavailable(Exception):
    """Redis could not be reached or did not answer in time (maps to 503)."""


class RedisProbeError(Exception):
    """Redis did not answer the question asked before the server starts."""


def cluster_enabled(url: str, timeout: float) -> bool:
    """True when the Redis at ``url`` is a node of a Redis Cluster (``INFO cluster``)."""
    try:
        with redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout) as r:
            info = r.info("cluster")
    except (RedisError, OSError) as exc:
        raise RedisProbeError(f"{type(exc).__name__}: {exc}") from exc
    return bool(info.get("cluster_enabled"))


@dataclass(frozen=True)
class Script:
    """A Lua script and its SHA-1, the name EVALSHA runs it by."""

    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


class _HiredisPackedConnection(aioredis.Connection):
    """redis-py's asyncio connection, packing commands with hiredis.

    redis-py's synchronous ``Connection`` packs commands with hiredis when it is installed; the
    asyncio one always uses the pure-Python packer, which costs more per argument than the Lua
    script it sends takes to run. The server's arguments are all strings and numbers, which
    hiredis packs as they are; only redis-py's own multi-word command names ("SCRIPT LOAD")
    need splitting first, as its packers do.
    """

    def pack_command(self, *args: EncodableT) -> list[bytes]:
        head = args[0]
        if isinstance(head, str) and " " in head:
            args = (*head.split(), *args[1:])
        # hiredis's stub leaves out bytearray, which no caller here passes.
        return [hiredis.pack_command(args)]  # type: ignore[arg-type]


def _client(settings: Settings) -> aioredis.Redis | RedisCluster:
    """A client that retries once after a connection error and has no per-read timeout."""
    retry = Retry(NoBackoff(), 1, supported_errors=(ConnectionError,))
    if settings.redis_cluster:
        return RedisCluster.from_url(
            settings.redis_url,
            max_connections=MAX_REDIS_CONNECTIONS,
            decode_responses=True,
            socket_connect_timeout=settings.redis_timeout,
            socket_timeout=None,
            retry=retry,
        )
    pool = aioredis.ConnectionPool.from_url(
        settings.redis_url,
        connection_class=_HiredisPackedConnection,
        max_connections=MAX_REDIS_CONNECTIONS,
        decode_responses=True,
        socket_connect_timeout=settings.redis_timeout,
        retry=retry,
        health_check_interval=0,
    )
    return aioredis.Redis(connection_pool=pool)


class RedisLink:
    """One process's connection to Redis (standalone or Cluster).

    Usage::

        link = RedisLink(settings)
        state = await link.call("HGETALL", key)
        reply = await link.run(script, [key], [arg])
        link.post([("SET", key, value, "XX")])   # nobody waits for the reply
        await link.close()
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = _client(settings)
        self._slots = asyncio.Semaphore(MAX_REDIS_CONNECTIONS)
        self._batch = AutoPipeline(self.client, self._round_trip)

    async def _round_trip(self, call: Awaitable[_T]) -> _T:
        """Await one Redis command or pipeline within the Redis timeout, slot wait included.

        A timeout cancels the call, and redis-py then drops the connection (a reply may still
        be in flight on it). Connection errors and timeouts become ``StoreUnavailable``.
        """
        try:
            async with asyncio.timeout(self.settings.redis_timeout):
                async with self._slots:
                    return await call
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc
        except RuntimeError as exc:
            if not _closed_transport(exc):
                raise
            raise StoreUnavailable(f"ConnectionError: {exc}") from exc
        finally:
            if isinstance(call, Coroutine):  # not started if the deadline passed in the slot wait
                call.close()

    async def call(self, *command: EncodableT) -> Any:
        """One command's reply (auto-pipelined); a Redis error reply is raised."""
        return (await self.submit([command]))[0]

    async def submit(self, commands: Sequence[Command]) -> list[Any]:
        """Replies to ``commands``, sent back to back on one connection (auto-pipelined).

        A Redis error reply is raised; a connection error that a cluster pipeline reports for
        one command rather than for the round trip becomes ``StoreUnavailable`` as well.
        """
        try:
            return await self._batch.submit(commands)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def post(self, commands: Sequence[Command]) -> None:
        """Send ``commands`` with the next batch; nobody waits for them (a failure is logged)."""
        self._batch.post(commands, _log_posted_failure)

    async def run(self, script: Script, keys: Sequence[str], args: Sequence[EncodableT]) -> Any:
        """Run ``script`` by its SHA, loading it first if Redis has forgotten it."""
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return await self.call(*command)
        except NoScriptError:  # Redis restarted or its script cache was flushed
            await self._round_trip(self.client.script_load(script.source))
            return await self.call(*command)

    async def ping(self) -> bool:
        """True when Redis answers."""
        return bool(await self._round_trip(self.client.ping()))

    async def close(self) -> None:
        """Close every connection."""
        await self.client.aclose()
        if isinstance(self.client, aioredis.Redis):  # it does not own a pool it was given
            await self.client.connection_pool.disconnect()


def _closed_transport(exc: RuntimeError) -> bool:
    """uvloop raises RuntimeError, not a connection error, when redis-py writes to a
    connection that Redis closed in the meantime (it crashed)."""
    return "handler is closed" in str(exc)


def _log_posted_failure(exc: BaseException) -> None:
    logger.warning("a command nobody waited for failed", extra={"error": f"{exc!r}"})
