"""The in-memory "database" every behaviour shares: families, refresh tokens, access tokens.

Why this module exists: the behaviours differ only in what they decide when a refresh token is
presented. The rows they decide over, and the writes they can make (rotate, mint a sibling, mint
an access token, revoke), are the same everywhere and live here, once, so that each behaviour
module reads as its policy and nothing else.

A family is one login (a grant): every refresh token and access token minted from it belongs to
it, and revoking the family kills them all. Tokens are opaque random strings (access tokens
JWTs with a signer, see ``signing``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass, field
from typing import Literal

from .signing import RotatingSigner

__all__ = ["AccessToken", "Family", "RefreshToken", "ReuseRevokes", "Store"]

ReuseRevokes = Literal["family", "user", "nothing"]


@dataclass(eq=False)
class Family:
    """One grant. ``lock`` is its row lock (``SELECT ... FOR UPDATE`` on the family row)."""

    id: str
    user: str
    scope: str
    head: RefreshToken = field(init=False)
    revoked: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass(eq=False)
class RefreshToken:
    """A refresh token, the access token issued with it, and what became of it."""

    value: str
    family: Family
    access: str
    generation: int
    successor: RefreshToken | None = None
    rotated_at: float | None = None  # time.monotonic() of the rotation that consumed it


@dataclass(eq=False)
class AccessToken:
    family: Family
    revoked: bool = False

    @property
    def live(self) -> bool:
        return not (self.revoked or self.family.revoked)


class Store:
    """The rows, and every write a behaviour may make to them."""

    def __init__(self, db_latency: float, signer: RotatingSigner | None = None) -> None:
        """``signer`` makes the access tokens JWTs (opaque random strings without one)."""
        self.db_latency_seconds = db_latency
        self.signer = signer
        self.families_of_user: dict[str, list[Family]] = {}
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}

    async def db_latency(self) -> None:
        """The time between reading the rows and writing them (a round trip to the database).

        Where a behaviour holds its family's lock across it, concurrency cannot hurt; where it
        does not, every request that arrives meanwhile reads the same, soon stale, rows.
        """
        await asyncio.sleep(self.db_latency_seconds)

    def find(self, value: str) -> RefreshToken | None:
        return self.refresh_tokens.get(value)

    def login(self, user: str, scope: str) -> RefreshToken:
        """A new family and its first refresh token (generation 0)."""
        family = Family(id=secrets.token_hex(8), user=user, scope=scope)
        self.families_of_user.setdefault(user, []).append(family)
        family.head = self.mint(family, generation=0)
        return family.head

    def mint(self, family: Family, generation: int) -> RefreshToken:
        """A new refresh token and its access token in ``family``; the head does not move."""
        token = RefreshToken(
            value=secrets.token_urlsafe(32),
            family=family,
            access=self.mint_access(family),
            generation=generation,
        )
        self.refresh_tokens[token.value] = token
        return token

    def mint_access(self, family: Family) -> str:
        value = secrets.token_urlsafe(32)
        if self.signer is not None:
            value = self.signer.sign(family.user, token_id=value)
        self.access_tokens[value] = AccessToken(family)
        return value

    def rotate(self, token: RefreshToken) -> RefreshToken:
        """Consume ``token``: mint its successor and make that the family's head."""
        successor = self.mint(token.family, generation=token.generation + 1)
        token.successor = successor
        token.rotated_at = time.monotonic()
        token.family.head = successor
        return successor

    def revoke_access(self, value: str) -> None:
        access = self.access_tokens.get(value)
        if access is not None:
            access.revoked = True

    def revoke(self, family: Family, scope: ReuseRevokes = "family") -> None:
        """Revoke ``family`` (all its tokens), every family of its user, or nothing."""
        if scope == "family":
            family.revoked = True
        elif scope == "user":
            for other in self.families_of_user[family.user]:
                other.revoked = True

    def family_of(self, value: str) -> Family | None:
        """The family of a refresh or an access token (for RFC 7009 revocation)."""
        refresh = self.refresh_tokens.get(value)
        if refresh is not None:
            return refresh.family
        access = self.access_tokens.get(value)
        return access.family if access is not None else None
