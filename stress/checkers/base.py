"""What a checker is: a pure function from a history to a result with findings and their blame.

Checkers never touch the network or the clock; everything they know comes from the recorded
operations and the :class:`CheckContext` (the declared policy and thresholds), so each one can be
unit-tested on a hand-written history. A finding explains itself as Elle's explainer does: the
checker that proved it says, for each op of the witness, why that op matters, and which one is
the violating request (the one a reader reproduces with curl). Reports only render that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from stress.history import Operation
from stress.policy import Policy

__all__ = [
    "Blame",
    "CheckContext",
    "CheckResult",
    "Checker",
    "CheckerClass",
    "CheckerSpec",
    "Finding",
    "Severity",
    "Threshold",
    "Verdict",
    "combine",
]

Verdict = Literal["pass", "fail", "unknown"]
Severity = Literal["error", "warning"]
CheckerClass = Literal["invariant", "policy-dependent"]
"""``invariant``: holds under every policy, and a scenario may only relax it to a warning
explicitly (``policy.relax``); ``policy-dependent``: judged against what the scenario declares
(policy, thresholds, documented statuses)."""


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
class Blame:
    """Why one witness op matters to its finding; ``key`` marks the violating request."""

    index: int
    why: str
    key: bool = False


@dataclass(frozen=True)
class Finding:
    """One violation, with the smallest set of operations that proves it and why each matters.

    ``blame`` is in time order (send time, then invoke index), each op once, and exactly one
    entry is the key: the request that breaks the rule.
    """

    checker: str
    severity: Severity
    message: str
    blame: tuple[Blame, ...]

    def __post_init__(self) -> None:
        keys = [b.index for b in self.blame if b.key]
        if len(keys) != 1:
            raise ValueError(f"a finding blames exactly one key op, found {keys}")
        if len({b.index for b in self.blame}) != len(self.blame):
            raise ValueError(f"a finding blames each op once, found {self.witness}")

    @property
    def witness(self) -> tuple[int, ...]:
        """The invoke indices of the ops that prove the finding, in time order."""
        return tuple(b.index for b in self.blame)

    @property
    def key(self) -> int:
        """The invoke index of the violating request."""
        return next(b.index for b in self.blame if b.key)


@dataclass(frozen=True)
class CheckResult:
    """A checker's verdict. ``unknown`` means the history could not decide (or it crashed)."""

    checker: str
    verdict: Verdict
    findings: tuple[Finding, ...] = ()
    notes: tuple[str, ...] = ()


Checker = Callable[[Sequence[Operation], CheckContext], CheckResult]


@dataclass(frozen=True)
class CheckerSpec:
    """A checker's registry entry: its stable id, its rule, its class, and what a finding means.

    ``meaning`` is one paragraph for the user: what a finding says about the target and what to
    do about it. Every report shows it once per checker.
    """

    id: str
    check: Checker
    kind: CheckerClass
    meaning: str


def combine(verdicts: Sequence[Verdict]) -> Verdict:
    """``fail`` beats ``unknown`` beats ``pass``, as DESIGN.md orders them."""
    if "fail" in verdicts:
        return "fail"
    if "unknown" in verdicts:
        return "unknown"
    return "pass"
