"""The token store's interface: what the app asks of every concurrency-control strategy.

Why this module exists: the point of the reference server is that the *same* rotation policy
(``rotation``) is correct or broken depending only on how the read and the write of a refresh
are kept together. ``TokenStore`` is that contract: logins, scope and liveness reads are the
same for every strategy, while ``refresh`` and ``revoke`` are abstract, so each of the four
strategies in ``strategies`` spells out its own and none inherits another's.

The store mints every successor and seals it under the presented token (``tokens``); every
refresh ends in ``answer``, which, once Redis has confirmed the decision, opens a replayed
successor and marks the successor delivered (``rotation`` explains why that mark exists).
"""

from __future__ import annotations

import abc
import asyncio
from dataclasses import dataclass
from typing import ClassVar, Protocol

from .families import Families
from .redis_link import StoreUnavailable
from .rotation import Outcome, RevokeOutcome, Snapshot, StoredSuccessor, decide_refresh
from .settings import Settings, Strategy
from .tokens import MintedSuccessor, open_successor

__all__ = ["Grant", "LockTimeout", "RefreshResult", "StoreUnavailable", "TokenStore"]


class Grant(Protocol):
    """Who a family was granted to, and what (a ``FamilyState`` or an atomic reply)."""

    @property
    def subject(self) -> str: ...

    @property
    def scope(self) -> str: ...


class LockTimeout(Exception):
    """A family lock or lease was not acquired within the bounded wait (maps to 503)."""


@dataclass(frozen=True, slots=True)
class RefreshResult:
    """What a refresh decided; ``successor`` is the refresh token to hand out, if any."""

    outcome: Outcome
    subject: str = ""
    scope: str = ""
    successor: str = ""
    lock_wait_ms: float = 0.0
    fenced_out: int = 0


class TokenStore(abc.ABC):
    """One strategy's store: ``refresh`` and ``revoke`` are its own, the rest is shared."""

    strategy: ClassVar[Strategy]

    def __init__(self, families: Families, settings: Settings) -> None:
        self.families = families
        self.settings = settings

    async def create_family(self, *, subject: str, client_id: str, scope: str) -> tuple[str, str]:
        """Start a family for a login; returns (family id, first refresh token)."""
        return await self.families.create(subject=subject, client_id=client_id, scope=scope)

    async def granted_scope(self, family_id: str) -> str | None:
        """The scope granted at login (checked before a refresh changes anything), or None."""
        return await self.families.granted_scope(family_id)

    async def family_active(self, family_id: str) -> bool:
        """True when the family exists and is not revoked (checked by the protected API)."""
        return await self.families.active(family_id)

    @abc.abstractmethod
    async def refresh(
        self, family_id: str, presented_token: str, client_id: str, arrival_ms: int
    ) -> RefreshResult:
        """Decide and apply a refresh of ``presented_token``, which arrived at ``arrival_ms``
        (wall clock: the grace window is judged then, not after any wait)."""

    @abc.abstractmethod
    async def revoke(
        self, family_id: str, presented_hash: str | None, client_id: str
    ) -> RevokeOutcome:
        """Revoke the family of a token (RFC 7009); ``None`` revokes by family id."""

    # -- for the strategies ------------------------------------------------------------------

    def decide(self, snap: Snapshot, presented: str, client_id: str, arrival_ms: int) -> Outcome:
        """The policy's verdict on ``snap`` for a request that arrived at ``arrival_ms``."""
        return decide_refresh(
            snap,
            presented,
            client_id=client_id,
            arrival_ms=arrival_ms,
            grace_ms=self.settings.grace_ms,
            give_up_ms=round(self.settings.redis_timeout * 1000),
            tolerance_ms=self.settings.tolerance_ms,
        )

    async def pause_before_write(self) -> None:
        """The TEST ONLY fault ``--inject-delay-ms``: widen the gap between read and write."""
        if self.settings.inject_delay_ms:
            await asyncio.sleep(self.settings.inject_delay_ms / 1000)

    def answer(
        self,
        outcome: Outcome,
        family_id: str,
        presented_token: str,
        presented: str,
        grant: Grant | None,
        *,
        minted: MintedSuccessor | None = None,
        stored: StoredSuccessor | None = None,
        fenced_out: int = 0,
    ) -> RefreshResult:
        """The answer to a decision Redis has confirmed: the successor to hand out (``minted``
        for a rotation, ``stored`` opened for a replay), marked delivered if it was not yet.
        ``presented`` is the hash of ``presented_token``."""
        successor, sealed = "", ""
        if outcome is Outcome.ROTATED and minted is not None:
            successor, sealed = minted.token, minted.sealed
        elif outcome is Outcome.REPLAYED and stored is not None:
            successor = open_successor(presented_token, stored.sealed)
            sealed = "" if stored.delivered else stored.sealed
        if sealed:
            self.families.mark_delivered(family_id, presented, sealed)
        subject, scope = (grant.subject, grant.scope) if grant is not None else ("", "")
        return RefreshResult(outcome, subject, scope, successor, fenced_out=fenced_out)
