"""Run statistics for reports: what happened, in numbers, before anyone reads a finding.

A reader judges a verdict by its context: how many refreshes ran, how many were indeterminate,
how slow the target was, and above all how tightly each burst arrived (a race that was never
provoked cannot be found). Everything here is a pure function of the recorded operations.

Latency is what ``stress.latency`` defines, the same figure the ``threshold`` checker judges:
the service time of ``ok`` operations, with nearest-rank percentiles.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from stress.history import Operation
from stress.latency import percentile, timed
from stress.run_record import BurstRecord

__all__ = [
    "BurstInfo",
    "KindStats",
    "RunStats",
    "SpreadSummary",
    "compute_stats",
    "summarize_bursts",
    "summarize_spreads",
]

_KIND_ORDER = ("login", "refresh", "use", "revoke", "probe")


# One burst's engine, size and spreads, as the history's run-end record keeps it.
BurstInfo = BurstRecord


@dataclass(frozen=True)
class KindStats:
    """Counts by outcome and latency percentiles (ms) for one op kind."""

    kind: str
    ok: int
    fail: int
    info: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None

    @property
    def total(self) -> int:
        return self.ok + self.fail + self.info


@dataclass(frozen=True)
class SpreadSummary:
    """How tightly bursts arrived, over all bursts of a run (median and worst, in ns)."""

    bursts: int
    engines: tuple[str, ...]
    release_p50_ns: int | None
    release_max_ns: int | None
    arrival_p50_ns: int | None
    arrival_max_ns: int | None


@dataclass(frozen=True)
class RunStats:
    """Everything the summary table shows; ``statuses`` maps HTTP status to count."""

    kinds: tuple[KindStats, ...]
    statuses: tuple[tuple[int, int], ...]
    spread: SpreadSummary | None

    @property
    def total(self) -> int:
        return sum(k.total for k in self.kinds)

    @property
    def indeterminate(self) -> int:
        return sum(k.info for k in self.kinds)


def _kind_key(kind: str) -> tuple[int, str]:
    return (_KIND_ORDER.index(kind) if kind in _KIND_ORDER else len(_KIND_ORDER), kind)


def _kind_stats(kind: str, ops: Sequence[Operation]) -> KindStats:
    outcomes = Counter(op.outcome for op in ops)
    latencies = [latency / 1e6 for latency, _ in timed(ops)]
    return KindStats(
        kind=kind,
        ok=outcomes["ok"],
        fail=outcomes["fail"],
        info=outcomes["info"],
        p50_ms=percentile(latencies, 50),
        p95_ms=percentile(latencies, 95),
        p99_ms=percentile(latencies, 99),
    )


def _arrival_ns(op: Operation) -> int | None:
    if op.done is not None and op.done.arrival_ns is not None:
        return op.done.arrival_ns
    return op.invoke.arrival_ns


def summarize_bursts(operations: Sequence[Operation]) -> list[BurstInfo]:
    """Derive one :class:`BurstInfo` per burst id from the operations, in burst order."""
    groups: dict[int, list[Operation]] = {}
    for op in operations:
        if op.burst is not None:
            groups.setdefault(op.burst, []).append(op)
    infos = []
    for burst in sorted(groups):
        ops = groups[burst]
        sends = [op.send_ns for op in ops]
        arrivals = [a for a in map(_arrival_ns, ops) if a is not None]
        notes: list[str] = []
        if 0 < len(arrivals) < len(ops):
            notes.append(f"arrival time known for {len(arrivals)}/{len(ops)} requests")
        engines = sorted({op.engine or "none" for op in ops})
        infos.append(
            BurstInfo(
                burst=burst,
                engine="+".join(engines),
                size=len(ops),
                release_spread_ns=max(sends) - min(sends) if len(sends) > 1 else None,
                arrival_spread_ns=max(arrivals) - min(arrivals) if len(arrivals) > 1 else None,
                notes=tuple(notes),
            )
        )
    return infos


def summarize_spreads(bursts: Sequence[BurstInfo]) -> SpreadSummary | None:
    """Median and worst release/arrival spread over all bursts; None when there were none."""
    if not bursts:
        return None
    releases = [b.release_spread_ns for b in bursts if b.release_spread_ns is not None]
    arrivals = [b.arrival_spread_ns for b in bursts if b.arrival_spread_ns is not None]
    p50_release = percentile(releases, 50)
    p50_arrival = percentile(arrivals, 50)
    return SpreadSummary(
        bursts=len(bursts),
        engines=tuple(sorted({b.engine for b in bursts})),
        release_p50_ns=int(p50_release) if p50_release is not None else None,
        release_max_ns=max(releases) if releases else None,
        arrival_p50_ns=int(p50_arrival) if p50_arrival is not None else None,
        arrival_max_ns=max(arrivals) if arrivals else None,
    )


def compute_stats(
    operations: Sequence[Operation], bursts: Sequence[BurstInfo] | None = None
) -> RunStats:
    """Summarise a run; ``bursts`` defaults to those derived from the operations."""
    by_kind: dict[str, list[Operation]] = {}
    for op in operations:
        by_kind.setdefault(op.kind, []).append(op)
    statuses = Counter(op.status for op in operations if op.status is not None)
    return RunStats(
        kinds=tuple(_kind_stats(k, by_kind[k]) for k in sorted(by_kind, key=_kind_key)),
        statuses=tuple(sorted(statuses.items())),
        spread=summarize_spreads(summarize_bursts(operations) if bursts is None else bursts),
    )
