"""build_report and exit_code: the verdict and exit code every renderer agrees on."""

from __future__ import annotations

from collections.abc import Callable

from checkers.histories import History, ctx

from stress.checkers import stale_reuse_accepted
from stress.checkers.base import CheckResult
from stress.history import Operation
from stress.policy import Policy
from stress.report import RequestShape, RunReport, build_report, exit_code

ReportFactory = Callable[..., RunReport]


def test_failing_report_fails_with_exit_1(failing_report: RunReport) -> None:
    assert failing_report.verdict == "fail"
    assert exit_code(failing_report) == 1
    assert [f.checker for f in failing_report.findings] == ["fork"]


def test_passing_report_passes_with_exit_0(passing_report: RunReport) -> None:
    assert passing_report.verdict == "pass"
    assert exit_code(passing_report) == 0


def test_inconclusive_run_is_unknown_even_when_checkers_pass(
    inconclusive_report: RunReport,
) -> None:
    assert inconclusive_report.verdict == "unknown"
    assert exit_code(inconclusive_report) == 3


def test_inconclusive_run_with_a_violation_still_fails(report_factory: ReportFactory) -> None:
    results = [CheckResult(checker="fork", verdict="fail")]
    report = report_factory(results, inconclusive_reason="target unreachable: refused")
    assert report.verdict == "fail"
    assert exit_code(report) == 1


def test_unknown_checker_makes_run_unknown(report_factory: ReportFactory) -> None:
    results = [CheckResult("fork", "pass"), CheckResult("jwt-claims", "unknown")]
    assert exit_code(report_factory(results)) == 3


def test_no_checkers_is_not_a_pass(report_factory: ReportFactory) -> None:
    assert report_factory([]).verdict == "unknown"


def test_curl_line_is_precomputed_for_each_finding(failing_report: RunReport) -> None:
    (finding,) = failing_report.findings
    curl = failing_report.curl[finding]
    assert curl.startswith("curl -sS -X POST http://127.0.0.1:8000/token ")
    assert "$REFRESH_TOKEN" in curl


def test_bursts_are_derived_from_operations(passing_report: RunReport) -> None:
    (burst,) = passing_report.bursts
    assert (burst.burst, burst.engine, burst.size) == (1, "barrier", 3)
    assert burst.release_spread_ns == 500_000
    assert burst.arrival_spread_ns == 300


def _describe_by_index(op: Operation) -> RequestShape:
    """A request whose URL names the op, so a curl line says which op it reproduces."""
    return ("POST", f"http://127.0.0.1:8000/token?op={op.index}", {}, "refresh_token=$TOKEN")


def test_key_request_of_a_stale_reuse_is_the_accepted_reuse_not_the_rotation() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    reuse = h.probe(p=2, presented="A", returned="C", t=(9, 10))
    operations = h.operations()
    result = stale_reuse_accepted.check(operations, ctx("strict"))
    report = build_report(
        scenario="s",
        targets=[],
        policy=Policy(),
        results=[result],
        operations=operations,
        wall_seconds=0,
        started_unix=0,
        describe=_describe_by_index,
    )
    (finding,) = report.findings
    assert f"/token?op={reuse}'" in report.curl[finding]
