"""``generations``: within the grace window, tokens several generations behind the head get the
head's pair.

Real servers like it: Supabase Auth's refresh-token algorithm v2, which signs a counter into the
refresh token and answers any token behind the session's counter with the current one while the
session was refreshed within the reuse interval (there the window runs from the session's last
refresh, not bounded by a count, and the access token is newly signed each time).

Promises: same-pair replay for tokens up to ``--generations`` generations behind the head, each
for ``--grace`` seconds after its own rotation; an older token, or one whose window has passed, is
reuse and revokes the family.

Under a burst of N concurrent refreshes of one token: N answers of 200 with one identical pair.
"""

from __future__ import annotations

from .behaviour import Issued, Rejected, RowLocked
from .store import RefreshToken

__all__ = ["Generations"]


class Generations(RowLocked):
    name = "generations"
    uses = frozenset({"grace", "generations"})

    async def decide(self, token: RefreshToken, arrived: float) -> Issued | Rejected:
        head = token.family.head
        behind = head.generation - token.generation
        if behind == 0:
            return await self.rotate(token)
        if behind <= self.options.generations and self.within_grace(token):
            return Issued.pair(head)
        return await self.reuse_detected(token)
