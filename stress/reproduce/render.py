"""What a repetition says, as text for people and as a JSON document for tools.

Rendering is kept apart from running, as the run report does: the CLI prints these lines and
writes these documents, and every number in them comes from :mod:`stress.reproduce.tally`.
The text is plain aligned lines (no tables that wrap in narrow CI logs)::

    finding class         runs  rate  95% CI    findings
    fork (error)          5/5   100%  57-100%   80
    run  verdict  findings                         history
    1    FAIL     fork 16, dead-successor 102      runs/…/history-01.jsonl
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

from stress import __version__
from stress.checkers import CHECKERS
from stress.report._atomic import write_atomic
from stress.report.json_report import TOOL_NAME
from stress.reproduce.tally import ClassTally, Estimate, Repetition, RunOutcome

__all__ = [
    "estimate_document",
    "findings_summary",
    "repetition_document",
    "repetition_lines",
    "run_line",
    "tool_document",
    "write_document",
]


def _percent(value: float) -> str:
    return f"{value:.0%}"


def estimate_document(estimate: Estimate) -> dict[str, Any]:
    """``{"reproduced": k, "runs": n, "rate": k/n, "ci95": [low, high]}``."""
    low, high = estimate.interval
    return {
        "reproduced": estimate.k,
        "runs": estimate.n,
        "rate": round(estimate.rate, 6),
        "ci95": [round(low, 6), round(high, 6)],
    }


def tool_document() -> dict[str, str]:
    return {"name": TOOL_NAME, "version": __version__}


def findings_summary(run: RunOutcome) -> str:
    """``fork 16, dead-successor 102``, or ``-`` for a run without findings."""
    counts = run.finding_counts()
    return ", ".join(f"{checker} {n}" for checker, n in counts.items()) or "-"


def run_line(run: RunOutcome, of: int) -> str:
    """One line per finished run: ``run 2/5: FAIL (fork 16) runs/…/history-02.jsonl``."""
    report = run.report
    reason = f" ({report.inconclusive_reason})" if report.inconclusive_reason else ""
    return (
        f"run {run.number}/{of}: {report.verdict.upper()}{reason}, "
        f"findings: {findings_summary(run)}, history: {run.history}"
    )


def _class_rows(classes: list[ClassTally]) -> list[list[str]]:
    rows = [["finding class", "runs", "rate", "95% CI", "findings"]]
    for tally in classes:
        low, high = tally.estimate.interval
        rows.append(
            [
                f"{tally.checker} ({tally.severity})",
                f"{tally.estimate.k}/{tally.estimate.n}",
                _percent(tally.estimate.rate),
                f"{low * 100:.0f}-{high * 100:.0f}%",
                str(tally.findings),
            ]
        )
    return rows


def _aligned(rows: list[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def repetition_lines(repetition: Repetition) -> list[str]:
    """The whole repetition report, line by line, ending in its verdict."""
    path = f" ({repetition.scenario_path})" if repetition.scenario_path else ""
    made = len(repetition.runs)
    lines = [
        f"scenario  {repetition.scenario}{path}",
        f"targets   {', '.join(repetition.targets) or '-'}",
        f"runs      {made} of {repetition.requested}"
        + ("" if repetition.complete else " (stopped early: interrupted)"),
        "",
    ]
    classes = repetition.classes
    if classes:
        lines += _aligned(_class_rows(classes))
    else:
        lines.append(f"no finding in any of the {made} runs")
    lines.append("")
    rows = [["run", "verdict", "findings", "history"]]
    for run in repetition.runs:
        verdict = run.report.verdict.upper()
        if run.report.inconclusive_reason:
            verdict += f" ({run.report.inconclusive_reason})"
        rows.append([str(run.number), verdict, findings_summary(run), str(run.history)])
    lines += _aligned(rows)
    lines += ["", "each run in full: auth-stress analyze HISTORY"]
    if repetition.rerun:
        lines.append(f"rerun: {shlex.join(repetition.rerun)}")
    lines.append("")
    lines.append(f"verdict: {repetition.verdict.upper()}: {_verdict_detail(repetition)}")
    return lines


def _verdict_detail(repetition: Repetition) -> str:
    made = len(repetition.runs)
    if repetition.failed:
        return f"{repetition.failed} of {made} runs found a violation"
    if repetition.inconclusive or not repetition.complete:
        return f"no violation, but {repetition.inconclusive} of {made} runs were inconclusive" + (
            "" if repetition.complete else f" and {repetition.requested - made} were not made"
        )
    return f"every expectation held in all {made} runs"


def _class_document(tally: ClassTally) -> dict[str, Any]:
    spec = CHECKERS.get(tally.checker)
    return {
        "checker": tally.checker,
        "class": tally.kind,
        "severity": tally.severity,
        **estimate_document(tally.estimate),
        "reproduced_in": list(tally.runs),
        "findings": tally.findings,
        "meaning": spec.meaning if spec is not None else None,
    }


def _run_document(run: RunOutcome) -> dict[str, Any]:
    return {
        "run": run.number,
        "verdict": run.report.verdict,
        "inconclusive_reason": run.report.inconclusive_reason,
        "history": str(run.history),
        "findings": run.finding_counts(),
        "reproduce": list(run.report.reproduce),
    }


def repetition_document(repetition: Repetition) -> dict[str, Any]:
    """The ``run --repeat K --json FILE`` document, keys in their documented order."""
    return {
        "kind": "repetition",
        "verdict": repetition.verdict,
        "runs_requested": repetition.requested,
        "runs_made": len(repetition.runs),
        "classes": [_class_document(tally) for tally in repetition.classes],
        "runs": [_run_document(run) for run in repetition.runs],
        "scenario": repetition.scenario,
        "scenario_path": repetition.scenario_path,
        "targets": list(repetition.targets),
        "rerun": shlex.join(repetition.rerun) if repetition.rerun else None,
        "tool": tool_document(),
    }


def write_document(document: dict[str, Any], path: Path) -> None:
    """Write a JSON document atomically (UTF-8, indented, trailing newline), as reports are."""
    text = json.dumps(document, indent=2, ensure_ascii=False)
    write_atomic(path, (text + "\n").encode())
