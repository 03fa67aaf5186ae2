"""Token families in Redis: the key layout, the reads a decision takes, and the writes.

Why this module exists: the strategies in ``strategies`` differ only in how they keep a
refresh's read and write together. The reads and writes themselves (which keys, which script,
which arguments, how replies become a ``rotation.Snapshot``) are the same for all of them and
live here, so that each strategy reads as its concurrency control and nothing else.

Key layout (every key of a family shares the hash tag ``{fam:<id>}``, so one Redis Cluster
slot; every key has a TTL):

- ``{fam:<id>}:state``: hash of the family (``family_scripts`` lists its fields);
- ``{fam:<id>}:used``: set of the hashes of its rotated-away tokens;
- ``{fam:<id>}:succ:<token hash>``: the successor stored for a rotated-away token, sealed
  under it, undelivered (kept for the refresh lifetime) or delivered (kept for the longer of
  the grace window and the rejection tolerance, plus the longest wait a request may have
  before it decides); only one is ever read, the presented token's, so the key is named by it;
- ``{fam:<id>}:lock``: ``redis-lock``'s lease.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import family_scripts
from .autopipeline import Command
from .redis_link import RedisLink, now_ms
from .rotation import FamilyState, Outcome, RevokeOutcome, Snapshot, StoredSuccessor
from .settings import Settings
from .tokens import MintedSuccessor, new_family_id, new_refresh_token, token_hash

__all__ = ["AtomicReply", "Families"]


@dataclass(frozen=True, slots=True)
class AtomicReply:
    """What the atomic refresh script decided, and the grant's subject and scope."""

    outcome: Outcome
    subject: str
    scope: str
    stored: StoredSuccessor | None


def _tag(family_id: str) -> str:
    return "{fam:" + family_id + "}"


_FIELDS = ("gen", "cur", "prev", "revoked", "client", "sub", "scope")


def _state(values: list[str | None]) -> FamilyState | None:
    """The family from ``HMGET`` of ``_FIELDS``; None when it does not exist."""
    gen, cur, prev, revoked, client, sub, scope = values
    if gen is None:
        return None
    return FamilyState(
        generation=int(gen),
        current=cur or "",
        previous=prev or "",
        revoked=revoked == "1",
        client_id=client or "",
        subject=sub or "",
        scope=scope or "",
    )


def _stored(raw: str | None) -> StoredSuccessor | None:
    """``u<ms>:<sealed>`` (undelivered, rotated at ms) or ``d<ms>:<sealed>`` (delivered at ms)."""
    if not raw:
        return None
    head, _, sealed = raw.partition(":")
    return StoredSuccessor(sealed, delivered=head[0] == "d", since_ms=int(head[1:]))


def _undelivered(successor: MintedSuccessor) -> str:
    """The stored form of a successor rotated in now."""
    return f"u{now_ms()}:{successor.sealed}"


