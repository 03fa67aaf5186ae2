"""No input gets a 500 and nothing stalls the server: odd credentials, bodies that never end,
break off or are malformed, and a crowd of connections that each send one byte of a body."""

from __future__ import annotations

import base64
import re
import socket
import time

import h2.config
import h2.connection
import h2.errors
import httpx
import pytest
from support.servers import ServerFactory

FORM = "application/x-www-form-urlencoded"
SLOW_HEAD = (
    b"POST /oauth/token HTTP/1.1\r\nHost: t\r\nContent-Type: " + FORM.encode() + b"\r\n"
    b"Content-Length: 200\r\n\r\ngrant_type="
)


@pytest.fixture(scope="module")
def base(server_factory: ServerFactory) -> str:
    return server_factory("atomic").url


@pytest.mark.parametrize(
    "credentials",
    [
        "dXNlcjpwYXNz\u00e9",  # a non-ASCII character in the base64 text
        base64.b64encode("démo:sécret".encode("latin-1")).decode(),  # not UTF-8 inside
        base64.b64encode(b"\xff\xfe:\x00").decode(),
    ],
)
def test_basic_credentials_that_do_not_decode_are_401(base: str, credentials: str) -> None:
    with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=5) as sock:
        body = b"grant_type=password&username=user1&password=password"
        sock.sendall(
            b"POST /oauth/token HTTP/1.1\r\nHost: t\r\nContent-Type: " + FORM.encode() + b"\r\n"
            b"Authorization: Basic " + credentials.encode("latin-1") + b"\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 401 "), reply[:200]
    assert b'"invalid_client"' in reply


@pytest.mark.parametrize("username", ["user1\n", "user1\r", " user1", "user1 ", "USER1"])
def test_a_username_must_match_whole(base: str, username: str) -> None:
    data = {"grant_type": "password", "username": username, "password": "password"}
    resp = httpx.post(f"{base}/oauth/token", data=data)
    assert resp.status_code == 400, resp.text
    assert resp.json()["error"] == "invalid_grant"


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _status_lines(log: str) -> list[int]:
    return [int(status) for status in re.findall(r'"status":(\d+)', log)]


def test_a_body_that_breaks_off_or_is_malformed_is_no_server_error(
    server_factory: ServerFactory,
) -> None:
    server = server_factory("atomic", replica="broken-bodies")
    port = server.port
    for _ in range(3):  # a client that hangs up mid-body
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(SLOW_HEAD)
            time.sleep(0.05)
    malformed = (
        b"POST /oauth/token HTTP/1.1\r\nHost: t\r\nContent-Type: " + FORM.encode() + b"\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n5\r\ngrant\r\nzz\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(malformed)
        reply = _read_all(sock)
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]
    _cancel_h2_streams_mid_body(port, streams=20)
    metrics = httpx.get(f"{server.url}/metrics").text
    assert 'status="500"' not in metrics
    log = server.log_text()
    assert "Traceback" not in log
    assert 500 not in _status_lines(log)


def _cancel_h2_streams_mid_body(port: int, streams: int) -> None:
    """HTTP/2 POSTs that each send part of their body and are then reset by the client."""
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
    conn.initiate_connection()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        for index in range(streams):
            stream = 1 + 2 * index
            headers = [(":method", "POST"), (":scheme", "http"), (":authority", "t"),
                       (":path", "/oauth/token"), ("content-type", FORM),
                       ("content-length", "100")]  # fmt: skip
            conn.send_headers(stream, headers)
            conn.send_data(stream, b"grant_type=pass")
            sock.sendall(conn.data_to_send())
            time.sleep(0.01)
            conn.reset_stream(stream, h2.errors.ErrorCodes.CANCEL)
            sock.sendall(conn.data_to_send())
        time.sleep(0.2)


def test_slow_bodies_time_out_and_cannot_stall_the_server(server_factory: ServerFactory) -> None:
    """More connections than the server takes requests at once, each sending one byte of a
    body: /healthz keeps answering, each slow request ends (408 after the body timeout, or
    503 at once when too many are waiting), and the server answers everyone afterwards."""
    server = server_factory(
        "atomic",
        replica="slow-bodies",
        extra_args=["--max-concurrent-requests", "64", "--body-timeout", "1"],
    )
    crowd = []
    for _ in range(80):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(SLOW_HEAD)
        crowd.append(sock)
    try:
        started = time.monotonic()
        assert httpx.get(f"{server.url}/healthz", timeout=2.0).status_code == 200
        assert time.monotonic() - started < 1.0
        statuses = []
        for sock in crowd:
            sock.settimeout(5.0)
            reply = _read_all(sock)
            statuses.append(int(reply.split(b" ", 2)[1]))
        assert set(statuses) <= {408, 503}, statuses
        assert 408 in statuses  # some waited out the body timeout
        assert 503 in statuses  # and the rest were turned away at once
        assert time.monotonic() - started < 4.0
    finally:
        for sock in crowd:
            sock.close()
    login = {"grant_type": "password", "username": "user1", "password": "password"}
    assert httpx.post(f"{server.url}/oauth/token", data=login).status_code == 200
