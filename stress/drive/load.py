"""Sustained load: refresh/use cycles for a while, closed-loop or at an open arrival rate.

Races in token rotation also show up under ordinary sustained traffic, not only in crafted
bursts, so a scenario can hold a steady load (``op = "load"``, :class:`stress.scenario.LoadStep`)
and let the checkers judge the history as usual. The driver calls :func:`run_load` once per
session; every operation goes through ``Actions.refresh_once`` / ``Actions.use_once``, so it is
recorded like any other, and the run's op bound (which raises to stop the session) propagates.

Two models:

- **closed** (no ``rate``): each session loops ``op, think, op, think, ...`` until the duration
  ends; the kind of each op is drawn from ``mix`` by a random generator seeded per session. The
  offered load falls when the target slows down, as with real users waiting for answers.
- **open** (``rate`` ops/s across all sessions): arrivals follow a seeded Poisson process and
  each is served by a session that is idle at its arrival time. A session holds one token and
  does one op at a time, so when every session is busy the arrival is counted as *missed* rather
  than queued (a queue would turn an open model back into a closed one and hide the overload);
  the count is logged as a warning when the window ends.

Why one shared scheduler per step instead of ``rate / sessions`` per session: with a per-session
share, an arrival is lost whenever *its* session is busy even though others are idle, and the
aggregate rate silently drops when sessions start late or a ``run.concurrency`` limit keeps some
of them waiting. A shared schedule serves the rate with whichever sessions are present. It is
pull-based, so no extra task is needed: an idle session claims the next unclaimed arrival and
sleeps until its time; an arrival still unclaimed when its time has passed found no idle session
and is missed. The schedule lives in the run's :class:`LoadRun`, so it dies with the run. A
window opens when the first session reaches the step and lasts ``duration_seconds``; sessions
arriving later join it (and leave at its end), sessions arriving after it ended open a new one
(a later round). Poisson rather than uniform
spacing because independent users do not coordinate: the clumps a Poisson process makes are
part of what a rotation endpoint must survive.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field
from typing import Literal

import anyio

from stress.drive.actions import Actions
from stress.drive.session import SessionState
from stress.scenario import LoadStep

__all__ = ["ArrivalSchedule", "LoadRun", "LoadWindow", "run_load"]

logger = logging.getLogger(__name__)

LoadKind = Literal["refresh", "use"]


def _kinds(step: LoadStep) -> list[LoadKind]:
    """The mix as a list to draw from: ``{"refresh": 3, "use": 1}`` -> 3 refreshes, 1 use."""
    return [kind for kind, weight in sorted(step.mix.items()) for _ in range(weight)]


class ArrivalSchedule:
    """A seeded Poisson arrival process: ``(time, kind)`` pairs at ``rate`` per second.

    Pure and deterministic for a given seed: times are offsets in seconds from the window's
    start, kinds are drawn from the mix in arrival order.
    """

    def __init__(self, rate: float, kinds: list[LoadKind], seed: int) -> None:
        if rate <= 0 or not kinds:
            raise ValueError("an arrival schedule needs rate > 0 and a non-empty mix")
        self._rate = rate
        self._kinds = kinds
        self._random = random.Random(seed)
        self._offset = 0.0

    def next(self) -> tuple[float, LoadKind]:
        """The next arrival: its offset from the start (seconds) and the op kind it asks for."""
        self._offset += self._random.expovariate(self._rate)
        return self._offset, self._random.choice(self._kinds)


@dataclass
class LoadWindow:
    """One open-model window of a load step, shared by every session that takes part.

    ``claim`` hands an idle session its next arrival; arrivals whose time has already passed
    when claimed found no idle session and are counted in ``missed``.
    """

    step: LoadStep
    start: float  # time.monotonic() when the window opened
    schedule: ArrivalSchedule
    epoch: int = 0  # how many windows this step opened before this one (later rounds)
    closed: bool = False
    participants: int = 0
    arrivals: int = 0
    served: int = 0
    missed: int = 0
    _pending: tuple[float, LoadKind] | None = field(default=None, repr=False)

    @property
    def end(self) -> float:
        return self.start + self.step.duration_seconds

    def _peek(self) -> tuple[float, LoadKind]:
        if self._pending is None:
            offset, kind = self.schedule.next()
            self._pending = (self.start + offset, kind)
        return self._pending

    def claim(self, now: float) -> tuple[float, LoadKind] | None:
        """The next arrival this (idle) session serves, or None when none is left before ``end``.

        Arrivals already past at ``now`` are skipped and counted as missed: no session was idle
        when they came.
        """
        while True:
            at, kind = self._peek()
            if at >= self.end:
                return None
            self._pending = None
            self.arrivals += 1
            if at < now:
                self.missed += 1
                continue
            self.served += 1
            return at, kind

    def unserved(self) -> None:
        """The last claimed arrival could not be served after all (its session had no token)."""
        self.served -= 1
        self.missed += 1

    def close(self) -> bool:
        """Count the arrivals nobody claimed before the end as missed; False if already closed."""
        if self.closed:
            return False
        self.closed = True
        while self._peek()[0] < self.end:
            self._pending = None
            self.arrivals += 1
            self.missed += 1
        return True


@dataclass
class LoadRun:
    """What the load steps of one run share: its seed, its steps' open windows, its notes."""

    actions: Actions
    seed: int
    steps: list[object]
    notes: list[str]
    windows: dict[int, LoadWindow] = field(default_factory=dict)
    # A shard's arrivals are its own Poisson process (the shards' superpose to the run's
    # rate), so they are seeded apart; None: the run's seed.
    schedule_seed: int | None = None


