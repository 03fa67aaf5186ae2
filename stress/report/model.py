"""The report model: one immutable value that every renderer (console, JSON, JUnit, HTML) reads.

Building the report is kept apart from rendering it so that the verdict, the exit code, the
reproducer lines and the numbering of findings are decided once, in one pure function, and every
output format agrees on them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from stress.checkers.base import CheckResult, Finding, Verdict, combine
from stress.history import Operation
from stress.policy import Policy
from stress.report.stats import BurstInfo, RunStats, compute_stats, summarize_bursts
from stress.report.timeline import RequestDescriber, curl_command
from stress.run_record import Limits
from stress.types import ExitCode

__all__ = [
    "EXIT_FAIL",
    "EXIT_PASS",
    "EXIT_UNKNOWN",
    "BurstInfo",
    "CheckerStatus",
    "RunReport",
    "build_report",
    "exit_code",
]

EXIT_PASS = ExitCode.PASS
EXIT_FAIL = ExitCode.FAIL
EXIT_UNKNOWN = ExitCode.INCONCLUSIVE

CheckerStatus = Literal["pass", "fail", "warning", "unknown", "partial", "not run"]
"""What a report shows for one checker. ``warning``: it passed with warnings (a relaxed
invariant); ``partial``: no finding, but on a history the run left incomplete; ``not run``: the
run recorded no operation at all, so there was nothing to judge."""


@dataclass(frozen=True)
class RunReport:
    """Everything known about one run once the checkers have spoken.

    ``verdict`` is the combined checker verdict, raised to ``unknown`` when the run was
    inconclusive (``inconclusive_reason`` set) and nothing failed, or when no checker ran.
    ``curl`` maps a finding to the curl line of its key request (the op its checker blames as
    the violating one), when a describer was given. Findings are numbered from 1 in the order of
    :attr:`findings`, and every renderer uses :meth:`numbered`, so one finding has one number.
    """

    scenario: str
    scenario_path: str | None
    targets: list[str]
    policy: Policy
    bursts: list[BurstInfo]
    results: list[CheckResult]
    verdict: Verdict
    inconclusive_reason: str | None
    stats: RunStats
    wall_seconds: float
    started_unix: float
    reproduce: list[str]
    operations: list[Operation]
    curl: dict[Finding, str] = field(default_factory=dict)
    # What the run itself noticed and the checkers cannot see (e.g. open-model arrivals that
    # found every session busy): shown with the report, never part of the verdict.
    notes: list[str] = field(default_factory=list)
    # The scenario's latency and error-rate limits per op kind (what ``threshold`` judged).
    thresholds: dict[str, Limits] = field(default_factory=dict)

    @property
    def findings(self) -> list[Finding]:
        """All findings of all checkers, in checker order."""
        return [f for r in self.results for f in r.findings]

    @cached_property
    def by_index(self) -> dict[int, Operation]:
        """The operations by invoke index, for looking up witnesses."""
        return {op.index: op for op in self.operations}

    @cached_property
    def replicas(self) -> dict[str, str]:
        """A short name per target origin the ops were sent to (``r1``, ``r2``, ...), in the
        order of :attr:`targets`; empty when every op went to one target, as there is nothing
        to tell apart then."""
        origins = [t.rstrip("/") for t in self.targets]
        for op in self.operations:
            if op.invoke.target is not None:
                origins.append(op.invoke.target.rstrip("/"))
        unique = list(dict.fromkeys(origins))
        if len(unique) < 2:
            return {}
        return {origin: f"r{n}" for n, origin in enumerate(unique, 1)}

    def replica_of(self, op: Operation) -> str:
        """The short name of the replica ``op`` hit; empty with a single target."""
        return self.replicas.get((op.invoke.target or "").rstrip("/"), "")

    def checker_status(self, result: CheckResult) -> CheckerStatus:
        """What to show for ``result``: a pass on an inconclusive run is never shown as one.

        A run that recorded nothing (the target was unreachable) judged nothing, so its
        checkers were in effect not run; one cut short judged a partial history, where finding
        nothing proves nothing.
        """
        if result.verdict != "pass":
            return result.verdict
        if self.inconclusive_reason is not None and not result.findings:
            return "not run" if not self.operations else "partial"
        return "warning" if result.findings else "pass"

    def numbered(self, result: CheckResult) -> list[tuple[int, Finding]]:
        """``result``'s findings with their report-wide numbers."""
        first = 1
        for r in self.results:
            if r is result:
                return list(enumerate(r.findings, first))
            first += len(r.findings)
        raise ValueError(f"{result.checker}: not a result of this report")


def _verdict(results: Sequence[CheckResult], inconclusive_reason: str | None) -> Verdict:
    verdict = combine([r.verdict for r in results])
    if verdict == "pass" and (inconclusive_reason is not None or not results):
        # A pass on a partial history, or with nothing checked, proves nothing.
        return "unknown"
    return verdict


def build_report(
    *,
    scenario: str,
    targets: Sequence[str],
    policy: Policy,
    results: Sequence[CheckResult],
    operations: Sequence[Operation],
    wall_seconds: float,
    started_unix: float,
    reproduce: Sequence[str] = (),
    scenario_path: str | None = None,
    inconclusive_reason: str | None = None,
    bursts: Sequence[BurstInfo] | None = None,
    describe: RequestDescriber | None = None,
    notes: Sequence[str] = (),
    thresholds: Mapping[str, Limits] | None = None,
    curl_options: Sequence[str] = (),
) -> RunReport:
    """Assemble a :class:`RunReport`; pure.

    ``bursts`` defaults to the bursts derived from the operations; pass the engine's own
    summary when it knows more (notes, release spreads measured inside the engine).
    ``describe`` maps an operation to its request, to render a curl line per finding, with
    ``curl_options`` in it (the run's TLS set-up, as shell words).

    >>> report = build_report(scenario="s", targets=[], policy=Policy(),
    ...     results=[], operations=[], wall_seconds=0, started_unix=0)
    >>> report.verdict, int(exit_code(report))
    ('unknown', 3)
    """
    burst_infos = list(bursts) if bursts is not None else summarize_bursts(operations)
    curl: dict[Finding, str] = {}
    if describe is not None:
        by_index = {op.index: op for op in operations}
        for result in results:
            for finding in result.findings:
                key = by_index.get(finding.key)
                if key is not None:
                    curl[finding] = curl_command(key, describe, curl_options)
    return RunReport(
        scenario=scenario,
        scenario_path=scenario_path,
        targets=list(targets),
        policy=policy,
        bursts=burst_infos,
        results=list(results),
        verdict=_verdict(results, inconclusive_reason),
        inconclusive_reason=inconclusive_reason,
        stats=compute_stats(operations, burst_infos),
        wall_seconds=wall_seconds,
        started_unix=started_unix,
        reproduce=list(reproduce),
        operations=list(operations),
        curl=curl,
        notes=list(notes),
        thresholds=dict(thresholds or {}),
    )


def exit_code(report: RunReport) -> int:
    """0 pass, 1 a violation was found, 3 unknown or inconclusive (DESIGN.md's exit codes)."""
    if report.verdict == "fail":
        return EXIT_FAIL
    if report.verdict == "unknown":
        return EXIT_UNKNOWN
    return EXIT_PASS
