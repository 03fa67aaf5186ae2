"""What a behaviour is: a refresh decision over the store, and the answers it can give.

Why this module exists: it fixes the one seam between the HTTP surface (``surface``) and the
behaviours. ``Behaviour.refresh`` takes the presented refresh token and answers ``Issued`` or
``Rejected``; ``RowLocked`` is the shape of every correct server: look the token up, take the
family's row lock, check the family is live, then let the behaviour decide.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from .store import RefreshToken, ReuseRevokes, Store

__all__ = ["Behaviour", "Issued", "Options", "Rejected", "RowLocked"]


@dataclass(frozen=True)
class Options:
    """The knobs of a behaviour; each behaviour reads only the ones it names in ``uses``."""

    grace: float = 2.0
    # How many times a replay of the previous token is accepted inside the window (0: always).
    replays: int = 0
    generations: int = 2
    reuse_revokes: ReuseRevokes = "family"
    db_latency: float = 0.002
    # Access tokens: opaque when 0, else JWTs whose signing key rotates after this many.
    signing_key_rotates_after: int = 0
    # A PEM public key: demo-client is then a private_key_jwt client with that key pair.
    client_assertion_key: str = ""
    # DPoP required: every token bound to the key of its request's proof.
    dpop: bool = False
    # With dpop: the token endpoint and the API each want their own nonce in proofs, new ones
    # after this many seconds (0: the same for the whole run).
    dpop_nonce: bool = False
    dpop_nonce_lifetime: float = 0.0
    # A web application firewall in front: every this many refreshes it answers itself, with
    # an HTML 403, and the server never sees the request (0: none).
    waf_every: int = 0


@dataclass(frozen=True)
class Issued:
    """A 200 token response; ``refresh_token`` is None when only an access token is issued."""

    access_token: str
    refresh_token: str | None
    scope: str

    @classmethod
    def pair(cls, token: RefreshToken) -> Issued:
        """``token`` and the access token issued with it."""
        return cls(token.access, token.value, token.family.scope)


@dataclass(frozen=True)
class Rejected:
    """A 400 ``invalid_grant``."""

    description: str


class Behaviour(ABC):
    """One server's answer to ``grant_type=refresh_token``."""

    name: ClassVar[str]
    uses: ClassVar[frozenset[str]] = frozenset()  # the Options fields it reads, besides latency

    def __init__(self, store: Store, options: Options) -> None:
        self.store = store
        self.options = options

    @abstractmethod
    async def refresh(self, presented: str) -> Issued | Rejected:
        """Answer a refresh of ``presented``."""

    def used(self, access: str) -> None:  # noqa: B027 (most behaviours do nothing here)
        """The API accepted ``access``: most servers do nothing more (``revoke-on-use``)."""

    def within_grace(self, token: RefreshToken) -> bool:
        """Was ``token`` rotated less than ``--grace`` seconds ago?"""
        rotated_at = token.rotated_at
        return rotated_at is not None and time.monotonic() - rotated_at <= self.options.grace

    async def reuse_detected(self, token: RefreshToken, scope: ReuseRevokes = "family") -> Rejected:
        """RFC 9700 §4.14.2: a consumed token came back; revoke, then refuse."""
        await self.store.db_latency()
        self.store.revoke(token.family, scope)
        return Rejected(f"refresh token reuse detected; revoked: {scope}")


class RowLocked(Behaviour):
    """A refresh that decides under the family's row lock, so requests for one family queue."""

    async def refresh(self, presented: str) -> Issued | Rejected:
        arrived = time.monotonic()
        token = self.store.find(presented)
        if token is None:
            return Rejected("unknown refresh token")
        async with token.family.lock:  # SELECT ... FOR UPDATE
            if token.family.revoked:
                return Rejected("the token family is revoked")
            return await self.decide(token, arrived)

    @abstractmethod
    async def decide(self, token: RefreshToken, arrived: float) -> Issued | Rejected:
        """Decide, holding the lock; ``arrived`` is when the request reached the server."""

    async def rotate(self, token: RefreshToken) -> Issued:
        """The ordinary rotation: consume ``token`` and issue its successor pair."""
        await self.store.db_latency()
        return Issued.pair(self.store.rotate(token))
