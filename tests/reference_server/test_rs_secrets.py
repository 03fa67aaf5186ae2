"""Secrets stay secret: no password of a Redis URL, no token sent as a grant type, and no
private signing key left on disk by a server that was killed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from reference_server.logs import redact_url
from stress.launcher import ServerProcess, free_port

PASSWORD = "s3cr3t-Pa55word"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"redis://:{PASSWORD}@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        (f"rediss://app:{PASSWORD}@cache.internal:6380", "rediss://app:***@cache.internal:6380"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        (f"redis://app:{PASSWORD}@[::1]:6379/0?ssl=1", "redis://app:***@[::1]:6379/0?ssl=1"),
        ("not a url", "not a url"),
    ],
)
def test_urls_are_logged_without_their_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_the_server_logs_neither_a_redis_password_nor_an_unknown_grant_type(
    redis_url: str, tmp_path: Path
) -> None:
    """The Redis refuses the password (it has none), so Redis errors are logged too."""
    with_password = redis_url.replace("redis://", f"redis://app:{PASSWORD}@")
    token = "a" * 22 + "." + "b" * 43
    with ServerProcess(
        "atomic", redis_url=with_password, log_path=tmp_path / "server.log"
    ) as server:
        resp = httpx.post(f"{server.url}/oauth/token", data={"grant_type": token})
        assert resp.status_code == 400
        assert resp.json()["error"] == "unsupported_grant_type"
        httpx.post(f"{server.url}/oauth/token", data={"grant_type": "password"})
        deadline = time.monotonic() + 5  # the access line is written after the response
        while server.log_text().count('"path":"/oauth/token"') < 2:
            assert time.monotonic() < deadline, server.log_text()
            time.sleep(0.05)
        log = server.log_text()
    assert '"msg":"serving"' in log
    assert PASSWORD not in log
    assert token not in log
    assert '"grant_type":"other"' in log
    assert '"grant_type":"password"' in log


def test_a_killed_server_leaves_no_private_key_on_disk(redis_url: str, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp)}
    argv = [sys.executable, "-m", "reference_server", "--port", str(port)]
    argv += ["--redis-url", redis_url, "--workers", "2", "--log-level", "warning"]
    proc = subprocess.Popen(argv, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.05)
        login = {"grant_type": "password", "username": "user1", "password": "password"}
        assert httpx.post(f"http://127.0.0.1:{port}/oauth/token", data=login).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the server and its workers, with no clean-up
        proc.wait(timeout=10)
    left = [p for p in tmp.rglob("*") if p.is_file()]
    assert not [p for p in left if b"PRIVATE KEY" in p.read_bytes()], left
