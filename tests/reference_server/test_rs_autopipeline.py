"""Auto-pipelining against a real Redis: batching, per-caller replies and errors, give-ups,
failed round trips, and scripts that Redis has forgotten."""

from __future__ import annotations

import asyncio
import gc
import secrets
import warnings
from collections.abc import AsyncIterator, Coroutine
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError, ResponseError

from reference_server.autopipeline import AutoPipeline
from reference_server.redis_link import RedisLink, StoreUnavailable
from reference_server.settings import Settings, Strategy
from reference_server.strategies import create_store
from reference_server.tokens import token_hash

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Counting:
    """The round trip the store would pass, counting how many batches went out."""

    def __init__(self) -> None:
        self.batches = 0

    async def __call__(self, call: Coroutine[Any, Any, Any]) -> Any:
        self.batches += 1
        return await call


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    redis = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield redis
    await redis.aclose()


def _key() -> str:
    return f"test:autopipeline:{secrets.token_hex(8)}"


async def test_concurrent_calls_share_one_round_trip(client: aioredis.Redis) -> None:
    send = Counting()
    batch = AutoPipeline(client, send)
    keys = [_key() for _ in range(20)]
    replies = await asyncio.gather(*(batch.call("INCRBY", key, i) for i, key in enumerate(keys)))
    assert replies == list(range(20))
    # The first finds nothing in flight and goes at once; the 19 others wait for it together.
    assert send.batches == 2
    assert await batch.call("GET", keys[7]) == "7"
    assert send.batches == 3
    await client.delete(*keys)


async def test_grouped_commands_come_back_in_order(client: aioredis.Redis) -> None:
    # Two callers' groups may travel in two concurrent round trips (the first goes alone, the
    # second in a batch), so only each group's own order is promised, not the order between them.
    batch = AutoPipeline(client, Counting())
    one, other = _key(), _key()
    first, second = await asyncio.gather(
        batch.submit([("SET", one, "a"), ("GET", one), ("DEL", one)]),
        batch.submit(
            [("APPEND", other, "b"), ("APPEND", other, "c"), ("GET", other), ("DEL", other)]
        ),
    )
    assert first == ["OK", "a", 1]  # replies as Redis sent them
    assert second == [1, 2, "bc", 1]


async def test_an_error_reply_reaches_only_its_caller(client: aioredis.Redis) -> None:
    send = Counting()
    batch = AutoPipeline(client, send)
    first, wrong, right = _key(), _key(), _key()
    await client.hset(wrong, "field", "value")
    results = await asyncio.gather(
        batch.call("INCR", first),  # goes alone; the two others share the next round trip
        batch.call("INCR", wrong),
        batch.call("INCR", right),
        return_exceptions=True,
    )
    assert send.batches == 2
    assert results[0] == 1
    assert isinstance(results[1], ResponseError)
    assert "WRONGTYPE" in str(results[1])
    assert results[2] == 1
    await client.delete(first, wrong, right)


async def test_a_caller_that_gives_up_leaves_the_others_their_replies(
    client: aioredis.Redis,
) -> None:
    batch = AutoPipeline(client, Counting())
    keys = [_key() for _ in range(3)]
    tasks = [asyncio.create_task(batch.call("INCR", key)) for key in keys]
    await asyncio.sleep(0)  # all three are queued, the batch is not sent yet
    tasks[1].cancel()
    assert await tasks[0] == 1
    assert await tasks[2] == 1
    assert tasks[1].cancelled()
    # Already queued when its caller left, the command still ran: like a request whose
    # client hangs up after sending it.
    assert await client.get(keys[1]) == "1"
    await client.delete(*keys)


async def test_a_failed_round_trip_fails_every_caller(free_tcp_port: int) -> None:
    dead = aioredis.Redis(host="127.0.0.1", port=free_tcp_port, socket_connect_timeout=1)
    batch = AutoPipeline(dead, Counting())
    results = await asyncio.gather(
        batch.call("GET", "a"), batch.call("GET", "b"), return_exceptions=True
    )
    assert all(isinstance(result, ConnectionError) for result in results), results
    await dead.aclose()


async def test_scripts_forgotten_by_redis_are_loaded_again(redis_url: str) -> None:
    """The refresh script runs after Redis forgot every script (as after a restart), and the
    delivery mark that nobody waits for lands after it."""
    settings = Settings(redis_url=redis_url, strategy=Strategy.ATOMIC, grace=5)
    link = RedisLink(settings)
    store = create_store(settings, link)
    try:
        family, token = await store.create_family(subject="u", client_id="c", scope="api")
        for _ in range(2):
            await link.client.script_flush()
            result = await store.refresh(family, token, "c", 0)
            assert result.outcome.value == "rotated"
            stored_key = "{fam:" + family + "}:succ:" + token_hash(token)
            for _ in range(100):  # the mark is posted: it lands a round trip or two later
                if (await link.client.get(stored_key) or "").startswith("d"):
                    break
                await asyncio.sleep(0.01)
            assert (await link.client.get(stored_key)).startswith("d"), "never marked delivered"
            token = result.successor
    finally:
        await link.close()


async def test_posted_commands_ride_with_the_next_batch_and_report_failures(
    client: aioredis.Redis,
) -> None:
    send = Counting()
    batch = AutoPipeline(client, send)
    ok, wrong, alone = _key(), _key(), _key()
    await client.hset(wrong, "field", "value")
    failures: list[BaseException] = []
    batch.post([("SET", ok, "1")], failures.append)
    batch.post([("INCR", wrong)], failures.append)
    assert await batch.call("GET", ok) == "1"  # issued after the posts, sent after them
    assert send.batches == 1  # in the same round trip
    await asyncio.sleep(0)  # failures are reported by callbacks
    assert [type(failure) for failure in failures] == [ResponseError]
    batch.post([("SET", alone, "2")], failures.append)  # no traffic: it goes after a while
    for _ in range(50):
        if await client.get(alone) == "2":
            break
        await asyncio.sleep(0.01)
    assert await client.get(alone) == "2"
    assert send.batches == 2
    await client.delete(ok, wrong, alone)


async def test_no_free_connection_slot_within_the_timeout_is_unavailable(redis_url: str) -> None:
    link = RedisLink(Settings(redis_url=redis_url, strategy=Strategy.ATOMIC, redis_timeout=0.05))
    link._slots = asyncio.Semaphore(0)  # every connection busy
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with pytest.raises(StoreUnavailable, match="TimeoutError"):
                await link.ping()
            gc.collect()
        # The command that never got a slot is closed, not left to warn "never awaited".
        assert not [w for w in caught if "never awaited" in str(w.message)]
    finally:
        await link.close()


async def test_a_write_to_a_connection_redis_closed_is_unavailable(redis_url: str) -> None:
    """uvloop reports that write as a RuntimeError; the server must answer 503, not 500."""
    link = RedisLink(Settings(redis_url=redis_url, strategy=Strategy.ATOMIC))

    async def write_after_close() -> None:
        raise RuntimeError(
            "unable to perform operation on <TCPTransport closed=True reading=False>; "
            "the handler is closed"
        )

    async def a_bug() -> None:
        raise RuntimeError("something else went wrong")

    try:
        with pytest.raises(StoreUnavailable, match="handler is closed"):
            await link._round_trip(write_after_close())
        with pytest.raises(RuntimeError, match="something else"):
            await link._round_trip(a_bug())
    finally:
        await link.close()
