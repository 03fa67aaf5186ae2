"""Console rendering: readable without colour, timeline lines intact."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from stress.checkers.base import Blame, CheckResult, Finding
from stress.report import RunReport, explain_witness, render_report, render_timeline

ReportFactory = Callable[..., RunReport]


def _render(report: RunReport, **options: object) -> str:
    buffer = io.StringIO()
    render_report(report, Console(file=buffer, no_color=True, width=120), **options)  # type: ignore[arg-type]
    return buffer.getvalue()


def test_failing_report_shows_timeline_and_reproducer(
    failing_report: RunReport, tokens: dict[str, str]
) -> None:
    out = _render(failing_report)
    (finding,) = failing_report.findings
    for line in render_timeline(explain_witness(failing_report.by_index, finding)):
        assert line in out
    assert "has 2 successors" in out
    assert failing_report.reproduce[0] in out
    assert f"  key request (op 3): {failing_report.curl[finding]}" in out
    assert "scenario  multi-tab (scenarios/multi_tab.toml)" in out
    assert "policy    strict\n" in out
    assert "release spread p50 500.0us max 500.0us; arrival spread p50 300ns max 300ns" in out
    assert out.rstrip().splitlines()[-1].startswith("verdict: FAIL, 1 finding, 4 ops")
    assert not any(token in out for token in tokens.values())


def test_tables_show_counts_latency_and_checkers(failing_report: RunReport) -> None:
    out = _render(failing_report)
    refresh_row = next(ln for ln in out.splitlines() if "refresh" in ln and "│" in ln)
    assert refresh_row.split("│")[1:8] == [
        " refresh ", "  2 ", "    1 ", "    0 ", "    4.0 ", "    4.7 ", "    4.7 "
    ]  # fmt: skip
    fork_row = next(ln for ln in out.splitlines() if "│ fork " in ln)
    assert "fail" in fork_row
    unknown_row = next(ln for ln in out.splitlines() if "token-uniqueness" in ln)
    assert "unknown" in unknown_row
    assert "crashed" in unknown_row


def test_passing_report(passing_report: RunReport) -> None:
    out = _render(passing_report)
    assert "finding 1" not in out
    assert out.rstrip().splitlines()[-1] == "verdict: PASS, 0 findings, 4 ops"


def test_inconclusive_report_names_the_reason(inconclusive_report: RunReport) -> None:
    out = _render(inconclusive_report)
    assert "INCONCLUSIVE: interrupted" in out
    assert out.rstrip().splitlines()[-1].startswith("verdict: UNKNOWN (interrupted)")
    # A checker with no finding on a cut-short history did not pass: it proved nothing.
    rows = [line for line in out.splitlines() if "fork" in line and "│" in line]
    assert rows
    assert "partial" in rows[0]
    assert " pass " not in rows[0]


def _many_forks(report_factory: ReportFactory, count: int) -> RunReport:
    findings = tuple(
        Finding(
            checker="fork",
            severity="error",
            message=f"fork number {i}",
            blame=(Blame(2, "first"), Blame(3, "second", key=True)),
        )
        for i in range(count)
    )
    return report_factory([CheckResult("fork", "fail", findings), CheckResult("threshold", "pass")])


def test_many_findings_are_grouped_per_checker(report_factory: ReportFactory) -> None:
    out = _render(_many_forks(report_factory, 5), max_findings=2)
    assert "finding 2: fork (error)\n  fork number 1\n" in out
    assert "fork number 2" not in out
    assert "... and 3 more fork findings (add --json PATH for all of them)" in out
    # Their requests differ only in their tokens: one curl line for the checker.
    assert out.count("key request (op 3): curl ") == 1
    assert "verdict: FAIL, 5 findings, 4 ops" in out


def test_the_rest_is_said_to_be_in_the_json_report_being_written(
    report_factory: ReportFactory,
) -> None:
    report = _many_forks(report_factory, 2)
    out = _render(report, max_findings=1, json_path=Path("out.json"))
    assert "... and 1 more fork finding (all in out.json)" in out
