"""The reference server on a real three-node Redis Cluster, pointed at any of its nodes.

The cluster is made of embedded Valkey servers (``support.cluster``); every server under test
is pointed at one node and finds the others itself. The same checks as on one Redis: the
rotation semantics, bursts on replicas pointed at different nodes, and a node that stops
answering in the middle of a refresh.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator, Sequence

import httpx
import pytest
import redis
from support.cluster import LocalCluster, local_cluster
from support.oauth import login, me, refresh, revoke
from support.rounds import run_rounds
from support.servers import ServerFactory

from reference_server.embedded_redis import EmbeddedRedis
from stress.launcher import ServerProcess

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("REDIS_URL")), reason="starts its own cluster of embedded nodes"
)
GRACE = 1.0


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with local_cluster() as nodes:
        yield nodes


def _servers(
    server_factory: ServerFactory,
    cluster: LocalCluster,
    strategy: str,
    count: int = 3,
    extra_args: Sequence[str] = (),
) -> list[ServerProcess]:
    """``count`` servers on different nodes, each pointed at its node only."""
    return [
        server_factory(
            strategy, replica=f"node{index}", redis_url=cluster.urls[index], extra_args=extra_args
        )
        for index in range(count)
    ]


@pytest.mark.parametrize(
    ("strategy", "count"), [("naive", 1), ("local-lock", 1), ("redis-lock", 3), ("atomic", 3)]
)
def test_every_node_serves_the_same_families(
    server_factory: ServerFactory, cluster: LocalCluster, strategy: str, count: int
) -> None:
    servers = _servers(server_factory, cluster, strategy, count)
    assert '"redis_cluster":true' in servers[0].log_text()  # it found out by itself
    with httpx.Client(timeout=10.0) as http:
        for index, server in enumerate(servers):  # families land in every slot range
            other = servers[(index + 1) % len(servers)]
            for user in range(6):
                tokens = login(http, server.url, user=f"user{user}")
                first, replay = (refresh(http, other.url, tokens["refresh_token"]) for _ in "12")
                assert first.status_code == replay.status_code == 200, first.text
                assert first.json()["refresh_token"] == replay.json()["refresh_token"]
                assert me(http, other.url, first.json()["access_token"]).status_code == 200
                assert revoke(http, server.url, first.json()["refresh_token"]).status_code == 200
                assert refresh(http, other.url, first.json()["refresh_token"]).status_code == 400
        jwks = http.get(f"{servers[0].url}/.well-known/jwks.json").json()
        assert len(jwks["keys"]) >= len(servers)  # every server's key in the one index


@pytest.mark.parametrize("strategy", ["redis-lock", "atomic"])
def test_correct_strategies_hold_on_a_cluster(
    server_factory: ServerFactory, cluster: LocalCluster, strategy: str
) -> None:
    tally = run_rounds(_servers(server_factory, cluster, strategy), 30)
    assert (tally.forks, tally.false_revocations, tally.dead_families) == (0, 0, 0), tally
    assert tally.server_errors == 0


def test_naive_is_caught_on_a_cluster(server_factory: ServerFactory, cluster: LocalCluster) -> None:
    # A sleep between naive's read and its write, far longer than a burst's spread, makes every
    # burst overlap it: caught every round, not by luck (30 rounds once caught nothing, under
    # load, with the fast server's window narrower than the burst's spread).
    wide = ("--inject-delay-ms", "50")
    tally = run_rounds(_servers(server_factory, cluster, "naive", 1, wide), 5)
    assert tally.server_errors == 0
    assert tally.anomalies == tally.rounds, tally


@pytest.mark.parametrize("strategy", ["redis-lock", "atomic"])
def test_a_node_that_stops_in_a_refresh_logs_no_one_out(
    server_factory: ServerFactory, cluster: LocalCluster, strategy: str
) -> None:
    """The node that owns the family stops (SIGSTOP) while the refresh is in Redis: 503, then
    the client's late retry with the same token gets the successor committed meanwhile.

    redis-lock is stopped inside its injected pause between read and commit; atomic has one
    round trip and no pause, so its node is stopped before the request is sent: the script
    waits in the stopped node's socket and runs when the node resumes, after the 503.
    """
    server = server_factory(
        strategy, replica="stop", redis_url=cluster.urls[0], extra_args=["--inject-delay-ms", "300"]
    )
    with httpx.Client(timeout=10.0) as http:
        first = login(http, server.url)["refresh_token"]
        rt0 = refresh(http, server.url, first).json()["refresh_token"]  # the scripts are loaded
        owner = _owner(cluster, rt0)
        replies: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: replies.append(refresh(http, server.url, rt0)))
        if strategy == "atomic":
            os.kill(owner.pid, signal.SIGSTOP)
            worker.start()
        else:
            worker.start()
            time.sleep(0.15)
            os.kill(owner.pid, signal.SIGSTOP)
        worker.join(timeout=10)
        os.kill(owner.pid, signal.SIGCONT)
        (gave_up,) = replies
        assert gave_up.status_code == 503, gave_up.text
        # A node stopped past the cluster's node timeout is marked failed, and the cluster
        # refuses every command until the nodes see it back: the retry (and the next test)
        # would get that 503, which says nothing of the rotation. Later than the grace anyway.
        cluster.wait_until_ok()
        time.sleep(GRACE + 0.5)
        retry = refresh(http, server.url, rt0)
        assert retry.status_code == 200, retry.text
        assert refresh(http, server.url, retry.json()["refresh_token"]).status_code == 200


def _owner(cluster: LocalCluster, token: str) -> EmbeddedRedis:
    """The node that owns the slot of ``token``'s family (the others answer MOVED)."""
    key = "{fam:" + token.split(".")[0] + "}:state"
    for node in cluster.nodes:
        with redis.Redis(port=node.port) as client:
            try:
                client.exists(key)
            except redis.ResponseError:
                continue
            return node
    raise AssertionError("no node owns the slot")
