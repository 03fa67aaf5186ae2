"""The locks of the two lock strategies: one per family, in the process or in Redis.

Why this module exists: ``local-lock`` and ``redis-lock`` are "the naive read and write, kept
together by a lock", and their refreshes should read like that. Taking, waiting for and
releasing the lock is the mechanism underneath, kept here.

- ``ProcessLocks``: an ``asyncio.Lock`` per family, made on first use and dropped when its last
  user leaves. It serialises the refreshes of one process only.
- ``RedisLease``: a lease per family in Redis (``SET NX PX`` with a unique value, released by a
  compare-and-delete script), shared by every process and replica. The first try shares one
  round trip with the family read, and each try reads the family again, so a waiter decides on
  what the lease holder committed. The wait is bounded (``LockTimeout``: 503). A lease whose
  release fails stays until it expires and makes every refresh of its family wait for it, so
  the failure is logged as a warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from .families import Families
from .redis_link import StoreUnavailable
from .rotation import Snapshot
from .settings import Settings
from .store import LockTimeout
from .tokens import fingerprint

__all__ = ["HeldLease", "ProcessLocks", "RedisLease"]

logger = logging.getLogger("reference_server.locks")


class ProcessLocks:
    """An ``asyncio.Lock`` per family id, alive while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @contextlib.asynccontextmanager
    async def hold(self, family_id: str) -> AsyncIterator[float]:
        """Hold the family's lock; yields the milliseconds waited for it."""
        lock, users = self._locks.get(family_id, (asyncio.Lock(), 0))
        self._locks[family_id] = (lock, users + 1)
        started = time.perf_counter()
        try:
            async with lock:
                yield (time.perf_counter() - started) * 1000
        finally:
            lock, users = self._locks[family_id]
            if users <= 1:
                del self._locks[family_id]
            else:
                self._locks[family_id] = (lock, users - 1)


@dataclass
class HeldLease:
    """A lease held: the family as read when it was taken, the wait, and its unique value.
    Set ``released`` when a commit has released it already."""

    snapshot: Snapshot
    waited_ms: float
    value: str
    released: bool = False


class RedisLease:
    """The per-family lease of ``redis-lock``."""

    def __init__(self, families: Families, settings: Settings) -> None:
        self._families = families
        self._lease_ms = settings.lease_ms
        self._wait_s = settings.lock_wait_ms / 1000

    @contextlib.asynccontextmanager
    async def hold(self, family_id: str, presented: str) -> AsyncIterator[HeldLease]:
        """Take the lease (reading the family in the same round trip), release it after."""
        held = await self._acquire(family_id, presented)
        try:
            yield held
        finally:
            if not held.released:
                await self._release(family_id, held.value)

    async def _acquire(self, family_id: str, presented: str) -> HeldLease:
        value = secrets.token_hex(16)
        started = time.perf_counter()
        pause = 0.001
        while True:
            snap, held = await self._families.read(family_id, presented, (value, self._lease_ms))
            waited = time.perf_counter() - started
            if held:
                return HeldLease(snap, waited * 1000, value)
            if waited >= self._wait_s:
                raise LockTimeout(f"lease not acquired within {self._wait_s * 1000:.0f} ms")
            await asyncio.sleep(pause * (0.5 + secrets.randbelow(1000) / 1000))
            pause = min(pause * 2, 0.02)

    async def _release(self, family_id: str, value: str) -> None:
        try:
            await self._families.release_lease(family_id, value)
        except StoreUnavailable as exc:
            logger.warning(
                "lease not released; its family waits until it expires",
                extra={"family": fingerprint(family_id), "error": str(exc)},
            )
