"""DPoP proofs (RFC 9449): what each claims, the nonces servers hand out, and that a request sent
again is proven afresh."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import jwt
import msgspec
import pytest
from targets.oauth_behaviours.surface import thumbprint as targets_thumbprint

from stress.discovery import Endpoints
from stress.dpop import DpopKey
from stress.errors import ScenarioError
from stress.scenario import TargetSpec, load_scenario
from stress.target import TargetProfile
from stress.templates import request_templates
from stress.wire import WireOutcome, WireResponse

ENDPOINTS = Endpoints(
    token="https://as.example/oauth/token", revocation=None, jwks=None, resource="/api/me"
)


def _claims(proof: str) -> dict[str, object]:
    jwk = jwt.get_unverified_header(proof)["jwk"]
    return jwt.decode(proof, jwt.PyJWK(jwk).key, algorithms=["ES256"])


def test_a_proof_names_its_request_and_the_key_it_is_signed_with() -> None:
    key = DpopKey()
    proof = key.proof("POST", "https://as.example/oauth/token?x=1#f")
    header = jwt.get_unverified_header(proof)
    assert (header["typ"], header["alg"], header["jwk"]) == ("dpop+jwt", "ES256", key.jwk)
    claims = _claims(proof)
    assert (claims["htm"], claims["htu"]) == ("POST", "https://as.example/oauth/token")
    assert "ath" not in claims
    assert key.thumbprint == targets_thumbprint(key.jwk)  # the binding both sides compute
    bound = _claims(key.proof("GET", "https://rs.example/api", "the-access-token"))
    digest = hashlib.sha256(b"the-access-token").digest()
    assert bound["ath"] == base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    assert len({_claims(key.proof("POST", "https://as/t"))["jti"] for _ in range(20)}) == 20


def _profile() -> TargetProfile:
    spec = msgspec.convert({"kind": "oauth2", "client_id": "app", "dpop": True}, type=TargetSpec)
    return TargetProfile(spec, ENDPOINTS)


def test_token_requests_carry_a_proof_and_the_api_gets_a_dpop_token() -> None:
    profile = _profile()
    refresh = profile.refresh("https://as.example/", "R")
    proof = dict(refresh.headers)["dpop"]
    assert _claims(proof)["htu"] == "https://as.example/oauth/token"
    use = dict(profile.use("https://as.example/", "A").headers)
    assert use["authorization"] == "DPoP A"
    assert "ath" in _claims(use["dpop"])
    again = profile.renewed(refresh)
    assert (again.url, again.body) == (refresh.url, refresh.body)
    assert _claims(dict(again.headers)["dpop"])["jti"] != _claims(proof)["jti"]


def test_the_templates_name_a_placeholder_not_a_proof() -> None:
    spec = msgspec.convert({"kind": "oauth2", "client_id": "app", "dpop": True}, type=TargetSpec)
    templates = request_templates(spec, ENDPOINTS, "https://as.example/", frozenset({"use"}))
    headers = dict(templates["use"].headers)
    assert (headers["dpop"], headers["authorization"]) == ("$DPOP_PROOF", "DPoP $ACCESS_TOKEN")
    plain = msgspec.convert({"kind": "oauth2"}, type=TargetSpec)
    refresh = request_templates(plain, ENDPOINTS, "https://as.example/", frozenset({"refresh"}))
    assert "dpop" not in dict(refresh["refresh"].headers)


def test_dpop_goes_with_oauth2(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        'name = "x"\n[target]\nkind = "json"\nbase_url = "http://h"\ndpop = true\n'
        '[target.refresh]\npath = "/r"\n[target.login]\npath = "/l"\n'
        '[auth]\nusername = "u"\npassword_env = "P"\n[[steps]]\nop = "login"\n'
    )
    with pytest.raises(ScenarioError, match=r"target\.dpop goes with target\.kind = 'oauth2'"):
        load_scenario(path)


def test_a_request_refused_for_want_of_a_nonce_is_sent_again_with_it() -> None:
    profile = _profile()
    refresh = profile.refresh("https://as.example/", "R")
    assert "nonce" not in _claims(dict(refresh.headers)["dpop"])
    wanted = WireResponse(400, (("dpop-nonce", "n1"),), b'{"error":"use_dpop_nonce"}', "1.1")
    again = profile.nonce_resend(WireOutcome(refresh, wanted, 1, 2, True))
    assert again is not None
    assert _claims(dict(again.headers)["dpop"])["nonce"] == "n1"
    # The API's own nonce comes with a 401 challenge; each endpoint keeps its own.
    use = profile.use("https://as.example/", "A")
    challenge = (("www-authenticate", 'DPoP error="use_dpop_nonce"'), ("dpop-nonce", "n2"))
    resent = profile.nonce_resend(
        WireOutcome(use, WireResponse(401, challenge, b"", "1.1"), 1, 2, True)
    )
    assert resent is not None
    assert _claims(dict(resent.headers)["dpop"])["nonce"] == "n2"
    assert (
        _claims(dict(profile.refresh("https://as.example/", "R").headers)["dpop"])["nonce"] == "n1"
    )
    # Any other refusal is the answer: nothing to send again.
    refused = WireResponse(400, (("dpop-nonce", "n3"),), b'{"error":"invalid_grant"}', "1.1")
    assert profile.nonce_resend(WireOutcome(refresh, refused, 1, 2, True)) is None


def test_a_demand_for_a_nonce_is_no_refusal_of_the_token() -> None:
    answer = WireResponse(400, (("dpop-nonce", "n1"),), b'{"error": "use_dpop_nonce"}', "1.1")
    parsed = _profile().parse_tokens(answer)
    assert (parsed.outcome, parsed.error) == ("info", "use_dpop_nonce")
