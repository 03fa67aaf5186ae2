"""Concurrent refresh bursts against real servers: which strategies fork, which hold.

Each round logs in, fires a last-byte synchronised burst of ``BURST`` refreshes of the same token
(split round-robin over the replicas), then probes the successor. A round is anomalous when the
token got two distinct successors (fork), a burst request was refused inside the grace window
(false reuse detection) or no successor survives the probe (legitimate user logged out).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import pytest
from support.burst import BurstClient, form_post
from support.oauth import login, refresh
from support.servers import ServerFactory

from stress.launcher import ServerProcess

BURST = 8
ROUNDS = 50


@dataclass
class Tally:
    """Anomalies over many rounds."""

    rounds: int = 0
    forks: int = 0
    false_revocations: int = 0
    dead_families: int = 0
    server_errors: int = 0
    spreads_us: list[float] = field(default_factory=list)

    @property
    def anomalies(self) -> int:
        return self.forks + self.false_revocations + self.dead_families


def run_rounds(servers: Sequence[ServerProcess], rounds: int, size: int = BURST) -> Tally:
    """Burst ``rounds`` times and count anomalies."""
    tally = Tally()
    addresses = [(s.host, s.port) for s in servers]
    with httpx.Client(timeout=10.0) as http, BurstClient(addresses, size) as burst:
        for _ in range(rounds):
            tokens = login(http, servers[0].url)
            request = form_post(
                "/oauth/token",
                {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            )
            replies = burst.burst([request] * size)
            assert len(replies) == size
            tally.rounds += 1
            tally.server_errors += sum(r.status >= 500 for r in replies)
            arrivals = [int(r.headers["x-arrival-ns"]) for r in replies]
            tally.spreads_us.append((max(arrivals) - min(arrivals)) / 1000)
            successors = {r.json()["refresh_token"] for r in replies if r.status == 200}
            refused = [r for r in replies if r.status == 400]
            tally.forks += len(successors) > 1
            tally.false_revocations += bool(refused)
            alive = [t for t in successors if refresh(http, servers[0].url, t).status_code == 200]
            tally.dead_families += not alive
    return tally


def test_naive_is_caught(server_factory: ServerFactory) -> None:
    tally = run_rounds([server_factory("naive")], ROUNDS)
    assert tally.server_errors == 0
    assert tally.anomalies > 0, tally


def test_local_lock_holds_in_one_process(server_factory: ServerFactory) -> None:
    tally = run_rounds([server_factory("local-lock")], ROUNDS)
    assert (tally.anomalies, tally.server_errors) == (0, 0), tally


def test_local_lock_fails_with_two_replicas(server_factory: ServerFactory) -> None:
    servers = [server_factory("local-lock"), server_factory("local-lock", replica="b")]
    tally = run_rounds(servers, ROUNDS)
    assert tally.server_errors == 0
    assert tally.anomalies > 0, tally


@pytest.mark.parametrize("replicas", [1, 2])
@pytest.mark.parametrize("strategy", ["redis-lock", "atomic"])
def test_correct_strategies_hold(
    server_factory: ServerFactory, strategy: str, replicas: int
) -> None:
    servers = [server_factory(strategy, replica=name) for name in "ab"[:replicas]]
    tally = run_rounds(servers, ROUNDS)
    assert (tally.forks, tally.false_revocations, tally.dead_families) == (0, 0, 0), tally
    assert tally.server_errors == 0


def test_redis_lock_lease_shorter_than_delay_does_not_fork(server_factory: ServerFactory) -> None:
    server = server_factory(
        "redis-lock", replica="slow", extra_args=["--lease-ms", "20", "--inject-delay-ms", "80"]
    )
    tally = run_rounds([server], 8, size=4)
    assert (tally.forks, tally.false_revocations, tally.dead_families) == (0, 0, 0), tally
    assert tally.server_errors == 0
    metrics = httpx.get(server.url + "/metrics").text
    fenced = re.search(r"^auth_ref_fenced_commits_rejected_total (\S+)$", metrics, re.M)
    assert fenced is not None
    assert float(fenced.group(1)) > 0, "the lease never expired mid-commit"
