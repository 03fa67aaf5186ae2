"""How often a finding reproduces: runs tallied per finding class, with a confidence interval.

A race shows up in some runs and not in others, so one run's verdict says little about how
likely a finding is. A finding's class is the id of the checker that proved it; a run
reproduces a class when its report holds at least one finding of that checker. Over ``n``
runs, ``k`` reproductions estimate the probability ``k/n``, and the Wilson score interval
bounds it honestly even at ``k = 0`` or ``k = n`` (where the naive ``p ± z·sqrt(p(1-p)/n)``
collapses to a point). Everything here is pure: the reports come from the runs' histories.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stress.checkers import CHECKERS
from stress.checkers.base import CheckerClass, Severity, Verdict, combine
from stress.report.model import RunReport
from stress.types import ExitCode

__all__ = [
    "Z_95",
    "ClassTally",
    "Estimate",
    "Repetition",
    "RunOutcome",
    "exit_code_of",
    "failing_classes",
    "reproduces",
    "tally_classes",
    "verdict_of",
    "wilson",
]

Z_95 = 1.959963984540054
"""The standard normal quantile of a two-sided 95 % interval."""


def wilson(k: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of ``k`` successes in ``n`` trials.

    >>> [round(x, 3) for x in wilson(5, 5)]
    [0.566, 1.0]
    >>> [round(x, 3) for x in wilson(0, 5)]
    [0.0, 0.434]
    """
    if n <= 0:
        raise ValueError(f"the Wilson interval needs at least one trial, not {n}")
    if not 0 <= k <= n:
        raise ValueError(f"{k} successes in {n} trials")
    p = k / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass(frozen=True)
class Estimate:
    """``k`` of ``n`` trials succeeded: the rate and its 95 % Wilson interval."""

    k: int
    n: int

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else 0.0

    @property
    def interval(self) -> tuple[float, float]:
        return wilson(self.k, self.n) if self.n else (0.0, 1.0)

    def describe(self) -> str:
        """``4/5 (80%, 95% CI 38%-96%)``."""
        low, high = self.interval
        return f"{self.k}/{self.n} ({self.rate:.0%}, 95% CI {low:.0%}-{high:.0%})"


def reproduces(report: RunReport, checker: str) -> bool:
    """True when ``report`` holds an error finding of ``checker``: a violation of that class."""
    return any(f.checker == checker and f.severity == "error" for f in report.findings)


@dataclass(frozen=True)
class RunOutcome:
    """One run of a repetition: its number (from 1), its history and the report judged from it."""

    number: int
    history: Path
    report: RunReport
    crashed: bool = False

    def finding_counts(self) -> dict[str, int]:
        """Findings per checker, in registry order."""
        counts: dict[str, int] = {}
        for finding in self.report.findings:
            counts[finding.checker] = counts.get(finding.checker, 0) + 1
        return counts


def failing_classes(runs: Sequence[RunOutcome]) -> dict[str, int]:
    """Per checker that reported a violation: in how many of ``runs`` (registry order)."""
    counts = {name: sum(1 for run in runs if reproduces(run.report, name)) for name in CHECKERS}
    return {name: k for name, k in counts.items() if k}


@dataclass(frozen=True)
class ClassTally:
    """One finding class over the runs: which runs reproduced it and how many findings it had.

    ``severity`` is ``error`` when any of its findings was one (a violation), else ``warning``.
    """

    checker: str
    kind: CheckerClass
    severity: Severity
    runs: tuple[int, ...]
    findings: int
    estimate: Estimate


def tally_classes(runs: Sequence[RunOutcome]) -> list[ClassTally]:
    """Every finding class seen in ``runs``, in registry order (invariants first)."""
    seen: dict[str, list[RunOutcome]] = {}
    totals: dict[str, int] = {}
    errors: set[str] = set()
    for run in runs:
        for finding in run.report.findings:
            members = seen.setdefault(finding.checker, [])
            if run not in members:
                members.append(run)
            totals[finding.checker] = totals.get(finding.checker, 0) + 1
            if finding.severity == "error":
                errors.add(finding.checker)
    order = {name: i for i, name in enumerate(CHECKERS)}
    tallies = []
    for checker in sorted(seen, key=lambda name: (order.get(name, len(order)), name)):
        spec = CHECKERS.get(checker)
        tallies.append(
            ClassTally(
                checker=checker,
                kind=spec.kind if spec is not None else "policy-dependent",
                severity="error" if checker in errors else "warning",
                runs=tuple(run.number for run in seen[checker]),
                findings=totals[checker],
                estimate=Estimate(len(seen[checker]), len(runs)),
            )
        )
    return tallies


@dataclass(frozen=True)
class Repetition:
    """``requested`` runs of one scenario asked for; ``runs`` those that were made.

    Fewer runs than requested means the repetition was interrupted (or stopped by a bound);
    every tally is over the runs made.
    """

    scenario: str
    scenario_path: str | None
    targets: list[str]
    requested: int
    runs: tuple[RunOutcome, ...]
    rerun: list[str]

    @property
    def classes(self) -> list[ClassTally]:
        return tally_classes(self.runs)

    @property
    def complete(self) -> bool:
        return len(self.runs) == self.requested

    @property
    def verdict(self) -> Verdict:
        return verdict_of(self.runs, self.requested)

    @property
    def failed(self) -> int:
        return sum(1 for run in self.runs if run.report.verdict == "fail")

    @property
    def inconclusive(self) -> int:
        return sum(1 for run in self.runs if run.report.verdict == "unknown")

    def exit_code(self) -> ExitCode:
        return exit_code_of(self.runs, self.requested)


def verdict_of(runs: Sequence[RunOutcome], requested: int) -> Verdict:
    """``fail`` if any run failed, else ``unknown`` if any was inconclusive (or fewer than
    ``requested`` were made), else ``pass``."""
    verdicts: list[Verdict] = [run.report.verdict for run in runs]
    if len(runs) < requested or not verdicts:
        verdicts.append("unknown")
    return combine(verdicts)


def exit_code_of(runs: Sequence[RunOutcome], requested: int) -> ExitCode:
    """1 if any run found a violation; else 4 if the tester crashed in one; else 3 if any run
    was inconclusive (or fewer than ``requested`` were made); else 0."""
    verdict = verdict_of(runs, requested)
    if verdict == "fail":
        return ExitCode.FAIL
    if any(run.crashed for run in runs):
        return ExitCode.INTERNAL
    if verdict == "unknown":
        return ExitCode.INCONCLUSIVE
    return ExitCode.PASS
