"""Redis stopped or hung mid-run: 503 with Retry-After, never 500, and recovery afterwards."""

from __future__ import annotations

import os
import time
from pathlib import Path

import httpx
import pytest
import redis as sync_redis
from support.oauth import login, me, refresh
from support.servers import ServerFactory

from stress.launcher import RedisProcess

LOGIN = {"grant_type": "password", "username": "user1", "password": "password"}


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="needs a Redis it may stop")
@pytest.mark.parametrize("strategy", ["atomic", "redis-lock"])
def test_redis_outage_gives_503_then_recovers(
    server_factory: ServerFactory, log_dir: Path, strategy: str
) -> None:
    with RedisProcess(log_path=log_dir / f"outage-{strategy}.log") as redis:
        server = server_factory(strategy, replica="outage", redis_url=redis.url)
        with httpx.Client(timeout=10.0) as http:
            tokens = login(http, server.url)
            redis.stop()
            replies = [refresh(http, server.url, tokens["refresh_token"]) for _ in range(5)]
            replies.append(me(http, server.url, tokens["access_token"]))
            replies.append(http.post(f"{server.url}/oauth/token", data=LOGIN))
            for resp in replies:
                assert resp.status_code == 503, resp.text
                assert resp.headers["retry-after"] == "1"
                assert resp.json()["error"] == "temporarily_unavailable"
            assert http.get(f"{server.url}/healthz").status_code == 200
            redis.start()
            deadline = time.monotonic() + 10
            status = 0
            while time.monotonic() < deadline and status != 200:
                resp = http.post(f"{server.url}/oauth/token", data=LOGIN)
                status = resp.status_code
                assert status in (200, 503)
            assert status == 200
            fresh = resp.json()
            assert refresh(http, server.url, fresh["refresh_token"]).status_code == 200
        server.stop()
    assert '"status":500' not in server.log_text()


@pytest.mark.skipif(bool(os.environ.get("REDIS_URL")), reason="needs a Redis it may pause")
@pytest.mark.parametrize("strategy", ["atomic", "redis-lock"])
def test_redis_that_stops_answering_gives_503_within_the_timeout(
    server_factory: ServerFactory, log_dir: Path, strategy: str
) -> None:
    """A hung Redis (every command held by CLIENT PAUSE) times out as 503, and the server
    answers again once Redis does."""
    with RedisProcess(log_path=log_dir / f"pause-{strategy}.log") as redis:
        server = server_factory(strategy, replica="pause", redis_url=redis.url)
        with httpx.Client(timeout=10.0) as http:
            tokens = login(http, server.url)
            with sync_redis.Redis.from_url(redis.url) as admin:
                admin.client_pause(3000, all=True)
            paused_at = time.monotonic()
            started = time.monotonic()
            resp = refresh(http, server.url, tokens["refresh_token"])
            waited = time.monotonic() - started
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"] == "temporarily_unavailable"
            assert 0.5 < waited < 2.5  # the 1 s Redis timeout, not the 3 s pause
            assert me(http, server.url, tokens["access_token"]).status_code == 503
            time.sleep(max(0.0, 3.2 - (time.monotonic() - paused_at)))
            # The refresh that timed out may have been committed after the pause: a new login.
            fresh = login(http, server.url, user="user2")
            assert refresh(http, server.url, fresh["refresh_token"]).status_code == 200
        server.stop()
    assert '"status":500' not in server.log_text()
