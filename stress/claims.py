"""Access-token claims: read what checkers need from a JWT, and verify it when a JWKS is known.

Opaque access tokens are fine: they simply have no claims. Verification pins the algorithm to
what the key declares, so an ``alg: none`` or HMAC-with-public-key token can never verify.
"""

from __future__ import annotations

import base64
import functools
import logging
from typing import Any

import jwt
import msgspec
from jwt.algorithms import Algorithm

from stress.history import Claims

__all__ = ["ClaimReader"]

logger = logging.getLogger(__name__)

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


class ClaimReader:
    """Extracts (and, with a JWKS, verifies) access-token claims into history records."""

    def __init__(self, jwks: dict[str, Any] | None = None) -> None:
        self._keys: dict[str | None, jwt.PyJWK] = {}
        if jwks is not None:
            try:
                keyset = jwt.PyJWKSet.from_dict(jwks)
            except jwt.PyJWTError as exc:
                logger.warning("unusable jwks: %s", exc, extra={"error_type": type(exc).__name__})
            else:
                for key in keyset.keys:
                    self._keys[key.key_id] = key

    @property
    def verifying(self) -> bool:
        return bool(self._keys)

    def read(self, token: str) -> Claims | None:
        """The claims of a JWT access token (verified when a JWKS is known); None if opaque.

        Read on every token a run receives, so the segments are decoded directly rather than
        through PyJWT's decode, which costs several times more per token and checks nothing
        that matters unverified; the signature check is the key's algorithm's own.
        """
        segments = token.split(".")
        if len(segments) != 3:
            return None
        try:
            header, payload = _segment(segments[0]), _segment(segments[1])
        except (ValueError, msgspec.DecodeError):
            return None
        if not isinstance(header, dict) or not isinstance(payload, dict):
            return None
        verified, problem = self._verify(segments, header)
        return Claims(
            jti=_str(payload.get("jti")),
            sub=_str(payload.get("sub")),
            sid=_str(payload.get("sid")),
            iat=_int(payload.get("iat")),
            nbf=_int(payload.get("nbf")),
            exp=_int(payload.get("exp")),
            verified=verified,
            verify_error=problem,
        )

    def _verify(
        self, segments: list[str], header: dict[str, Any]
    ) -> tuple[bool | None, str | None]:
        if not self._keys:
            return None, None
        kid = header.get("kid")
        key = self._keys.get(kid) or (next(iter(self._keys.values())) if kid is None else None)
        if key is None:
            return False, f"no key with kid {kid!r} in the JWKS"
        alg = key.algorithm_name or header.get("alg")
        if alg not in ASYMMETRIC:
            return False, f"algorithm {header.get('alg')!r} is not an asymmetric JWS algorithm"
        if header.get("alg") != alg:
            return False, f"token alg {header.get('alg')!r} differs from the key's {alg!r}"
        try:
            signature = _base64url(segments[2])
            algorithm = _algorithm(alg)
        except (ValueError, NotImplementedError) as exc:
            return False, f"DecodeError: {exc}"
        signed = f"{segments[0]}.{segments[1]}".encode()
        if not algorithm.verify(signed, key.key, signature):
            return False, "InvalidSignatureError: Signature verification failed"
        return True, None


@functools.cache
def _algorithm(name: str) -> Algorithm:
    return jwt.get_algorithm_by_name(name)


def _base64url(segment: str) -> bytes:
    """Decode one base64url JWS segment (unpadded, RFC 7515 §2); ValueError if it is not."""
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _segment(segment: str) -> object:
    return msgspec.json.decode(_base64url(segment))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
