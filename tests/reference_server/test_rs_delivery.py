"""A correct client is never logged out by a fault: each test reproduces one way it was.

A correct client keeps its refresh token until it gets a successor, retries with the same token
after a 503 (honouring Retry-After) or a lost connection, and never presents a token it has
replaced. Faults are real: Redis stopped with SIGSTOP (a hung host: the commands already sent
run when it resumes), killed with SIGKILL and started again from its append-only file, or a
lease left behind in Redis as a failed release leaves it.
"""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx
import jwt
import pytest
import redis as sync_redis
from support.burst import BurstClient, form_post
from support.oauth import login, refresh
from support.servers import ServerFactory

from reference_server.embedded_redis import EmbeddedRedis

GRACE = 1.0  # the server factory's default
STRATEGIES = ["naive", "local-lock", "redis-lock", "atomic"]
# When Redis stops in a refresh: before the request is sent (atomic has one round trip and no
# pause: its script waits in the stopped Redis's socket), or in the injected pause between the
# decision read and the commit (the commit waits).
STOP_AFTER_S = {"atomic": None, "naive": 0.15, "local-lock": 0.15, "redis-lock": 0.15}


def _family(token: str) -> str:
    return token.split(".")[0]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_rotation_committed_after_its_503_is_replayed_to_the_retry(
    server_factory: ServerFactory, faulty_redis: EmbeddedRedis, strategy: str
) -> None:
    server = server_factory(
        strategy,
        replica="delivery",
        redis_url=faulty_redis.url,
        extra_args=["--inject-delay-ms", "300"],
    )
    with httpx.Client(timeout=10.0) as http:
        first = login(http, server.url)["refresh_token"]
        rt0 = refresh(http, server.url, first).json()["refresh_token"]  # Redis knows the scripts
        replies: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: replies.append(refresh(http, server.url, rt0)))
        stop_after = STOP_AFTER_S[strategy]
        if stop_after is None:
            os.kill(faulty_redis.pid, signal.SIGSTOP)
            worker.start()
        else:
            worker.start()
            time.sleep(stop_after)
            os.kill(faulty_redis.pid, signal.SIGSTOP)
        worker.join(timeout=10)
        os.kill(faulty_redis.pid, signal.SIGCONT)  # the command the server gave up on runs now
        (gave_up,) = replies
        assert gave_up.status_code == 503, gave_up.text
        assert gave_up.headers["retry-after"] == "1"
        time.sleep(GRACE + 0.5)  # a slow retry: the grace window of the commit is over
        retry = refresh(http, server.url, rt0)
        assert retry.status_code == 200, retry.text
        assert refresh(http, server.url, retry.json()["refresh_token"]).status_code == 200


def test_a_grace_retry_that_waits_for_a_leftover_lease_is_replayed(
    server_factory: ServerFactory, redis_url: str
) -> None:
    """The retry arrives inside the grace window and is judged by its arrival, not by when the
    lease it waited for expired."""
    server = server_factory("redis-lock")
    with httpx.Client(timeout=10.0) as http, sync_redis.Redis.from_url(redis_url) as admin:
        rt0 = login(http, server.url)["refresh_token"]
        rt1 = refresh(http, server.url, rt0).json()["refresh_token"]
        admin.set("{fam:" + _family(rt0) + "}:lock", "left-behind", px=1500)
        started = time.monotonic()
        retry = refresh(http, server.url, rt0)
        assert time.monotonic() - started > GRACE  # it did wait out the lease
        assert retry.status_code == 200, retry.text
        assert retry.json()["refresh_token"] == rt1
        assert refresh(http, server.url, rt1).status_code == 200


def test_a_scope_the_grant_does_not_hold_changes_nothing(
    server_factory: ServerFactory, http: httpx.Client
) -> None:
    refused_tokens = []
    for strategy in STRATEGIES:
        base = server_factory(strategy).url
        for scope in ("api profile", "root"):  # granted: api
            rt0 = login(http, base)["refresh_token"]
            refused = refresh(http, base, rt0, scope=scope)
            assert (strategy, refused.status_code, refused.json()["error"]) == (
                strategy,
                400,
                "invalid_scope",
            )
            refused_tokens.append((strategy, base, rt0))
    time.sleep(GRACE + 0.3)  # had a refusal rotated, this would be reuse
    for strategy, base, rt0 in refused_tokens:
        assert (strategy, refresh(http, base, rt0).status_code) == (strategy, 200)


@pytest.mark.parametrize("strategy", ["redis-lock", "atomic"])
def test_a_refresh_may_narrow_the_scope_of_its_access_token(
    server_factory: ServerFactory, http: httpx.Client, strategy: str
) -> None:
    """RFC 6749 §6: a narrower scope for the new access token; the grant keeps its scope."""
    base = server_factory(strategy).url
    data = {"grant_type": "password", "username": "user1", "password": "password"}
    granted = http.post(f"{base}/oauth/token", data={**data, "scope": "profile api"}).json()
    assert granted["scope"] == "api profile"
    narrowed = refresh(http, base, granted["refresh_token"], scope="api")
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "api"
    claims = jwt.decode(narrowed.json()["access_token"], options={"verify_signature": False})
    assert claims["scope"] == "api"
    full = refresh(http, base, narrowed.json()["refresh_token"])
    assert full.json()["scope"] == "api profile"


def _refresh_all(burst: BurstClient, tokens: list[str]) -> list[int]:
    """Refresh every token at once (one connection each); replaces them with their successors
    and returns the statuses."""
    requests = [
        form_post("/oauth/token", {"grant_type": "refresh_token", "refresh_token": token})
        for token in tokens
    ]
    replies = burst.burst(requests)
    for index, reply in enumerate(replies):
        if reply.status == 200:
            tokens[index] = reply.json()["refresh_token"]
    return [reply.status for reply in replies]


@pytest.mark.parametrize("strategy", ["redis-lock", "atomic"])
def test_sessions_survive_a_redis_crash_and_no_503_follows_it(
    server_factory: ServerFactory, faulty_redis: EmbeddedRedis, strategy: str
) -> None:
    """Redis killed and started again: its append-only file keeps every family, and the
    connections the server held to the dead process cost no request a 503."""
    server = server_factory(strategy, replica="crash", redis_url=faulty_redis.url)
    size = 16
    with httpx.Client(timeout=10.0) as http, BurstClient([(server.host, server.port)], size) as b:
        tokens = [login(http, server.url, user=f"user{i}")["refresh_token"] for i in range(size)]
        for _ in range(3):  # concurrent round trips: the server opens several connections
            assert _refresh_all(b, tokens) == [200] * size
        faulty_redis.kill()
        faulty_redis.start()
        for _ in range(3):
            assert _refresh_all(b, tokens) == [200] * size
