"""Signing keys across replicas: each process signs with its own key and verifies anyone's.

Why this module exists: replicas behind one load balancer must accept each other's access
tokens. Sharing one *private* key through Redis would put signing material in the database, and
it breaks when Redis restarts empty: a replica started afterwards signs with a key nobody else
knows. Instead each process keeps its private key to itself and publishes only its public JWK in
a Redis index with an expiry (a sorted set scored by expiry, ``JWKS_INDEX``), and renews it every
``PUBLISH_PERIOD_S`` seconds, so after a Redis restart the index is whole again within one
period. An entry outlives the last renewal by the access-token lifetime plus a margin, so the
tokens of a replica that has stopped keep verifying until they expire. A token whose ``kid`` is
not known yet makes the process read the index again before the token is rejected. The JWKS
endpoint serves the whole index, so a client verifies tokens from every replica with one fetch.
The index is one key, so on Redis Cluster it lives on one node like any family.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .redis_link import RedisLink, Script, StoreUnavailable, now_ms
from .tokens import SigningKey, public_key_from_jwk, verify_access_token

__all__ = ["JWKS_INDEX", "PUBLISH_PERIOD_S", "KeyRing"]

JWKS_INDEX = "{auth-stress:jwks}:v1"
PUBLISH_PERIOD_S = 5.0
logger = logging.getLogger("reference_server.keyring")

# Publish one public JWK in the index (a sorted set scored by expiry in ms), drop expired
# entries, let the index expire with its last entry, and return the live entries.
# KEYS[1] = index. ARGV: JWK JSON, now ms, lifetime ms.
_PUBLISH = Script(
    """
local now = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
redis.call('PEXPIREAT', KEYS[1], last[2])
return redis.call('ZRANGEBYSCORE', KEYS[1], now, '+inf')
"""
)


class KeyRing:
    """This process's signing key and the public keys of every live replica."""

    def __init__(self, own: SigningKey, link: RedisLink, access_ttl_s: int) -> None:
        self.own = own
        self._link = link
        self._own_entry = msgspec.json.encode(own.jwk(), order="sorted").decode()
        # Renewals come every period: an entry must survive a few missed ones and then the
        # lifetime of the last token signed with its key.
        self._lifetime_ms = round((access_ttl_s + 3 * PUBLISH_PERIOD_S) * 1000)
        self._jwks: dict[str, dict[str, Any]] = {own.kid: own.jwk()}
        self._public: dict[str, Ed25519PublicKey] = {own.kid: own.public_key}

    async def publish(self) -> None:
        """Add or renew this process's key in the index and take in everyone else's."""
        args: list[str | int] = [self._own_entry, now_ms(), self._lifetime_ms]
        self._load(await self._link.run(_PUBLISH, [JWKS_INDEX], args))

    async def refresh(self) -> None:
        """Read the index again (a replica may have started since)."""
        self._load(await self._link.call("ZRANGEBYSCORE", JWKS_INDEX, now_ms(), "+inf"))

    async def keep_published(self) -> None:
        """Renew the key every period until cancelled; a failed renewal is retried next time."""
        while True:
            await asyncio.sleep(PUBLISH_PERIOD_S)
            try:
                await self.publish()
            except StoreUnavailable as exc:
                logger.warning("signing key not renewed; retrying", extra={"error": str(exc)})
            except Exception:
                logger.exception("signing key renewal failed; retrying")

    def jwks(self) -> dict[str, Any]:
        """The RFC 7517 JWK Set of every known key, ordered by kid."""
        return {"keys": [self._jwks[kid] for kid in sorted(self._jwks)]}

    async def verify(self, token: str, *, issuer: str, audience: str) -> dict[str, Any]:
        """Verify an access token signed by any live replica; raises jwt.InvalidTokenError."""
        kid = jwt.get_unverified_header(token).get("kid")
        if not isinstance(kid, str):
            raise jwt.InvalidTokenError("the token names no key (kid)")
        if kid not in self._public:
            await self.refresh()
        public = self._public.get(kid)
        if public is None:
            raise jwt.InvalidTokenError(f"no live signing key with kid {kid!r}")
        return verify_access_token(token, public, issuer=issuer, audience=audience)

    def _load(self, entries: list[Any]) -> None:
        """Replace the peers' keys with ``entries``; malformed entries are logged and skipped."""
        jwks: dict[str, dict[str, Any]] = {self.own.kid: self.own.jwk()}
        public: dict[str, Ed25519PublicKey] = {self.own.kid: self.own.public_key}
        for entry in entries:
            try:
                jwk = msgspec.json.decode(entry)
                kid = jwk["kid"]
                public[kid] = self._public.get(kid) or public_key_from_jwk(jwk)
            except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
                logger.warning("malformed entry in the JWKS index", extra={"error": repr(exc)})
                continue
            jwks[kid] = jwk
        self._jwks, self._public = jwks, public
