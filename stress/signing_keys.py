"""The target's published signing keys, fetched again when a token names one they lack.

Why again: servers rotate the keys they sign access tokens with, and publish the new key when
they start using it (Dex rotates every six hours by default; Keycloak, Auth0 and Okta rotate
when told). A run that kept the JWKS it read at discovery would judge every token signed after
such a rotation as "no key with kid", though the resource servers, which fetch the JWKS again on
an unknown ``kid`` as JWT libraries do, accept it. So a token naming an unknown key makes the run
fetch the JWKS again before the token is judged: one fetch at a time, and none sooner than
:data:`REFETCH_COOLDOWN_SECONDS` after the last, so a server that signs with a key it never
publishes costs a fetch now and then, not one per token (and is still reported).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import anyio
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = ["FULLY_SPECIFIED", "REFETCH_COOLDOWN_SECONDS", "KeySource", "SigningKeys"]

logger = logging.getLogger(__name__)

REFETCH_COOLDOWN_SECONDS = 10.0
"""The least time between two fetches of the JWKS for tokens that name a key it lacked."""

KeySource = Callable[[], Awaitable[dict[str, Any] | None]]
"""Fetches the target's JWKS document again; None when it cannot be had (logged)."""

# RFC 9864's fully-specified names for EdDSA with one curve, which newer servers write in their
# JWKS and token headers instead of the polymorphic EdDSA; PyJWT knows only the latter.
FULLY_SPECIFIED = {"Ed25519": "EdDSA", "Ed448": "EdDSA"}


class SigningKeys:
    """The keys of one JWKS by key id, and how to get newer ones (``source``, optional).

    ``notes`` say what each fetch after the first found, for the run-end record.
    """

    def __init__(
        self,
        jwks: dict[str, Any] | None = None,
        source: KeySource | None = None,
        *,
        cooldown: float = REFETCH_COOLDOWN_SECONDS,
    ) -> None:
        self.keys: dict[str | None, jwt.PyJWK] = {}
        self.ed25519: dict[str | None, bytes] = {}  # raw public keys, by the same key ids
        if jwks is not None:
            self._load(jwks)
        self.notes: list[str] = []
        self._source = source
        self._cooldown = cooldown
        self._started = time.monotonic()
        self._fetched_at: float | None = None
        self._fetching: anyio.Lock | None = None

    def can_fetch(self, kid: object) -> bool:
        """True when a token naming ``kid`` would make :meth:`fetch_for` look for it."""
        return (
            self._source is not None
            and bool(self.keys)
            and isinstance(kid, str)
            and kid not in self.keys
        )

    async def fetch_for(self, kids: Collection[str]) -> None:
        """Fetch the JWKS again for tokens that name ``kids`` (unless a fetch is under way, in
        which case wait for it, or one was made within the cooldown)."""
        if self._source is None:
            return
        if self._fetching is None:
            self._fetching = anyio.Lock()
        async with self._fetching:
            missing = sorted(k for k in kids if k not in self.keys)
            now = time.monotonic()
            if not missing or (
                self._fetched_at is not None and now - self._fetched_at < self._cooldown
            ):
                return
            self._fetched_at = now
            document = await self._source()
            self._learnt(missing, document, now - self._started)

    def _learnt(self, missing: list[str], document: dict[str, Any] | None, at: float) -> None:
        wanted = ", ".join(repr(k) for k in missing)
        fetched = f"the JWKS, fetched again {at:.1f} s into the run for a token signed by {wanted}"
        if document is None:
            self._note(f"{fetched}, could not be had: the keys held were kept")
            return
        before = set(self.keys)
        if not self._load(document):
            self._note(f"{fetched}, held no usable key: the keys held were kept")
            return
        added = sorted(str(k) for k in set(self.keys) - before)
        dropped = sorted(str(k) for k in before - set(self.keys))
        found = [k for k in missing if k in self.keys]
        change = []
        if added:
            change.append("added " + ", ".join(repr(k) for k in added))
        if dropped:
            change.append("dropped " + ", ".join(repr(k) for k in dropped))
        if found:
            outcome = "; ".join(change) + "; the target rotated its signing key during the run"
        else:
            outcome = ("; ".join(change) + "; " if change else "") + (
                "still lacks it: the target signs with a key it does not publish"
            )
        self._note(f"{fetched}: {outcome}")

    def _note(self, note: str) -> None:
        logger.info("%s", note)
        self.notes.append(note)

    def _load(self, jwks: dict[str, Any]) -> bool:
        """Take ``jwks``'s keys in place of the ones held; False (logged, nothing changed) when
        it holds none that can be used."""
        try:
            keyset = jwt.PyJWKSet.from_dict(_polymorphic(jwks))
        except jwt.PyJWTError as exc:
            logger.warning("unusable jwks: %s", exc, extra={"error_type": type(exc).__name__})
            return False
        self.keys = {key.key_id: key for key in keyset.keys}
        self.ed25519 = {
            key.key_id: key.key.public_bytes(Encoding.Raw, PublicFormat.Raw)
            for key in keyset.keys
            if isinstance(key.key, Ed25519PublicKey)
        }
        return True


def _polymorphic(jwks: dict[str, Any]) -> dict[str, Any]:
    """``jwks`` with each key's fully-specified EdDSA name (RFC 9864) as PyJWT's ``EdDSA``; a
    document that is not a key set is left for PyJWT to refuse."""
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        return jwks
    named = [
        {**key, "alg": FULLY_SPECIFIED[key["alg"]]}
        if isinstance(key, dict) and key.get("alg") in FULLY_SPECIFIED
        else key
        for key in keys
    ]
    return {**jwks, "keys": named}
