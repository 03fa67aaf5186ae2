"""Auto-pipelining: the Redis commands that concurrent requests issue in one event-loop turn
travel together in one round trip.

Why this module exists: redis-py's asyncio client takes a pooled connection, writes, waits and
parses for every command, and on this server that client-side work costs more than the Lua
script the command carries. Under load many requests reach Redis in the same event-loop turn, so
their commands are queued and sent at the end of the turn as one batch, which pays that work
once: on a standalone Redis every command is written on one pooled connection and every reply
read back, which is what a redis-py pipeline does, without the pipeline's bookkeeping and
response callbacks per command (a quarter of a command's cost; replies come as Redis sent
them); on a Redis Cluster a redis-py cluster pipeline sends each command to its slot's node.
The batch is not a transaction: each queued command is atomic on its own in Redis (a Lua
script runs whole), one caller's commands are sent back to back in the order given, and each
caller gets exactly its own replies or error. Two callers' commands may travel in two round
trips at once (one sent alone, the next batched), so no order between callers is promised.
ioredis calls this auto-pipelining; redis-py's asyncio client does not have it. When nothing
else is in flight a request sends its commands at once, itself, so a lone request pays nothing
for the batching.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError
from redis.typing import EncodableT

__all__ = ["AutoPipeline", "Command", "OnFailure", "Sender"]

Command = Sequence[EncodableT]
# Awaits one round trip (the link's bounded ``_round_trip``).
Sender = Callable[[Coroutine[Any, Any, list[Any]]], Awaitable[list[Any]]]
# Told about the failure of commands that were posted (sent with nobody waiting for them).
OnFailure = Callable[[BaseException], None]


Entry = tuple[Sequence[Command], "asyncio.Future[list[Any]] | None"]
# How long a posted command may wait for a batch to ride along with before it goes alone.
POST_DELAY_S = 0.02


class AutoPipeline:
    """Batches commands per event-loop turn and sends each batch in one round trip.

    A request that finds nothing in flight sends its commands itself, at once. Otherwise its
    commands wait for the end of the turn, and the batch is sent by a task of its own, so a
    caller that gives up (a timeout, a client that disconnects) never takes the other callers'
    replies with it. ``send`` awaits one batch's round trip: the link passes its bounded round
    trip (connection slot, deadline, error translation), so a batch fails or times out as one
    round trip would, and every caller in it receives that error.

    Commands that are *posted* (nobody waits for their replies) ride along with the next batch
    that goes anyway, or go by themselves after ``POST_DELAY_S``: they cost no round trip of
    their own while there is traffic.
    """

    def __init__(self, client: aioredis.Redis | RedisCluster, send: Sender) -> None:
        self._client = client
        self._send = send
        self._queued: list[Entry] = []
        self._posted: list[Entry] = []
        self._posted_timer: asyncio.TimerHandle | None = None
        self._batches: set[asyncio.Task[None]] = set()
        self._alone = 0  # round trips sent by their callers directly, still in flight

    async def call(self, *command: EncodableT) -> Any:
        """One command's reply; a Redis error reply is raised."""
        return (await self.submit([command]))[0]

    async def submit(self, commands: Sequence[Command]) -> list[Any]:
        """Replies to ``commands`` (sent back to back, in order); the first error is raised."""
        if not self._queued and not self._batches and not self._alone:
            return await self._send_alone(commands)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        if not self._queued:
            loop.call_soon(self._flush)
        self._queued.append((commands, future))
        return await future

    def post(self, commands: Sequence[Command], on_failure: OnFailure) -> None:
        """Send ``commands`` with the next batch without waiting for their replies; an error
        (a failed round trip or an error reply) goes to ``on_failure``."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[list[Any]] = loop.create_future()
        future.add_done_callback(lambda done: _report(done, on_failure))
        self._posted.append((commands, future))
        if self._posted_timer is None:
            self._posted_timer = loop.call_later(POST_DELAY_S, self._flush)

    def _take_posted(self) -> list[Entry]:
        posted, self._posted = self._posted, []
        if self._posted_timer is not None:
            self._posted_timer.cancel()
            self._posted_timer = None
        return posted

    async def _send_alone(self, commands: Sequence[Command]) -> list[Any]:
        """Nothing is in flight: send at once from the caller's own task (no queue, no extra
        task), with whatever was posted. Callers that come meanwhile are queued and batched."""
        posted = self._take_posted()  # issued earlier: sent first
        batch: list[Entry] = [*posted, (commands, None)]
        self._alone += 1
        try:
            replies = await self._send(self._request(batch))
        except Exception as exc:
            _fail(posted, exc)
            raise
        finally:
            self._alone -= 1
        _distribute(posted, replies[: len(replies) - len(commands)])
        theirs = replies[len(replies) - len(commands) :]
        error = next((reply for reply in theirs if isinstance(reply, Exception)), None)
        if error is not None:
            raise error
        return theirs

    def _flush(self) -> None:
        batch = [*self._queued, *self._take_posted()]
        self._queued = []
        if not batch:  # the timer of posts that went with a batch meanwhile
            return
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._batches.add(task)  # the loop keeps only weak references to tasks
        task.add_done_callback(self._batches.discard)

    async def _run(self, batch: list[Entry]) -> None:
        try:
            replies = await self._send(self._request(batch))
        except Exception as exc:
            _fail(batch, exc)
            return
        except BaseException:  # cancelled (shutdown): so are the callers
            for _, future in batch:
                if future is not None:
                    future.cancel()
            raise
        _distribute(batch, replies)

    async def _request(self, batch: list[Entry]) -> list[Any]:
        """The replies to every command of ``batch``, as Redis sent them (no redis-py response
        callbacks); Redis error replies in place."""
        commands = [command for commands, _ in batch for command in commands]
        if isinstance(self._client, RedisCluster):
            return await self._cluster_request(self._client, commands)
        pool = self._client.connection_pool
        connection = await pool.get_connection()  # type: ignore[no-untyped-call]
        try:
            replies: list[Any] = await connection.retry.call_with_retry(
                lambda: _exchange(connection, commands), lambda _: connection.disconnect()
            )
            return replies
        finally:
            await pool.release(connection)

    @staticmethod
    async def _cluster_request(client: RedisCluster, commands: list[Command]) -> list[Any]:
        """On a cluster, a redis-py cluster pipeline sends each command to its slot's node."""
        if len(commands) == 1:
            try:
                return [await client.execute_command(*commands[0])]
            except ResponseError as exc:
                return [exc]
        pipe = client.pipeline(transaction=False)
        for command in commands:
            pipe.execute_command(*command)
        replies: list[Any] = await pipe.execute(raise_on_error=False)
        return replies


