"""``revoke-access-on-refresh``: the idempotent grace window, and every rotation revokes the
access token that was issued with the presented refresh token.

Real servers like it: django-oauth-toolkit, whose rotation calls ``RefreshToken.revoke()``,
which deletes the access token issued with that refresh token (and which returns the already
issued pair inside ``REFRESH_TOKEN_GRACE_PERIOD_SECONDS``); Ory Hydra, whose rotation revokes the
access token issued with the presented refresh token.

Promises: idempotent replay, the same pair, one generation, ``--grace`` seconds, reuse revokes
per ``--reuse-revokes``; and a refresh kills the current access token: a client that refreshes
early, while its access token is still valid, loses that access token at once.
"""

from __future__ import annotations

from .behaviour import Issued
from .idempotent import Idempotent
from .store import RefreshToken

__all__ = ["RevokeAccessOnRefresh"]


class RevokeAccessOnRefresh(Idempotent):
    name = "revoke-access-on-refresh"

    async def rotate(self, token: RefreshToken) -> Issued:
        issued = await super().rotate(token)
        self.store.revoke_access(token.access)
        return issued
