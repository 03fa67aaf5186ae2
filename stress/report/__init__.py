"""Reports: turn check results and a history into what people and CI read.

One immutable :class:`RunReport` is built by :func:`build_report`; renderers read it: the rich
console (:func:`render_report`), ``--json`` (:func:`write_json`), ``--junit``
(:func:`write_junit`) and ``--html`` (:func:`write_html`). Everything here is pure apart from
the file writers; nothing touches the network.
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
from stress.report.timeline import (
    RequestDescriber,
    RequestShape,
    WitnessStep,
    curl_command,
    explain_witness,
    key_operation,
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
    "compute_stats",
    "curl_command",
    "exit_code",
    "explain_witness",
    "junit_element",
    "key_operation",
    "render_html",
    "render_report",
    "render_timeline",
    "report_document",
    "verdict_style",
    "write_html",
    "write_json",
    "write_junit",
]
