"""The plain-text form of findings: one renderer for the console, JUnit and the pytest plugin.

A finding reads the same wherever it is printed, under the number the report gave it::

    finding 3: fork (error)
      a1b2c3d4 has 2 successors: e5f6a7b8 (op 1), 9c0d1e2f (op 2)
      found by: naive-parallel
        op 1 p1 refresh(a1b2c3d4) +0.000ms -> ok e5f6a7b8 (4.0ms)   # a1b2c3d4 -> e5f6a7b8, ...
        op 2 p2 refresh(a1b2c3d4) +0.300ms -> ok 9c0d1e2f (4.7ms)   # violation: ...
      key request (op 2): curl -sS -X POST ...

A storm repeats one finding hundreds of times, so each checker's findings are grouped: the
first few in full, one curl line per checker (its requests differ only in their tokens, which
the line leaves as placeholders), and a count of the rest with where to find them.
"""

from __future__ import annotations

from pathlib import Path

from stress.checkers.base import CheckResult, Finding
from stress.checkers.judging import counted
from stress.report.model import RunReport
from stress.report.timeline import explain_witness, render_timeline

__all__ = ["checker_text", "finding_lines", "rest_hint"]


def rest_hint(json_path: Path | None, option: str = "--json PATH") -> str:
    """Where the findings that are not printed are: the JSON report, or how to write one."""
    if json_path is not None:
        return f"all in {json_path}"
    return f"add {option} for all of them"


def finding_lines(
    report: RunReport, number: int, finding: Finding, *, curl: bool = True
) -> list[str]:
    """One finding: number, checker and severity, message, witness timeline, key request."""
    lines = [f"finding {number}: {finding.checker} ({finding.severity})", f"  {finding.message}"]
    steps = explain_witness(report.by_index, finding)
    if steps:
        found_by = sorted({s.op.invoke.step for s in steps if s.op.invoke.step})
        if found_by:
            lines.append(f"  found by: {', '.join(found_by)}")
        lines += [f"    {line}" for line in render_timeline(steps)]
    else:
        lines.append(f"    witness ops {list(finding.witness)} are not in the history")
    if curl and finding in report.curl:
        lines.append(f"  key request (op {finding.key}): {report.curl[finding]}")
    return lines


def checker_text(
    report: RunReport, result: CheckResult, shown: int, rest: str
) -> list[tuple[Finding | None, list[str]]]:
    """One checker's findings as blocks of lines, each with its finding (None: the count of the
    rest): the first ``shown`` in full, and one curl line, on the first that has one."""
    numbered = report.numbered(result)
    blocks: list[tuple[Finding | None, list[str]]] = []
    curl = True
    for number, finding in numbered[:shown]:
        blocks.append((finding, finding_lines(report, number, finding, curl=curl)))
        curl = curl and finding not in report.curl
    hidden = len(numbered) - shown
    if hidden > 0:
        more = counted(hidden, f"more {result.checker} finding")
        blocks.append((None, [f"... and {more} ({rest})"]))
    return blocks
