"""How tightly the bursts arrived, per engine, in numbers and in words.

A race that was never provoked cannot be found, so a report says how hard each engine pushed:
per engine, how many bursts of which sizes, and the distribution (min, p50, p90, max) of their
release spread (client-side send times) and arrival spread (the server's own arrival stamps).
A spread that was not measured is said so, never shown as ``0ns``: single-packet sends every
final frame in one write, so its release spread is zero by construction, and a target that does
not stamp arrivals has no arrival spread. When an engine other than the one asked for was used,
the summary says which and why.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stress.history import Operation
from stress.latency import nearest_rank
from stress.report.stats import BurstInfo
from stress.report.timeline import format_duration

__all__ = [
    "EngineSummary",
    "Spread",
    "burst_summaries",
    "fallbacks",
    "release_measured",
    "requested_engines",
    "spread_cell",
]


@dataclass(frozen=True)
class Spread:
    """Distribution of one spread over the bursts that measured it (ns)."""

    count: int
    min: int
    p50: int
    p90: int
    max: int

    @classmethod
    def of(cls, values: Sequence[int]) -> Spread | None:
        if not values:
            return None
        ordered = sorted(values)
        p50, p90 = (ordered[nearest_rank(len(ordered), p)] for p in (50, 90))
        return cls(len(ordered), ordered[0], p50, p90, ordered[-1])

    def describe(self) -> str:
        parts = (self.min, self.p50, self.p90, self.max)
        return " / ".join(format_duration(v) for v in parts)


@dataclass(frozen=True)
class EngineSummary:
    """The bursts one engine released: how many, their sizes, their spreads, and notes."""

    engine: str
    bursts: int
    sizes: tuple[int, int]
    release: Spread | None
    arrival: Spread | None
    notes: tuple[str, ...]


def release_measured(burst: BurstInfo) -> bool:
    """False for a release spread that is not a measurement (see the module docstring)."""
    if burst.release_spread_ns is None:
        return False
    return not (burst.release_spread_ns == 0 and burst.engine == "single-packet")


def spread_cell(burst: BurstInfo, kind: str) -> str:
    """One table cell: the spread, or a dash and why it is missing."""
    if kind == "release":
        if burst.engine == "single-packet" and burst.release_spread_ns == 0:
            return "\u2014 (one write)"
        value = burst.release_spread_ns
    else:
        value = burst.arrival_spread_ns
    if value is None:
        return "\u2014" if burst.size > 1 else "\u2014 (one request)"
    return format_duration(value)


def requested_engines(operations: Sequence[Operation]) -> dict[int, str]:
    """Per burst id, the engine the scenario asked for (recorded on the invokes)."""
    asked: dict[int, str] = {}
    for op in operations:
        if op.burst is not None and op.invoke.engine is not None:
            asked.setdefault(op.burst, op.invoke.engine)
    return asked


def fallbacks(bursts: Sequence[BurstInfo], asked: Mapping[int, str]) -> list[str]:
    """Sentences saying which engine was used instead of the one asked for, and why."""
    moved: Counter[tuple[str, str]] = Counter()
    for burst in bursts:
        want = asked.get(burst.burst)
        if want is not None and want != burst.engine:
            moved[(want, burst.engine)] += 1
    lines = []
    for (want, used), n in sorted(moved.items()):
        bursts_n = f"{n} burst{'s' if n != 1 else ''}"
        if want == "auto" and used == "single-packet":
            why = "the target speaks HTTP/2, so every final frame can go out in one write"
        elif want == "auto":
            why = (
                "the target does not speak HTTP/2 (no h2 over TLS, no cleartext h2c with prior "
                "knowledge), so each request's final byte is held back and all are sent together"
            )
        elif want == "single-packet":
            why = "single-packet needs HTTP/2 on every origin, and one of them spoke HTTP/1.1"
        else:
            why = "the engine asked for could not be used on this connection"
        lines.append(f"{bursts_n}: {want} used {used}: {why}.")
    return lines


def burst_summaries(bursts: Sequence[BurstInfo]) -> list[EngineSummary]:
    """One summary per engine, in name order."""
    by_engine: dict[str, list[BurstInfo]] = {}
    for burst in bursts:
        by_engine.setdefault(burst.engine, []).append(burst)
    summaries = []
    for engine, group in sorted(by_engine.items()):
        notes = Counter(note for b in group for note in b.notes)
        sizes = [b.size for b in group]
        summaries.append(
            EngineSummary(
                engine=engine,
                bursts=len(group),
                sizes=(min(sizes), max(sizes)),
                release=Spread.of(
                    [
                        b.release_spread_ns
                        for b in group
                        if b.release_spread_ns is not None and release_measured(b)
                    ]
                ),
                arrival=Spread.of(
                    [b.arrival_spread_ns for b in group if b.arrival_spread_ns is not None]
                ),
                notes=tuple(
                    note if n == len(group) else f"{note} ({n} of {len(group)} bursts)"
                    for note, n in notes.most_common()
                ),
            )
        )
    return summaries
