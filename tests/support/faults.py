"""Correct clients refreshing through a sequence of faults, and what each fault did to them.

Why this module exists: "a correct client is never logged out by a fault" is a property of the
whole system (server, Redis, clients that behave), so it is measured as a whole: sessions that
each hold one family and refresh it in a loop, the way a correct client does, while the faults
are injected one after another. A correct client

- keeps its token until it gets a successor, and uses only the latest one;
- after a 503 with Retry-After, waits that long and retries with the same token;
- after a lost connection or a timeout, retries with the same token on the next replica (as a
  load balancer would send it).

Per fault it counts forks (one token, two different successors), logouts (a 400 to a correct
client: the family is lost), 5xx other than 503 with Retry-After, the 503s, and the recovery
time: from the fault's end until every session has had a 200 again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

__all__ = ["Fault", "PhaseTally", "kill_server", "run_faults"]

THINK_S = 0.02  # between a session's refreshes
RECOVERY_LIMIT_S = 20.0
SETTLE_S = 0.5  # of steady traffic before each fault


@dataclass(frozen=True)
class Fault:
    """A named fault: ``inject`` blocks while the fault lasts and returns when it is over.
    It gets the families' ids (to leave leases behind on them, say)."""

    name: str
    inject: Callable[[Sequence[str]], None]


@dataclass
class PhaseTally:
    """What one fault did to the sessions."""

    fault: str
    forks: int = 0
    logouts: int = 0
    server_errors: int = 0
    unavailable: int = 0
    lost_connections: int = 0
    recovery_s: float | None = None
    statuses: dict[int, int] = field(default_factory=dict)


@dataclass
class _Session:
    family: str
    token: str
    replica: int
    last_ok: float = 0.0
    alive: bool = True
    successors: dict[str, str] = field(default_factory=dict)


async def _login(client: httpx.AsyncClient, base: str, user: int) -> _Session:
    data = {"grant_type": "password", "username": f"user{user}", "password": "password"}
    resp = await client.post(f"{base}/oauth/token", data=data)
    resp.raise_for_status()
    token = resp.json()["refresh_token"]
    return _Session(family=token.split(".")[0], token=token, replica=user)


async def _refresh_loop(
    client: httpx.AsyncClient,
    bases: Sequence[str],
    session: _Session,
    phases: list[PhaseTally],
    stop: asyncio.Event,
) -> None:
    while not stop.is_set():
        base = bases[session.replica % len(bases)]
        data = {"grant_type": "refresh_token", "refresh_token": session.token}
        try:
            resp = await client.post(f"{base}/oauth/token", data=data)
        except httpx.TransportError:  # lost connection or timeout: same token, next replica
            phases[-1].lost_connections += 1
            session.replica += 1
            await asyncio.sleep(0.05)
            continue
        tally = phases[-1]
        tally.statuses[resp.status_code] = tally.statuses.get(resp.status_code, 0) + 1
        if resp.status_code == 200:
            successor = resp.json()["refresh_token"]
            if session.successors.setdefault(session.token, successor) != successor:
                tally.forks += 1
            session.token, session.last_ok = successor, time.monotonic()
            await asyncio.sleep(THINK_S)
        elif resp.status_code == 503 and "retry-after" in resp.headers:
            tally.unavailable += 1
            await asyncio.sleep(float(resp.headers["retry-after"]))
        elif resp.status_code >= 500:
            tally.server_errors += 1
            await asyncio.sleep(0.1)
        else:  # a correct client refused: its family is gone
            tally.logouts += 1
            session.alive = False
            return


async def _run(bases: Sequence[str], faults: Sequence[Fault], sessions: int) -> list[PhaseTally]:
    phases = [PhaseTally("warm-up")]
    limits = httpx.Limits(max_connections=sessions * 2)
    async with httpx.AsyncClient(timeout=5.0, limits=limits) as client:
        users = [await _login(client, bases[i % len(bases)], i) for i in range(sessions)]
        stop = asyncio.Event()
        loops = [
            asyncio.create_task(_refresh_loop(client, bases, user, phases, stop)) for user in users
        ]
        try:
            for fault in faults:
                await asyncio.sleep(SETTLE_S)
                phases.append(PhaseTally(fault.name))
                await asyncio.to_thread(fault.inject, [user.family for user in users])
                phases[-1].recovery_s = await _recovery(users, time.monotonic())
            await asyncio.sleep(SETTLE_S)
        finally:
            stop.set()
            await asyncio.gather(*loops)
    return phases[1:]


async def _recovery(users: Sequence[_Session], since: float) -> float | None:
    """Seconds from ``since`` until every live session has had a 200; None past the limit."""
    while time.monotonic() - since < RECOVERY_LIMIT_S:
        if all(user.last_ok >= since for user in users if user.alive):
            return max([user.last_ok - since for user in users if user.alive], default=0.0)
        await asyncio.sleep(0.02)
    return None


def run_faults(bases: Sequence[str], faults: Sequence[Fault], sessions: int) -> list[PhaseTally]:
    """``sessions`` correct clients on ``bases`` (server URLs) through ``faults``, in order."""
    return asyncio.run(_run(bases, faults, sessions))


def kill_server(port: int) -> None:
    """SIGKILL the reference server listening on ``port`` and its workers (forked, they share
    its command line), with no chance to clean up."""
    wanted = f"--port\0{port}\0".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"reference_server" in cmdline and wanted in cmdline:
            with contextlib.suppress(ProcessLookupError):  # gone already
                os.kill(int(entry.name), signal.SIGKILL)
