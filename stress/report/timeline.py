"""Witness timelines: a finding's ops as a short program in real order, Elle-style.

A finding is only convincing when a reader can follow it step by step, so each witness is first
explained as data (:func:`explain_witness`: the ops in real order with their offsets and the
checker's own reason for each, shared by every report) and then rendered as text
(:func:`render_timeline`)::

    op 1 p1 refresh(a1b2c3d4) +0.000ms -> ok e5f6a7b8 (4.0ms)   # a1b2c3d4 -> e5f6a7b8, ...
    op 2 p2 refresh(a1b2c3d4) +0.300ms -> ok 9c0d1e2f (4.7ms)   # violation: a1b2c3d4 -> ...

Times are relative to the send time of the witness's first op. Tokens appear only as the first
8 characters of their fingerprints. The checker marks one op as the violating one, the key
request; :func:`curl_command` renders it as a curl line whose tokens are shell placeholders,
never values.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from stress.checkers.base import Finding
from stress.history import Operation
from stress.latency import service_latency_ns

__all__ = [
    "RequestDescriber",
    "RequestShape",
    "WitnessStep",
    "curl_command",
    "explain_witness",
    "format_duration",
    "render_timeline",
    "short_fp",
]

RequestShape = tuple[str, str, Mapping[str, str], str | None]
"""``(method, url, headers, body)``; tokens in headers and body are placeholders like
``$REFRESH_TOKEN``."""

RequestDescriber = Callable[[Operation], RequestShape]
"""Maps an operation to the request that performs it (supplied by the target profile)."""

_PLACEHOLDER = re.compile(r"\$(?:[A-Z_][A-Z0-9_]*|\{[A-Z_][A-Z0-9_]*\})")
# Headers that carry credentials: a value without a placeholder is replaced by one.
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def short_fp(fp: str | None) -> str:
    """The 8-character form of a fingerprint used in timelines; ``-`` for none."""
    return fp[:8] if fp else "-"


@dataclass(frozen=True)
class WitnessStep:
    """One witness op: its times relative to the witness start, and why the checker blames it.

    ``key`` marks the violating request, the one a curl line reproduces.
    """

    op: Operation
    send_offset_ns: int
    recv_offset_ns: int | None
    why: str
    key: bool


def explain_witness(by_index: Mapping[int, Operation], finding: Finding) -> list[WitnessStep]:
    """The finding's blamed ops in the checker's (time) order; unknown indices are skipped."""
    blamed = [(by_index[b.index], b) for b in finding.blame if b.index in by_index]
    if not blamed:
        return []
    start = blamed[0][0].send_ns
    return [
        WitnessStep(
            op=op,
            send_offset_ns=op.send_ns - start,
            recv_offset_ns=op.recv_ns - start if op.recv_ns is not None else None,
            why=blame.why,
            key=blame.key,
        )
        for op, blame in blamed
    ]


def format_duration(ns: int) -> str:
    """A duration in the unit that keeps it readable: ``300ns``, ``12.5us``, ``4.7ms``.

    Burst spreads live in nanoseconds to milliseconds, and ``0.000ms`` would hide them.
    """
    if abs(ns) < 1_000:
        return f"{ns}ns"
    if abs(ns) < 1_000_000:
        return f"{ns / 1e3:.1f}us"
    return f"{ns / 1e6:.1f}ms"


def _call(op: Operation) -> str:
    return f"p{op.process} {op.kind}({short_fp(op.presented) if op.presented else ''})"


def _result(op: Operation) -> str:
    parts: list[str] = [op.outcome]
    if op.status is not None and op.outcome != "ok":
        parts.append(str(op.status))
    if op.returned is not None:
        parts.append(short_fp(op.returned))
    if op.done is None:
        parts.append("(no response)")
    else:
        if op.outcome != "ok" and op.error:
            parts.append(f"[{op.error[:40]}]")
        latency = service_latency_ns(op)
        if latency is not None:
            parts.append(f"({format_duration(latency)})")
    return " ".join(parts)


def render_timeline(steps: Sequence[WitnessStep]) -> list[str]:
    """One aligned line per step, ending in the checker's reason; the key one says violation::

    op 2 p1 refresh(a1b2c3d4) +0.000ms -> ok e5f6a7b8 (4.1ms)   # violation: ...
    """
    ids = [f"op {s.op.index}" for s in steps]
    calls = [_call(s.op) for s in steps]
    # One precision for every offset, microseconds, so that lines compare at a glance.
    times = [f"+{s.send_offset_ns / 1e6:.3f}ms" for s in steps]
    results = [_result(s.op) for s in steps]
    id_w = max(map(len, ids), default=0)
    call_w = max(map(len, calls), default=0)
    time_w = max(map(len, times), default=0)
    result_w = max(map(len, results), default=0)
    lines = []
    for step, op_id, call, at, result in zip(steps, ids, calls, times, results, strict=True):
        line = f"{op_id:<{id_w}} {call:<{call_w}} {at:>{time_w}} -> {result:<{result_w}}"
        why = f"violation: {step.why}" if step.key else step.why
        lines.append(f"{line}   # {why}".rstrip())
    return lines


def _shell_arg(value: str) -> str:
    """Quote for POSIX sh, keeping ``$NAME`` placeholders expandable."""
    if not _PLACEHOLDER.search(value):
        return shlex.quote(value)
    out = []
    pos = 0
    for match in _PLACEHOLDER.finditer(value):
        out.append(_escape_double(value[pos : match.start()]))
        out.append(match.group())
        pos = match.end()
    out.append(_escape_double(value[pos:]))
    return '"' + "".join(out) + '"'


def _escape_double(text: str) -> str:
    return re.sub(r'([\\"`$])', r"\\\1", text)


def curl_command(op: Operation, describe: RequestDescriber, options: Sequence[str] = ()) -> str:
    """A curl line for ``op``; credential headers without a placeholder become one.

    The body is used as given, so ``describe`` must put placeholders where tokens go.
    ``options`` are shell words put as they are after curl's own (the run's TLS set-up).
    """
    method, url, headers, body = describe(op)
    parts = ["curl", "-sS", *options, "-X", method.upper(), _shell_arg(url)]
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS and not _PLACEHOLDER.search(value):
            value = "$" + re.sub(r"[^A-Z0-9]", "_", name.upper())
        parts += ["-H", _shell_arg(f"{name}: {value}")]
    if body is not None:
        parts += ["--data", _shell_arg(body)]
    return " ".join(parts)
