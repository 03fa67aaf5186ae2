"""``overlap``: within the grace window a replay of the previous token mints a new sibling pair.

Real servers like it: Auth0 with a "Rotation Overlap Period" (``refresh_token.leeway``): inside
it "a new rotating refresh token is issued" and only the immediately previous token may be
reused; Ory Hydra with ``rotation_grace_period``: each reuse inside it "results in a new set of
access and refresh tokens" in the same chain; Supabase Auth's non-parent reuse inside its reuse
interval, which mints a new child.

Promises: overlap, a new pair, one generation back, for ``--grace`` seconds after the rotation
(and, with ``--replays N``, for N replays at most, as Keycloak's "Refresh Token Max Reuse" and
Ory Hydra's grace reuse count allow; one more is reuse, and Keycloak then removes the session).
The tokens of the current generation (the head and the siblings minted for replays) are all
valid; refreshing any of them advances the family and retires the others. Reuse after the
window, of a retired sibling, or of an older token revokes the family (or what
``--reuse-revokes`` says).

Under a burst of N concurrent refreshes of one token: N answers of 200 with N distinct pairs,
all of them alive (a fork the policy allows: they stay in one family).
"""

from __future__ import annotations

from collections import Counter

from .behaviour import Issued, Options, Rejected, RowLocked
from .store import RefreshToken, Store

__all__ = ["Overlap"]


class Overlap(RowLocked):
    name = "overlap"
    uses = frozenset({"grace", "replays", "reuse_revokes"})

    def __init__(self, store: Store, options: Options) -> None:
        super().__init__(store, options)
        self._replayed: Counter[str] = Counter()  # replays accepted, per token

    async def decide(self, token: RefreshToken, arrived: float) -> Issued | Rejected:
        current = token.family.head.generation
        if token.generation == current:
            # The head or a sibling of it: a normal refresh. The family moves on, and the other
            # siblings, a generation behind now and never rotated, are retired: reuse.
            return await self.rotate(token)
        limit = self.options.replays
        if (
            token.generation == current - 1
            and self.within_grace(token)
            and (not limit or self._replayed[token.value] < limit)
        ):
            # The predecessor, i.e. the token whose rotation made the current generation.
            self._replayed[token.value] += 1
            await self.store.db_latency()
            return Issued.pair(self.store.mint(token.family, generation=current))
        return await self.reuse_detected(token, self.options.reuse_revokes)
