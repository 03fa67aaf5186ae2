"""Latency drawings for the HTML report: log-binned histograms and latency over run time.

Latencies of one run span orders of magnitude (a warm refresh in a millisecond, a request
queued behind a burst in a second), so bins are spaced logarithmically: linear bins put a
10,000-op soak into one bar. A soak exists to show whether latency creeps up over time, so each
op kind also gets a scatter of latency against run time, with p50 and p99 lines per time slice.
The limits a scenario declares are drawn as lines, so a threshold finding shows the whole
distribution against its limit instead of one op.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stress.latency import percentile
from stress.report.svg import log_ticks, nice_ticks, svg_open, text

__all__ = ["LogBins", "histogram_svg", "log_bins", "ms_label", "over_time_svg"]

_E = html.escape

_W, _H = 720, 190
_LEFT, _RIGHT, _TOP, _BOTTOM = 56, 16, 18, 34
# Points drawn per op kind at most; the rest are thinned evenly (the percentile lines use all).
_MAX_POINTS = 1500
_SLICES = 40


@dataclass(frozen=True)
class LogBins:
    """Histogram bins: ``edges`` has one more entry than ``counts``; bin i is
    ``[edges[i], edges[i+1])``, the last one closed."""

    edges: tuple[float, ...]
    counts: tuple[int, ...]


def log_bins(values: Sequence[float], bins: int = 24) -> LogBins:
    """Logarithmically spaced bins from the smallest to the largest positive value.

    >>> log_bins([1.0, 10.0, 100.0], 2)
    LogBins(edges=(1.0, 10.0, 100.0), counts=(1, 2))
    """
    positive = [v for v in values if v > 0]
    if not positive:
        return LogBins((0.0, 0.0), (0,))
    low, high = min(positive), max(positive)
    if high <= low * 1.0001:
        return LogBins((low, high), (len(positive),))
    lo, hi = math.log10(low), math.log10(high)
    step = (hi - lo) / bins
    edges = (*(10 ** (lo + i * step) for i in range(bins)), high)
    counts = [0] * bins
    for v in positive:
        counts[min(int((math.log10(v) - lo) / step), bins - 1)] += 1
    return LogBins(edges, tuple(counts))


def ms_label(ms: float) -> str:
    """A latency in the unit that keeps it short: ``350us``, ``12ms``, ``1.5s``."""
    if ms < 1:
        return f"{ms * 1000:.0f}us"
    if ms < 1000:
        return f"{ms:.3g}ms"
    return f"{ms / 1000:.3g}s"


class _LogAxis:
    """Maps a latency (ms) to a position along a log axis from ``low`` to ``high``."""

    def __init__(self, low: float, high: float, start: float, end: float) -> None:
        self.low = math.log10(low)
        self.span = max(math.log10(high) - self.low, 1e-9)
        self.start, self.end = start, end

    def __call__(self, ms: float) -> float:
        share = (math.log10(max(ms, 1e-9)) - self.low) / self.span
        return self.start + min(max(share, 0.0), 1.0) * (self.end - self.start)


def _range(values: Sequence[float], limits: Mapping[str, float]) -> tuple[float, float]:
    positive = [v for v in (*values, *limits.values()) if v > 0] or [1.0]
    low, high = min(positive), max(positive)
    if high / low < 10:  # at least a decade, centred on the data
        mid = math.sqrt(low * high)
        low, high = mid / math.sqrt(10), mid * math.sqrt(10)
    return low, high


def histogram_svg(
    values_ms: Sequence[float], label: str, limits: Mapping[str, float] | None = None
) -> str:
    """Counts per log bin, with latency and count axes; ``limits`` ({"p99": 250.0}) and the
    measured p50/p95/p99 are drawn as labelled lines."""
    limits = dict(limits or {})
    # About two bins per square root of the count: a handful of ops is not spread over 24.
    bins = log_bins(values_ms, min(24, max(6, round(2 * math.sqrt(len(values_ms))))))
    low, high = _range(values_ms, limits)
    x = _LogAxis(low, high, _LEFT, _W - _RIGHT)
    plot_h = _H - _TOP - _BOTTOM
    base = _TOP + plot_h
    peak = max(bins.counts) or 1
    y_ticks = [t for t in nice_ticks(peak, 4) if t == int(t)]
    top = max(y_ticks[-1], 1.0)
    parts = [svg_open("chart hist", _W, _H, f"histogram of {label} latency")]
    for tick in y_ticks:
        ty = base - tick / top * plot_h
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            + text(_LEFT - 6, ty + 4, f"{tick:.0f}", _LEFT - 8, "tick", "end")
        )
    for i, count in enumerate(bins.counts):
        if not count:
            continue
        x0, x1 = x(bins.edges[i]), x(bins.edges[i + 1])
        h = count / top * plot_h
        span = f"{ms_label(bins.edges[i])}\u2013{ms_label(bins.edges[i + 1])}"
        parts.append(
            f'<rect class="bin" x="{x0:.1f}" y="{base - h:.1f}" width="{max(x1 - x0 - 1, 1.5):.1f}"'
            f' height="{h:.1f}"><title>{_E(span)}: {count} ops</title></rect>'
        )
    parts.append(_x_axis(x, low, high, base))
    parts.append(
        text(4, _TOP - 6, f"ops (of {len(values_ms)})", 200, "axis-label")
        + text(_W - _RIGHT, _H - 2, "latency (log scale)", 200, "axis-label", "end")
    )
    marks = {name: percentile(list(values_ms), p) for name, p in (("p50", 50), ("p99", 99))}
    for n, (name, value) in enumerate(marks.items()):
        if value is not None:
            parts.append(_vline(x(value), f"{name} {ms_label(value)}", "mark", n))
    for n, (name, value) in enumerate(limits.items(), len(marks)):
        parts.append(_vline(x(value), f"{name} limit {ms_label(value)}", "limit", n))
    parts.append("</svg>")
    return "".join(parts)


def _x_axis(x: _LogAxis, low: float, high: float, base: float) -> str:
    parts = [f'<line class="axis" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{base}" y2="{base}"/>']
    for tick in log_ticks(low, high):
        tx = x(tick)
        parts.append(
            f'<line class="axis" x1="{tx:.1f}" x2="{tx:.1f}" y1="{base}" y2="{base + 4}"/>'
            + text(tx, base + 16, ms_label(tick), 60, "tick", "middle")
        )
    return "".join(parts)


def _vline(at: float, label: str, cls: str, n: int) -> str:
    """A vertical marker with its label at the top, staggered so that labels do not collide."""
    ty = _TOP + 10 + (n % 3) * 12
    right = at > _W - _RIGHT - 150
    anchor, tx = ("end", at - 3) if right else ("start", at + 3)
    return (
        f'<line class="{cls}" x1="{at:.1f}" x2="{at:.1f}" y1="{_TOP}" y2="{_H - _BOTTOM}"/>'
        + text(tx, ty, label, 146, cls, anchor)
    )


@dataclass(frozen=True)
class TimedPoint:
    """One op on the latency-over-time chart: seconds into the run, latency, outcome."""

    at_s: float
    latency_ms: float
    ok: bool


def over_time_svg(
    points: Sequence[TimedPoint], run_s: float, label: str, limits: Mapping[str, float]
) -> str:
    """Latency against run time: a dot per op (thinned past a bound), p50/p99 per time slice."""
    latencies = [p.latency_ms for p in points]
    low, high = _range(latencies, limits)
    plot_w = _W - _LEFT - _RIGHT
    span = max(run_s, 1e-3)

    def px(at: float) -> float:
        return _LEFT + min(at / span, 1.0) * plot_w

    y = _LogAxis(low, high, _H - _BOTTOM, _TOP)
    parts = [svg_open("chart over-time", _W, _H, f"{label} latency over run time")]
    for tick in log_ticks(low, high):
        ty = y(tick)
        parts.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{ty:.1f}" y2="{ty:.1f}"/>'
            + text(_LEFT - 6, ty + 4, ms_label(tick), _LEFT - 8, "tick", "end")
        )
    base = _H - _BOTTOM
    parts.append(f'<line class="axis" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{base}" y2="{base}"/>')
    for tick in nice_ticks(span, 6):
        if tick > span * 1.0001:
            break
        tx = px(tick)
        parts.append(
            f'<line class="axis" x1="{tx:.1f}" x2="{tx:.1f}" y1="{base}" y2="{base + 4}"/>'
            + text(tx, base + 16, f"{tick:g}s", 50, "tick", "middle")
        )
    stride = max(1, math.ceil(len(points) / _MAX_POINTS))
    dots = []
    for p in points[::stride]:
        css = "dot" if p.ok else "dot bad"
        cx, cy = px(p.at_s), y(p.latency_ms)
        dots.append(f'<circle class="{css}" cx="{cx:.1f}" cy="{cy:.1f}" r="2"/>')
    parts.append("".join(dots))
    for name, pct in (("p50", 50.0), ("p99", 99.0)):
        line = _percentile_line(points, span, pct)
        if len(line) > 1:
            path = " ".join(f"{px(t):.1f},{y(v):.1f}" for t, v in line)
            parts.append(f'<polyline class="band {name}" points="{path}"/>')
    for name, value in limits.items():
        ly = y(value)
        parts.append(
            f'<line class="limit" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{ly:.1f}" y2="{ly:.1f}"/>'
            + text(_W - _RIGHT - 2, ly - 3, f"{name} limit {ms_label(value)}", 200, "limit", "end")
        )
    shown = "" if stride == 1 else f", every {stride}th shown"
    parts.append(
        text(4, _TOP - 6, f"latency of {len(points)} ops{shown}", 320, "axis-label")
        + text(_W - _RIGHT, _H - 2, "time into the run", 200, "axis-label", "end")
        + "</svg>"
    )
    return "".join(parts)


def _percentile_line(
    points: Sequence[TimedPoint], span: float, pct: float
) -> list[tuple[float, float]]:
    """(slice midpoint, percentile) per time slice holding enough ok ops to say something."""
    slices: list[list[float]] = [[] for _ in range(_SLICES)]
    for p in points:
        if p.ok:
            slices[min(int(p.at_s / span * _SLICES), _SLICES - 1)].append(p.latency_ms)
    line = []
    for i, values in enumerate(slices):
        value = percentile(values, pct) if len(values) >= 5 else None
        if value is not None:
            line.append(((i + 0.5) * span / _SLICES, value))
    return line
