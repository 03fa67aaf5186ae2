"""``strict-tolerant``: single use, but a reuse soon after the rotation is refused, not punished.

Real servers like it: single-use servers that spare their holder's concurrent requests without
replaying anything. A server stamps a request when its handler runs, and under load that can be
long after the request arrived, so it cannot tell a tab that was sent before the winner's answer
from a replay sent after it. Such a server refuses the predecessor for a while after the rotation
and revokes nothing; only a use after that counts as theft. The reference server with ``--grace
0`` does this for its ``--tolerance``.

Promises: strict rotation, a replay is rejected; the previous token presented within ``--grace``
seconds (here: the tolerance) of its rotation is refused and revokes nothing; later, or any older
token, is reuse and revokes the family.

Under a burst of N concurrent refreshes of one token the row lock serialises them: one 200, N-1
``invalid_grant``, and the winner's tokens keep working.
"""

from __future__ import annotations

from .behaviour import Issued, Rejected, RowLocked
from .store import RefreshToken

__all__ = ["StrictTolerant"]


class StrictTolerant(RowLocked):
    name = "strict-tolerant"
    uses = frozenset({"grace"})

    async def decide(self, token: RefreshToken, arrived: float) -> Issued | Rejected:
        successor = token.successor
        if successor is None:
            return await self.rotate(token)
        if successor is token.family.head and self.within_grace(token):
            return Rejected("refresh token already used")
        return await self.reuse_detected(token)