class Families:
    """The Redis records of token families, for one server process."""

    def __init__(self, link: RedisLink, settings: Settings) -> None:
        self._link = link
        self._grace_ms = settings.grace_ms
        self._ttl_ms = settings.refresh_ttl * 1000
        self._revoked_ttl_ms = max(settings.refresh_ttl, settings.access_ttl) * 1000
        self._give_up_ms = round(settings.redis_timeout * 1000)
        self._tolerance_ms = settings.tolerance_ms
        # A delivered successor decides until the longer of the grace window and the rejection
        # tolerance is over (then its predecessor is reuse); a request is judged at its arrival
        # but may decide a lease wait and a round trip later, so it is kept that much longer.
        self._delivered_ttl_ms = (
            max(self._grace_ms, self._tolerance_ms) + settings.lock_wait_ms + self._give_up_ms
        )

    @staticmethod
    def lease_key(family_id: str) -> str:
        """The key of ``redis-lock``'s lease on the family."""
        return _tag(family_id) + ":lock"

    @staticmethod
    def _keys(family_id: str, presented: str = "") -> list[str]:
        tag = _tag(family_id)
        return [tag + ":state", tag + ":used", tag + ":succ:" + presented]

    async def create(self, *, subject: str, client_id: str, scope: str) -> tuple[str, str]:
        """Start a family for a login; returns (family id, first refresh token)."""
        family_id = new_family_id()
        token = new_refresh_token(family_id)
        args: list[str | int] = [token_hash(token), client_id, subject, scope, self._ttl_ms]
        await self._link.run(family_scripts.CREATE, self._keys(family_id)[:1], args)
        return family_id, token

    async def granted_scope(self, family_id: str) -> str | None:
        """The scope the family was granted at login (it never changes), or None."""
        scope: str | None = await self._link.call("HGET", self._keys(family_id)[0], "scope")
        return scope

    async def active(self, family_id: str) -> bool:
        """True when the family exists and is not revoked."""
        revoked: str | None = await self._link.call("HGET", self._keys(family_id)[0], "revoked")
        return revoked == "0"

    async def read(
        self, family_id: str, presented: str, lease: tuple[str, int] | None = None
    ) -> tuple[Snapshot, bool]:
        """One round trip: state, membership and stored successor of ``presented``, after a
        try for the lease ``(value, ms)`` if given. Returns (snapshot, lease held).

        The lease counts as held when it holds our value after the try, so a try that Redis ran
        but whose reply was lost (and that ``redis_link`` retried) still holds it.
        """
        state_key, used_key, succ_key = self._keys(family_id, presented)
        commands: list[Command] = [
            ("HMGET", state_key, *_FIELDS),
            ("SISMEMBER", used_key, presented),
            ("GET", succ_key),
        ]
        if lease is not None:
            lease_key = self.lease_key(family_id)
            value, lease_ms = lease
            commands[:0] = [("SET", lease_key, value, "NX", "PX", lease_ms), ("GET", lease_key)]
        replies = await self._link.submit(commands)
        held = lease is None or replies[1] == lease[0]
        raw, known, stored = replies[-3:]
        return Snapshot(_state(raw), bool(known), _stored(stored)), held

    def _rotation(
        self, generation: int, presented: str, successor: MintedSuccessor
    ) -> list[str | int]:
        """ARGV of a rotation: generation, presented hash, new hash, stored successor, TTL."""
        return [generation, presented, successor.hash, _undelivered(successor), self._ttl_ms]

    async def write_rotation(
        self, family_id: str, generation: int, presented: str, successor: MintedSuccessor
    ) -> None:
        """Rotate the family to ``successor`` as generation ``generation``, unconditionally."""
        args = self._rotation(generation, presented, successor)
        await self._link.run(family_scripts.WRITE_ROTATION, self._keys(family_id, presented), args)

    async def write_revocation(self, family_id: str, generation: int) -> None:
        """Revoke the family as generation ``generation``, unconditionally."""
        args: list[str | int] = [generation, self._revoked_ttl_ms]
        await self._link.run(family_scripts.WRITE_REVOCATION, self._keys(family_id)[:2], args)

    async def refresh_atomically(
        self,
        family_id: str,
        presented: str,
        successor: MintedSuccessor,
        client_id: str,
        arrival_ms: int,
    ) -> AtomicReply:
        """Decide and apply a refresh in one script."""
        args: list[str | int] = [
            presented,
            successor.hash,
            _undelivered(successor),
            arrival_ms,
            self._grace_ms,
            self._ttl_ms,
            client_id,
            self._revoked_ttl_ms,
            self._give_up_ms,
            self._tolerance_ms,
        ]
        reply = await self._link.run(family_scripts.REFRESH, self._keys(family_id, presented), args)
        return AtomicReply(Outcome(reply[0]), str(reply[1]), str(reply[2]), _stored(reply[3]))

    async def revoke_atomically(
        self, family_id: str, presented: str | None, client_id: str
    ) -> RevokeOutcome:
        """Decide and apply a revocation in one script; ``None`` revokes by family."""
        args: list[str | int] = [presented or "", client_id, self._revoked_ttl_ms]
        reply = await self._link.run(family_scripts.REVOKE, self._keys(family_id)[:2], args)
        return RevokeOutcome(reply)

    async def commit_if_unchanged(
        self,
        family_id: str,
        generation: int,
        presented: str,
        successor: MintedSuccessor,
        lease_value: str,
    ) -> bool:
        """Rotate only if the family is still at ``generation`` with ``presented`` current;
        releases the lease ``lease_value`` with the commit. False: fenced out."""
        keys = [*self._keys(family_id, presented), self.lease_key(family_id)]
        args = [*self._rotation(generation, presented, successor), lease_value]
        return bool(await self._link.run(family_scripts.CAS_COMMIT, keys, args))

    async def release_lease(self, family_id: str, value: str) -> None:
        """Delete the lease if it still holds ``value``."""
        await self._link.run(family_scripts.LEASE_RELEASE, [self.lease_key(family_id)], [value])

    def mark_delivered(self, family_id: str, presented: str, sealed: str) -> None:
        """Record that the successor of ``presented`` reached its response: from now it
        replays for the grace window only (strict: not at all), and its predecessor is refused
        without revoking for the rejection tolerance.

        Nobody waits for the write (it goes with the next batch); if it is lost, the successor
        stays replayable after the give-up time until its predecessor's next use. ``XX``: a
        successor gone meanwhile (revoked, expired) stays gone.
        """
        key = self._keys(family_id, presented)[2]
        # Strict servers keep the mark too (it never replays): it tells a request that arrived
        # before the delivery or within the tolerance, another tab of the holder, from a reuse
        # after it.
        delivered = f"d{now_ms()}:{sealed if self._grace_ms > 0 else ''}"
        self._link.post([("SET", key, delivered, "PX", self._delivered_ttl_ms, "XX")])
