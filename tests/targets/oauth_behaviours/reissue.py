"""``reissue``: every refresh issues a new refresh token, and no refresh token is ever retired.

Real servers like it: Keycloak with "Revoke Refresh Token" off, its default. Each refresh answers
a freshly signed refresh token (a later expiry, a new ``jti``), yet the token presented stays
valid for as long as the login session lives: nothing is rotated in the security sense, and
nothing is ever detected as reuse.

Promises: no rotation. Every refresh token of a family works until the family is revoked.

Under a burst of N concurrent refreshes of one token: N answers of 200 with N distinct pairs,
all of them alive, as are the token presented and every token before it.
"""

from __future__ import annotations

from .behaviour import Issued, Rejected, RowLocked
from .store import RefreshToken

__all__ = ["Reissue"]


class Reissue(RowLocked):
    name = "reissue"

    async def decide(self, token: RefreshToken, arrived: float) -> Issued | Rejected:
        await self.store.db_latency()
        return Issued.pair(self.store.mint(token.family, generation=token.generation + 1))