def _join(run: LoadRun, step: LoadStep) -> LoadWindow:
    now = time.monotonic()
    window = run.windows.get(id(step))
    if window is None or now >= window.end:
        epoch = 0 if window is None else window.epoch + 1
        position = next(i for i, each in enumerate(run.steps) if each is step)
        # Same seed, same schedule: arrival times and kinds replay exactly (which session
        # serves each arrival still depends on the target's latency).
        base = run.seed if run.schedule_seed is None else run.schedule_seed
        seed = (base * 1_000_003 + position) * 1_009 + epoch
        window = LoadWindow(
            step=step,
            start=now,
            schedule=ArrivalSchedule(step.rate or 0.0, _kinds(step), seed),
            epoch=epoch,
        )
        run.windows[id(step)] = window
    window.participants += 1
    return window


def _leave(run: LoadRun, step: LoadStep, window: LoadWindow) -> None:
    window.participants -= 1
    if window.participants > 0 or not window.close():
        return
    extra = {
        "epoch": window.epoch,
        "rate": step.rate,
        "duration_seconds": step.duration_seconds,
        "arrivals": window.arrivals,
        "served": window.served,
        "missed": window.missed,
    }
    if window.missed:
        logger.warning("open-model load: arrivals missed, every session was busy", extra=extra)
        # The report says it too: a rate the sessions could not keep up with is a finding
        # about the run's configuration (or the target's latency), not noise to bury in a log.
        run.notes.append(
            f"load at {step.rate:g} ops/s: {window.missed} of {window.arrivals} arrivals found "
            "every session busy and were not sent (add sessions or lower the rate)"
        )
    else:
        logger.info("open-model load window ended", extra=extra)


async def _one(run: LoadRun, state: SessionState, kind: LoadKind) -> bool:
    """One op of ``kind``; False when the session has nothing to present any more."""
    if kind == "refresh":
        return await run.actions.refresh_once(state) is not None
    return await run.actions.use_once(state) is not None


async def _closed(run: LoadRun, state: SessionState, step: LoadStep) -> None:
    chooser = random.Random(run.seed * 1_000_003 + state.n)
    kinds = _kinds(step)
    deadline = time.monotonic() + step.duration_seconds
    # An op in flight is never cancelled at the deadline: that would turn it into an
    # indeterminate (info) op for no reason; each op is bounded by the op timeout instead.
    while time.monotonic() < deadline:
        if not await _one(run, state, chooser.choice(kinds)):
            return
        if step.think_seconds:
            await anyio.sleep(min(step.think_seconds, max(0.0, deadline - time.monotonic())))


async def _open(run: LoadRun, state: SessionState, step: LoadStep) -> None:
    window = _join(run, step)
    try:
        while True:
            arrival = window.claim(time.monotonic())
            if arrival is None:
                # Nothing left to serve: stay until the window ends, as a closed session would.
                await anyio.sleep(max(0.0, window.end - time.monotonic()))
                return
            at, kind = arrival
            await anyio.sleep(max(0.0, at - time.monotonic()))
            if not await _one(run, state, kind):
                window.unserved()
                return
    finally:
        _leave(run, step, window)


async def run_load(run: LoadRun, state: SessionState, step: LoadStep) -> None:
    """Drive one session's share of a load step (closed or open model, see the module doc)."""
    if step.rate is None:
        await _closed(run, state, step)
    else:
        await _open(run, state, step)
