"""The atomic refresh script decides as ``rotation.decide_refresh`` does.

``atomic`` decides in Lua (``family_scripts.REFRESH``), the other strategies in Python; the two
are written to mirror each other, and this holds them to it. Each case writes one family into a
real Redis, takes the Python verdict on what ``Families.read`` finds there, and then runs the
script on the same records with the same explicit arrival time: no wall clock decides anything.
The grid walks every rule boundary of the predecessor (grace window, rejection tolerance,
give-up time) on both sides.
"""

from __future__ import annotations

import itertools

import pytest

from reference_server.families import Families
from reference_server.redis_link import RedisLink
from reference_server.rotation import Outcome
from reference_server.settings import Settings, Strategy
from reference_server.strategies import create_store
from reference_server.tokens import mint_successor, new_family_id

pytestmark = pytest.mark.anyio

CLIENT = "demo-client"
SINCE_MS = 1_000_000  # when the stored successor was rotated in or delivered
GIVE_UP_MS = 1000  # the Redis timeout below
GRACES_MS = (0, 300, 2000)
TOLERANCES_MS = (0, 300, 1000)
STORED = ("", "u", "d")  # no successor left, undelivered, delivered
PRESENTED = ("prev", "grandparent", "forged")
OFFSETS_MS = (-50, 0, 299, 300, 301, 1000, 1001, 2000, 2001)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def _family(link: RedisLink, stored: str) -> str:
    """A live family at generation 3 whose previous token's successor is ``stored``
    (``u``/``d`` as of ``SINCE_MS``, or none); returns its id."""
    family_id = new_family_id()
    tag = "{fam:" + family_id + "}"
    state = {"gen": "3", "cur": "cur", "prev": "prev", "revoked": "0", "client": CLIENT}
    async with link.client.pipeline(transaction=False) as pipe:
        pipe.hset(tag + ":state", mapping={**state, "sub": "user1", "scope": "api"})
        pipe.pexpire(tag + ":state", 60_000)
        pipe.sadd(tag + ":used", "grandparent", "prev")
        pipe.pexpire(tag + ":used", 60_000)
        if stored:
            pipe.set(tag + ":succ:prev", f"{stored}{SINCE_MS}:sealed", px=60_000)
        await pipe.execute()
    return family_id


async def test_the_script_decides_as_the_policy_table(redis_url: str) -> None:
    link = RedisLink(Settings(redis_url=redis_url))
    mismatches: list[tuple[object, ...]] = []
    try:
        for grace_ms, tolerance_ms in itertools.product(GRACES_MS, TOLERANCES_MS):
            settings = Settings(
                redis_url=redis_url,
                strategy=Strategy.ATOMIC,
                grace=grace_ms / 1000,
                tolerance=tolerance_ms / 1000,
                redis_timeout=GIVE_UP_MS / 1000,
            )
            families = Families(link, settings)
            store = create_store(settings, link)
            for stored, presented, offset in itertools.product(STORED, PRESENTED, OFFSETS_MS):
                family_id = await _family(link, stored)
                arrival_ms = SINCE_MS + offset
                snap, _ = await families.read(family_id, presented)
                in_python = store.decide(snap, presented, CLIENT, arrival_ms)
                minted = mint_successor(family_id, "unused")
                reply = await families.refresh_atomically(
                    family_id, presented, minted, CLIENT, arrival_ms
                )
                if reply.outcome is not in_python:
                    case = (grace_ms, tolerance_ms, stored, presented, offset)
                    mismatches.append((*case, in_python.value, reply.outcome.value))
    finally:
        await link.close()
    assert not mismatches, "(grace, tolerance, stored, presented, offset, python, lua):\n" + (
        "\n".join(map(str, mismatches))
    )


async def test_the_grid_reaches_every_verdict_on_the_predecessor(redis_url: str) -> None:
    """The grid above is worth its name only if it crosses each boundary: the delivered
    predecessor is replayed, refused and reuse at the offsets it walks."""
    settings = Settings(redis_url=redis_url, grace=0.3, tolerance=1.0, redis_timeout=1.0)
    link = RedisLink(settings)
    families = Families(link, settings)
    seen: dict[int, Outcome] = {}
    try:
        for offset in (300, 301, 1000, 1001):
            family_id = await _family(link, "d")
            minted = mint_successor(family_id, "unused")
            reply = await families.refresh_atomically(
                family_id, "prev", minted, CLIENT, SINCE_MS + offset
            )
            seen[offset] = reply.outcome
    finally:
        await link.close()
    assert seen == {
        300: Outcome.REPLAYED,
        301: Outcome.SUPERSEDED,
        1000: Outcome.SUPERSEDED,
        1001: Outcome.REUSE_DETECTED,
    }
