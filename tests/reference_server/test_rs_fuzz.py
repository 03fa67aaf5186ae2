"""Property: whatever a client sends, a real server process answers it with less than 500, in
time, and stays healthy.

Hypothesis generates the requests: methods and paths, form fields with odd values, content
types, sizes around the body limit, Content-Length or chunked framing with random chunk
boundaries, Basic credentials and Bearer JWTs with odd headers, over raw HTTP/1.1 and over
h2c. Both tests are bounded in examples and in time (every socket has a timeout), and keep no
example database.
"""

from __future__ import annotations

import base64
import itertools
import json
import socket
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.servers import ServerFactory

PATHS = [
    "/oauth/token",
    "/oauth/revoke",
    "/api/me",
    "/healthz",
    "/.well-known/jwks.json",
    "/metrics",
    "/x",
]
FIELDS = [
    "grant_type",
    "refresh_token",
    "username",
    "password",
    "scope",
    "client_id",
    "client_secret",
    "token",
]
SAMPLES = [
    "password",
    "refresh_token",
    "user1",
    "api",
    "demo-client",
    "demo-confidential",
    "secret",
    "%zz",
    "+",
    "&",
    "=",
]
SAMPLES += ["user1\n", "api profile", "", "a" * 22 + "." + "b" * 43, "\u00e9"]
VALUES = st.one_of(st.sampled_from(SAMPLES), st.text(max_size=40))
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = [FORM, FORM + "; x=y", "application/json", "text/plain", "", "multipart/x"]
FUZZ = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@st.composite
def authorizations(draw: st.DrawFn) -> str | None:
    kind = draw(st.sampled_from(["none", "basic", "bearer", "raw"]))
    if kind == "none":
        return None
    if kind == "basic":
        raw = draw(st.one_of(st.binary(max_size=30), st.just(b"demo-confidential:secret")))
        return "Basic " + draw(st.sampled_from([base64.b64encode(raw).decode(), raw.hex()]))
    if kind == "bearer":
        alg = draw(st.sampled_from(["EdDSA", "none", "HS256", "RS256", ""]))
        header = {"alg": alg, "kid": draw(st.one_of(st.text(max_size=10), st.integers()))}
        payload = {"sub": draw(st.text(max_size=10)), "sid": draw(st.text(max_size=22))}
        parts = [_b64(json.dumps(header).encode()), _b64(json.dumps(payload).encode()),
                 _b64(draw(st.binary(max_size=64)))]  # fmt: skip
        return "Bearer " + ".".join(parts[: draw(st.integers(1, 3))])
    return draw(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=40))


@st.composite
def requests(draw: st.DrawFn) -> tuple[str, str, dict[str, str], bytes]:
    method = draw(st.sampled_from(["POST", "GET", "PUT", "HEAD"]))
    path = draw(st.sampled_from(PATHS))
    fields = draw(st.lists(st.tuples(st.sampled_from(FIELDS), VALUES), max_size=6))
    body = "&".join(f"{name}={value}" for name, value in fields).encode()
    body = draw(st.one_of(st.just(body), st.binary(max_size=64), st.just(b"x=" + b"a" * 9000)))
    headers = {"content-type": draw(st.sampled_from(CONTENT_TYPES))}
    authorization = draw(authorizations())
    if authorization is not None:
        headers["authorization"] = authorization
    if draw(st.booleans()):
        headers["x-request-id"] = draw(st.text(max_size=70))
    return method, path, headers, body


def _encode_h1(
    method: str, path: str, headers: dict[str, str], body: bytes, cuts: list[int]
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: fuzz", "Connection: close"]
    lines += [f"{name}: {value}" for name, value in headers.items() if _header_safe(value)]
    if cuts:  # chunked, cut at the given offsets
        lines.append("Transfer-Encoding: chunked")
        bounds = [0, *sorted({cut % (len(body) + 1) for cut in cuts}), len(body)]
        chunks = [body[a:b] for a, b in itertools.pairwise(bounds) if b > a]
        framed = b"".join(f"{len(c):x}\r\n".encode() + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
    else:
        lines.append(f"Content-Length: {len(body)}")
        framed = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + framed


def _header_safe(value: str) -> bool:
    return all(32 <= ord(char) <= 255 and char != "\x7f" for char in value)


def _status(port: int, raw: bytes) -> int | None:
    """The status the server answers ``raw`` with; None if it closed without answering."""
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        sock.sendall(raw)
        reply = b""
        while chunk := sock.recv(65536):  # a hang raises socket.timeout
            reply += chunk
    if not reply:
        return None
    return int(reply.split(b" ", 2)[1])


@pytest.fixture(scope="module")
def server_port(server_factory: ServerFactory) -> int:
    return server_factory("redis-lock", replica="fuzz").port


@FUZZ
@given(request=requests(), cuts=st.lists(st.integers(0, 10_000), max_size=4))
def test_no_http1_request_gets_a_5xx(
    server_port: int, request: tuple[str, str, dict[str, str], bytes], cuts: list[int]
) -> None:
    method, path, headers, body = request
    status = _status(server_port, _encode_h1(method, path, headers, body, cuts))
    assert status is None or status < 500, (status, request)


@pytest.fixture(scope="module")
def h2c() -> Iterator[httpx.Client]:
    with httpx.Client(http1=False, http2=True, timeout=5.0) as client:
        yield client


@FUZZ
@given(request=requests())
def test_no_h2c_request_gets_a_5xx(
    server_port: int, h2c: httpx.Client, request: tuple[str, str, dict[str, str], bytes]
) -> None:
    method, path, headers, body = request
    safe = {name: value.encode("latin-1") for name, value in headers.items() if _header_safe(value)}
    url = f"http://127.0.0.1:{server_port}{path}"
    resp = h2c.request(method, url, headers=safe, content=body)
    assert resp.http_version == "HTTP/2"
    assert resp.status_code < 500, (resp.status_code, resp.text[:200], request)


def test_the_fuzzed_server_logged_no_error_and_still_answers(
    server_factory: ServerFactory, server_port: int
) -> None:
    """Runs after the fuzz tests above (file order): their server logged no traceback."""
    server = server_factory("redis-lock", replica="fuzz")
    assert server.port == server_port
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    log = server.log_text()
    assert "Traceback" not in log
    assert '"status":500' not in log
