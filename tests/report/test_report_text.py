"""One text form of a finding, and one number for it in every report."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

from stress.checkers.base import Blame, CheckResult, Finding
from stress.pytest_plugin import failure_text
from stress.report import (
    RunReport,
    finding_lines,
    junit_element,
    render_html,
    render_report,
    report_document,
)
from stress.scenario import load_scenario

ReportFactory = Callable[..., RunReport]
ROOT = Path(__file__).resolve().parents[2]


def _finding(checker: str, message: str) -> Finding:
    blame = (Blame(0, "issued it"), Blame(3, "the violating one", key=True))
    return Finding(checker=checker, severity="error", message=message, blame=blame)


def _report(report_factory: ReportFactory) -> RunReport:
    """Two fork findings, then a token-uniqueness one: that one is finding 3 everywhere."""
    return report_factory(
        [
            CheckResult("fork", "fail", (_finding("fork", "fork a"), _finding("fork", "fork b"))),
            CheckResult("sibling-invalidation", "pass"),
            CheckResult("token-uniqueness", "fail", (_finding("token-uniqueness", "dup"),)),
        ]
    )


def test_a_finding_has_one_number_in_every_report(report_factory: ReportFactory) -> None:
    report = _report(report_factory)
    third = "finding 3: token-uniqueness (error)\n  dup\n"

    buffer = io.StringIO()
    # Only one finding per checker in full: the hidden fork finding still keeps its number.
    render_report(report, Console(file=buffer, no_color=True, width=120), max_findings=1)
    assert third in buffer.getvalue()
    assert "finding 2:" not in buffer.getvalue()

    cases = {c.get("name"): c for c in junit_element(report).iter("testcase")}
    failure = cases["token-uniqueness"].find("failure")
    assert failure is not None
    assert third in str(failure.text)

    scenario = load_scenario(ROOT / "scenarios" / "multi-tab-burst.toml")
    assert third in failure_text(scenario, report, Path("history.jsonl"))

    assert "<h4>3. token-uniqueness (error)</h4>" in render_html(report)

    numbers = [(f["number"], f["message"]) for f in report_document(report)["findings"]]
    assert numbers == [(1, "fork a"), (2, "fork b"), (3, "dup")]


def test_finding_lines_blame_every_op_and_name_the_key_request(
    report_factory: ReportFactory,
) -> None:
    report = _report(report_factory)
    finding = report.findings[0]
    lines = finding_lines(report, 1, finding)
    assert lines[:2] == ["finding 1: fork (error)", "  fork a"]
    timeline = [line for line in lines if line.startswith("    op ")]
    assert [line.split("# ")[1] for line in timeline] == [
        "issued it",
        "violation: the violating one",
    ]
    assert lines[-1] == f"  key request (op 3): {report.curl[finding]}"
    assert finding_lines(report, 1, finding, curl=False)[-1] == timeline[-1]


def test_junit_groups_a_checkers_findings_like_the_console(report_factory: ReportFactory) -> None:
    many = tuple(_finding("fork", f"fork {i}") for i in range(12))
    report = report_factory([CheckResult("fork", "fail", many)])
    root = junit_element(report, json_path=Path("report.json"))
    failure = next(root.iter("failure"))
    assert failure.get("message") == "12 findings"
    text = str(failure.text)
    assert "finding 10: fork" in text
    assert "finding 11: fork" not in text
    assert "... and 2 more fork findings (all in report.json)" in text
    assert text.count("key request (op 3):") == 1
