"""Signing keys across replicas: each signs with its own key, all verify each other's tokens,
and that survives a Redis restart that empties the shared JWKS index."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import jwt
import pytest
from support.oauth import login, me, revoke
from support.servers import ServerFactory

from stress.launcher import RedisProcess

# One renewal period of reference_server.keyring plus the time a replica needs to log in again.
RENEWAL_WAIT_S = 10.0


def _kid(access_token: str) -> str:
    return str(jwt.get_unverified_header(access_token)["kid"])


def _jwks_kids(http: httpx.Client, base: str) -> set[str]:
    return {key["kid"] for key in http.get(f"{base}/.well-known/jwks.json").json()["keys"]}


def test_replicas_sign_with_own_keys_and_accept_each_others(
    server_factory: ServerFactory, http: httpx.Client
) -> None:
    first = server_factory("atomic", replica="keys-1")
    second = server_factory("atomic", replica="keys-2")
    from_first = login(http, first.url, user="user7")
    from_second = login(http, second.url, user="user8")
    assert _kid(from_first["access_token"]) != _kid(from_second["access_token"])
    for base in (first.url, second.url):
        assert {_kid(from_first["access_token"]), _kid(from_second["access_token"])} <= (
            _jwks_kids(http, base)
        )
    assert me(http, second.url, from_first["access_token"]).json()["sub"] == "user7"
    assert me(http, first.url, from_second["access_token"]).json()["sub"] == "user8"
    # Revoking by access token at the other replica finds the family too.
    assert revoke(http, second.url, from_first["access_token"]).status_code == 200
    assert me(http, first.url, from_first["access_token"]).status_code == 401


def test_workers_of_one_server_share_its_key(server_factory: ServerFactory) -> None:
    server = server_factory("atomic", replica="keys-workers", workers=2)
    kids = set()
    for _ in range(12):  # a fresh connection each time, so both workers answer
        with httpx.Client(timeout=10.0) as http:
            kids.add(_kid(login(http, server.url)["access_token"]))
    assert len(kids) == 1


def test_unknown_kid_is_401_not_500(server_factory: ServerFactory, http: httpx.Client) -> None:
    server = server_factory("atomic", replica="keys-1")
    tokens = login(http, server.url)
    header, payload, signature = tokens["access_token"].split(".")
    forged = jwt.encode(
        jwt.decode(tokens["access_token"], options={"verify_signature": False}),
        "not-the-key-but-long-enough-for-hs256",
        algorithm="HS256",
        headers={"kid": "no-such-key"},
    )
    for token in (forged, f"{header}.{payload}.{signature[:-4]}AAAA"):
        resp = me(http, server.url, token)
        assert resp.status_code == 401, resp.text
        assert resp.json()["error"] == "invalid_token"


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="needs a Redis it may restart")
def test_keys_are_republished_after_redis_restarts_empty(
    server_factory: ServerFactory, log_dir: Path
) -> None:
    with RedisProcess(log_path=log_dir / "keys-restart.log") as redis:
        old = server_factory("atomic", replica="keys-old", redis_url=redis.url)
        redis.stop()
        redis.start()  # no persistence: the JWKS index is gone
        # A replica started now finds an empty index; the old one must come back into it.
        new = server_factory("atomic", replica="keys-new", redis_url=redis.url)
        with httpx.Client(timeout=10.0) as http:
            deadline = time.monotonic() + RENEWAL_WAIT_S
            while True:
                status = http.post(
                    f"{old.url}/oauth/token",
                    data={"grant_type": "password", "username": "user1", "password": "password"},
                ).status_code
                if status == 200 or time.monotonic() > deadline:
                    break
            tokens = login(http, old.url)
            while me(http, new.url, tokens["access_token"]).status_code != 200:
                assert time.monotonic() < deadline, "old replica's key never reached the new one"
                time.sleep(0.2)
            assert _kid(tokens["access_token"]) in _jwks_kids(http, new.url)
            from_new = login(http, new.url)
            assert me(http, old.url, from_new["access_token"]).status_code == 200
        old.stop()
        new.stop()
