"""``access-only``: within the grace window a replay of the previous token gets a new access
token and no refresh token.

Real servers like it: servers that answer a replay inside the window as a plain access-token
refresh, without a refresh token (RFC 6749 §6 makes a new refresh token optional), counting on
the client that lost the race to pick up the successor the winner stored. A client that keeps
the replayed token is rejected, and its family revoked, once the window closes.

Promises: replay answered with an access token only, one generation back, for ``--grace`` seconds
after the rotation; reuse after it revokes the family.

Under a burst of N concurrent refreshes of one token: one 200 with a new pair, N-1 answers of 200
with a new access token each and no refresh token; the family stays alive.
"""

from __future__ import annotations

from .behaviour import Issued, Rejected, RowLocked
from .store import RefreshToken

__all__ = ["AccessOnly"]


class AccessOnly(RowLocked):
    name = "access-only"
    uses = frozenset({"grace"})

    async def decide(self, token: RefreshToken, arrived: float) -> Issued | Rejected:
        successor = token.successor
        if successor is None:
            return await self.rotate(token)
        if successor is token.family.head and self.within_grace(token):
            await self.store.db_latency()
            access = self.store.mint_access(token.family)
            return Issued(access, None, token.family.scope)
        return await self.reuse_detected(token)
