"""Rounds of concurrent refresh bursts against real servers, and what went wrong in them.

Each round logs in, fires a last-byte synchronised burst of ``BURST`` refreshes of the same token
(split round-robin over the replicas), then probes the successor. A round is anomalous when the
token got two distinct successors (fork), a burst request was refused inside the grace window
(false reuse detection) or no successor survives the probe (legitimate user logged out).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

from stress.launcher import ServerProcess
from support.burst import BurstClient, form_post
from support.oauth import login, refresh

__all__ = ["BURST", "ROUNDS", "Tally", "run_rounds"]

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
