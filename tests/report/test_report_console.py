"""Console rendering: readable without colour, timeline lines intact."""

from __future__ import annotations

import io
from dataclasses import replace

from rich.console import Console

from stress.checkers.base import Finding
from stress.report import RunReport, explain_witness, render_report, render_timeline


def _render(report: RunReport) -> str:
    buffer = io.StringIO()
    render_report(report, Console(file=buffer, no_color=True, width=120))
    return buffer.getvalue()


def test_failing_report_shows_timeline_and_reproducer(
    failing_report: RunReport, tokens: dict[str, str]
) -> None:
    out = _render(failing_report)
    (finding,) = failing_report.findings
    for line in render_timeline(explain_witness(failing_report.operations, finding)):
        assert line in out
    assert "has 2 successors" in out
    assert failing_report.reproduce[0] in out
    assert failing_report.curl[finding] in out
    assert "scenario  multi-tab (scenarios/multi_tab.toml)" in out
    assert "policy    strict\n" in out
    assert "release spread p50 500.0us max 500.0us; arrival spread p50 300ns max 300ns" in out
    assert out.rstrip().splitlines()[-1].startswith("verdict: FAIL, 1 finding(s), 4 ops")
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
    assert out.rstrip().splitlines()[-1] == "verdict: PASS, 0 finding(s), 4 ops"


def test_inconclusive_report_names_the_reason(inconclusive_report: RunReport) -> None:
    out = _render(inconclusive_report)
    assert "INCONCLUSIVE: interrupted" in out
    assert out.rstrip().splitlines()[-1].startswith("verdict: UNKNOWN (interrupted)")


def test_many_findings_are_capped_per_checker(passing_report: RunReport) -> None:
    (fork, *rest) = passing_report.results
    findings = tuple(
        Finding(checker="fork", severity="error", message=f"fork number {i}", witness=(2, 3))
        for i in range(5)
    )
    report = replace(
        passing_report, results=[replace(fork, verdict="fail", findings=findings), *rest]
    )
    buffer = io.StringIO()
    render_report(report, Console(file=buffer, no_color=True, width=120), max_findings=2)
    out = buffer.getvalue()
    assert "fork number 1" in out
    assert "fork number 2" not in out
    assert "... 3 more fork finding(s), all in --json" in out
