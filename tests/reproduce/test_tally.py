"""Tallies over runs: the Wilson interval, finding classes per run, and the combined verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from stress.checkers.base import Blame, CheckResult, Finding, Severity
from stress.policy import Policy
from stress.report import build_report
from stress.reproduce.tally import (
    Estimate,
    Repetition,
    RunOutcome,
    exit_code_of,
    failing_classes,
    tally_classes,
    wilson,
)
from stress.types import ExitCode


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        # Reference values: Wilson score interval, z = 1.96 (e.g. statsmodels proportion_confint).
        (0, 10, 0.0, 0.2775),
        (5, 10, 0.2366, 0.7634),
        (10, 10, 0.7225, 1.0),
        (1, 5, 0.0362, 0.6245),
        (3, 5, 0.2307, 0.8824),
    ],
)
def test_wilson_matches_reference_values(k: int, n: int, low: float, high: float) -> None:
    got = wilson(k, n)
    assert got == pytest.approx((low, high), abs=1e-4)


def test_wilson_rejects_impossible_counts() -> None:
    with pytest.raises(ValueError, match="at least one trial"):
        wilson(0, 0)
    with pytest.raises(ValueError, match="6 successes in 5 trials"):
        wilson(6, 5)


def test_estimate_describes_rate_and_interval() -> None:
    assert Estimate(4, 5).describe() == "4/5 (80%, 95% CI 38%-96%)"


def _finding(checker: str, index: int, severity: Severity = "error") -> Finding:
    return Finding(checker, severity, f"{checker} at {index}", (Blame(index, "why", key=True),))


def _run(number: int, *findings: Finding, reason: str | None = None) -> RunOutcome:
    by_checker: dict[str, list[Finding]] = {}
    for f in findings:
        by_checker.setdefault(f.checker, []).append(f)
    results = [
        CheckResult(
            name,
            "fail" if any(f.severity == "error" for f in fs) else "pass",
            tuple(fs),
        )
        for name, fs in by_checker.items()
    ] or [CheckResult("fork", "pass")]
    report = build_report(
        scenario="s",
        targets=[],
        policy=Policy(),
        results=results,
        operations=[],
        wall_seconds=0,
        started_unix=0,
        inconclusive_reason=reason,
    )
    return RunOutcome(number, Path(f"h-{number}.jsonl"), report)


def test_classes_count_runs_not_findings_in_registry_order() -> None:
    runs = [
        _run(1, _finding("sibling-invalidation", 1), _finding("fork", 2), _finding("fork", 3)),
        _run(2),
        _run(3, _finding("fork", 4), _finding("server-error", 5, "warning")),
    ]
    tallies = tally_classes(runs)
    assert [t.checker for t in tallies] == ["fork", "sibling-invalidation", "server-error"]
    fork = tallies[0]
    assert (fork.runs, fork.findings, fork.estimate) == ((1, 3), 3, Estimate(2, 3))
    assert fork.kind == "invariant"
    assert tallies[2].severity == "warning"
    # A warning is a finding class, not a violation: only errors fail a class.
    assert failing_classes(runs) == {"fork": 2, "sibling-invalidation": 1}


def test_verdict_fail_beats_inconclusive_beats_pass() -> None:
    passed, failed = _run(1), _run(2, _finding("fork", 1))
    stopped = _run(3, reason="interrupted")
    assert exit_code_of([passed, passed], 2) == ExitCode.PASS
    assert exit_code_of([passed, stopped], 2) == ExitCode.INCONCLUSIVE
    assert exit_code_of([failed, stopped], 2) == ExitCode.FAIL
    # Fewer runs than asked for proves less than asked for.
    assert exit_code_of([passed], 2) == ExitCode.INCONCLUSIVE
    crashed = RunOutcome(4, Path("h.jsonl"), _run(4, reason="internal error: x").report, True)
    assert exit_code_of([passed, crashed], 2) == ExitCode.INTERNAL
    repetition = Repetition("s", None, [], 3, (passed, failed, stopped), [])
    assert (repetition.verdict, repetition.failed, repetition.inconclusive) == ("fail", 1, 1)
