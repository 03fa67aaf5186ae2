"""The four concurrency-control strategies, side by side.

Why this module exists: it is the lesson. Every strategy applies the same policy
(``rotation.decide_refresh``) to the same records (``families``); they differ only in how the
read that a decision rests on and the write that applies it are kept together:

- ``naive``: read, decide, write, with awaits in between. Concurrent refreshes of one token
  both see it current, so the family forks or trips reuse detection. It exists to be caught.
- ``local-lock``: the naive steps under a per-family ``asyncio.Lock``. Correct in one process,
  broken as soon as two processes or replicas share a Redis.
- ``redis-lock``: the naive steps under a per-family lease in Redis. The lease only makes
  concurrent refreshes take turns; correctness comes from the commit, a compare-and-set on the
  family generation (the fencing token), so a lease that expires mid-refresh cannot fork the
  family: the late commit is refused and the refresh decides again.
- ``atomic``: one Lua script decides and commits in one round trip.

A revocation goes through the same concurrency control as a refresh.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from .families import Families
from .locks import HeldLease, ProcessLocks, RedisLease
from .redis_link import RedisLink
from .rotation import Outcome, RevokeOutcome, decide_revoke
from .settings import Settings, Strategy
from .store import RefreshResult, StoreUnavailable, TokenStore
from .tokens import mint_successor, token_hash

__all__ = ["STORES", "Atomic", "LocalLock", "Naive", "RedisLock", "create_store"]

_CAS_ATTEMPTS = 3


async def read_decide_write(
    store: TokenStore, family_id: str, token: str, client_id: str, arrival_ms: int
) -> RefreshResult:
    """The naive refresh: read the family, decide, write the decision."""
    presented = token_hash(token)
    snap, _ = await store.families.read(family_id, presented)
    outcome = store.decide(snap, presented, client_id, arrival_ms)
    state = snap.state
    if outcome is Outcome.ROTATED and state is not None:
        minted = mint_successor(family_id, token)
        await store.pause_before_write()
        await store.families.write_rotation(family_id, state.generation + 1, presented, minted)
        return store.answer(outcome, family_id, token, presented, state, minted=minted)
    if outcome is Outcome.REUSE_DETECTED and state is not None:
        await store.pause_before_write()
        await store.families.write_revocation(family_id, state.generation + 1)
    return store.answer(outcome, family_id, token, presented, state, stored=snap.successor)


async def read_decide_revoke(
    store: TokenStore, family_id: str, presented: str | None, client_id: str
) -> RevokeOutcome:
    """The naive revocation: read the family, decide, write the revocation."""
    snap, _ = await store.families.read(family_id, presented or "")
    outcome = decide_revoke(snap, presented, client_id=client_id)
    if outcome is RevokeOutcome.REVOKED and snap.state is not None:
        await store.pause_before_write()
        await store.families.write_revocation(family_id, snap.state.generation + 1)
    return outcome


class Naive(TokenStore):
    """Read, decide, write: racy by design."""

    strategy = Strategy.NAIVE

    async def refresh(
        self, family_id: str, presented_token: str, client_id: str, arrival_ms: int
    ) -> RefreshResult:
        return await read_decide_write(self, family_id, presented_token, client_id, arrival_ms)

    async def revoke(
        self, family_id: str, presented_hash: str | None, client_id: str
    ) -> RevokeOutcome:
        return await read_decide_revoke(self, family_id, presented_hash, client_id)


class LocalLock(TokenStore):
    """The naive steps under a per-family lock of this process."""

    strategy = Strategy.LOCAL_LOCK

    def __init__(self, families: Families, settings: Settings) -> None:
        super().__init__(families, settings)
        self._locks = ProcessLocks()

    async def refresh(
        self, family_id: str, presented_token: str, client_id: str, arrival_ms: int
    ) -> RefreshResult:
        async with self._locks.hold(family_id) as waited_ms:
            result = await read_decide_write(
                self, family_id, presented_token, client_id, arrival_ms
            )
        return dataclasses.replace(result, lock_wait_ms=waited_ms)

    async def revoke(
        self, family_id: str, presented_hash: str | None, client_id: str
    ) -> RevokeOutcome:
        async with self._locks.hold(family_id):
            return await read_decide_revoke(self, family_id, presented_hash, client_id)


class RedisLock(TokenStore):
    """The naive steps under a Redis lease, committed by a fenced compare-and-set."""

    strategy = Strategy.REDIS_LOCK

    def __init__(self, families: Families, settings: Settings) -> None:
        super().__init__(families, settings)
        self._lease = RedisLease(families, settings)

    async def refresh(
        self, family_id: str, presented_token: str, client_id: str, arrival_ms: int
    ) -> RefreshResult:
        presented = token_hash(presented_token)
        async with self._lease.hold(family_id, presented) as lease:
            result = await self._commit_fenced(
                lease, family_id, presented_token, presented, client_id, arrival_ms
            )
        return dataclasses.replace(result, lock_wait_ms=lease.waited_ms)

    async def _commit_fenced(
        self,
        lease: HeldLease,
        family_id: str,
        token: str,
        presented: str,
        client_id: str,
        arrival_ms: int,
    ) -> RefreshResult:
        """Decide on the read taken with the lease; a refused commit reads and decides again."""
        snap = lease.snapshot
        for attempt in range(_CAS_ATTEMPTS):
            outcome = self.decide(snap, presented, client_id, arrival_ms)
            state = snap.state
            if outcome is Outcome.ROTATED and state is not None:
                minted = mint_successor(family_id, token)
                await self.pause_before_write()
                if await self.families.commit_if_unchanged(
                    family_id, state.generation, presented, minted, lease.value
                ):
                    lease.released = True  # the commit released it
                    return self.answer(
                        outcome, family_id, token, presented, state,
                        minted=minted, fenced_out=attempt,
                    )  # fmt: skip
                # Fenced out: our lease expired and someone committed since our read.
                snap, _ = await self.families.read(family_id, presented)
                continue
            if outcome is Outcome.REUSE_DETECTED:
                await self.pause_before_write()
                await self.families.revoke_atomically(family_id, None, client_id)
            return self.answer(
                outcome, family_id, token, presented, state,
                stored=snap.successor, fenced_out=attempt,
            )  # fmt: skip
        raise StoreUnavailable(f"compare-and-set lost {_CAS_ATTEMPTS} times in a row")

    async def revoke(
        self, family_id: str, presented_hash: str | None, client_id: str
    ) -> RevokeOutcome:
        async with self._lease.hold(family_id, presented_hash or ""):
            return await self.families.revoke_atomically(family_id, presented_hash, client_id)


class Atomic(TokenStore):
    """One Lua script per refresh or revocation: decision and commit in one round trip."""

    strategy = Strategy.ATOMIC

    async def refresh(
        self, family_id: str, presented_token: str, client_id: str, arrival_ms: int
    ) -> RefreshResult:
        presented = token_hash(presented_token)
        minted = mint_successor(family_id, presented_token)  # used if the script rotates
        reply = await self.families.refresh_atomically(
            family_id, presented, minted, client_id, arrival_ms
        )
        return self.answer(
            reply.outcome, family_id, presented_token, presented, reply,
            minted=minted, stored=reply.stored,
        )  # fmt: skip

    async def revoke(
        self, family_id: str, presented_hash: str | None, client_id: str
    ) -> RevokeOutcome:
        return await self.families.revoke_atomically(family_id, presented_hash, client_id)


STORES: dict[Strategy, Callable[[Families, Settings], TokenStore]] = {
    Strategy.NAIVE: Naive,
    Strategy.LOCAL_LOCK: LocalLock,
    Strategy.REDIS_LOCK: RedisLock,
    Strategy.ATOMIC: Atomic,
}


def create_store(settings: Settings, link: RedisLink) -> TokenStore:
    """The store for ``settings.strategy`` on ``link``."""
    return STORES[settings.strategy](Families(link, settings), settings)
