"""``idempotent``: within the grace window a replay of the previous token gets the same pair.

Real servers like it: django-oauth-toolkit with ``REFRESH_TOKEN_GRACE_PERIOD_SECONDS`` (the
refresh token row is locked with ``select_for_update()`` and, inside the grace period, the
already issued access and refresh tokens are returned; DOT also revokes the previous access
token on every rotation, which ``revoke-access-on-refresh`` models); Supabase Auth's rule for the
immediate parent of the active token (the active refresh token comes back, though with a newly
signed access token); the Drupal ``simple_oauth_refresh_token_buffer`` module.

Promises: idempotent replay, the same pair, one generation back only (a token whose successor
has itself been rotated is reuse even inside the window), for ``--grace`` seconds after its
rotation. Reuse outside that revokes what ``--reuse-revokes`` says: the family, every family of
the user, or nothing (the replay is only rejected).

Under a burst of N concurrent refreshes of one token: N answers of 200 with one identical pair.
"""

from __future__ import annotations

from .behaviour import Issued, Rejected, RowLocked
from .store import RefreshToken

__all__ = ["Idempotent"]


class Idempotent(RowLocked):
    name = "idempotent"
    uses = frozenset({"grace", "reuse_revokes"})

    async def decide(self, token: RefreshToken, arrived: float) -> Issued | Rejected:
        successor = token.successor
        if successor is None:
            return await self.rotate(token)
        if successor is token.family.head and self.within_grace(token):
            return Issued.pair(successor)
        return await self.reuse_detected(token, self.options.reuse_revokes)
