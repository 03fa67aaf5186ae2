"""Access-token claims: read what checkers need from a JWT, and verify it when a JWKS is known.

Opaque access tokens are fine: they simply have no claims. Verification pins the algorithm to
what the key declares, so an ``alg: none`` or HMAC-with-public-key token can never verify.
"""

from __future__ import annotations

import logging
from typing import Any

import jwt

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
        if token.count(".") != 2:
            return None
        try:
            payload = jwt.decode(token, options={"verify_signature": False})
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            return None
        verified, problem = self._verify(token, header)
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

    def _verify(self, token: str, header: dict[str, Any]) -> tuple[bool | None, str | None]:
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
            jwt.decode(
                token,
                key=key.key,
                algorithms=[alg],
                options={"verify_aud": False, "verify_exp": False, "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            return False, f"{type(exc).__name__}: {exc}"
        return True, None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
