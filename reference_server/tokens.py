"""Token material: refresh-token format and hashing, successor sealing, EdDSA JWTs and JWKS.

Why this module exists: it is the only place that sees token values, so hashing, sealing and
signing rules are checked in one spot.

Refresh tokens look like ``<family id>.<secret>``: a 128-bit family id (the JWT ``sid``) and a
256-bit random secret, both unpadded base64url. The family id routes the request to the family's
keys (RFC 9700 allows encoding the grant in the token); the secret makes it unguessable. Redis
stores only the SHA-256 of the whole token.

Grace replay must return the *same* successor, so the successor has to be recoverable. It is
stored sealed with AES-GCM under a key derived from the *predecessor* token, which Redis never
holds (it holds only the predecessor's hash). Whoever can read Redis therefore cannot read the
successor; only a caller presenting the predecessor can open it, which is exactly who is entitled
to the replay. The sealed value is kept only about as long as the grace window (see
``families``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

import jwt
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "ACCESS_TOKEN_ALG",
    "AccessToken",
    "MintedSuccessor",
    "SigningKey",
    "fingerprint",
    "generate_private_key_pem",
    "mint_successor",
    "new_family_id",
    "new_refresh_token",
    "open_successor",
    "parse_refresh_token",
    "public_key_from_jwk",
    "seal_successor",
    "token_hash",
    "verify_access_token",
]

ACCESS_TOKEN_ALG = "EdDSA"
_FAMILY_ID_BYTES = 16
_SECRET_BYTES = 32
_REFRESH_RE = re.compile(r"([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})")  # full matches only
_SEAL_CONTEXT = b"auth-stress/successor-seal/v1\x00"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def new_family_id() -> str:
    """A fresh 128-bit random family id."""
    return _b64(secrets.token_bytes(_FAMILY_ID_BYTES))


def new_refresh_token(family_id: str) -> str:
    """A fresh refresh token of ``family_id`` with a 256-bit random secret."""
    return f"{family_id}.{_b64(secrets.token_bytes(_SECRET_BYTES))}"


def parse_refresh_token(token: str) -> str | None:
    """The family id of a well-formed refresh token, else None."""
    match = _REFRESH_RE.fullmatch(token)
    return match.group(1) if match else None


def token_hash(token: str) -> str:
    """SHA-256 hex digest: the only form in which a token is stored."""
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def fingerprint(value: str) -> str:
    """A short non-reversible label for logs (never log the value itself)."""
    return hashlib.sha256(b"fp:" + value.encode()).hexdigest()[:12]


def _seal_key(predecessor: str) -> AESGCM:
    return AESGCM(hashlib.sha256(_SEAL_CONTEXT + predecessor.encode("ascii")).digest())


def seal_successor(predecessor: str, successor: str) -> str:
    """Encrypt ``successor`` so that only a holder of ``predecessor`` can open it."""
    nonce = secrets.token_bytes(12)
    sealed = _seal_key(predecessor).encrypt(nonce, successor.encode("ascii"), None)
    return _b64(nonce + sealed)


def open_successor(predecessor: str, sealed: str) -> str:
    """Decrypt a value made by ``seal_successor``; raises ValueError if it does not open."""
    try:
        raw = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
        plain = _seal_key(predecessor).decrypt(raw[:12], raw[12:], None)
    except Exception as exc:  # InvalidTag or a malformed blob
        raise ValueError("sealed successor does not open with this token") from exc
    return plain.decode("ascii")


@dataclass(frozen=True, slots=True)
class MintedSuccessor:
    """A fresh refresh token, its hash, and the token sealed under its predecessor."""

    token: str
    hash: str
    sealed: str


def mint_successor(family_id: str, predecessor: str) -> MintedSuccessor:
    """A new refresh token of ``family_id`` to succeed ``predecessor``, ready to store."""
    token = new_refresh_token(family_id)
    return MintedSuccessor(token, token_hash(token), seal_successor(predecessor, token))


def generate_private_key_pem() -> bytes:
    """A new Ed25519 private key in PKCS#8 PEM."""
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A signed access token and the claims it carries."""

    token: str
    claims: dict[str, Any]


class SigningKey:
    """An Ed25519 key that signs access tokens and publishes its public half as a JWK.

    Usage::

        key = SigningKey.from_pem(generate_private_key_pem())
        at = key.issue(subject="user1", family_id=sid, scope="api", client_id="demo-client",
                       ttl=300, issuer=iss, audience=aud)
        claims = verify_access_token(at.token, key.public_key, issuer=iss, audience=aud)
    """

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self._public: Ed25519PublicKey = private_key.public_key()
        raw = self._public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self._x = _b64(raw)
        thumb_input = json.dumps(
            {"crv": "Ed25519", "kty": "OKP", "x": self._x}, separators=(",", ":"), sort_keys=True
        )
        self.kid = _b64(hashlib.sha256(thumb_input.encode()).digest())  # RFC 7638
        # The JWS header never changes: encode it once (the same bytes PyJWT would produce).
        header = {"alg": ACCESS_TOKEN_ALG, "kid": self.kid, "typ": "JWT"}
        self._header_segment = _b64(json.dumps(header, separators=(",", ":")).encode()) + "."

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        """Load a PKCS#8 PEM Ed25519 private key; raises ValueError for other key types."""
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("signing key must be an Ed25519 private key")
        return cls(key)

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The key that verifies this key's signatures."""
        return self._public

    def jwk(self) -> dict[str, str]:
        """The public key as an RFC 7517 JWK."""
        jwk = {"kty": "OKP", "crv": "Ed25519", "x": self._x}
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ACCESS_TOKEN_ALG}

    def issue(
        self,
        *,
        subject: str,
        family_id: str,
        scope: str,
        client_id: str,
        ttl: int,
        issuer: str,
        audience: str,
    ) -> AccessToken:
        """Sign a fresh access token (new jti every time)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer,
            "aud": audience,
            "sub": subject,
            "sid": family_id,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "nbf": now,
            "exp": now + ttl,
            "jti": _b64(secrets.token_bytes(16)),
        }
        # Compact JWS by hand: PyJWT's encode re-serialises the header and looks the algorithm
        # up on every call, about a third of the cost of the Ed25519 signature itself.
        signing_input = self._header_segment + _b64(msgspec.json.encode(claims))
        signature = self._private.sign(signing_input.encode("ascii"))
        token = signing_input + "." + _b64(signature)
        return AccessToken(token=token, claims=claims)


def public_key_from_jwk(jwk: dict[str, Any]) -> Ed25519PublicKey:
    """The Ed25519 key of an OKP JWK; raises ValueError for anything else."""
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519" or not isinstance(jwk.get("x"), str):
        raise ValueError("not an Ed25519 OKP JWK")
    raw = base64.urlsafe_b64decode(jwk["x"] + "=" * (-len(jwk["x"]) % 4))
    return Ed25519PublicKey.from_public_bytes(raw)


def verify_access_token(
    token: str, public_key: Ed25519PublicKey, *, issuer: str, audience: str
) -> dict[str, Any]:
    """Verify signature (EdDSA only), iss, aud, exp, nbf; raises jwt.InvalidTokenError."""
    claims: dict[str, Any] = jwt.decode(
        token,
        public_key,
        algorithms=[ACCESS_TOKEN_ALG],
        issuer=issuer,
        audience=audience,
        options={"require": ["iss", "aud", "sub", "sid", "exp", "iat", "nbf", "jti"]},
    )
    return claims
