"""The ``--html PATH`` report: one self-contained file a person opens after a CI run.

Everything is inline (CSS, SVG, a few lines of JS) and nothing is fetched, so the file opens
from a CI artifact store with no network. Every drawing scales with the page. Each finding
shows its token family (every successor the burst produced, the violating edge in red, see
``stress.report.family``) and its witness as a timeline with one lane per process (see
``stress.report.witness_svg``); a threshold finding shows the latency distribution against its
limit instead. Each checker's verdict is colour-coded, and a run that proved nothing never shows
a checker as passed. Latency per op kind is drawn as a log-binned histogram and over run time;
the bursts are summarised per engine, with the full table folded away. Tokens appear only as
fingerprints.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path

from stress import __version__
from stress.checkers import CHECKERS
from stress.checkers.base import Finding
from stress.checkers.judging import counted
from stress.latency import timed
from stress.report._atomic import write_atomic
from stress.report.bursts import burst_summaries, fallbacks, requested_engines, spread_cell
from stress.report.charts import TimedPoint, histogram_svg, ms_label, over_time_svg
from stress.report.family import TokenIndex, family_of, family_svg
from stress.report.model import RunReport
from stress.report.svg import svg_open, text
from stress.report.timeline import explain_witness, render_timeline
from stress.report.witness_svg import witness_svg

__all__ = ["render_html", "write_html"]

_CSS = """
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1040px;color:#222;padding:0 1em}
h1{font-size:1.4em;overflow-wrap:anywhere}
h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
h3{font-size:1.05em;margin:1.4em 0 .3em}h4{margin:.2em 0}
p,li,summary{overflow-wrap:anywhere}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px}
td{overflow-wrap:anywhere}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.verdict{display:inline-block;padding:2px 12px;border-radius:4px;color:#fff;font-weight:bold}
.pass{background:#2e7d32}.fail{background:#c62828}.unknown{background:#b26a00}
.v{display:inline-block;padding:0 8px;border-radius:10px;font-weight:600;white-space:nowrap}
.v-pass{background:#e8f5e9;color:#1b5e20}.v-fail{background:#ffebee;color:#b71c1c}
.v-warning,.v-unknown{background:#fff3e0;color:#8a4b00}
.v-partial,.v-not-run{background:#eeeeee;color:#555}
pre{background:#f6f6f6;padding:8px;overflow-x:auto;max-width:100%}
pre.curl{white-space:pre-wrap;word-break:break-all}
.finding{border-left:4px solid #c62828;padding-left:12px;margin:1em 0 1.5em}
.finding.warning{border-left-color:#b26a00}
.meaning{background:#fff3f3;border:1px solid #f3c5c5;padding:6px 10px;border-radius:4px}
.message{font-weight:600}.found-by,.caption{color:#555;margin:.2em 0}
.legend{color:#444;font-size:13px}
.key{display:inline-block;width:22px;height:10px;border:1px solid;vertical-align:middle}
.key.ok{background:#90caf9;border-color:#1565c0}.key.fail{background:#ffcc80;border-color:#e65100}
.key.info{background:#e0e0e0;border:1px dashed #616161}
.key.violation{background:#ef9a9a;border:2px solid #b71c1c}
svg{display:block;width:100%;height:auto;margin:.4em 0}
svg text{font:11px ui-monospace,monospace;fill:#222}
svg text.lane,svg text.strong{font-weight:bold}
svg text.tick,svg text.sub,svg text.axis-label{fill:#666;font-size:10px}
svg text.bad{fill:#b71c1c;font-weight:bold}svg text.limit{fill:#b71c1c}svg text.mark{fill:#1565c0}
.lane-bg{fill:#f7f9fc}.lane-sep{stroke:#e3e8ef}.axis{stroke:#999}.grid{stroke:#eee}
.origin{fill:#fffde7;stroke:#9e9d24}
.bar{fill:#90caf9;stroke:#1565c0}.bar.fail{fill:#ffcc80;stroke:#e65100}
.bar.info{fill:#e0e0e0;stroke:#616161;stroke-dasharray:3 2}
.bar.violation{fill:#ef9a9a;stroke:#b71c1c;stroke-width:2}
.lineage{stroke:#555;fill:none;marker-end:url(#arrow)}
.lineage.violation{stroke:#b71c1c;stroke-width:2;marker-end:url(#arrow-red)}
.node{fill:#e3f2fd;stroke:#1565c0}.node.root{fill:#fffde7;stroke:#9e9d24}
.node.viol{fill:#ffebee;stroke:#b71c1c;stroke-width:2}
.edge{stroke:#bbb;fill:none}.edge.witness{stroke:#555}.edge.viol{stroke:#b71c1c;stroke-width:2.5}
.hl{stroke:#000!important;stroke-width:3!important}
.bin{fill:#64b5f6}.dot{fill:#1565c0;fill-opacity:.45}.dot.bad{fill:#e65100;fill-opacity:.8}
.band{fill:none;stroke-width:1.5}.band.p50{stroke:#2e7d32}.band.p99{stroke:#6a1b9a}
line.limit{stroke:#b71c1c;stroke-dasharray:5 3;stroke-width:1.5}
line.mark{stroke:#1565c0;stroke-dasharray:2 2}
.share-ok{fill:#90caf9}.share-bad{fill:#ef9a9a}
details{margin:.5em 0}
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

# Findings drawn in full per checker; the rest are listed by message.
_DRAWN_PER_CHECKER = 3

_LEGEND = (
    '<p class="legend">How to read a timeline: one lane per process (a browser tab, a retry); '
    "each request is a bar from the moment it was sent to the moment its answer arrived, "
    '<span class="key ok"></span> ok, <span class="key fail"></span> rejected, '
    '<span class="key info"></span> no answer (maybe applied), '
    '<span class="key violation"></span> the request that breaks the rule. '
    "Arrows follow a refresh token from where it was issued to every request that presented "
    "it; the red arrow is the violating edge. The family above each timeline shows every "
    "successor the token was given, from the whole history. Hover an op for its target "
    "(replica) and why it matters. Token names are fingerprints, never tokens.</p>"
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
    return f'<div class="scroll"><table><tr>{cells}</tr>{"".join(body)}</table></div>'


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


class _Context:
    """What every finding's drawings share, computed once per report."""

    def __init__(self, report: RunReport) -> None:
        self.report = report
        self.tokens = TokenIndex.of(report.operations)


def _threshold_view(report: RunReport, finding: Finding) -> str:
    """The distribution a threshold finding is about: latency against the limit, or the share
    of ops that did not succeed against the allowed rate."""
    key = report.by_index.get(finding.key)
    if key is None:
        return ""
    limits = report.thresholds.get(key.kind)
    of_kind = [op for op in report.operations if op.kind == key.kind]
    if key.outcome != "ok":
        bad = sum(op.outcome != "ok" for op in of_kind)
        allowed = limits.max_error_rate if limits is not None else None
        return _share_svg(key.kind, bad, len(of_kind), allowed)
    declared = {}
    if limits is not None:
        for name in ("p50", "p95", "p99"):
            value = getattr(limits, f"{name}_ms")
            if value is not None:
                declared[name] = float(value)
    values = [latency / 1e6 for latency, _ in timed(of_kind)]
    over = [
        f"{sum(v > limit for v in values)} of {len(values)} ok {key.kind} ops took longer than "
        f"the {name} limit of {ms_label(limit)}"
        for name, limit in declared.items()
    ]
    caption = f'<p class="caption">{_E("; ".join(over))}.</p>' if over else ""
    return histogram_svg(values, key.kind, declared) + caption


def _share_svg(kind: str, bad: int, total: int, allowed: float | None) -> str:
    """A bar of the ops of ``kind``: those that did not succeed in red, the allowed share marked."""
    width, height, left, right = 720, 56, 8, 8
    plot = width - left - right
    share = bad / total if total else 0.0
    parts = [svg_open("chart share", width, height, f"{kind} error rate")]
    parts.append(
        f'<rect class="share-ok" x="{left}" y="8" width="{plot}" height="18"/>'
        f'<rect class="share-bad" x="{left}" y="8" width="{share * plot:.1f}" height="18">'
        f"<title>{bad} of {total} did not succeed</title></rect>"
    )
    parts.append(
        text(left, 44, f"{bad} of {total} {kind} ops did not succeed ({share:.1%})", 400, "bad")
    )
    if allowed is not None:
        ax = left + min(allowed, 1.0) * plot
        parts.append(f'<line class="limit" x1="{ax:.1f}" x2="{ax:.1f}" y1="2" y2="32"/>')
        parts.append(text(width - right, 44, f"allowed {allowed:.1%}", 200, "limit", "end"))
    parts.append("</svg>")
    return "".join(parts)


def _finding(ctx: _Context, finding: Finding, number: int) -> str:
    report = ctx.report
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
    if finding.checker == "threshold":
        parts.append(_threshold_view(report, finding))
    else:
        family = family_of(ctx.tokens, report.by_index, finding)
        if family is not None:
            parts.append(family_svg(family, report.replica_of))
        if steps:
            parts.append(witness_svg(steps, ctx.tokens.minted_by, report.replica_of))
    if steps:
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
    ctx = _Context(report)
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
            parts.append(_finding(ctx, finding, number))
        rest = numbered[_DRAWN_PER_CHECKER:]
        if rest:
            items = "".join(f'<li value="{n}">{_E(f.message)}</li>' for n, f in rest)
            more = counted(len(rest), f"more {result.checker} finding")
            parts.append(f"<details><summary>{_E(more)}</summary><ol>{items}</ol></details>")
    if report.reproduce:
        parts.append(f"<h3>Reproduce</h3><pre>{_E(chr(10).join(report.reproduce))}</pre>")
    return "".join(parts)


def _latency_section(report: RunReport) -> str:
    """Per op kind: a log-binned histogram of ok latencies and latency over run time."""
    first = min((op.send_ns for op in report.operations), default=0)
    last = max((op.recv_ns or op.send_ns for op in report.operations), default=0)
    run_s = (last - first) / 1e9
    values: dict[str, list[float]] = {}
    points: dict[str, list[TimedPoint]] = {}
    for op in sorted(report.operations, key=lambda o: (o.send_ns, o.index)):
        if op.recv_ns is None or op.outcome == "info":
            continue
        latency = (op.recv_ns - op.send_ns) / 1e6
        at = (op.send_ns - first) / 1e9
        points.setdefault(op.kind, []).append(TimedPoint(at, latency, op.outcome == "ok"))
    for latency_ns, op in timed(report.operations):
        values.setdefault(op.kind, []).append(latency_ns / 1e6)
    if not values:
        return "<p>No completed ok operations.</p>"
    parts = [
        '<p class="legend">Histograms use logarithmic bins, so fast and slow requests both show; '
        "the charts over time show every request (rejected ones in orange) with the p50 and "
        "p99 of each time slice as lines. Dashed red lines are the scenario's limits.</p>"
    ]
    order = [k.kind for k in report.stats.kinds]
    for kind, kind_values in sorted(values.items(), key=lambda kv: order.index(kv[0])):
        limits = {}
        declared = report.thresholds.get(kind)
        if declared is not None:
            for name in ("p50", "p95", "p99"):
                value = getattr(declared, f"{name}_ms")
                if value is not None:
                    limits[name] = float(value)
        parts.append(f"<h3>{_E(kind)} ({counted(len(kind_values), 'ok op')})</h3>")
        parts.append(histogram_svg(kind_values, kind, limits))
        parts.append(over_time_svg(points.get(kind, []), run_s, kind, limits))
    return "".join(parts)


def _burst_section(report: RunReport) -> str:
    """Per engine first (counts, spread distributions, fallbacks in words), the table folded."""
    if not report.bursts:
        return "<p>No synchronised bursts.</p>"
    summaries = burst_summaries(report.bursts)
    rows = []
    for s in summaries:
        sizes = str(s.sizes[0]) if s.sizes[0] == s.sizes[1] else f"{s.sizes[0]}\u2013{s.sizes[1]}"
        rows.append(
            [
                s.engine,
                str(s.bursts),
                sizes,
                s.release.describe() if s.release else "\u2014",
                s.arrival.describe() if s.arrival else "\u2014",
            ]
        )
    parts = [
        _table(
            [
                "engine",
                "bursts",
                "requests",
                "release spread min / p50 / p90 / max",
                "arrival spread min / p50 / p90 / max",
            ],
            rows,
        )
    ]
    explained = fallbacks(report.bursts, requested_engines(report.operations))
    for s in summaries:
        explained.extend(f"{s.engine}: {note}." for note in s.notes)
        if s.engine == "single-packet" and s.release is None:
            explained.append(
                "single-packet: every final frame leaves in one write, so the release spread is "
                "zero by construction; the arrival spread is what the server saw."
            )
        if s.arrival is None:
            explained.append(
                f"{s.engine}: the target does not report arrival times (X-Arrival-Ns), so the "
                "arrival spread was not measured."
            )
    if explained:
        parts.append("<ul>" + "".join(f"<li>{_E(line)}</li>" for line in explained) + "</ul>")
    ordered = sorted(report.bursts, key=lambda b: b.burst)
    table = _table(
        ["burst", "engine", "requests", "release spread", "arrival spread", "notes"],
        [
            [
                str(b.burst),
                b.engine,
                str(b.size),
                spread_cell(b, "release"),
                spread_cell(b, "arrival"),
                "; ".join(b.notes),
            ]
            for b in ordered[:500]
        ],
        2,
    )
    more = f"<p>{len(ordered) - 500} more bursts not shown.</p>" if len(ordered) > 500 else ""
    parts.append(
        f"<details><summary>every burst ({len(ordered)}), by burst id</summary>"
        f"{table}{more}</details>"
    )
    return "".join(parts)


_STATUS_HELP = {
    "pass": "no finding",
    "fail": "at least one finding",
    "warning": "findings, relaxed to warnings by the scenario",
    "unknown": "the history could not decide (or the checker crashed)",
    "partial": "no finding, but the run was cut short: this proves nothing",
    "not run": "the run recorded no operation, so there was nothing to judge",
}


def _checkers_table(report: RunReport) -> str:
    rows = []
    for result in report.results:
        status = report.checker_status(result)
        css = "v-" + status.replace(" ", "-")
        badge = f'<span class="v {css}" title="{_E(_STATUS_HELP[status])}">{_E(status)}</span>'
        rows.append(
            f"<tr><td>{_E(result.checker)}</td><td>{badge}</td>"
            f'<td class="n">{len(result.findings)}</td><td>{_E("; ".join(result.notes))}</td></tr>'
        )
    return (
        '<div class="scroll"><table id="checkers"><tr><th>checker</th><th>verdict</th>'
        f"<th>findings</th><th>notes</th></tr>{''.join(rows)}</table></div>"
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
                ", ".join(
                    f"{report.replicas[t.rstrip('/')]} = {t}" if report.replicas else t
                    for t in report.targets
                ),
                report.policy.describe(),
                f"{report.wall_seconds:.1f}s",
                str(report.stats.total),
            ]
        ],
        numeric_from=4,
    )
    summary = _table(
        ["kind", "ok", "fail", "info", "p50 ms", "p95 ms", "p99 ms"],
        [
            [k.kind, *map(str, (k.ok, k.fail, k.info)), *map(_ms, (k.p50_ms, k.p95_ms, k.p99_ms))]
            for k in report.stats.kinds
        ],
    )
    statuses = ", ".join(f"{code}: {n}" for code, n in report.stats.statuses) or "none"
    if not report.stats.kinds:
        summary = "<p>No operations were recorded.</p>"
    notes = (
        "<ul>" + "".join(f"<li>{_E(n)}</li>" for n in report.notes) + "</ul>"
        if report.notes
        else ""
    )
    findings = _findings_section(report)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_E(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>auth-stress report: {_E(report.scenario)}</h1>"
        f'<p><span class="verdict {_E(report.verdict)}" id="verdict">'
        f"{_E(report.verdict.upper())}</span> {_E(reason)} "
        f"{counted(len(report.findings), 'finding')}{_E(_by_checker(report))}</p>"
        f"{info}{notes}<h2>Operations</h2>{summary}<p>HTTP statuses: {_E(statuses)}</p>"
        f"<h2>Checkers</h2>{_checkers_table(report)}"
        f'<h2>Findings</h2><div id="findings">{findings}</div>'
        f"<h2>Latency</h2>{_latency_section(report)}"
        f"<h2>Bursts</h2>{_burst_section(report)}"
        f"<footer><p>auth-stress {_E(__version__)}</p></footer>"
        f"<script>{_JS}</script></body></html>\n"
    )


def write_html(report: RunReport, path: Path) -> None:
    """Write the HTML report to ``path`` atomically."""
    write_atomic(path, render_html(report).encode())
