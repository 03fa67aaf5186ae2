"""The grace search: which delay to try next, and the value a bracket stands for.

A grace window is a threshold in time: a replay of the predecessor ``d`` seconds after its
rotation is accepted below it and rejected above it. It is found by doubling the delay from the
resolution until a replay is rejected (or the delay reaches ``--grace-max``), then by bisecting
the bracket ``(accepted at a, rejected at b)`` until it is no wider than the resolution at ``a``:
``max(floor, 10 % of a)``. Each delay is tried on a fresh session, so the search costs about
five times the window in wall time and never more than about eight times ``--grace-max``.

Pure: the prober feeds it what each trial showed and asks for the next delay.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = [
    "MAX_TRIALS",
    "RESOLUTION_RATIO",
    "GraceSearch",
    "resolution",
    "simplest_between",
    "worst_case_seconds",
]

RESOLUTION_RATIO = 0.1
"""The relative part of the resolution: the bracket's width may be 10 % of the window."""

MAX_TRIALS = 32
"""A hard cap on the search's trials, whatever the bounds (doubling from 0.01 s to 3600 s and
bisecting to 10 % takes fewer than 25)."""


def resolution(seconds: float, floor: float) -> float:
    """The precision of a window measured around ``seconds``: max(floor, 10 % of it)."""
    return round(max(floor, RESOLUTION_RATIO * seconds), 6)


def worst_case_seconds(grace_max: float) -> float:
    """About the longest the search and the reuse trial after it can sleep for ``grace_max``.

    Doubling sleeps at most 2 × grace_max before the last step and grace_max on it; bisection
    sleeps at most grace_max per step for about four steps; the reuse trial waits just past
    the window.
    """
    return 8.5 * grace_max


@dataclass
class GraceSearch:
    """Doubling then bisection over the bounds replays proved, in seconds after the rotation.

    ``accepted`` starts at 0: the replay right after the rotation (the first trial) was
    accepted, or there would be no window to search.
    """

    grace_max: float
    floor: float
    accepted: float = 0.0
    rejected: float | None = None
    trials: int = 0

    def next_delay(self) -> float | None:
        """The delay to try next; None when the bracket is narrow enough or the bound is hit."""
        if self.trials >= MAX_TRIALS:
            return None
        if self.rejected is None:
            if self.accepted >= self.grace_max:
                return None  # still accepted at the bound: the window is longer than it
            doubled = self.floor if self.accepted <= 0 else 2 * self.accepted
            return round(min(doubled, self.grace_max), 6)
        if self.rejected - self.accepted <= resolution(self.accepted, self.floor):
            return None
        return round((self.accepted + self.rejected) / 2, 6)

    def observe(self, bound: float, accepted: bool) -> None:
        """What a replay got, with the bound it proves (:class:`~stress.measure.decide.ReplayPoint`:
        at least ``bound`` seconds after the rotation if accepted, at most if rejected)."""
        delay = bound
        self.trials += 1
        if accepted:
            self.accepted = max(self.accepted, delay)
        else:
            self.rejected = delay if self.rejected is None else min(self.rejected, delay)

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
