"""Concurrent refresh bursts against real servers: which strategies fork, which hold
(``support.rounds`` says what a round is and when it is anomalous)."""

from __future__ import annotations

import re

import httpx
import pytest
from support.rounds import ROUNDS, run_rounds
from support.servers import ServerFactory

# The broken strategies are caught for certain, not by luck: a pause between their read and
# their write (--inject-delay-ms) far longer than a burst's spread makes every burst overlap it.
WIDE_WINDOW = ["--inject-delay-ms", "50"]


def test_naive_is_caught(server_factory: ServerFactory) -> None:
    tally = run_rounds([server_factory("naive", extra_args=WIDE_WINDOW)], 5)
    assert tally.server_errors == 0
    assert tally.anomalies == tally.rounds, tally


def test_local_lock_holds_in_one_process(server_factory: ServerFactory) -> None:
    tally = run_rounds([server_factory("local-lock")], ROUNDS)
    assert (tally.anomalies, tally.server_errors) == (0, 0), tally


def test_local_lock_fails_with_two_replicas(server_factory: ServerFactory) -> None:
    servers = [
        server_factory("local-lock", extra_args=WIDE_WINDOW),
        server_factory("local-lock", replica="b", extra_args=WIDE_WINDOW),
    ]
    tally = run_rounds(servers, 5)
    assert tally.server_errors == 0
    assert tally.anomalies == tally.rounds, tally


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
