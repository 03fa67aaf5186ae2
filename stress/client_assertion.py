"""Client assertions (RFC 7523 section 2.2, OpenID Connect Core section 9): a JWT as credential.

A server that registers the test client for ``private_key_jwt`` (Keycloak's "Signed JWT", Okta,
Auth0, Spring Authorization Server, Entra ID's certificate credentials) or ``client_secret_jwt``
wants with every token request a short-lived JWT naming the client, signed with its private key
or keyed with its secret. Each assertion has its own ``jti``, and servers refuse one they have
seen (RFC 7523 section 3, item 7): so every request of a burst is signed afresh, when it is
built, and a retried or replayed request never reuses an assertion.
"""

from __future__ import annotations

import secrets
import time
import warnings
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

__all__ = ["ASSERTION_TYPE", "ClientAssertion"]

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Seconds an assertion is valid: long enough for a slow request, short as servers want (Okta
# refuses more than an hour, Keycloak's default is a minute past issue).
LIFETIME = 60
_CURVES = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}


class ClientAssertion:
    """Signs the assertions of one client: ``client_id`` as issuer and subject, for
    ``audience`` (the token endpoint's URL when None, as RFC 7523 asks)."""

    def __init__(
        self, client_id: str, key: Any, algorithm: str, kid: str | None, audience: str | None
    ) -> None:
        self._client_id = client_id
        self._key = key
        self.algorithm = algorithm
        self._headers = {"kid": kid} if kid else None
        self._audience = audience

    @classmethod
    def private_key(
        cls, pem: str, client_id: str, kid: str | None, audience: str | None
    ) -> ClientAssertion:
        """``private_key_jwt`` with the PEM private key ``pem``: RS256 for an RSA key, ES256 to
        ES512 for an EC key of the matching curve, EdDSA for Ed25519. ``ValueError`` says why
        a key cannot sign."""
        try:
            key = load_pem_private_key(pem.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"not an unencrypted PEM private key ({exc})") from None
        if isinstance(key, rsa.RSAPrivateKey):
            algorithm = "RS256"
        elif isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _CURVES:
            algorithm = _CURVES[key.curve.name]
        elif isinstance(key, ed25519.Ed25519PrivateKey):
            algorithm = "EdDSA"
        else:
            raise ValueError(
                f"a {type(key).__name__.removeprefix('_')} cannot sign a client assertion: "
                "expected an RSA, EC (P-256, P-384, P-521) or Ed25519 key"
            )
        return cls(client_id, key, algorithm, kid, audience)

    @classmethod
    def secret(cls, secret: str, client_id: str, audience: str | None) -> ClientAssertion:
        """``client_secret_jwt``: HS256 keyed with the client's secret."""
        return cls(client_id, secret.encode(), "HS256", None, audience)

    def sign(self, endpoint: str) -> str:
        """A new assertion for a request to ``endpoint`` (its full URL)."""
        now = int(time.time())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": self._audience or endpoint,
            "jti": secrets.token_urlsafe(18),
            "iat": now,
            "exp": now + LIFETIME,
        }
        if self.algorithm != "HS256":
            return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=self._headers)
        # The secret is the server's, whatever its length: pyjwt's warning about a short one
        # would only repeat on the user's console what they cannot change here.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
            return jwt.encode(claims, self._key, algorithm=self.algorithm, headers=self._headers)
