"""``revoke-on-use``: the previous token stays valid until the new access token is used.

Real servers like it: Doorkeeper (Ruby on Rails' OAuth 2.0 provider, behind GitLab and
Mastodon) whenever its tokens table has the ``previous_refresh_token`` column, which its
install migration creates. A refresh mints a new pair and remembers the refresh token it came
from, takes no lock ("multiple concurrent refresh requests succeed during the transition
period") and revokes nothing; the first request that the API authenticates with the new access
token revokes the pair it came from. A retired token is only rejected: nothing else is revoked.

Promises: a new pair for a replay, for as long as no access token of its successors was used
(no time limit, any number of generations back while that holds); reuse revokes nothing.

Under a burst of N concurrent refreshes of one token: N answers of 200 with N distinct pairs.
Using one of them retires the token presented and nothing else: the other N - 1 siblings stay
alive for good, a fork. ``revoke-on-use-siblings`` is the same server done right: the first use
retires the token presented and every sibling but the used one.
"""

from __future__ import annotations

from .behaviour import Behaviour, Issued, Options, Rejected
from .store import RefreshToken, Store

__all__ = ["RevokeOnUse", "RevokeOnUseSiblings"]


class RevokeOnUse(Behaviour):
    name = "revoke-on-use"

    def __init__(self, store: Store, options: Options) -> None:
        super().__init__(store, options)
        self._pair_of: dict[str, RefreshToken] = {}  # access token -> its pair's refresh token
        self._previous: dict[str, RefreshToken] = {}  # refresh token -> the one it replaced
        self._retired: set[str] = set()

    async def refresh(self, presented: str) -> Issued | Rejected:
        token = self.store.find(presented)
        if token is None or token.family.revoked or presented in self._retired:
            return Rejected("the refresh token is invalid")
        await self.store.db_latency()
        successor = self.store.mint(token.family, generation=token.generation + 1)
        self._pair_of[successor.access] = successor
        self._previous[successor.value] = token
        return Issued.pair(successor)

    def used(self, access: str) -> None:
        pair = self._pair_of.pop(access, None)
        previous = self._previous.pop(pair.value, None) if pair is not None else None
        if pair is not None and previous is not None:
            self._retire(previous)
            self._retire_siblings(previous, pair)

    def _retire(self, token: RefreshToken) -> None:
        self._retired.add(token.value)
        self.store.revoke_access(token.access)

    def _retire_siblings(self, parent: RefreshToken, kept: RefreshToken) -> None:
        """Doorkeeper leaves the token's siblings alone."""


class RevokeOnUseSiblings(RevokeOnUse):
    name = "revoke-on-use-siblings"

    def _retire_siblings(self, parent: RefreshToken, kept: RefreshToken) -> None:
        for child, previous in list(self._previous.items()):
            if previous is parent and child != kept.value:
                sibling = self.store.find(child)
                if sibling is not None:
                    self._retire(sibling)
                del self._previous[child]
