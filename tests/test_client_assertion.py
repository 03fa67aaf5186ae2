"""Client assertions (RFC 7523): what each one claims, how each key type signs, and that no two
requests share one (servers refuse a jti seen before)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

import jwt
import msgspec
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa, x25519

from stress.client_assertion import ASSERTION_TYPE, LIFETIME, ClientAssertion
from stress.discovery import Endpoints
from stress.errors import ScenarioError
from stress.scenario import TargetSpec, load_scenario
from stress.target import TargetProfile
from stress.templates import request_templates

TOKEN = "https://as.example/oauth/token"


def _pem(key: object) -> str:
    return key.private_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.mark.parametrize(
    ("key", "algorithm"),
    [
        (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256"),
        (ec.generate_private_key(ec.SECP256R1()), "ES256"),
        (ec.generate_private_key(ec.SECP384R1()), "ES384"),
        (ed25519.Ed25519PrivateKey.generate(), "EdDSA"),
    ],
)
def test_each_key_type_signs_with_its_algorithm(key: object, algorithm: str) -> None:
    signer = ClientAssertion.private_key(_pem(key), "app", "k7", None)
    assert signer.algorithm == algorithm
    token = signer.sign(TOKEN)
    assert jwt.get_unverified_header(token)["kid"] == "k7"
    claims = jwt.decode(
        token,
        key.public_key(),  # type: ignore[attr-defined]
        algorithms=[algorithm],
        audience=TOKEN,
    )
    assert (claims["iss"], claims["sub"]) == ("app", "app")
    assert claims["exp"] - claims["iat"] == LIFETIME


def test_no_two_assertions_share_a_jti_and_the_audience_can_be_the_issuer() -> None:
    signer = ClientAssertion.secret("s3cret", "app", "https://as.example/")
    tokens = [signer.sign(TOKEN) for _ in range(50)]
    with pytest.warns(jwt.InsecureKeyLengthWarning):  # the verifying side's, not the signer's
        claims = [jwt.decode(t, "s3cret", algorithms=["HS256"], audience="https://as.example/")
                  for t in tokens]  # fmt: skip
    assert len({c["jti"] for c in claims}) == 50
    assert "kid" not in jwt.get_unverified_header(tokens[0])


@pytest.mark.parametrize(
    ("pem", "message"),
    [
        ("not a key", "not an unencrypted PEM private key"),
        (_pem(x25519.X25519PrivateKey.generate()), "cannot sign a client assertion: expected an"),
        (_pem(ec.generate_private_key(ec.SECP256K1())), "cannot sign a client assertion"),
    ],
)
def test_a_key_that_cannot_sign_says_why(pem: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClientAssertion.private_key(pem, "app", None, None)


def _spec(**fields: object) -> TargetSpec:
    return msgspec.convert({"kind": "oauth2", "client_id": "app", **fields}, type=TargetSpec)


ENDPOINTS = Endpoints(
    token=TOKEN, revocation="https://as.example/oauth/revoke", jwks=None, resource=None
)


def test_every_token_request_carries_an_assertion_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    monkeypatch.setenv("CLIENT_KEY", _pem(key))
    profile = TargetProfile(
        _spec(client_auth="private_key_jwt", client_key_env="CLIENT_KEY"), ENDPOINTS
    )
    forms = [parse_qs(profile.refresh("https://as.example/", "R").body.decode()) for _ in range(3)]
    forms.append(parse_qs(profile.revoke("https://as.example/", "R").body.decode()))
    assert all(f["client_id"] == ["app"] for f in forms)
    assert all(f["client_assertion_type"] == [ASSERTION_TYPE] for f in forms)
    assertions = [f["client_assertion"][0] for f in forms]
    assert len(set(assertions)) == 4
    audiences = [
        jwt.decode(a, key.public_key(), algorithms=["ES256"], options={"verify_aud": False})["aud"]
        for a in assertions
    ]
    assert audiences == [TOKEN] * 3 + ["https://as.example/oauth/revoke"]


def test_the_request_templates_name_a_placeholder_not_an_assertion() -> None:
    spec = _spec(client_auth="client_secret_jwt", client_secret_env="UNSET_IN_TEMPLATES")
    templates = request_templates(spec, ENDPOINTS, "https://as.example/", frozenset({"refresh"}))
    body = templates["refresh"].body or ""
    assert "client_assertion=$CLIENT_ASSERTION" in body
    assert f"client_assertion_type={ASSERTION_TYPE}".replace(":", "%3A") in body


def test_a_key_variable_not_set_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLIENT_KEY", raising=False)
    spec = _spec(client_auth="private_key_jwt", client_key_env="CLIENT_KEY")
    with pytest.raises(ScenarioError, match="environment variable CLIENT_KEY is not set"):
        TargetProfile(spec, ENDPOINTS)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ('client_auth = "private_key_jwt"', "'private_key_jwt' needs target.client_key_env"),
        ('client_auth = "client_secret_jwt"', "'client_secret_jwt' needs target.client_secret_env"),
        ('client_key_env = "K"', "target.client_key_env goes with target.client_auth = 'private"),
        ('client_auth = "basic"\nclient_secret_env = "S"\nclient_key_id = "k"',
         "target.client_key_id goes with"),
        ('client_assertion_audience = "https://as/"', "client_assertion_audience goes with"),
        ('client_auth = "private_key_jwt"\nclient_secret_env = "S"\nclient_key_env = "K"',
         "target.client_secret_env is set but target.client_auth is 'private_key_jwt'"),
    ],
)  # fmt: skip
def test_a_client_credential_goes_with_its_method(
    tmp_path: Path, fields: str, message: str
) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        f'name = "x"\n[target]\nkind = "oauth2"\nbase_url = "http://h"\nclient_id = "app"\n'
        f'{fields}\n[auth]\nusername = "u"\npassword_env = "P"\n[[steps]]\nop = "login"\n'
    )
    with pytest.raises(ScenarioError, match=message):
        load_scenario(path)


def test_a_client_without_assertions_has_none_in_its_templates() -> None:
    templates = request_templates(_spec(), ENDPOINTS, "https://as.example/", frozenset({"refresh"}))
    assert "client_assertion" not in (templates["refresh"].body or "")
