"""The fault matrix: correct clients through every fault, for every correct strategy, with the
default grace window and a long one (``support.faults`` says what a correct client does).

Each cell runs 12 sessions against the strategy's servers (two replicas; one for local-lock,
which is correct only in one process) on an embedded Redis with its append-only file, and
injects, one after another: a lease left behind on every family (1.5 s), Redis paused with
SIGSTOP (1.5 s: the commands already sent run when it resumes), Redis killed with SIGKILL and
started again from its file, and a replica killed with SIGKILL (local-lock's only replica is
then started again). Every fault must leave 0 forks, 0 logouts of correct clients, no 5xx but
503 with Retry-After, and every session refreshing again within the recovery bound.

Set ``AUTH_REF_FAULT_TABLE`` to a file name to get the results as a Markdown table.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator, Sequence

import pytest
import redis
from support.faults import Fault, PhaseTally, kill_server, run_faults
from support.servers import ServerFactory

from reference_server.embedded_redis import EmbeddedRedis
from stress.launcher import ServerProcess

REPLICAS = {"local-lock": 1, "redis-lock": 2, "atomic": 2}
GRACES = [2.0, 30.0]
SESSIONS = 12
FAULT_S = 1.5
RECOVERY_BOUND_S = 8.0  # a 503's Retry-After, a Redis reload, a replica start: seconds
ROWS: list[str] = []


@pytest.fixture(scope="module", autouse=True)
def _table() -> Iterator[None]:
    yield
    target = os.environ.get("AUTH_REF_FAULT_TABLE")
    if target and ROWS:
        head = [
            "| strategy | grace s | fault | forks | logouts | other 5xx | 503 | lost conn. | "
            "recovery s |",
            "|---|---:|---|---:|---:|---:|---:|---:|---:|",
        ]
        with open(target, "a", encoding="utf-8") as out:
            out.write("\n".join([*head, *ROWS]) + "\n")


def _faults(redis_server: EmbeddedRedis, servers: Sequence[ServerProcess]) -> list[Fault]:
    def leave_leases(families: Sequence[str]) -> None:
        with redis.Redis(port=redis_server.port) as admin:
            for family in families:
                admin.set("{fam:" + family + "}:lock", "left-behind", px=round(FAULT_S * 1000))
        time.sleep(FAULT_S)

    def pause_redis(families: Sequence[str]) -> None:
        os.kill(redis_server.pid, signal.SIGSTOP)
        time.sleep(FAULT_S)
        os.kill(redis_server.pid, signal.SIGCONT)

    def crash_redis(families: Sequence[str]) -> None:
        redis_server.kill()
        time.sleep(0.5)
        redis_server.start()

    def kill_replica(families: Sequence[str]) -> None:
        kill_server(servers[-1].port)
        if len(servers) == 1:  # no other replica to go to: it comes back
            servers[-1].stop()
            servers[-1].start()

    return [
        Fault("lease left behind", leave_leases),
        Fault("Redis paused", pause_redis),
        Fault("Redis killed, restarted", crash_redis),
        Fault("replica killed", kill_replica),
    ]


def _row(strategy: str, grace: float, tally: PhaseTally) -> str:
    recovery = "-" if tally.recovery_s is None else f"{tally.recovery_s:.2f}"
    return (
        f"| {strategy} | {grace:g} | {tally.fault} | {tally.forks} | {tally.logouts} | "
        f"{tally.server_errors} | {tally.unavailable} | {tally.lost_connections} | {recovery} |"
    )


@pytest.mark.parametrize("grace", GRACES)
@pytest.mark.parametrize("strategy", list(REPLICAS))
def test_no_fault_forks_or_logs_out_a_correct_client(
    server_factory: ServerFactory, faulty_redis: EmbeddedRedis, strategy: str, grace: float
) -> None:
    servers = [
        server_factory(strategy, replica=f"faults-{index}", grace=grace, redis_url=faulty_redis.url)
        for index in range(REPLICAS[strategy])
    ]
    phases = run_faults([s.url for s in servers], _faults(faulty_redis, servers), SESSIONS)
    ROWS.extend(_row(strategy, grace, tally) for tally in phases)
    assert [tally.fault for tally in phases] == [fault.name for fault in _faults(faulty_redis, [])]
    for tally in phases:
        assert (tally.fault, tally.forks, tally.logouts, tally.server_errors) == (
            tally.fault,
            0,
            0,
            0,
        ), tally
        assert tally.recovery_s is not None, tally
        assert tally.recovery_s < RECOVERY_BOUND_S, tally
