"""JWT access tokens whose signing key rotates during a run, published as a JWKS.

Why this module exists: servers rotate the key they sign access tokens with and publish the new
one when they start using it (Dex every six hours by default, its previous keys kept for
verification), so a tester that keeps the JWKS it read at the start judges every later token
unverifiable. ``--signing-key-rotates-after N`` makes a target sign its first ``N`` access tokens
with key ``k1`` and every later one with ``k2``, and list in its JWKS the keys used so far.
"""

from __future__ import annotations

import time
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

__all__ = ["RotatingSigner"]


class RotatingSigner:
    """Signs access tokens with ``k1``, then, from token ``rotates_after + 1``, with ``k2``."""

    def __init__(self, rotates_after: int, lifetime_seconds: int) -> None:
        self._keys = {kid: Ed25519PrivateKey.generate() for kid in ("k1", "k2")}
        self._rotates_after = rotates_after
        self._lifetime = lifetime_seconds
        self._signed = 0

    def sign(self, subject: str, token_id: str) -> str:
        kid = "k1" if self._signed < self._rotates_after else "k2"
        self._signed += 1
        now = int(time.time())
        claims = {
            "sub": subject,
            "jti": token_id,
            "iat": now,
            "exp": now + self._lifetime,
        }
        return jwt.encode(claims, self._keys[kid], algorithm="EdDSA", headers={"kid": kid})

    def jwks(self) -> dict[str, Any]:
        """The keys signed with so far (``k2`` appears when it starts signing)."""
        used = ["k1", "k2"] if self._signed > self._rotates_after else ["k1"]
        keys = []
        for kid in used:
            key = OKPAlgorithm.to_jwk(self._keys[kid].public_key(), as_dict=True)
            keys.append({**key, "kid": kid, "alg": "EdDSA", "use": "sig"})
        return {"keys": keys}
