"""Protocol hygiene: malformed requests get 4xx (never 5xx), h2c works, logs hold no tokens."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest
from support.oauth import login, me, refresh, revoke
from support.servers import ServerFactory

FORM = "application/x-www-form-urlencoded"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def base(server_factory: ServerFactory) -> str:
    return server_factory("atomic").url


BAD_TOKEN_REQUESTS = [
    ({"grant_type": "refresh_token"}, FORM, 400, "invalid_request"),
    ({"grant_type": "password", "username": "user1"}, FORM, 400, "invalid_request"),
    ({}, FORM, 400, "invalid_request"),
    ({"grant_type": "client_credentials"}, FORM, 400, "unsupported_grant_type"),
    ({"grant_type": "refresh_token", "refresh_token": "garbage"}, FORM, 400, "invalid_grant"),
    (
        {"grant_type": "password", "username": "admin", "password": "password"},
        FORM,
        400,
        "invalid_grant",
    ),
    (
        {"grant_type": "password", "username": "user1", "password": "x"},
        FORM,
        400,
        "invalid_grant",
    ),
    (
        {"grant_type": "password", "username": "user1", "password": "password", "scope": "root"},
        FORM,
        400,
        "invalid_scope",
    ),
    ({"grant_type": "refresh_token", "refresh_token": "x"}, "application/json", 400, None),
    ({"grant_type": "refresh_token", "refresh_token": "x"}, "text/plain", 400, None),
]


@pytest.mark.parametrize(("fields", "ctype", "status", "error"), BAD_TOKEN_REQUESTS)
def test_bad_token_requests(
    base: str, fields: dict[str, str], ctype: str, status: int, error: str | None
) -> None:
    body = httpx.QueryParams(fields).__str__()
    resp = httpx.post(f"{base}/oauth/token", content=body, headers={"content-type": ctype})
    assert resp.status_code == status, resp.text
    assert resp.json()["error"] == (error or "invalid_request")
    assert resp.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("content", "headers", "status"),
    [
        (b"grant_type=password&" + b"x" * 20_000, {"content-type": FORM}, 413),
        (b"grant_type=a&grant_type=b", {"content-type": FORM}, 400),
        (b"\xff\xfe=\xff", {"content-type": FORM}, 400),
        (b"grant_type=password", {"content-type": FORM, "authorization": "Bearer x"}, 401),
        (b"grant_type=password", {"content-type": FORM, "authorization": "Basic !!!"}, 401),
        (b"", {}, 400),
    ],
)
def test_malformed_bodies(base: str, content: bytes, headers: dict[str, str], status: int) -> None:
    resp = httpx.post(f"{base}/oauth/token", content=content, headers=headers)
    assert resp.status_code == status, resp.text


def test_chunked_oversized_body_is_413(base: str) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"a" * 1024

    resp = httpx.post(f"{base}/oauth/token", content=chunks(), headers={"content-type": FORM})
    assert resp.status_code == 413


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (None, 401),
        ("Basic dXNlcjpwYXNz", 401),
        ("Bearer", 400),
        ("Bearer a b", 400),
        ("Bearer not.a.jwt", 401),
        ("Bearer " + _b64({"alg": "none", "typ": "JWT"}) + "." + _b64({"sub": "user1"}) + ".", 401),
        ("Bearer " + _b64({"alg": "HS256"}) + "." + _b64({"sub": "user1"}) + ".c2ln", 401),
    ],
)
def test_protected_api_rejects_bad_credentials(
    base: str, authorization: str | None, status: int
) -> None:
    headers = {"authorization": authorization} if authorization else {}
    resp = httpx.get(f"{base}/api/me", headers=headers)
    assert resp.status_code == status, resp.text
    assert resp.headers["www-authenticate"].startswith("Bearer")


def test_revoke_requires_token(base: str) -> None:
    resp = httpx.post(f"{base}/oauth/revoke", data={})
    assert resp.status_code == 400
    assert resp.json()["error"] == "invalid_request"


def test_h2c_prior_knowledge(base: str) -> None:
    with httpx.Client(http1=False, http2=True, timeout=5.0) as client:
        tokens = login(client, base)
        resp = refresh(client, base, tokens["refresh_token"])
        assert resp.http_version == "HTTP/2"
        assert resp.status_code == 200


def test_metrics_and_health(base: str) -> None:
    with httpx.Client(timeout=5.0) as client:
        refresh(client, base, login(client, base)["refresh_token"])
        text = client.get(f"{base}/metrics").text
        assert 'auth_ref_refresh_total{outcome="rotated",strategy="atomic"}' in text
        assert client.get(f"{base}/healthz").json() == {"status": "ok"}


def test_logs_never_contain_tokens(server_factory: ServerFactory) -> None:
    server = server_factory("redis-lock")
    secrets: list[str] = []
    with httpx.Client(timeout=5.0) as client:
        tokens = login(client, server.url)
        secrets += [tokens["refresh_token"], tokens["access_token"]]
        rotated = refresh(client, server.url, tokens["refresh_token"]).json()
        secrets += [rotated["refresh_token"], rotated["access_token"]]
        me(client, server.url, rotated["access_token"])
        refresh(client, server.url, "x" + rotated["refresh_token"][1:])
        revoke(client, server.url, rotated["refresh_token"])
    deadline = time.monotonic() + 5  # the access line is written after the response
    while (
        '"path":"/oauth/revoke"' not in (log := server.log_text()) and time.monotonic() < deadline
    ):
        time.sleep(0.05)
    assert '"path":"/oauth/revoke"' in log  # the requests above were logged
    for secret in secrets:
        assert secret not in log
        assert secret.split(".")[-1] not in log


@pytest.mark.parametrize(
    "args",
    [
        ["--strategy", "bogus"],
        ["--grace", "-1"],
        ["--tolerance", "-1"],
        ["--tolerance", "86400"],
        ["--port", "0"],
        ["--workers", "0"],
    ],
)
def test_cli_rejects_bad_arguments(args: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "reference_server", *args],
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert proc.returncode == 2
    assert b"error" in proc.stderr
