"""The --junit file: valid XML, one test case per checker, verdicts mapped as documented."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from stress.report import RunReport, explain_witness, render_timeline, write_junit

CHECKERS = ("fork", "sibling-invalidation", "token-uniqueness", "server-error")


def _load(report: RunReport, tmp_path: Path) -> ET.Element:
    path = tmp_path / "junit.xml"
    write_junit(report, path)
    return ET.parse(path).getroot()


def _cases(root: ET.Element) -> dict[str, ET.Element]:
    (suite,) = root.findall("testsuite")
    cases = [c for c in suite.findall("testcase") if c.get("name") != "run"]
    assert [c.get("name") for c in cases] == list(CHECKERS)
    assert {c.get("classname") for c in cases} == {"auth-stress.multi-tab"}
    return {str(c.get("name")): c for c in cases}


def test_failing_report(failing_report: RunReport, tmp_path: Path) -> None:
    root = _load(failing_report, tmp_path)
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("name") == "multi-tab"
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    cases = _cases(root)
    failure = cases["fork"].find("failure")
    assert failure is not None
    assert failure.get("message") == "1 finding"
    (finding,) = failing_report.findings
    assert failure.text is not None
    assert finding.message in failure.text
    assert "finding 1: fork (error)" in failure.text
    for line in render_timeline(explain_witness(failing_report.by_index, finding)):
        assert line in failure.text
    assert failing_report.reproduce[0] in failure.text
    skipped = cases["token-uniqueness"].find("skipped")
    assert skipped is not None
    assert skipped.get("message") == "unknown: crashed"
    assert list(cases["server-error"]) == []


def test_passing_report(passing_report: RunReport, tmp_path: Path) -> None:
    root = _load(passing_report, tmp_path)
    assert all(list(case) == [] for case in _cases(root).values())
    assert (root.get("failures"), root.get("skipped")) == ("0", "0")


def test_an_inconclusive_run_is_an_error_and_its_passes_skipped(
    inconclusive_report: RunReport, tmp_path: Path
) -> None:
    root = _load(inconclusive_report, tmp_path)
    for case in _cases(root).values():
        skipped = case.find("skipped")
        assert skipped is not None
        assert "inconclusive run (interrupted)" in str(skipped.get("message"))
    (suite,) = root.findall("testsuite")
    [run] = [c for c in suite.findall("testcase") if c.get("name") == "run"]
    error = run.find("error")
    assert error is not None
    assert error.get("message") == "inconclusive: interrupted"
    assert (suite.get("errors"), root.get("errors")) == ("1", "1")
    props = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert props["inconclusive_reason"] == "interrupted"
    assert props["verdict"] == "unknown"
