"""Signing keys fetched again for a token whose key the run lacked: when, how often, what is said.

The source here is a plain async function returning a JWKS document (or None), so the policy
is tested without a server; the end-to-end case runs in tests/tester/test_key_rotation.py.
"""

from __future__ import annotations

from typing import Any

import anyio
import jwt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jwt.algorithms import OKPAlgorithm

from stress.claims import ClaimReader
from stress.signing_keys import SigningKeys

PRIVATE = {kid: Ed25519PrivateKey.generate() for kid in ("k1", "k2")}


def jwks(*kids: str) -> dict[str, Any]:
    keys = []
    for kid in kids:
        key = OKPAlgorithm.to_jwk(PRIVATE[kid].public_key(), as_dict=True)
        keys.append({**key, "kid": kid, "alg": "EdDSA", "use": "sig"})
    return {"keys": keys}


def token(kid: str, jti: str = "t") -> str:
    claims = {"sub": "user1", "jti": jti, "iat": 1_800_000_000, "exp": 1_800_000_900}
    return jwt.encode(claims, PRIVATE[kid], algorithm="EdDSA", headers={"kid": kid})


class Source:
    """Answers each fetch with the next document; counts the fetches."""

    def __init__(self, *documents: dict[str, Any] | None) -> None:
        self.documents = list(documents)
        self.fetches = 0

    async def __call__(self) -> dict[str, Any] | None:
        self.fetches += 1
        await anyio.sleep(0.01)  # long enough for concurrent callers to queue behind it
        return self.documents.pop(0)


def test_a_token_signed_by_a_key_rotated_in_verifies_after_one_fetch() -> None:
    source = Source(jwks("k1", "k2"))
    reader = ClaimReader(jwks("k1"), source)
    fresh = token("k2")
    assert reader.unknown_key(token("k1")) is None
    assert reader.unknown_key(fresh) == "k2"

    async def main() -> None:
        await reader.learn_keys({"k2"})

    anyio.run(main)
    claims = reader.read(fresh)
    assert claims is not None
    assert (claims.verified, claims.verify_error) == (True, None)
    assert source.fetches == 1
    assert reader.unknown_key(token("k2", jti="other")) is None  # known now: no more fetches
    [note] = reader.keys.notes
    assert "for a token signed by 'k2'" in note
    assert "added 'k2'" in note
    assert note.endswith("the target rotated its signing key during the run")


def test_concurrent_tokens_of_the_new_key_share_one_fetch() -> None:
    source = Source(jwks("k1", "k2"))
    keys = SigningKeys(jwks("k1"), source)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            for _ in range(8):
                tg.start_soon(keys.fetch_for, {"k2"})

    anyio.run(main)
    assert source.fetches == 1
    assert "k2" in keys.keys


def test_an_unpublished_key_is_looked_for_once_per_cooldown_and_still_fails() -> None:
    source = Source(jwks("k1"), jwks("k1"))
    reader = ClaimReader(jwks("k1"), source)
    foreign = token("k2")

    async def main() -> None:
        await reader.learn_keys({"k2"})
        await reader.learn_keys({"k2"})  # within the cooldown: no second fetch

    anyio.run(main)
    assert source.fetches == 1
    claims = reader.read(foreign)
    assert claims is not None
    assert (claims.verified, claims.verify_error) == (False, "no key with kid 'k2' in the JWKS")
    [note] = reader.keys.notes
    assert note.endswith("still lacks it: the target signs with a key it does not publish")


def test_the_cooldown_allows_a_later_fetch() -> None:
    source = Source(jwks("k1"), jwks("k1", "k2"))
    keys = SigningKeys(jwks("k1"), source, cooldown=0.0)

    async def main() -> None:
        await keys.fetch_for({"k2"})
        await keys.fetch_for({"k2"})

    anyio.run(main)
    assert source.fetches == 2
    assert "k2" in keys.keys


def test_a_fetch_that_fails_keeps_the_keys_read_at_the_start() -> None:
    keys = SigningKeys(jwks("k1"), Source(None))

    async def main() -> None:
        await keys.fetch_for({"k2"})

    anyio.run(main)
    assert set(keys.keys) == {"k1"}
    [note] = keys.notes
    assert note.endswith("could not be had: the keys held were kept")


def test_a_key_dropped_from_the_set_is_said_and_no_longer_verifies() -> None:
    reader = ClaimReader(jwks("k1"), Source(jwks("k2")))

    async def main() -> None:
        await reader.learn_keys({"k2"})

    anyio.run(main)
    assert "dropped 'k1'" in reader.keys.notes[0]
    old = reader.read(token("k1"))
    assert old is not None
    assert old.verified is False


def test_nothing_is_fetched_without_a_source_or_a_key_set() -> None:
    assert ClaimReader(jwks("k1")).unknown_key(token("k2")) is None  # no source
    assert ClaimReader(None, Source()).unknown_key(token("k2")) is None  # not verifying
    assert ClaimReader(jwks("k1"), Source()).unknown_key("opaque-token") is None
