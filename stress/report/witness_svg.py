"""A finding's witness drawn as a timeline: one lane per process, one bar per op.

An op is a bar from send to receive; lineage arrows run from the op that returned a token to
the ops that presented it; the violating op (the key request its checker blames) is red.
Hovering an op shows why the checker blames it and which target (replica) it was sent to; with
several targets each label also names the replica. The drawing scales with the page and every
label is cut to the room it has, with the whole text in its tooltip.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence

from stress.history import Operation
from stress.report.svg import CHAR_W, nice_ticks, svg_open, text
from stress.report.timeline import WitnessStep, format_duration, short_fp

__all__ = ["defs", "origins", "witness_svg"]

_E = html.escape

_W = 720
_ROW_H = 34  # one row per op, so that the labels of one process's ops never collide
_LANE_PAD = 6
_LEFT = 58  # lane labels
_ORIGIN_W = 150  # column of tokens minted before the witness starts
_AXIS_H = 28
_NO_REPLY_W = 30


def defs() -> str:
    """The arrow markers the lineage edges end in."""
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
    # Whole nanoseconds: below 5 ns the step stays 1.
    return [int(tick) for tick in nice_ticks(max(span_ns, 5)) if tick <= span_ns]


def origins(
    minted_by: Mapping[str, Operation], steps: Sequence[WitnessStep]
) -> dict[str, Operation | None]:
    """Tokens presented in the witness but minted before it: token -> its minting op."""
    minted_inside = {s.op.returned for s in steps if s.op.outcome == "ok" and s.op.returned}
    wanted = {
        s.op.presented for s in steps if s.op.presented and s.op.presented not in minted_inside
    }
    return {token: minted_by.get(token) for token in sorted(wanted)}


def witness_svg(
    steps: Sequence[WitnessStep],
    minted_by: Mapping[str, Operation],
    replica: Callable[[Operation], str],
) -> str:
    """One lane per process, one bar per op, arrows along lineage edges, a time axis."""
    rows: dict[int, int] = {}  # process -> how many of its ops the witness holds
    for step in steps:
        rows[step.op.process] = rows.get(step.op.process, 0) + 1
    lane_top: dict[int, int] = {}
    y_at = 10
    for process, count in rows.items():
        lane_top[process] = y_at
        y_at += count * _ROW_H + _LANE_PAD
    row_of: dict[int, int] = {}  # invoke index -> y of its row
    seen: dict[int, int] = {}
    for step in steps:
        n = seen.get(step.op.process, 0)
        seen[step.op.process] = n + 1
        row_of[step.op.index] = lane_top[step.op.process] + n * _ROW_H
    before = origins(minted_by, steps)
    end = max(
        (s.recv_offset_ns if s.recv_offset_ns is not None else s.send_offset_ns for s in steps),
        default=0,
    )
    span = max(end, 1)
    left = _LEFT + (_ORIGIN_W if before else 0)
    plot = _W - left - 12 - _NO_REPLY_W

    def x(ns: int) -> float:
        return left + ns / span * plot

    def lane_y(op: Operation) -> int:
        return row_of[op.index]

    axis_y = y_at
    height = axis_y + _AXIS_H
    parts = [svg_open("timeline", _W, height, f"witness timeline of {len(steps)} ops"), defs()]
    lane_replicas: dict[int, list[str]] = {}
    for step in steps:
        tag = replica(step.op)
        if tag and tag not in lane_replicas.setdefault(step.op.process, []):
            lane_replicas[step.op.process].append(tag)
    for lane, (process, y) in enumerate(lane_top.items()):
        if lane:
            parts.append(f'<line class="lane-sep" x1="0" x2="{_W}" y1="{y - 4}" y2="{y - 4}"/>')
        if lane % 2:
            lane_h = rows[process] * _ROW_H + _LANE_PAD
            parts.append(
                f'<rect class="lane-bg" x="0" y="{y - 4}" width="{_W}" height="{lane_h}"/>'
            )
        parts.append(text(4, y + 14, f"p{process}", _LEFT - 6, "lane"))
        tags = lane_replicas.get(process)
        if tags:
            parts.append(text(4, y + 27, "@" + ",".join(tags), _LEFT - 6, "sub"))
    parts.append(f'<line class="axis" x1="{left}" x2="{x(span):.1f}" y1="{axis_y}" y2="{axis_y}"/>')
    for tick in _ticks(span):
        tx = x(tick)
        parts.append(
            f'<line class="axis" x1="{tx:.1f}" x2="{tx:.1f}" y1="{axis_y}" y2="{axis_y + 4}"/>'
            + text(tx, axis_y + 16, f"+{format_duration(tick)}", 70, "tick", "middle")
        )
    ends: dict[str, tuple[float, float]] = {}  # token -> (x, y) where it appeared
    # Tokens minted before the witness: a node in the origin column, beside its first user.
    for token, minter in before.items():
        ys = [lane_y(s.op) for s in steps if s.op.presented == token]
        cy = (min(ys) + max(ys)) / 2 + 10 if ys else 20
        where = f"{minter.kind} op {minter.index}, p{minter.process}" if minter else "earlier"
        box_w = _ORIGIN_W - 24
        parts.append(
            f'<g data-tokens="{_E(short_fp(token))}"><title>{_E(token[:16])}: issued by '
            f"{_E(where)}</title>"
            f'<rect class="origin" x="{_LEFT}" y="{cy - 14:.1f}" width="{box_w}" '
            f'height="28" rx="4"/></g>'
            + text(_LEFT + 5, cy - 2, f"token {short_fp(token)}", box_w - 8)
            + text(_LEFT + 5, cy + 10, f"from {where}", box_w - 8, "sub")
        )
        ends[token] = (_LEFT + box_w, cy)
    for step in steps:
        parts.append(_bar(step, x, lane_y(step.op), left, replica))
        op = step.op
        if op.returned and op.outcome == "ok" and op.returned != op.presented:
            x1 = x(step.recv_offset_ns) if step.recv_offset_ns is not None else x(span)
            ends.setdefault(op.returned, (x1, lane_y(op) + 10))
    for step in steps:
        op = step.op
        if op.presented is None or op.presented not in ends:
            continue
        sx, sy = ends[op.presented]
        tx, ty = x(step.send_offset_ns), lane_y(op) + 10
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


def _bar(
    step: WitnessStep,
    x: Callable[[int], float],
    y: int,
    left: float,
    replica: Callable[[Operation], str],
) -> str:
    op = step.op
    x0 = x(step.send_offset_ns)
    x1 = x(step.recv_offset_ns) if step.recv_offset_ns is not None else x0 + _NO_REPLY_W
    classes = ["bar"]
    if op.outcome != "ok":
        classes.append(op.outcome)
    if step.key:
        classes.append("violation")
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
    tag = replica(op)
    shown = f"{label} {op.outcome}{status}" + (f" @{tag}" if tag else "")
    if step.key:
        shown += f"  \u2190 {step.why}"
    target = op.invoke.target or "the target"
    title = (
        f"op {op.index} p{op.process} {label} {op.outcome}{status} {latency} "
        f"to {target}  # {step.why}"
    )
    # A label starts at its bar and runs right; one too long for the room left of the edge
    # ends at the edge instead, and is cut if it still does not fit.
    room_right = _W - 4 - x0
    wanted = len(shown) * CHAR_W
    if wanted <= room_right or room_right >= _W / 2:
        label_svg = text(x0, y + 27, shown, room_right, "bad" if step.key else "")
    else:
        label_svg = text(_W - 4, y + 27, shown, _W - 4 - left, "bad" if step.key else "", "end")
    return (
        f'<g class="op" data-op="{op.index}" data-tokens="{_E(tokens)}">'
        f"<title>{_E(title)}</title>"
        f'<rect class="{" ".join(classes)}" x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 2):.1f}" '
        f'height="12" rx="2"/>{label_svg}</g>'
    )
