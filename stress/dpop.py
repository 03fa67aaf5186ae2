"""DPoP proofs (RFC 9449): tokens bound to a key pair, the key proven on every request.

A server that binds a client's tokens to a key (Keycloak, Okta and Auth0 with DPoP required for
a public client) refuses a token request without a proof signed by the key, and a refresh token
presented with another key's proof. The run holds one P-256 key, as one device would: the
binding is checked the same way for every family, and rotation under concurrency does not
depend on which key a family is bound to.

Each proof is signed when its request is built, with its own ``jti`` (a server may refuse one it
has seen, section 11.1), the request's method and URL (``htm``, ``htu``), on a request to a
protected resource the hash of the access token it goes with (``ath``), and the nonce the
endpoint last gave, when it gives them (sections 8 and 9: Okta demands one). A request refused
for want of a fresh nonce (``use_dpop_nonce``) is sent once more with it, as clients do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from urllib.parse import urlsplit, urlunsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["DpopKey", "thumbprint"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(jwk: dict[str, str]) -> str:
    """The RFC 7638 thumbprint of an EC public key (``jkt``, what a token is bound to)."""
    members = {name: jwk[name] for name in ("crv", "kty", "x", "y")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


class DpopKey:
    """The run's key pair, and the proofs it signs."""

    def __init__(self) -> None:
        self._key = ec.generate_private_key(ec.SECP256R1())
        numbers = self._key.public_key().public_numbers()
        self.jwk = {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64(numbers.x.to_bytes(32, "big")),
            "y": _b64(numbers.y.to_bytes(32, "big")),
        }
        self.thumbprint = thumbprint(self.jwk)
        self._header = {"typ": "dpop+jwt", "jwk": self.jwk}
        self._nonces: dict[str, str] = {}  # htu -> the nonce that endpoint gave last

    def proof(self, method: str, url: str, access_token: str | None = None) -> str:
        """A new proof for ``method`` ``url`` (``htu`` without its query), binding
        ``access_token`` when the request carries one."""
        htu = _htu(url)
        claims: dict[str, object] = {
            "jti": secrets.token_urlsafe(18),
            "htm": method,
            "htu": htu,
            "iat": int(time.time()),
        }
        nonce = self._nonces.get(htu)
        if nonce is not None:
            claims["nonce"] = nonce
        if access_token is not None:
            claims["ath"] = _b64(hashlib.sha256(access_token.encode()).digest())
        return jwt.encode(claims, self._key, algorithm="ES256", headers=self._header)

    def heard(self, url: str, nonce: str | None) -> None:
        """Keep the ``DPoP-Nonce`` an answer from ``url`` gave (None: it gave none)."""
        if nonce:
            self._nonces[_htu(url)] = nonce


def _htu(url: str) -> str:
    scheme, netloc, path, _, _ = urlsplit(url)
    return urlunsplit((scheme, netloc, path or "/", "", ""))