async def _exchange(connection: aioredis.Connection, commands: list[Command]) -> list[Any]:
    """Write every command, then read every reply, on one connection: what a redis-py pipeline
    does for a standalone Redis, without its bookkeeping per command. A failure mid-read
    leaves redis-py to drop the connection, so no stale reply reaches the next batch."""
    await connection.send_packed_command(connection.pack_commands(commands), check_health=False)
    replies: list[Any] = []
    for _ in commands:
        try:
            replies.append(await connection.read_response())
        except ResponseError as exc:  # read whole: the connection stays in step
            replies.append(exc)
    return replies


def _distribute(batch: list[Entry], replies: list[Any]) -> None:
    """Give each caller of ``batch`` its own replies, or its first error reply."""
    start = 0
    for commands, future in batch:
        theirs = replies[start : start + len(commands)]
        start += len(commands)
        if future is None or future.done():  # the caller gave up
            continue
        error = next((reply for reply in theirs if isinstance(reply, Exception)), None)
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(theirs)


def _fail(batch: list[Entry], exc: Exception) -> None:
    for _, future in batch:
        if future is not None and not future.done():
            future.set_exception(exc)


def _report(done: asyncio.Future[list[Any]], on_failure: OnFailure) -> None:
    if not done.cancelled() and (error := done.exception()) is not None:
        on_failure(error)
