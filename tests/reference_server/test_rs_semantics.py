"""Rotation semantics, identical for every strategy, checked sequentially on real servers."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from support.burst import BurstClient, form_post
from support.oauth import login, me, refresh, revoke
from support.servers import ServerFactory

STRATEGIES = ["naive", "local-lock", "redis-lock", "atomic"]
GRACE = 1.0
# The rejection tolerance of the strict test: far longer than the few milliseconds between an
# answer and the next request, so that a busy machine cannot push the "immediate" reuse past it.
TOLERANCE = 0.8


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_grace_replay_returns_same_successor(
    server_factory: ServerFactory, http: httpx.Client, strategy: str
) -> None:
    base = server_factory(strategy).url
    rt0 = login(http, base)["refresh_token"]
    first, second = refresh(http, base, rt0), refresh(http, base, rt0)
    assert first.status_code == second.status_code == 200
    assert first.json()["refresh_token"] == second.json()["refresh_token"]
    assert first.json()["access_token"] != second.json()["access_token"]
    assert first.headers["cache-control"] == "no-store"
    assert int(first.headers["x-arrival-ns"]) > 0
    assert refresh(http, base, first.json()["refresh_token"]).status_code == 200


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_grandparent_reuse_within_grace_revokes(
    server_factory: ServerFactory, http: httpx.Client, strategy: str
) -> None:
    base = server_factory(strategy).url
    rt0 = login(http, base)["refresh_token"]
    rt1 = refresh(http, base, rt0).json()["refresh_token"]
    latest = refresh(http, base, rt1).json()
    reuse = refresh(http, base, rt0)
    assert reuse.status_code == 400
    assert reuse.json()["error"] == "invalid_grant"
    assert refresh(http, base, latest["refresh_token"]).status_code == 400
    assert me(http, base, latest["access_token"]).status_code == 401


def test_reuse_after_grace_revokes_for_every_strategy(
    server_factory: ServerFactory, http: httpx.Client
) -> None:
    families = {}
    for strategy in STRATEGIES:
        base = server_factory(strategy).url
        rt0 = login(http, base)["refresh_token"]
        families[strategy] = (base, rt0, refresh(http, base, rt0).json())
    time.sleep(GRACE + 0.3)
    for strategy, (base, rt0, current) in families.items():
        late = refresh(http, base, rt0)
        assert (strategy, late.status_code, late.json()["error"]) == (
            strategy,
            400,
            "invalid_grant",
        )
        assert refresh(http, base, current["refresh_token"]).status_code == 400, strategy
        assert me(http, base, current["access_token"]).status_code == 401, strategy


def test_grace_zero_is_strict(server_factory: ServerFactory, http: httpx.Client) -> None:
    """Strict single use: the predecessor presented within the rejection tolerance of its
    successor's delivery (another tab, its arrival stamped late) is refused and the family
    lives; presented after the tolerance it is reuse and revokes the family."""
    server = server_factory("atomic", grace=0.0, extra_args=("--tolerance", str(TOLERANCE)))
    base = server.url
    meta = http.get(f"{base}/.well-known/oauth-authorization-server").json()
    published = meta["x_refresh_token_rotation"]
    assert (published["policy"], published["tolerance_seconds"]) == ("strict", TOLERANCE)
    rt0 = login(http, base)["refresh_token"]
    rt1 = refresh(http, base, rt0).json()["refresh_token"]
    early = refresh(http, base, rt0)
    assert (early.status_code, early.json()["error"]) == (400, "invalid_grant")
    latest = refresh(http, base, rt1)
    assert latest.status_code == 200, latest.text  # the family lives
    time.sleep(TOLERANCE + 0.2)  # past the tolerance of the delivery of ``latest``
    late = refresh(http, base, rt1)
    assert (late.status_code, late.json()["error"]) == (400, "invalid_grant")
    assert refresh(http, base, latest.json()["refresh_token"]).status_code == 400
    assert me(http, base, latest.json()["access_token"]).status_code == 401


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_revocation_is_final(
    server_factory: ServerFactory, http: httpx.Client, strategy: str
) -> None:
    base = server_factory(strategy).url
    tokens = login(http, base)
    rt1 = refresh(http, base, tokens["refresh_token"]).json()
    assert revoke(http, base, tokens["refresh_token"]).status_code == 200
    for rt in (tokens["refresh_token"], rt1["refresh_token"]):
        assert refresh(http, base, rt).json()["error"] == "invalid_grant"
    assert me(http, base, rt1["access_token"]).status_code == 401
    assert revoke(http, base, "not-a-token").status_code == 200


def test_revoke_by_access_token(server_factory: ServerFactory, http: httpx.Client) -> None:
    base = server_factory("atomic").url
    tokens = login(http, base)
    assert revoke(http, base, tokens["access_token"]).status_code == 200
    assert refresh(http, base, tokens["refresh_token"]).status_code == 400


def test_other_client_cannot_use_or_revoke_family(
    server_factory: ServerFactory, http: httpx.Client
) -> None:
    base = server_factory("atomic").url
    rt0 = login(http, base)["refresh_token"]
    auth = ("demo-confidential", "secret")
    stolen = http.post(
        f"{base}/oauth/token", data={"grant_type": "refresh_token", "refresh_token": rt0}, auth=auth
    )
    assert stolen.status_code == 400
    assert http.post(f"{base}/oauth/revoke", data={"token": rt0}, auth=auth).status_code == 400
    assert refresh(http, base, rt0).status_code == 200
    bad = http.post(
        f"{base}/oauth/token",
        data={"grant_type": "password", "username": "user1", "password": "password"},
        auth=("demo-confidential", "wrong"),
    )
    assert bad.status_code == 401
    assert bad.json()["error"] == "invalid_client"
    assert "www-authenticate" in bad.headers


@pytest.mark.parametrize("strategy", ["local-lock", "redis-lock", "atomic"])
def test_revocation_racing_refresh_leaves_no_live_token(
    server_factory: ServerFactory, http: httpx.Client, strategy: str
) -> None:
    server = server_factory(strategy)
    with BurstClient([(server.host, server.port)], 8) as burst:
        for _ in range(15):
            tokens = login(http, server.url)
            rt = tokens["refresh_token"]
            refresh_req = form_post(
                "/oauth/token", {"grant_type": "refresh_token", "refresh_token": rt}
            )
            revoke_req = form_post("/oauth/revoke", {"token": rt})
            replies = burst.burst([refresh_req, revoke_req] * 4)
            assert all(r.status < 500 for r in replies)
            issued = [r.json() for r in replies if r.status == 200 and r.body]
            for body in issued:
                assert refresh(http, server.url, body["refresh_token"]).status_code == 400
                assert me(http, server.url, body["access_token"]).status_code == 401
            assert refresh(http, server.url, rt).status_code == 400


def test_access_tokens_verify_against_jwks(
    server_factory: ServerFactory, http: httpx.Client
) -> None:
    server = server_factory("atomic")
    other = server_factory("atomic", replica="b")
    meta = http.get(f"{server.url}/.well-known/oauth-authorization-server").json()
    assert meta["token_endpoint"] == f"{server.url}/oauth/token"
    jwks = http.get(meta["jwks_uri"]).json()
    assert jwks == http.get(f"{other.url}/.well-known/jwks.json").json()  # one index per Redis
    tokens = login(http, server.url, user="user42")
    header = jwt.get_unverified_header(tokens["access_token"])
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    claims = jwt.decode(
        tokens["access_token"],
        jwt.PyJWK(key).key,
        algorithms=["EdDSA"],
        audience="auth-stress-api",
        issuer=meta["issuer"],
    )
    assert claims["sub"] == "user42"
    assert claims["sid"] == tokens["refresh_token"].split(".")[0]
    assert claims["exp"] - claims["iat"] == tokens["expires_in"]
    assert {"nbf", "jti"} <= claims.keys()
    assert me(http, other.url, tokens["access_token"]).json()["sub"] == "user42"
