"""Access-token claims: read what checkers need from a JWT, and verify it when a JWKS is known.

Opaque access tokens are fine: they simply have no claims. Verification pins the algorithm to
what the key declares, so an ``alg: none`` token, or an asymmetric one whose ``alg`` is not its
key's, can never verify. A token signed with a shared secret (``HS256``: FusionAuth's default
signing key, an Auth0 API set to HS256) is not checked at all: a JWKS publishes no secret, and
the resource servers that hold it accept the token, so its claims are read and its signature is
left unjudged, with the reason. The keys are :mod:`stress.signing_keys`'s: the run's drive asks
for them to be fetched again (:meth:`ClaimReader.learn_keys`) before it reads a token signed by
a key they lack.

Every access token a run receives is read here, so this sits on the run path of every refresh:
a signature check costs tens to hundreds of microseconds. Ed25519 (``EdDSA``) signatures are
checked by libsodium (PyNaCl), in about half the time OpenSSL takes on the same machine
(``benchmarks/run_path_offline.py``); every other algorithm by PyJWT's, on OpenSSL through
``cryptography``. Each distinct token is read and verified once while it is recent: the claims
and verdict of the last :data:`CACHE_SIZE` tokens or more are remembered
(:class:`stress.recent.Recent`, in memory only, like the tokens the sessions hold), so a token
handed out again, as an idempotent replay hands out the same pair, costs a dict probe.
"""

from __future__ import annotations

import binascii
import functools
import logging
from collections.abc import Collection
from typing import Any

import jwt
import msgspec
import nacl.bindings
import nacl.exceptions
from jwt.algorithms import Algorithm

from stress.history import Claims
from stress.recent import Recent
from stress.signing_keys import FULLY_SPECIFIED, KeySource, SigningKeys

__all__ = ["CACHE_SIZE", "ClaimReader"]

logger = logging.getLogger(__name__)

CACHE_SIZE = 256
"""A :class:`ClaimReader` remembers the claims (and verdict) of at least this many recent
access tokens."""

ASYMMETRIC = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES256K", "ES384", "ES512",
     "EdDSA"}
)  # fmt: skip
SHARED_SECRET = frozenset({"HS256", "HS384", "HS512"})


