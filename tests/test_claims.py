"""Access-token claims: decoded for the checkers, verified against a JWKS when one is known."""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from stress.claims import CACHE_SIZE, ClaimReader
from stress.fingerprint import CACHE_SIZE as FP_CACHE_SIZE
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


def test_a_shared_secrets_signature_is_left_unjudged_with_the_reason() -> None:
    # FusionAuth's default key, an Auth0 API set to HS256: the JWKS holds only public keys.
    for kid in ("k1", "hmac-key", None):
        headers = {"kid": kid} if kid else {}
        hs256 = jwt.encode(CLAIMS, "s" * 32, algorithm="HS256", headers=headers)
        claims = ClaimReader(jwks(KEY)).read(hs256)
        assert claims is not None
        assert (claims.sub, claims.exp, claims.verified) == ("user1", 400, None)
        assert claims.verify_error == "signed with HS256, a shared secret that no JWKS publishes"


def test_the_fully_specified_ed25519_name_verifies_as_eddsa() -> None:
    # RFC 9864: a newer server names the algorithm Ed25519, in its JWKS and its tokens.
    keys = {"keys": [{**jwks(KEY)["keys"][0], "alg": "Ed25519"}]}
    for key, verified in ((KEY, True), (OTHER, False)):
        claims = ClaimReader(keys).read(_ed25519_named(key))
        assert claims is not None
        assert claims.verified is verified


def _ed25519_named(key: Ed25519PrivateKey) -> str:
    """A token signed by ``key`` whose header names its algorithm Ed25519 (RFC 9864)."""
    header = base64.urlsafe_b64encode(b'{"alg":"Ed25519","kid":"k1"}').rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(CLAIMS).encode()).rstrip(b"=")
    signature = base64.urlsafe_b64encode(key.sign(header + b"." + body)).rstrip(b"=")
    return b".".join((header, body, signature)).decode()


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


def test_a_token_seen_again_gets_the_same_verdict_without_a_second_check() -> None:
    reader = ClaimReader(jwks(KEY))
    first, forged = token(), token(OTHER)
    claims = reader.read(first)
    assert claims is not None
    assert claims.verified is True
    assert reader.read(first) is claims  # remembered, not decoded and verified anew
    rejected = reader.read(forged)
    assert rejected is not None
    assert rejected.verified is False
    assert reader.read(forged) is rejected


def test_many_distinct_tokens_are_each_verified_and_the_memo_stays_bounded() -> None:
    reader = ClaimReader(jwks(KEY))
    tokens = [token(jti=f"j{n}") for n in range(3 * CACHE_SIZE)]
    verdicts = [reader.read(each) for each in tokens]
    assert all(c is not None and c.verified is True for c in verdicts)
    assert [c.jti for c in verdicts if c is not None] == [f"j{n}" for n in range(3 * CACHE_SIZE)]
    # An early token was forgotten: it is read (and verified) again, with the same result.
    again = reader.read(tokens[0])
    assert again == verdicts[0]
    assert again is not verdicts[0]


def test_claims_of_unusual_segments() -> None:
    reader = ClaimReader()
    # Padding-free base64url with both url-safe characters, a non-object payload, bad base64.
    assert reader.read(token(sub="\u00ff\u00fe?>")) is not None
    assert reader.read("eyJhbGciOiJFZERTQSJ9.WzFd.sig") is None  # payload is [1]
    assert reader.read("eyJhbGciOiJFZERTQSJ9.\u00e9.sig") is None
    claims = reader.read(token(iat=1.5, exp=True, sub=7))
    assert claims is not None
    assert (claims.iat, claims.exp, claims.sub) == (1, None, None)


def test_fingerprints_of_many_tokens_stay_those_of_the_key() -> None:
    run = Fingerprinter(b"k" * 32)
    fresh = [Fingerprinter(b"k" * 32)(f"t{n}") for n in range(3 * FP_CACHE_SIZE)]
    assert [run(f"t{n}") for n in range(3 * FP_CACHE_SIZE)] == fresh
    assert [run(f"t{n}") for n in reversed(range(3 * FP_CACHE_SIZE))] == fresh[::-1]


