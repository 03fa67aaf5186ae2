"""The grace search: which delays to try next, and the value a bracket stands for.

A grace window is a threshold in time: a replay of the predecessor ``d`` seconds after its
rotation is accepted below it and rejected above it. It is found in rounds of up to
:data:`ROUND_WIDTH` trials run at once, each on a fresh session: while no replay was rejected, a
round tries the next doublings of the delay from the resolution (capped at ``--grace-max``); once
a bracket ``(accepted at a, rejected at b)`` exists, a round tries points evenly spaced inside
it, until it is no wider than the resolution at ``a``: ``max(floor, 10 % of a)``. A round lasts
as long as its longest delay, so the search costs about three times the window in wall time
(one doubling round per four doublings, then two or three rounds that each narrow the bracket
fivefold) instead of the five times a one-at-a-time search takes.

Pure: the prober feeds it what each trial showed and asks for the next round.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "MAX_TRIALS",
    "RESOLUTION_RATIO",
    "ROUND_WIDTH",
    "GraceSearch",
    "resolution",
    "simplest_between",
    "worst_case_seconds",
]

RESOLUTION_RATIO = 0.1
"""The relative part of the resolution: the bracket's width may be 10 % of the window."""

MAX_TRIALS = 32
"""A hard cap on the search's trials, whatever the bounds (doubling from 0.01 s to 3600 s and
narrowing to 10 % takes fewer than 40 in rounds of four)."""

ROUND_WIDTH = 4
"""Trials per round: each is one fresh session's login, rotation and replay, so a round sends
about a dozen requests, a load no token endpoint's rate limit notices."""


def resolution(seconds: float, floor: float) -> float:
    """The precision of a window measured around ``seconds``: max(floor, 10 % of it)."""
    return round(max(floor, RESOLUTION_RATIO * seconds), 6)


def worst_case_seconds(grace_max: float) -> float:
    """About the longest the search and the reuse trial after it can sleep for ``grace_max``.

    A round sleeps as long as its longest delay. The doubling rounds sleep at most about
    1.1 × grace_max in all (each round's longest delay is at most a sixteenth of the next's);
    each narrowing round sleeps at most grace_max, and three or fewer narrow any bracket to the
    resolution; the reuse trial waits just past the window. The bound keeps the margin of the
    one-at-a-time search it replaced.
    """
    return 8.5 * grace_max


@dataclass
class GraceSearch:
    """Rounds of doublings, then of evenly spaced points, over the bounds replays proved, in
    seconds after the rotation.

    ``accepted`` starts at 0: the replay right after the rotation (the first trial) was
    accepted, or there would be no window to search.
    """

    grace_max: float
    floor: float
    accepted: float = 0.0
    rejected: float | None = None
    trials: int = 0

    def next_round(self) -> list[float]:
        """The delays to try together next, shortest first; empty when the bracket is narrow
        enough, the bound is hit or the trials are spent."""
        width = min(ROUND_WIDTH, MAX_TRIALS - self.trials)
        if width <= 0:
            return []
        if self.rejected is None:
            return self._doublings(width)
        if self.rejected - self.accepted <= resolution(self.accepted, self.floor):
            return []
        step = (self.rejected - self.accepted) / (width + 1)
        points = (round(self.accepted + step * i, 6) for i in range(1, width + 1))
        return sorted({p for p in points if self.accepted < p < self.rejected})

    def _doublings(self, width: int) -> list[float]:
        delays: list[float] = []
        delay = self.accepted
        while len(delays) < width and delay < self.grace_max:
            delay = round(min(self.floor if delay <= 0 else 2 * delay, self.grace_max), 6)
            delays.append(delay)
        return delays

    def observe(self, bound: float, accepted: bool) -> None:
        """What a replay got, with the bound it proves (:class:`~stress.measure.decide.ReplayPoint`:
        at least ``bound`` seconds after the rotation if accepted, at most if rejected)."""
        self.trials += 1
        if accepted:
            self.accepted = max(self.accepted, bound)
        else:
            self.rejected = bound if self.rejected is None else min(self.rejected, bound)

    @property
    def longer_than_max(self) -> bool:
        """True when a replay was still accepted at ``grace_max``."""
        return self.rejected is None and self.accepted >= self.grace_max


def simplest_between(low: float, high: float) -> float:
    """The decimal with the fewest digits in ``[low, high]`` (> 0), nearest the middle.

    A bracket says only that the window lies in it; servers are configured with round
    numbers, so the shortest decimal in the bracket is the best single value to state (as the
    shortest repr of a float is). ``simplest_between(1.903, 2.004)`` is 2.0.
    """
    if high < low:
        raise ValueError(f"empty bracket [{low}, {high}]")
    middle = (low + high) / 2
    for digits in range(7):
        scale = int(10**digits)
        first = max(math.ceil(low * scale - 1e-6), 1)
        last = math.floor(high * scale + 1e-6)
        if first <= last:
            best = min(max(round(middle * scale), first), last)
            return round(best / scale, digits)
    return round(middle, 6)
