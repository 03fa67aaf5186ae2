"""``last-write-wins``: check-then-act on a "current refresh token" column, with no lock.

Real servers like it: the common hand-written store that keeps one ``refresh_token`` column per
session, compares the presented token with it, and overwrites it with the successor, with no
lock or conditional update between the read and the write. djangorestframework-simplejwt's
``check_blacklist()`` then ``blacklist()`` is the same check-then-act (there every successor stays
valid, a fork; here only the last one written does).

Promises strict rotation (a token that is not the current one is rejected, with no reuse
detection and no revocation), but under concurrency it breaks it: N concurrent refreshes of one
token that arrive within ``--db-latency`` of each other all pass the check, each mints a
successor and overwrites the column, so N answers of 200 with N distinct pairs, and only the
last one written still refreshes. The others are dead successors: nothing legitimate consumed
them, yet they are rejected.
"""

from __future__ import annotations

from .behaviour import Behaviour, Issued, Rejected

__all__ = ["LastWriteWins"]


class LastWriteWins(Behaviour):
    name = "last-write-wins"

    async def refresh(self, presented: str) -> Issued | Rejected:
        token = self.store.find(presented)
        if token is None:
            return Rejected("unknown refresh token")
        family = token.family
        if family.revoked:
            return Rejected("the session is revoked")
        if token is not family.head:  # SELECT refresh_token FROM sessions ...; compare
            return Rejected("refresh token is not the current one")
        await self.store.db_latency()  # no lock: every request that arrives now passes the check
        return Issued.pair(self.store.rotate(token))  # UPDATE sessions SET refresh_token = ...