def _verified(reader: ClaimReader, each: str) -> bool | None:
    claims = reader.read(each)
    assert claims is not None
    return claims.verified


def _tampered(good: str) -> str:
    header, _, signature = good.split(".")
    other = token(sub="someone-else").split(".")[1]
    return f"{header}.{other}.{signature}"


def test_ed25519_checks_agree_with_pyjwts_on_good_forged_tampered_and_truncated_tokens() -> None:
    reader = ClaimReader(jwks(KEY))
    good = token(jti="agree")
    cases = {
        "good": good,
        "forged": token(OTHER, jti="agree"),
        "tampered": _tampered(good),
        "truncated": good[:-8],
        "extended": good + "AAAA",
    }
    public = jwt.PyJWK.from_dict(jwks(KEY)["keys"][0]).key
    okp = jwt.algorithms.OKPAlgorithm()
    for name, each in cases.items():
        header, payload, signature = each.split(".")
        raw = jwt.utils.base64url_decode(signature)
        expected = okp.verify(f"{header}.{payload}".encode(), public, raw)
        claims = reader.read(each)
        assert claims is not None, name
        assert claims.verified is expected, name
        assert (claims.verify_error is None) is expected, name
    assert _verified(reader, good) is True


def test_other_algorithms_are_checked_by_pyjwt() -> None:
    from cryptography.hazmat.primitives.asymmetric import ec

    key, other = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(key.public_key()))
    reader = ClaimReader({"keys": [{**jwk, "kid": "e1", "alg": "ES256"}]})
    signed = jwt.encode(CLAIMS, key, algorithm="ES256", headers={"kid": "e1"})
    forged = jwt.encode({**CLAIMS, "jti": "j2"}, other, algorithm="ES256", headers={"kid": "e1"})
    assert _verified(reader, signed) is True
    assert _verified(reader, forged) is False


def test_a_token_without_kid_is_checked_by_the_jwks_only_key() -> None:
    keyset = {"keys": [{k: v for k, v in jwks(KEY)["keys"][0].items() if k != "kid"}]}
    reader = ClaimReader(keyset)
    plain = jwt.encode(CLAIMS, KEY, algorithm="EdDSA")
    assert _verified(reader, plain) is True
    assert _verified(ClaimReader(jwks(KEY)), plain) is True
    forged = jwt.encode(CLAIMS, OTHER, algorithm="EdDSA")
    assert _verified(reader, forged) is False


def test_a_token_without_kid_is_checked_by_each_key_of_the_jwks() -> None:
    # Two keys with ids, a token naming none: the one that signed it is found, as jose finds it.
    keyset = {"keys": [*jwks(OTHER, "old")["keys"], *jwks(KEY, "new")["keys"]]}
    plain = jwt.encode(CLAIMS, KEY, algorithm="EdDSA")
    assert _verified(ClaimReader(keyset), plain) is True
    stranger = Ed25519PrivateKey.generate()
    claims = ClaimReader(keyset).read(jwt.encode(CLAIMS, stranger, algorithm="EdDSA"))
    assert claims is not None
    assert (claims.verified, claims.verify_error) == (
        False,
        "no key of the JWKS verifies it (a token without kid, 2 keys)",
    )


def test_a_kid_that_is_not_a_string_fails_verification_without_an_exception() -> None:
    def segment(value: object) -> str:
        return jwt.utils.base64url_encode(json.dumps(value).encode()).decode()

    for kid in ([1], {"k": 1}, 7):
        signed = f"{segment({'alg': 'EdDSA', 'kid': kid})}.{segment(CLAIMS)}"
        signature = jwt.utils.base64url_encode(KEY.sign(signed.encode())).decode()
        claims = ClaimReader(jwks(KEY)).read(f"{signed}.{signature}")
        assert claims is not None
        assert claims.verified is False
        assert "not a string" in (claims.verify_error or "")
