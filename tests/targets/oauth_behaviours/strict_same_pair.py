"""``strict-same-pair``: single use, but requests already queued on the row lock share the pair.

Real servers like it: servers that take a row lock for the refresh and, when a request that was
waiting on that lock finds the token just rotated by the request ahead of it, answer with the
pair that request minted instead of treating it as theft (the single-flight use of a lock: one
request mints, the others wait and read the result). django-oauth-toolkit with no grace period
and ``REFRESH_TOKEN_REUSE_PROTECTION`` behaves so (from its code): it validates the refresh token
before taking the row lock, so a request that read the token before the winner committed then
waits on ``select_for_update()`` and returns the access and refresh tokens the winner created,
while a replay that arrives after the commit fails validation and revokes the family.

Promises: strict rotation with no grace window: a replay sent after the rotation committed is
reuse and revokes the family.

Under a burst of N concurrent refreshes of one token that all arrive before the winner commits
(a burst spread shorter than ``--db-latency``): N answers of 200 with one identical pair, and
the family stays alive. A request of the burst that arrives after the commit is a replay.
"""

from __future__ import annotations

from .behaviour import Issued, Rejected, RowLocked
from .store import RefreshToken

__all__ = ["StrictSamePair"]


class StrictSamePair(RowLocked):
    name = "strict-same-pair"

    async def decide(self, token: RefreshToken, arrived: float) -> Issued | Rejected:
        if token.successor is None:
            return await self.rotate(token)
        assert token.rotated_at is not None
        if arrived < token.rotated_at:
            # This request was already waiting on the lock when the winner committed: it is
            # the same refresh, not a replay. The waiters are served in arrival order, before
            # anything queued later could have moved the family on, so the pair is current.
            return Issued.pair(token.successor)
        return await self.reuse_detected(token)
