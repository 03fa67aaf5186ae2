"""Access-token claims: decoded for the checkers, verified against a JWKS when one is known."""

from __future__ import annotations

import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stress.claims import ClaimReader
from stress.fingerprint import Fingerprinter

KEY = Ed25519PrivateKey.generate()
OTHER = Ed25519PrivateKey.generate()
CLAIMS = {"sub": "user1", "sid": "fam", "jti": "j1", "iat": 100, "nbf": 100, "exp": 400}


def jwks(key: Ed25519PrivateKey, kid: str = "k1") -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.OKPAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**jwk, "kid": kid, "alg": "EdDSA", "use": "sig"}]}


def token(key: Ed25519PrivateKey = KEY, kid: str = "k1", **claims: Any) -> str:
    return jwt.encode({**CLAIMS, **claims}, key, algorithm="EdDSA", headers={"kid": kid})


def test_reads_claims_without_a_jwks() -> None:
    claims = ClaimReader().read(token())
    assert claims is not None
    assert (claims.sub, claims.sid, claims.jti, claims.iat, claims.exp) == (
        "user1", "fam", "j1", 100, 400,
    )  # fmt: skip
    assert claims.verified is None


def test_verifies_against_the_jwks() -> None:
    claims = ClaimReader(jwks(KEY)).read(token())
    assert claims is not None
    assert claims.verified is True


def test_wrong_key_fails_verification() -> None:
    claims = ClaimReader(jwks(KEY)).read(token(OTHER))
    assert claims is not None
    assert claims.verified is False
    assert claims.verify_error is not None


def test_unknown_kid_fails() -> None:
    claims = ClaimReader(jwks(KEY)).read(token(kid="k2"))
    assert claims is not None
    assert claims.verified is False
    assert "kid" in (claims.verify_error or "")


def test_alg_none_never_verifies() -> None:
    unsigned = jwt.encode(CLAIMS, None, algorithm="none", headers={"kid": "k1"})
    claims = ClaimReader(jwks(KEY)).read(unsigned)
    assert claims is not None
    assert claims.verified is False


def test_opaque_tokens_have_no_claims() -> None:
    assert ClaimReader(jwks(KEY)).read("opaque-access-token") is None
    assert ClaimReader().read("a.b.c") is None


def test_fingerprints_are_stable_per_run_and_keyed() -> None:
    run, other_run = Fingerprinter(), Fingerprinter()
    assert run("token") == run("token")
    assert run("token") != run("token2")
    # A fingerprint cannot be recomputed without the run's key.
    assert run("token") != other_run("token")
    assert len(run("token")) == 16
