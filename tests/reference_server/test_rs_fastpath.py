"""The refresh path's fast pieces agree with what they replace.

The form fast path against ``parse_qsl``; the hand-built JWS against PyJWT.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qsl

import jwt
import pytest

from reference_server.oauth import _parse_form
from reference_server.tokens import (
    ACCESS_TOKEN_ALG,
    SigningKey,
    generate_private_key_pem,
    public_key_from_jwk,
    verify_access_token,
)

FORMS = ["", "a=1", "a=1&b=2", "a=&b=", "a", "a=1&&b=2", "a=1&", "&", "=", "=x", "a==b",
         "a=1&b=%41", "a=+1", "x=1&" * 31 + "y=2", "x=1&" * 32 + "y=2", "é=ü"]  # fmt: skip


@pytest.mark.parametrize("text", FORMS)
def test_form_fast_path_matches_parse_qsl(text: str) -> None:
    def outcome(parse: Callable[[str], list[tuple[str, str]]]) -> object:
        try:
            return parse(text)
        except ValueError:
            return ValueError

    expected = outcome(
        lambda t: parse_qsl(t, keep_blank_values=True, strict_parsing=True, max_num_fields=32)
    )
    assert outcome(_parse_form) == expected


def test_hand_built_jws_is_what_pyjwt_verifies() -> None:
    key = SigningKey.from_pem(generate_private_key_pem())
    issued = key.issue(
        subject="user1",
        family_id="f" * 22,
        scope="api",
        client_id="demo-client",
        ttl=60,
        issuer="iss",
        audience="aud",
    )
    header = jwt.get_unverified_header(issued.token)
    assert header == {"alg": ACCESS_TOKEN_ALG, "kid": key.kid, "typ": "JWT"}
    public_key = public_key_from_jwk(key.jwk())  # the published form verifies too
    assert verify_access_token(issued.token, public_key, issuer="iss", audience="aud") == (
        issued.claims
    )
    public = jwt.PyJWK(key.jwk())
    claims = jwt.decode(issued.token, public, algorithms=["EdDSA"], audience="aud")
    assert claims == issued.claims
    tampered = issued.token[:-4] + ("AAAA" if not issued.token.endswith("AAAA") else "BBBB")
    with pytest.raises(jwt.InvalidSignatureError):
        verify_access_token(tampered, key.public_key, issuer="iss", audience="aud")
    assert json.loads(jwt.utils.base64url_decode(issued.token.split(".")[1])) == issued.claims
