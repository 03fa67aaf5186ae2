"""The ``--html PATH`` report: one self-contained file a person opens after a CI run.

Everything is inline (CSS, SVG, a few lines of JS) and nothing is fetched, so the file opens
from a CI artifact store with no network. Each finding's witness is drawn as a timeline with
one lane per process: an op is a bar from send to receive, lineage arrows run from the op that
returned a token to the ops that presented it, and the violating op (the line a timeline
comment marks) is drawn in red. Latency histograms per op kind and the burst spreads show how
hard the target was pushed. Tokens appear only as fingerprints.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from stress import __version__
from stress.checkers.base import Finding
from stress.report._atomic import write_atomic
from stress.report.annotate import short_fp
from stress.report.model import RunReport
from stress.report.stats import service_latency_ns
from stress.report.timeline import (
    WitnessStep,
    explain_witness,
    format_duration,
    render_timeline,
)

__all__ = ["render_html", "write_html"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;padding:2px 12px;border-radius:4px;color:#fff;font-weight:bold}
.pass{background:#2e7d32}.fail{background:#c62828}.unknown{background:#b26a00}
pre{background:#f6f6f6;padding:8px;overflow-x:auto}
.finding{border-left:4px solid #c62828;padding-left:12px;margin:1.5em 0}
.finding.warning{border-left-color:#b26a00}
svg text{font:11px monospace}
.bar{fill:#90caf9;stroke:#1565c0}.bar.fail{fill:#ffcc80;stroke:#e65100}
.bar.info{fill:#e0e0e0;stroke:#616161;stroke-dasharray:3 2}
.bar.violation{fill:#ef9a9a;stroke:#b71c1c;stroke-width:2}
.lineage{stroke:#555;fill:none;marker-end:url(#arrow)}
.lineage.violation{stroke:#b71c1c;stroke-width:2;marker-end:url(#arrow-red)}
.hl{stroke:#000!important;stroke-width:3!important}
.hist rect{fill:#64b5f6}
"""

# Hovering a token highlights every op that presented or returned it.
_JS = """
document.querySelectorAll('[data-tokens]').forEach(function (el) {
  var tokens = el.getAttribute('data-tokens').split(' ');
  function mark(on) {
    tokens.forEach(function (t) {
      document.querySelectorAll('[data-tokens~="' + t + '"]').forEach(function (o) {
        o.classList.toggle('hl', on);
      });
    });
  }
  el.addEventListener('mouseenter', function () { mark(true); });
  el.addEventListener('mouseleave', function () { mark(false); });
});
"""

_E = html.escape

_LANE_H = 34
_LEFT = 60
_WIDTH = 900


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], numeric_from: int = 1) -> str:
    cells = "".join(f"<th>{_E(h)}</th>" for h in head)
    body = []
    for row in rows:
        tds = "".join(
            f'<td class="n">{_E(c)}</td>' if i >= numeric_from else f"<td>{_E(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{tds}</tr>")
    return f"<table><tr>{cells}</tr>{''.join(body)}</table>"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _dur(ns: int | None) -> str:
    return "n/a" if ns is None else format_duration(ns)


def _defs() -> str:
    marker = (
        '<marker id="{id}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="{c}"/>'
        "</marker>"
    )
    return (
        "<defs>"
        + marker.format(id="arrow", c="#555")
        + marker.format(id="arrow-red", c="#b71c1c")
        + "</defs>"
    )


