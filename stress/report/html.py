"""The ``--html PATH`` report: one self-contained file a person opens after a CI run.

Everything is inline (CSS, SVG, a few lines of JS) and nothing is fetched, so the file opens
from a CI artifact store with no network. Each finding's witness is drawn as a timeline with
one lane per process: an op is a bar from send to receive, lineage arrows run from the op that
returned a token to the ops that presented it, and the violating op (the key request its checker
blames) is drawn in red; hovering an op shows why the checker blames it. Each checker's findings
open with what they mean, from the checker registry. Latency histograms per op kind and the
burst spreads show how hard the target was pushed. Tokens appear only as fingerprints.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from stress import __version__
from stress.checkers import CHECKERS
from stress.checkers.base import Finding
from stress.checkers.judging import counted
from stress.history import Operation
from stress.latency import timed
from stress.report._atomic import write_atomic
from stress.report.model import RunReport
from stress.report.timeline import (
    WitnessStep,
    explain_witness,
    format_duration,
    render_timeline,
    short_fp,
)

__all__ = ["render_html", "write_html"]

_CSS = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1040px;color:#222;padding:0 1em}
h1{font-size:1.4em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
h3{font-size:1.05em;margin:1.4em 0 .3em}h4{margin:.2em 0}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.verdict{display:inline-block;padding:2px 12px;border-radius:4px;color:#fff;font-weight:bold}
.pass{background:#2e7d32}.fail{background:#c62828}.unknown{background:#b26a00}
pre{background:#f6f6f6;padding:8px;overflow-x:auto}
pre.curl{white-space:pre-wrap;word-break:break-all}
.finding{border-left:4px solid #c62828;padding-left:12px;margin:1em 0 1.5em}
.finding.warning{border-left-color:#b26a00}
.meaning{background:#fff3f3;border:1px solid #f3c5c5;padding:6px 10px;border-radius:4px}
.message{font-weight:600}.found-by{color:#555;margin:.2em 0}
.legend{color:#444;font-size:13px}
.key{display:inline-block;width:22px;height:10px;border:1px solid;vertical-align:middle}
.key.ok{background:#90caf9;border-color:#1565c0}.key.fail{background:#ffcc80;border-color:#e65100}
.key.info{background:#e0e0e0;border:1px dashed #616161}
.key.violation{background:#ef9a9a;border:2px solid #b71c1c}
svg text{font:11px ui-monospace,monospace;fill:#222}
svg text.lane{font-weight:bold}svg text.tick,svg text.sub{fill:#666;font-size:10px}
svg text.bad{fill:#b71c1c;font-weight:bold}
.lane-bg{fill:#f7f9fc}.axis{stroke:#999}
.origin{fill:#fffde7;stroke:#9e9d24}
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

_LANE_H = 40
_LEFT = 50  # lane labels
_ORIGIN_W = 170  # column of tokens minted before the witness starts
_WIDTH = 1000
_AXIS_H = 28

# Findings drawn in full per checker; the rest are listed by message.
_DRAWN_PER_CHECKER = 3

_LEGEND = (
    '<p class="legend">How to read a timeline: one lane per process (a browser tab, a retry); '
    "each request is a bar from the moment it was sent to the moment its answer arrived, "
    '<span class="key ok"></span> ok, <span class="key fail"></span> rejected, '
    '<span class="key info"></span> no answer (maybe applied), '
    '<span class="key violation"></span> the request that breaks the rule. '
    "Arrows follow a refresh token from where it was issued to every request that presented "
    "it; the red arrow is the violating edge. Token names are fingerprints, never tokens.</p>"
)


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


def _ticks(span_ns: int) -> list[int]:
    """Round tick positions (1, 2 or 5 times a power of ten) covering ``0..span_ns``."""
    raw = max(span_ns / 5, 1)
    power = 10 ** (len(str(int(raw))) - 1)
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return list(range(0, span_ns + 1, int(step)))


def _origins(
    report: RunReport, steps: Sequence[WitnessStep]
) -> dict[str, tuple[Operation | None, list[int]]]:
    """Tokens presented in the witness but minted before it: token -> (minting op, lanes)."""
    minted_inside = {s.op.returned for s in steps if s.op.outcome == "ok" and s.op.returned}
    wanted = {
        s.op.presented for s in steps if s.op.presented and s.op.presented not in minted_inside
    }
    found: dict[str, Operation] = {}
    for op in report.operations:
        if (
            op.returned in wanted
            and op.outcome == "ok"
            and op.returned not in found
            and op.presented != op.returned
        ):
            found[op.returned] = op
    return {token: (found.get(token), []) for token in sorted(wanted)}


def _witness_svg(steps: Sequence[WitnessStep], report: RunReport | None = None) -> str:
    """One lane per process, one bar per op, arrows along lineage edges, a time axis."""
    lanes: dict[int, int] = {}
    for step in steps:
        lanes.setdefault(step.op.process, len(lanes))
    origins = _origins(report, steps) if report is not None else {}
    end = max(
        (s.recv_offset_ns if s.recv_offset_ns is not None else s.send_offset_ns for s in steps),
        default=0,
    )
    span = max(end, 1)
    left = _LEFT + (_ORIGIN_W if origins else 0)
    no_reply_w = 30
    plot = _WIDTH - left - 20 - no_reply_w

    def x(ns: int) -> float:
        return left + ns / span * plot

    def lane_y(process: int) -> int:
        return lanes[process] * _LANE_H + 10

    height = len(lanes) * _LANE_H + 10 + _AXIS_H
    parts = [
        f'<svg class="timeline" width="{_WIDTH}" height="{height}" '
        f'viewBox="0 0 {_WIDTH} {height}" xmlns="http://www.w3.org/2000/svg">',
        _defs(),
    ]
    for process, lane in lanes.items():
        y = lane * _LANE_H + 10
        if lane % 2:
            parts.append(
                f'<rect class="lane-bg" x="0" y="{y - 4}" width="{_WIDTH}" height="{_LANE_H}"/>'
            )
        parts.append(f'<text class="lane" x="4" y="{y + 14}">p{process}</text>')
    axis_y = len(lanes) * _LANE_H + 10
    parts.append(f'<line class="axis" x1="{left}" x2="{x(span):.1f}" y1="{axis_y}" y2="{axis_y}"/>')
    for tick in _ticks(span):
        tx = x(tick)
        parts.append(
            f'<line class="axis" x1="{tx:.1f}" x2="{tx:.1f}" y1="{axis_y}" y2="{axis_y + 4}"/>'
            f'<text class="tick" x="{tx:.1f}" y="{axis_y + 16}" text-anchor="middle">'
            f"+{_E(format_duration(tick))}</text>"
        )
    ends: dict[str, tuple[float, float]] = {}  # token -> (x, y) where it appeared
    # Tokens minted before the witness: a node in the origin column, beside its first user.
    for token, (minter, _) in origins.items():
        users = [s for s in steps if s.op.presented == token]
        ys = [lane_y(s.op.process) for s in users]
        cy = (min(ys) + max(ys)) / 2 + 10 if ys else 20
        where = f"{minter.kind} op {minter.index}, p{minter.process}" if minter else "earlier"
        parts.append(
            f'<g data-tokens="{_E(short_fp(token))}"><title>{_E(token[:16])}: issued by '
            f"{_E(where)}</title>"
            f'<rect class="origin" x="{_LEFT:.1f}" y="{cy - 14:.1f}" width="{_ORIGIN_W - 30}" '
            f'height="28" rx="4"/>'
            f'<text x="{_LEFT + 6:.1f}" y="{cy - 2:.1f}">token {_E(short_fp(token))}</text>'
            f'<text class="sub" x="{_LEFT + 6:.1f}" y="{cy + 10:.1f}">from {_E(where)}</text></g>'
        )
        ends[token] = (_LEFT + _ORIGIN_W - 30, cy)
    for step in steps:
        op = step.op
        y = lane_y(op.process)
        x0 = x(step.send_offset_ns)
        x1 = x(step.recv_offset_ns) if step.recv_offset_ns is not None else x0 + no_reply_w
        classes = ["bar"]
        if op.outcome != "ok":
            classes.append(op.outcome)
        if step.key:
            classes.append("violation")
        width = max(x1 - x0, 2)
        # Labels of ops near the right edge end at the bar's end instead of running off.
        near_edge = x0 > _WIDTH - 360
        anchor = f'x="{x1:.1f}" text-anchor="end"' if near_edge else f'x="{x0:.1f}"'
        tokens = " ".join(short_fp(t) for t in (op.presented, op.returned) if t)
        label = f"{op.kind}({short_fp(op.presented) if op.presented else ''})"
        if op.returned:
            label += f" \u2192 {short_fp(op.returned)}"
        status = f" {op.status}" if op.status is not None and op.outcome != "ok" else ""
        latency = (
            ""
            if step.recv_offset_ns is None
            else format_duration(step.recv_offset_ns - step.send_offset_ns)
        )
        title = f"op {op.index} p{op.process} {label} {op.outcome}{status} {latency}  # {step.why}"
        text = f"{label} {op.outcome}{status}"
        bad = ' class="bad"' if step.key else ""
        if step.key:
            text += f"  \u2190 {step.why}"
        parts.append(
            f'<g class="op" data-op="{op.index}" data-tokens="{_E(tokens)}">'
            f"<title>{_E(title)}</title>"
            f'<rect class="{" ".join(classes)}" x="{x0:.1f}" y="{y + 4}" width="{width:.1f}" '
            f'height="12" rx="2"/>'
            f'<text {anchor} y="{y + 29}"{bad}>'
            f"{_E(text)}</text></g>"
        )
        if op.returned and op.outcome == "ok" and op.returned != op.presented:
            ends.setdefault(op.returned, (x1, y + 10))
    for step in steps:
        op = step.op
        if op.presented is None or op.presented not in ends:
            continue
        sx, sy = ends[op.presented]
        tx, ty = x(step.send_offset_ns), lane_y(op.process) + 10
        if (round(sx, 1), sy) == (round(tx, 1), ty):
            continue
        css = "lineage violation" if step.key else "lineage"
        bend = max(20.0, (tx - sx) / 2)
        parts.append(
            f'<path class="{css}" d="M{sx:.1f},{sy} C{sx + bend:.1f},{sy} {tx - bend:.1f},{ty} '
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
    steps = explain_witness(report.by_index, finding)
    parts = [
        f'<div class="finding {_E(finding.severity)}" id="finding-{number}">',
        f"<h4>{number}. {_E(finding.checker)} ({_E(finding.severity)})</h4>",
        f'<p class="message">{_E(finding.message)}</p>',
    ]
    if steps:
        found_by = sorted({s.op.invoke.step for s in steps if s.op.invoke.step})
        if found_by:
            parts.append(f'<p class="found-by">found by: {_E(", ".join(found_by))}</p>')
        parts.append(_witness_svg(steps, report))
        parts.append(f'<pre class="witness">{_E(chr(10).join(render_timeline(steps)))}</pre>')
    if finding in report.curl:
        parts.append(
            f"<p>Key request (op {finding.key}):</p>"
            f'<pre class="curl">{_E(report.curl[finding])}</pre>'
        )
    parts.append("</div>")
    return "".join(parts)


def _findings_section(report: RunReport) -> str:
    """Per checker: what it means, the first findings drawn, the rest listed."""
    if not report.findings:
        return "<p>None.</p>"
    parts = [_LEGEND]
    for result in report.results:
        if not result.findings:
            continue
        spec = CHECKERS.get(result.checker)
        kind = f" ({spec.kind})" if spec is not None else ""
        parts.append(
            f'<h3 id="checker-{_E(result.checker)}">{_E(result.checker)}{_E(kind)}: '
            f"{counted(len(result.findings), 'finding')}</h3>"
        )
        if spec is not None:
            parts.append(f'<p class="meaning">{_E(spec.meaning)}</p>')
        numbered = report.numbered(result)
        for number, finding in numbered[:_DRAWN_PER_CHECKER]:
            parts.append(_finding(report, finding, number))
        rest = numbered[_DRAWN_PER_CHECKER:]
        if rest:
            items = "".join(f'<li value="{n}">{_E(f.message)}</li>' for n, f in rest)
            more = counted(len(rest), f"more {result.checker} finding")
            parts.append(f"<details><summary>{_E(more)}</summary><ol>{items}</ol></details>")
    if report.reproduce:
        parts.append(f"<h3>Reproduce</h3><pre>{_E(chr(10).join(report.reproduce))}</pre>")
    return "".join(parts)


def _latency_section(report: RunReport) -> str:
    by_kind: dict[str, list[float]] = {}
    for latency, op in timed(report.operations):
        by_kind.setdefault(op.kind, []).append(latency / 1e6)
    if not by_kind:
        return "<p>No completed ok operations.</p>"
    return "".join(
        f"<h3>{_E(kind)} ({counted(len(values), 'ok op')})</h3>{_histogram(values)}"
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


def _by_checker(report: RunReport) -> str:
    counts = [f"{r.checker} {len(r.findings)}" for r in report.results if r.findings]
    return f": {', '.join(counts)}" if counts else ""


def render_html(report: RunReport) -> str:
    """The whole report as one HTML document."""
    title = f"auth-stress: {report.scenario}: {report.verdict}"
    reason = f" ({report.inconclusive_reason})" if report.inconclusive_reason else ""
    info = _table(
        ["scenario", "path", "targets", "policy", "wall time", "ops"],
        [
            [
                report.scenario,
                report.scenario_path or "-",
                ", ".join(report.targets),
                report.policy.describe(),
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
    findings = _findings_section(report)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_E(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>auth-stress report: {_E(report.scenario)}</h1>"
        f'<p><span class="verdict {_E(report.verdict)}" id="verdict">'
        f"{_E(report.verdict.upper())}</span> {_E(reason)} "
        f"{counted(len(report.findings), 'finding')}{_E(_by_checker(report))}</p>"
        f"{info}<h2>Operations</h2>{summary}<p>HTTP statuses: {_E(statuses)}</p>"
        f"<h2>Checkers</h2>{checkers}"
        f'<h2>Findings</h2><div id="findings">{findings}</div>'
        f"<h2>Latency</h2>{_latency_section(report)}"
        f"<h2>Bursts</h2>{_burst_section(report)}"
        f"<footer><p>auth-stress {_E(__version__)}</p></footer>"
        f"<script>{_JS}</script></body></html>\n"
    )


def write_html(report: RunReport, path: Path) -> None:
    """Write the HTML report to ``path`` atomically."""
    write_atomic(path, render_html(report).encode())
