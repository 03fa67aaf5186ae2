"""The ``--json PATH`` document: the report as data for CI, dashboards and other tools.

Keys appear in a fixed order (insertion order, never sorted by accident) so that diffs between
runs stay readable, and the file is written atomically. Tokens appear only as fingerprints.
Each finding carries its report-wide number (the one every other report prints), the invoke
index of its key request, and, for each witness op, why its checker blames it; what a checker's
findings mean is said once per checker, under ``checker_info``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec

from stress import __version__
from stress.checkers import CHECKERS
from stress.checkers.base import Finding
from stress.report._atomic import write_atomic
from stress.report.model import RunReport
from stress.report.stats import BurstInfo, RunStats, SpreadSummary
from stress.report.timeline import WitnessStep, explain_witness

__all__ = ["TOOL_NAME", "report_document", "write_json"]

TOOL_NAME = "auth-stress"


def _ms(ns: int | None) -> float | None:
    return None if ns is None else round(ns / 1e6, 6)


def _step(step: WitnessStep) -> dict[str, Any]:
    op = step.op
    return {
        "index": op.index,
        "process": op.process,
        "session": op.session,
        "kind": op.kind,
        "step": op.invoke.step,
        "presented": op.presented,
        "outcome": op.outcome,
        "status": op.status,
        "returned": op.returned,
        "error": op.error,
        "send_ms": _ms(step.send_offset_ns),
        "recv_ms": _ms(step.recv_offset_ns),
        "why": step.why,
        "key": step.key,
    }


def _finding(report: RunReport, number: int, finding: Finding) -> dict[str, Any]:
    steps = explain_witness(report.by_index, finding)
    return {
        "number": number,
        "checker": finding.checker,
        "severity": finding.severity,
        "message": finding.message,
        "found_by": sorted({s.op.invoke.step for s in steps if s.op.invoke.step}),
        "key": finding.key,
        "witness": [_step(s) for s in steps],
        "curl": report.curl.get(finding),
    }


def _spread(spread: SpreadSummary | None) -> dict[str, Any] | None:
    if spread is None:
        return None
    return {
        "bursts": spread.bursts,
        "engines": list(spread.engines),
        "release_p50_ms": _ms(spread.release_p50_ns),
        "release_max_ms": _ms(spread.release_max_ns),
        "arrival_p50_ms": _ms(spread.arrival_p50_ns),
        "arrival_max_ms": _ms(spread.arrival_max_ns),
    }


def _stats(stats: RunStats) -> dict[str, Any]:
    return {
        "total": stats.total,
        "indeterminate": stats.indeterminate,
        "kinds": {
            k.kind: {
                "ok": k.ok,
                "fail": k.fail,
                "info": k.info,
                "p50_ms": k.p50_ms,
                "p95_ms": k.p95_ms,
                "p99_ms": k.p99_ms,
            }
            for k in stats.kinds
        },
        "statuses": {str(code): n for code, n in stats.statuses},
    }


def _burst(b: BurstInfo) -> dict[str, Any]:
    return {
        "burst": b.burst,
        "engine": b.engine,
        "size": b.size,
        "release_spread_ms": _ms(b.release_spread_ns),
        "arrival_spread_ms": _ms(b.arrival_spread_ns),
        "notes": list(b.notes),
    }


def report_document(report: RunReport) -> dict[str, Any]:
    """The JSON document as a dict, keys in their documented order."""
    return {
        "verdict": report.verdict,
        "inconclusive_reason": report.inconclusive_reason,
        "notes": list(report.notes),
        "findings": [
            _finding(report, number, finding)
            for result in report.results
            for number, finding in report.numbered(result)
        ],
        "checkers": {r.checker: report.checker_status(r) for r in report.results},
        "checker_notes": {r.checker: list(r.notes) for r in report.results if r.notes},
        "checker_info": {
            r.checker: {"class": spec.kind, "meaning": spec.meaning}
            for r in report.results
            if (spec := CHECKERS.get(r.checker)) is not None
        },
        "stats": _stats(report.stats),
        "scenario": report.scenario,
        "scenario_path": report.scenario_path,
        "targets": list(report.targets),
        "policy": {**msgspec.structs.asdict(report.policy), "relax": list(report.policy.relax)},
        "engine": {
            "summary": _spread(report.stats.spread),
            "bursts": [_burst(b) for b in report.bursts],
        },
        "reproduce": list(report.reproduce),
        "started_unix": report.started_unix,
        "wall_seconds": report.wall_seconds,
        "tool": {"name": TOOL_NAME, "version": __version__},
    }


def write_json(report: RunReport, path: Path) -> None:
    """Write the report document to ``path`` atomically (UTF-8, indented, trailing newline)."""
    text = json.dumps(report_document(report), indent=2, ensure_ascii=False)
    write_atomic(path, (text + "\n").encode())