def _witness_svg(steps: Sequence[WitnessStep]) -> str:
    """One lane per process, one bar per op, arrows along lineage edges."""
    lanes: dict[int, int] = {}
    for step in steps:
        lanes.setdefault(step.op.process, len(lanes))
    end = max(
        (s.recv_offset_ns if s.recv_offset_ns is not None else s.send_offset_ns for s in steps),
        default=0,
    )
    span = max(end, 1)
    plot = _WIDTH - _LEFT - 20
    no_reply_w = 30

    def x(ns: int) -> float:
        return _LEFT + ns / span * (plot - no_reply_w)

    height = len(lanes) * _LANE_H + 30
    parts = [
        f'<svg class="timeline" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">',
        _defs(),
    ]
    for process, lane in lanes.items():
        y = lane * _LANE_H + 10
        parts.append(f'<text x="4" y="{y + 16}">p{process}</text>')
        parts.append(
            f'<line x1="{_LEFT}" x2="{_WIDTH - 10}" y1="{y + _LANE_H - 6}" '
            f'y2="{y + _LANE_H - 6}" stroke="#eee"/>'
        )
    ends: dict[str, tuple[float, float]] = {}  # returned token -> (x, y) where it appeared
    for step in steps:
        op = step.op
        y = lanes[op.process] * _LANE_H + 10
        x0 = x(step.send_offset_ns)
        x1 = x(step.recv_offset_ns) if step.recv_offset_ns is not None else x0 + no_reply_w
        classes = ["bar"]
        if op.outcome != "ok":
            classes.append(op.outcome)
        if step.comment:
            classes.append("violation")
        width = max(x1 - x0, 2)
        # Labels of ops near the right edge end at the bar's end instead of running off.
        near_edge = x0 > _WIDTH - 320
        anchor = f'x="{x1:.1f}" text-anchor="end"' if near_edge else f'x="{x0:.1f}"'
        tokens = " ".join(short_fp(t) for t in (op.presented, op.returned) if t)
        label = f"{op.kind}({short_fp(op.presented) if op.presented else ''})"
        if op.returned:
            label += f" \u2192 {short_fp(op.returned)}"
        status = f" {op.status}" if op.status is not None and op.outcome != "ok" else ""
        title = f"#{op.index} p{op.process} {label} {op.outcome}{status}"
        if step.comment:
            title += f"  # {step.comment}"
        parts.append(
            f'<g data-tokens="{_E(tokens)}"><title>{_E(title)}</title>'
            f'<rect class="{" ".join(classes)}" x="{x0:.1f}" y="{y + 4}" width="{width:.1f}" '
            f'height="12" rx="2"/>'
            f'<text {anchor} y="{y + 27}">{_E(label)} {_E(op.outcome + status)}</text></g>'
        )
        if op.returned and op.outcome == "ok":
            ends.setdefault(op.returned, (x1, y + 10))
    for step in steps:
        op = step.op
        if op.presented is None or op.presented not in ends:
            continue
        sx, sy = ends[op.presented]
        tx, ty = x(step.send_offset_ns), lanes[op.process] * _LANE_H + 20
        if (sx, sy) == (tx, ty):
            continue
        css = "lineage violation" if step.comment else "lineage"
        parts.append(
            f'<path class="{css}" d="M{sx:.1f},{sy} C{sx + 20:.1f},{sy} {tx - 20:.1f},{ty} '
            f'{tx:.1f},{ty}"/>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _histogram(values_ms: Sequence[float], bins: int = 20) -> str:
    """A small SVG histogram of latencies, linear bins from 0 to the maximum."""
    width, height = 360, 90
    top = max(values_ms)
    bin_w = top / bins if top > 0 else 1.0
    counts = [0] * bins
    for v in values_ms:
        counts[min(int(v / bin_w), bins - 1)] += 1
    peak = max(counts)
    bar_w = width / bins
    rects = "".join(
        f'<rect x="{i * bar_w:.1f}" y="{height - 15 - c / peak * (height - 20):.1f}" '
        f'width="{bar_w - 1:.1f}" height="{c / peak * (height - 20):.1f}">'
        f"<title>{i * bin_w:.1f}-{(i + 1) * bin_w:.1f} ms: {c}</title></rect>"
        for i, c in enumerate(counts)
        if c
    )
    return (
        f'<svg class="hist" width="{width}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg">{rects}'
        f'<text x="0" y="{height - 2}">0 ms</text>'
        f'<text x="{width - 70}" y="{height - 2}">{top:.1f} ms</text></svg>'
    )


def _finding(report: RunReport, finding: Finding, number: int) -> str:
    steps = explain_witness(report.operations, finding)
    reproduce = [*report.reproduce]
    if finding in report.curl:
        reproduce.append(report.curl[finding])
    parts = [
        f'<div class="finding {_E(finding.severity)}">',
        f"<h3>{number}. {_E(finding.checker)} ({_E(finding.severity)})</h3>",
        f"<p>{_E(finding.message)}</p>",
    ]
    if steps:
        parts.append(_witness_svg(steps))
        parts.append(f'<pre class="witness">{_E(chr(10).join(render_timeline(steps)))}</pre>')
    if reproduce:
        parts.append(f"<p>Reproduce with:</p><pre>{_E(chr(10).join(reproduce))}</pre>")
    parts.append("</div>")
    return "".join(parts)


def _latency_section(report: RunReport) -> str:
    by_kind: dict[str, list[float]] = {}
    for op in report.operations:
        latency = service_latency_ns(op)
        if op.outcome in ("ok", "fail") and latency is not None:
            by_kind.setdefault(op.kind, []).append(latency / 1e6)
    if not by_kind:
        return "<p>No completed operations.</p>"
    return "".join(
        f"<h3>{_E(kind)} ({len(values)} ops)</h3>{_histogram(values)}"
        for kind, values in by_kind.items()
    )


def _burst_section(report: RunReport) -> str:
    spread = report.stats.spread
    if spread is None:
        return "<p>No synchronised bursts.</p>"
    summary = _table(
        ["bursts", "engines", "release p50", "release max", "arrival p50", "arrival max"],
        [
            [
                str(spread.bursts),
                ", ".join(spread.engines),
                _dur(spread.release_p50_ns),
                _dur(spread.release_max_ns),
                _dur(spread.arrival_p50_ns),
                _dur(spread.arrival_max_ns),
            ]
        ],
    )
    rows = [
        [
            str(b.burst),
            b.engine,
            str(b.size),
            _dur(b.release_spread_ns),
            _dur(b.arrival_spread_ns),
            "; ".join(b.notes),
        ]
        for b in report.bursts[:200]
    ]
    more = f"<p>{len(report.bursts) - 200} more bursts not shown.</p>" if len(rows) == 200 else ""
    return (
        summary
        + _table(["burst", "engine", "size", "release spread", "arrival spread", "notes"], rows, 2)
        + more
    )


def render_html(report: RunReport) -> str:
    """The whole report as one HTML document."""
    title = f"auth-stress: {report.scenario}: {report.verdict}"
    reason = f" ({report.inconclusive_reason})" if report.inconclusive_reason else ""
    info = _table(
        ["scenario", "path", "targets", "policy", "grace", "wall time", "ops"],
        [
            [
                report.scenario,
                report.scenario_path or "-",
                ", ".join(report.targets),
                report.policy,
                f"{report.grace_seconds:g}s",
                f"{report.wall_seconds:.1f}s",
                str(report.stats.total),
            ]
        ],
        numeric_from=5,
    )
    summary = _table(
        ["kind", "ok", "fail", "info", "p50 ms", "p95 ms", "p99 ms"],
        [
            [k.kind, *map(str, (k.ok, k.fail, k.info)), *map(_ms, (k.p50_ms, k.p95_ms, k.p99_ms))]
            for k in report.stats.kinds
        ],
    )
    statuses = ", ".join(f"{code}: {n}" for code, n in report.stats.statuses) or "none"
    checkers = _table(
        ["checker", "verdict", "findings", "notes"],
        [[r.checker, r.verdict, str(len(r.findings)), "; ".join(r.notes)] for r in report.results],
        numeric_from=2,
    )
    findings = "".join(_finding(report, f, n) for n, f in enumerate(report.findings, start=1))
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_E(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>auth-stress report: {_E(report.scenario)}</h1>"
        f'<p><span class="verdict {_E(report.verdict)}" id="verdict">'
        f"{_E(report.verdict.upper())}</span> {_E(reason)} "
        f"{len(report.findings)} finding(s)</p>"
        f"{info}<h2>Operations</h2>{summary}<p>HTTP statuses: {_E(statuses)}</p>"
        f"<h2>Checkers</h2>{checkers}"
        f'<h2>Findings</h2><div id="findings">{findings or "<p>None.</p>"}</div>'
        f"<h2>Latency</h2>{_latency_section(report)}"
        f"<h2>Bursts</h2>{_burst_section(report)}"
        f"<footer><p>auth-stress {_E(__version__)}</p></footer>"
        f"<script>{_JS}</script></body></html>\n"
    )


def write_html(report: RunReport, path: Path) -> None:
    """Write the HTML report to ``path`` atomically."""
    write_atomic(path, render_html(report).encode())
