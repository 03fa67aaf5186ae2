"""``strict-revoke-family``: single use, no grace, and any reuse revokes the whole family.

Real servers like it: node oidc-provider (panva) rotating refresh tokens (a consumed token gives
``invalid_grant`` "refresh token already used" and, under the default ``revokeGrantPolicy``,
revokes the grant); Okta, Auth0 and Ory Hydra with their rotation grace period (leeway) at 0.

Promises: strict rotation, a replay is rejected, reuse revokes the family (RFC 9700 §4.14.2).

Under a burst of N concurrent refreshes of one token the row lock serialises them: the first
rotates, the next finds the token consumed, takes it for theft and revokes the family, the rest
find the family revoked. One 200, N-1 ``invalid_grant``, and the winner's new tokens are dead:
the user was logged out by their own tabs.
"""

from __future__ import annotations

from .behaviour import Issued, Rejected, RowLocked
from .store import RefreshToken

__all__ = ["StrictRevokeFamily"]


class StrictRevokeFamily(RowLocked):
    name = "strict-revoke-family"

    async def decide(self, token: RefreshToken, arrived: float) -> Issued | Rejected:
        if token.successor is not None:
            return await self.reuse_detected(token)
        return await self.rotate(token)
