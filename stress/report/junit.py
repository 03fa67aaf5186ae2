"""The ``--junit PATH`` file: one JUnit test case per checker, for CI test dashboards.

Mapping (one ``<testsuite>`` named after the scenario, test cases with classname
``auth-stress.<scenario>`` and name the checker id):

- ``pass``: an empty test case;
- ``fail``: a ``<failure>`` whose message counts the findings and whose text holds the first
  findings as the console prints them (same numbers, same timelines, one curl line), a count of
  the rest, and the reproducer lines;
- ``unknown``: ``<skipped message="unknown: ...">``, because JUnit has no "undecided" and
  ``<error>`` would claim the tester itself broke;
- a checker that passed during an inconclusive run (interrupted, target unreachable, too many
  indeterminate ops) is also ``<skipped>``: a pass on a partial history proves nothing, and
  a green CI dashboard must not say otherwise.

The run's context (verdict, policy, targets, reason) is kept in ``<properties>``. Characters
that XML 1.0 forbids are dropped, and the file is written atomically.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from stress.checkers.base import CheckResult
from stress.checkers.judging import counted
from stress.report._atomic import write_atomic
from stress.report.model import RunReport
from stress.report.text import checker_text, rest_hint

__all__ = ["junit_element", "write_junit"]

# Findings printed in full per checker, as on the console.
_SHOWN = 10

_INVALID_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _x(text: str) -> str:
    return _INVALID_XML.sub("", text)


def _failure_text(report: RunReport, result: CheckResult, rest: str) -> str:
    blocks = ["\n".join(lines) for _, lines in checker_text(report, result, _SHOWN, rest)]
    if blocks and report.reproduce:
        blocks.append("\n".join(["reproduce with:", *("  " + ln for ln in report.reproduce)]))
    return "\n\n".join(blocks) or "checker failed without findings"


def _testcase(report: RunReport, result: CheckResult, suite: ET.Element, rest: str) -> str:
    case = ET.SubElement(
        suite,
        "testcase",
        name=_x(result.checker),
        classname=_x(f"auth-stress.{report.scenario}"),
        time="0",
    )
    notes = "; ".join(result.notes)
    if result.verdict == "fail":
        failure = ET.SubElement(
            case,
            "failure",
            message=_x(counted(len(result.findings), "finding") + (f"; {notes}" if notes else "")),
            type=_x(result.checker),
        )
        failure.text = _x(_failure_text(report, result, rest))
        return "failure"
    if result.verdict == "unknown":
        ET.SubElement(case, "skipped", message=_x(f"unknown: {notes or 'undecided'}"))
        return "skipped"
    if report.inconclusive_reason is not None:
        reason = f"inconclusive run ({report.inconclusive_reason}): passed on a partial history"
        ET.SubElement(case, "skipped", message=_x(reason))
        return "skipped"
    return "pass"


def junit_element(report: RunReport, json_path: Path | None = None) -> ET.Element:
    """The JUnit document's root: ``<testsuites>`` holding one ``<testsuite>``.

    ``json_path`` names the JSON report written beside it, where the findings not printed are.
    """
    root = ET.Element("testsuites", name="auth-stress")
    suite = ET.SubElement(
        root,
        "testsuite",
        name=_x(report.scenario),
        timestamp=datetime.fromtimestamp(report.started_unix, UTC).isoformat(timespec="seconds"),
        time=f"{report.wall_seconds:.3f}",
    )
    props = ET.SubElement(suite, "properties")
    context = {
        "verdict": report.verdict,
        "policy": report.policy.describe(),
        "targets": " ".join(report.targets),
        "scenario_path": report.scenario_path or "",
        "inconclusive_reason": report.inconclusive_reason or "",
    }
    for name, value in context.items():
        ET.SubElement(props, "property", name=name, value=_x(value))
    rest = rest_hint(json_path)
    outcomes = [_testcase(report, r, suite, rest) for r in report.results]
    if report.inconclusive_reason is not None:
        # A run that proves nothing is an error, never a row of green skips on a dashboard.
        case = ET.SubElement(
            suite, "testcase", name="run", classname=_x(f"auth-stress.{report.scenario}"), time="0"
        )
        ET.SubElement(case, "error", message=_x(f"inconclusive: {report.inconclusive_reason}"))
        outcomes.append("error")
    counts = {
        "tests": str(len(outcomes)),
        "failures": str(outcomes.count("failure")),
        "errors": str(outcomes.count("error")),
        "skipped": str(outcomes.count("skipped")),
    }
    for element in (root, suite):
        for key, value in counts.items():
            element.set(key, value)
    if report.reproduce:
        out = ET.SubElement(suite, "system-out")
        out.text = _x("reproduce with:\n" + "\n".join(report.reproduce))
    ET.indent(root)
    return root


def write_junit(report: RunReport, path: Path, json_path: Path | None = None) -> None:
    """Write the JUnit XML file to ``path`` atomically (``json_path`` as for the element)."""
    data = ET.tostring(junit_element(report, json_path), encoding="utf-8", xml_declaration=True)
    write_atomic(path, data + b"\n")
