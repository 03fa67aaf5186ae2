"""What a checker is: a pure function from a history to a result with findings and witnesses.

Checkers never touch the network or the clock; everything they know comes from the recorded
operations and the :class:`CheckContext` (the declared policy and thresholds), so each one can be
unit-tested on a hand-written history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from stress.history import Operation
from stress.policy import Policy

__all__ = [
    "CheckContext",
    "CheckResult",
    "Checker",
    "Finding",
    "Severity",
    "Threshold",
    "Verdict",
    "combine",
]

Verdict = Literal["pass", "fail", "unknown"]
Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Threshold:
    """Latency and error-rate limits for one op kind; None means no limit."""

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_error_rate: float | None = None


@dataclass(frozen=True)
class CheckContext:
    """What the target promised, from the scenario: checkers judge against this.

    ``documented_statuses`` are non-2xx statuses the target documents for concurrency
    (for example 409 "too many concurrent refreshes" or 429): reported, not failed.
    ``dead_targets`` maps a target origin that stopped answering to the monotonic ns its
    failures began (from the history's run-end record).
    """

    policy: Policy
    thresholds: dict[str, Threshold] = field(default_factory=dict)
    documented_statuses: frozenset[int] = frozenset()
    max_info_ratio: float = 0.5
    dead_targets: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Finding:
    """One violation, with the smallest set of operations (by invoke index) that proves it."""

    checker: str
    severity: Severity
    message: str
    witness: tuple[int, ...]


@dataclass(frozen=True)
class CheckResult:
    """A checker's verdict. ``unknown`` means the history could not decide (or it crashed)."""

    checker: str
    verdict: Verdict
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()


Checker = Callable[[Sequence[Operation], CheckContext], CheckResult]


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    """``fail`` beats ``unknown`` beats ``pass``, as DESIGN.md orders them."""
    if "fail" in verdicts:
        return "fail"
    if "unknown" in verdicts:
        return "unknown"
    return "pass"
