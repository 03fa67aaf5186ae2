"""Reports: turn check results and a history into what people and CI read.

One immutable :class:`RunReport` is built by :func:`build_report`; renderers read it: the rich
console (:func:`render_report`), ``--json`` (:func:`write_json`), ``--junit``
(:func:`write_junit`) and ``--html`` (:func:`write_html`). What a finding says, why each of its
ops matters and which is the key request all come from the checker that proved it; the console,
JUnit and the pytest plugin print findings through one text renderer (:func:`checker_text`),
and every report numbers them alike. Everything here is pure apart from the file writers;
nothing touches the network.
"""

from __future__ import annotations

from stress.report.console import render_report, verdict_style
from stress.report.html import render_html, write_html
from stress.report.json_report import report_document, write_json
from stress.report.junit import junit_element, write_junit
from stress.report.model import (
    EXIT_FAIL,
    EXIT_PASS,
    EXIT_UNKNOWN,
    RunReport,
    build_report,
    exit_code,
)
from stress.report.stats import BurstInfo, KindStats, RunStats, SpreadSummary, compute_stats
from stress.report.text import checker_text, finding_lines, rest_hint
from stress.report.timeline import (
    RequestDescriber,
    RequestShape,
    WitnessStep,
    curl_command,
    explain_witness,
    render_timeline,
)

__all__ = [
    "EXIT_FAIL",
    "EXIT_PASS",
    "EXIT_UNKNOWN",
    "BurstInfo",
    "KindStats",
    "RequestDescriber",
    "RequestShape",
    "RunReport",
    "RunStats",
    "SpreadSummary",
    "WitnessStep",
    "build_report",
    "checker_text",
    "compute_stats",
    "curl_command",
    "exit_code",
    "explain_witness",
    "finding_lines",
    "junit_element",
    "render_html",
    "render_report",
    "render_timeline",
    "report_document",
    "rest_hint",
    "verdict_style",
    "write_html",
    "write_json",
    "write_junit",
]
