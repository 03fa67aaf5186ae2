"""Discovery runs only for the endpoints a run needs and lacks, and its errors say exactly
what was missing (the control plane's httpx client, scripted with MockTransport)."""

from __future__ import annotations

import ssl
from typing import Any

import anyio
import httpx
import msgspec
import pytest

from stress.discovery import Discovery, discover
from stress.errors import TargetError
from stress.scenario import TargetSpec

BASE = "http://127.0.0.1:9/"


def spec(**fields: Any) -> TargetSpec:
    return msgspec.convert({"kind": "oauth2", **fields}, TargetSpec)


def fetched(target: TargetSpec, metadata: dict[str, Any] | None, **kw: Any) -> list[str]:
    """The paths discovery asked for (and raises what discover raises)."""
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(200, json=metadata) if metadata else httpx.Response(404)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            await discover(client, target, BASE, **kw)

    anyio.run(go)
    return seen


def run(target: TargetSpec, metadata: dict[str, Any] | None, **kw: Any) -> Discovery:
    found: list[Discovery] = []

    async def go() -> None:
        transport = httpx.MockTransport(
            lambda r: httpx.Response(200, json=metadata) if metadata else httpx.Response(404)
        )
        async with httpx.AsyncClient(transport=transport) as client:
            found.append(await discover(client, target, BASE, **kw))

    anyio.run(go)
    return found[0]


def test_a_given_token_endpoint_needs_no_metadata_and_goes_on_without_jwks() -> None:
    found = run(spec(token_endpoint="/token"), None)
    assert (found.endpoints.token, found.endpoints.jwks) == ("/token", None)


def test_nothing_is_fetched_when_everything_is_given() -> None:
    assert fetched(spec(token_endpoint="/token", jwks_uri="/jwks"), None) == []
    assert fetched(spec(token_endpoint="/token"), None) != []  # the JWKS, best effort


def test_a_missing_token_endpoint_is_named_with_the_fix() -> None:
    with pytest.raises(TargetError) as info:
        run(spec(), None)
    message = str(info.value)
    assert "discovery found no metadata" in message
    assert message.endswith("it was needed for token endpoint: set target.token_endpoint")


def test_the_revocation_endpoint_is_asked_for_only_when_revocation_is_needed() -> None:
    run(spec(token_endpoint="/token"), None, revocation_needed=False)
    with pytest.raises(TargetError) as info:
        run(spec(token_endpoint="/token"), None, revocation_needed=True)
    assert str(info.value).endswith(
        "needed for revocation endpoint: set target.revocation_endpoint"
    )


def test_discovery_turned_off_says_so() -> None:
    with pytest.raises(TargetError, match="discovery is off"):
        run(spec(discovery=False), {"token_endpoint": f"{BASE}token"})


def test_metadata_fills_what_is_missing() -> None:
    found = run(spec(), {"token_endpoint": f"{BASE}token", "jwks_uri": f"{BASE}jwks"})
    assert (found.endpoints.token, found.endpoints.jwks) == ("/token", "/jwks")


def test_an_issuer_with_a_path_is_found_where_keycloak_and_rfc_8414_put_its_metadata() -> None:
    realm = "http://127.0.0.1:9/realms/test"
    metadata = {
        "issuer": realm,
        "token_endpoint": f"{realm}/protocol/openid-connect/token",
        "revocation_endpoint": f"{realm}/protocol/openid-connect/revoke",
        "jwks_uri": f"{realm}/protocol/openid-connect/certs",
    }
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        found = request.url.path == "/realms/test/.well-known/openid-configuration"
        return httpx.Response(200, json=metadata) if found else httpx.Response(404)

    async def go() -> Discovery:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            return await discover(client, spec(), realm + "/")

    found = anyio.run(go)
    # RFC 8414 section 3.1 first (the well-known segment before the path), then OpenID's.
    assert seen == [
        "/.well-known/oauth-authorization-server/realms/test",
        "/realms/test/.well-known/openid-configuration",
    ]
    assert found.endpoints.token == "/realms/test/protocol/openid-connect/token"
    assert found.endpoints.jwks == "/realms/test/protocol/openid-connect/certs"


def test_an_issuer_with_a_path_falls_back_to_the_documents_of_its_origin() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.path)
        return httpx.Response(404)

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            await discover(client, spec(), "http://127.0.0.1:9/api/")

    with pytest.raises(TargetError, match="discovery found no metadata"):
        anyio.run(go)
    assert seen == [
        "/.well-known/oauth-authorization-server/api",
        "/api/.well-known/openid-configuration",
        "/api/.well-known/oauth-authorization-server",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ]


def test_the_grant_types_the_metadata_lists_are_kept() -> None:
    listed = {"token_endpoint": "/t", "grant_types_supported": ["authorization_code", 7]}
    assert run(spec(), listed).grant_types == ("authorization_code",)
    assert run(spec(), {"token_endpoint": "/t"}).grant_types is None


def test_a_client_with_a_certificate_uses_the_mutual_tls_aliases_of_rfc_8705() -> None:
    """Keycloak and Okta publish ``mtls_endpoint_aliases``: the endpoints a client presenting a
    certificate must use (often another host, whose TLS asks for the certificate)."""
    metadata = {
        "token_endpoint": f"{BASE}token",
        "revocation_endpoint": f"{BASE}revoke",
        "mtls_endpoint_aliases": {
            "token_endpoint": "https://mtls.example/token",
            "revocation_endpoint": "https://mtls.example/revoke",
            "userinfo_endpoint": 7,
        },
    }
    found = run(spec(client_cert_env="CERT"), metadata)
    assert found.endpoints.token == "https://mtls.example/token"
    assert found.endpoints.revocation == "https://mtls.example/revoke"
    assert run(spec(), metadata).endpoints.token == "/token"
    given = run(spec(client_cert_env="CERT", token_endpoint="/t"), metadata)
    assert given.endpoints.token == "/t"  # a given endpoint still wins


@pytest.mark.parametrize(
    ("failure", "said"),
    [
        (httpx.ConnectError("connection refused"), "target unreachable: connection refused"),
        (
            ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED]"),
            "the target's TLS refused us",
        ),
    ],
)
def test_a_target_that_takes_no_request_gets_no_advice_to_name_endpoints(
    failure: Exception, said: str
) -> None:
    """Naming the token endpoint would not reach a target that refuses every connection."""

    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(failure, ssl.SSLError):
            raise httpx.ReadError(str(failure), request=request) from failure
        raise failure

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            await discover(client, spec(), BASE)

    with pytest.raises(TargetError) as info:
        anyio.run(go)
    assert said in str(info.value)
    assert "set target.token_endpoint" not in str(info.value)

    # With every endpoint a run needs given, discovery was for the JWKS only: a warning, and
    # the run goes on (to find out itself whether the target takes its requests).
    async def given() -> Discovery:
        async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
            return await discover(client, spec(token_endpoint="/token"), BASE)

    assert anyio.run(given).endpoints.token == "/token"