class ClaimReader:
    """Extracts (and, with a JWKS, verifies) access-token claims into history records."""

    def __init__(self, jwks: dict[str, Any] | None = None, source: KeySource | None = None) -> None:
        """``jwks`` is the key set read at discovery; ``source`` fetches it again, for a token
        signed by a key it lacks (see :mod:`stress.signing_keys`)."""
        self.keys = SigningKeys(jwks, source)
        self._read: Recent[str, Claims | None] = Recent(CACHE_SIZE)
        # A target signs with one key or a few, so its tokens share a few header segments.
        self._headers: dict[str, object] = {}

    @property
    def verifying(self) -> bool:
        return bool(self.keys.keys)

    def unknown_key(self, token: str) -> str | None:
        """The key id a JWT not read yet names, when the key set lacks it and could be fetched
        again for it (:meth:`learn_keys`); None for every other token. Cheap: the header
        segment is decoded once per distinct header."""
        if token in self._read:
            return None
        dot = token.find(".")  # not partition: that would copy the rest of the token too
        if dot < 0:
            return None
        try:
            header = self._header(token[:dot])
        except (ValueError, msgspec.DecodeError):
            return None
        if not isinstance(header, dict) or header.get("alg") in SHARED_SECRET:
            return None
        kid = header.get("kid")
        return kid if self.keys.can_fetch(kid) else None

    async def learn_keys(self, kids: Collection[str]) -> None:
        """Fetch the key set again for tokens that name ``kids``, before they are read."""
        await self.keys.fetch_for(kids)

    def read(self, token: str) -> Claims | None:
        """The claims of a JWT access token (verified when a JWKS is known); None if opaque.

        Read on every token a run receives, so the segments are decoded directly rather than
        through PyJWT's decode, which costs several times more per token and checks nothing
        that matters unverified; the signature check is the key's algorithm's own. A token
        read before (and still remembered) gets the same claims without a second check.
        """
        if token in self._read:
            return self._read.get(token)
        return self._read.put(token, self._decode(token))

    def _decode(self, token: str) -> Claims | None:
        segments = token.split(".")
        if len(segments) != 3:
            return None
        try:
            header = self._header(segments[0])
            payload = _payload(segments[1])
        except (ValueError, msgspec.DecodeError):
            return None
        if not isinstance(header, dict):
            return None
        verified, problem = self._verify(segments, header)
        return Claims(
            jti=_str(payload.jti),
            sub=_str(payload.sub),
            sid=_str(payload.sid),
            iat=_int(payload.iat),
            nbf=_int(payload.nbf),
            exp=_int(payload.exp),
            verified=verified,
            verify_error=problem,
        )

    def _header(self, segment: str) -> object:
        header = self._headers.get(segment)
        if header is None:
            header = msgspec.json.decode(_base64url(segment))
            if len(self._headers) < _HEADERS_SIZE:
                self._headers[segment] = header
        return header

    def _verify(
        self, segments: list[str], header: dict[str, Any]
    ) -> tuple[bool | None, str | None]:
        keys = self.keys.keys
        if not keys:
            return None, None
        if header.get("alg") in SHARED_SECRET:
            return None, f"signed with {header['alg']}, a shared secret that no JWKS publishes"
        if header.get("alg") in FULLY_SPECIFIED:
            header = {**header, "alg": FULLY_SPECIFIED[header["alg"]]}
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            return False, f"kid {kid!r} is not a string"
        if kid is None and kid not in keys:
            # No kid to choose by: any key of the set may have signed it, and JWT libraries try
            # each (jose's remote key sets do); the first one that verifies it counts.
            if len(keys) == 1:
                return self._verify_with(next(iter(keys)), segments, header)
            for candidate in keys:
                if self._verify_with(candidate, segments, header)[0]:
                    return True, None
            return False, f"no key of the JWKS verifies it (a token without kid, {len(keys)} keys)"
        return self._verify_with(kid, segments, header)

    def _verify_with(
        self, kid: str | None, segments: list[str], header: dict[str, Any]
    ) -> tuple[bool, str | None]:
        key = self.keys.keys.get(kid)
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
        raw = self.keys.ed25519.get(kid)
        valid = (
            _ed25519_valid(raw, signed, signature)
            if raw is not None
            else algorithm.verify(signed, key.key, signature)
        )
        if not valid:
            return False, "InvalidSignatureError: Signature verification failed"
        return True, None


def _ed25519_valid(public: bytes, signed: bytes, signature: bytes) -> bool:
    """RFC 8032 Ed25519 verification by libsodium (which also refuses non-canonical and
    small-order encodings, which no signer produces)."""
    if len(signature) != nacl.bindings.crypto_sign_BYTES:
        return False
    try:
        nacl.bindings.crypto_sign_open(signature + signed, public)
    except nacl.exceptions.BadSignatureError:
        return False
    return True


@functools.cache
def _algorithm(name: str) -> Algorithm:
    return jwt.get_algorithm_by_name(name)


_HEADERS_SIZE = 64
_URLSAFE = bytes.maketrans(b"-_", b"+/")


class _Payload(msgspec.Struct):
    """The claims read from a JWT payload (any other member is skipped, not built)."""

    jti: Any = None
    sub: Any = None
    sid: Any = None
    iat: Any = None
    nbf: Any = None
    exp: Any = None


_payload_decoder = msgspec.json.Decoder(_Payload)


def _base64url(segment: str) -> bytes:
    """Decode one base64url JWS segment (unpadded, RFC 7515 §2); ValueError if it is not.

    What ``base64.urlsafe_b64decode`` does, without its Python-level steps (a segment is
    decoded for every token a run receives); UnicodeEncodeError and binascii.Error are
    ValueErrors.
    """
    data = segment.encode("ascii").translate(_URLSAFE)
    return binascii.a2b_base64(data + b"=" * (-len(data) % 4))


def _payload(segment: str) -> _Payload:
    """The payload's claims; ``msgspec.DecodeError`` (a ValidationError too) unless an object."""
    return _payload_decoder.decode(_base64url(segment))


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
