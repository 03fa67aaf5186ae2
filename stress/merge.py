"""Merge the histories of a run's shards into one history, judged like any other.

Each shard (see :mod:`stress.shard`) leaves a history of its own sessions, numbered from 0 in
op index, process and burst. The merge checks that the histories belong to one run (same run
id, scenario digest, fingerprint key check, policy and checks) and cover it exactly once
(shards 1..N, each once), then interleaves their records by time into one valid history:
indices, processes and bursts are renumbered so that they stay unique, a retry's ``retry_of``
follows its invoke, and monotonic times are moved onto the first shard's clock through each
shard's recorded wall clock (shards on different machines share only the wall clock). Session
numbers are already global. The run-end records combine into one: the worst end reason, every
shard's notes, and per shard its end, wall time and start skew (its first op's wall-clock time
minus the agreed start), which the report shows.

Both passes over the inputs stream, so a merge holds in memory only a few numbers per shard and
one machine word per op (the index map a retry's ``retry_of`` needs).
"""

from __future__ import annotations

import heapq
import os
from array import array
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from stress.errors import HistoryError
from stress.history import Clock, Header, History, Op, read_header, read_records
from stress.run_record import INCONCLUSIVE_ENDS, BurstRecord, EndReason, RunEnd, ShardEnd, ShardId

__all__ = ["MergeSummary", "merge_histories"]

# Worst first: an inconclusive shard makes the whole run inconclusive; among normal ends, a
# bound that cut a shard short is worth saying over a completion.
_END_ORDER: tuple[EndReason, ...] = (
    "crashed",
    "history-unwritable",
    "login-failed",
    "target-unreachable",
    "interrupted",
    "op-bound",
    "time-bound",
    "completed",
)
_NO_END = "the history has no run-end record: the shard was stopped before it finished"


@dataclass(frozen=True)
class MergeSummary:
    """What a merge wrote: the run, its shards and how many op records."""

    run_id: str
    shards: int
    ops: int
    end: RunEnd


@dataclass
class _Shard:
    """One input history, as the first pass found it."""

    path: Path
    header: Header
    id: ShardId
    clock: Clock
    ops: int = 0
    processes: int = 0  # highest process id + 1
    bursts: int = 0  # highest burst id + 1
    first_ns: int | None = None
    end: RunEnd | None = None
    # Filled when merging: where its processes and bursts start in the merged numbering, and
    # the nanoseconds that move its monotonic times onto the merged clock.
    process_base: int = 0
    burst_base: int = 0
    shift_ns: int = 0
    indices: array[int] = field(default_factory=lambda: array("q"))

    @property
    def name(self) -> str:
        return f"{self.id.index}/{self.id.count}"


def merge_histories(paths: Sequence[Path], out: Path) -> MergeSummary:
    """Merge the shard histories ``paths`` into ``out``; HistoryError (one line) when they are
    not the shards of one run, exactly once each."""
    shards = _order(_scan(path) for path in paths)
    reference = shards[0]
    process_base = burst_base = 0
    for shard in shards:
        shard.process_base, shard.burst_base = process_base, burst_base
        process_base += shard.processes
        burst_base += shard.bursts
        shard.shift_ns = _offset(shard.clock) - _offset(reference.clock)
        shard.indices = array("q", bytes(8 * shard.ops))
    header = msgspec.structs.replace(
        reference.header,
        shard=None,
        started_unix=min(s.header.started_unix for s in shards),
        clock=reference.clock,
    )
    end = _combined_end(shards)
    partial = out.with_name(f".{out.name}.partial")
    try:
        with partial.open("wb") as sink:
            history = History(header, sink, retain=False)
            for number, (shard, op) in enumerate(heapq.merge(*map(_ops, shards), key=_time)):
                history.append(_renumbered(shard, op, number))
            history.finish(end)
            count = len(history)
        os.replace(partial, out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise HistoryError(
            f"{out}: cannot write the merged history: {exc.strerror or exc}"
        ) from exc
    except (ValueError, HistoryError) as exc:
        partial.unlink(missing_ok=True)
        raise HistoryError(f"cannot merge: {exc}") from exc
    run_id = header.run_id or ""
    return MergeSummary(run_id=run_id, shards=len(shards), ops=count, end=end)


def _scan(path: Path) -> _Shard:
    """First pass over one history: its header, op count, id ranges, first op and end."""
    header = read_header(path)
    if header.shard is None or header.run_id is None or header.clock is None:
        raise HistoryError(
            f"{path}: records no shard and run id (a history written before sharding, or "
            "not by `run`): nothing to merge it with"
        )
    shard = _Shard(path=path, header=header, id=header.shard, clock=header.clock)
    for _, record in read_records(path):
        if isinstance(record, RunEnd):
            shard.end = record
            continue
        shard.ops += 1
        shard.processes = max(shard.processes, record.process + 1)
        if record.burst is not None:
            shard.bursts = max(shard.bursts, record.burst + 1)
        if shard.first_ns is None:
            shard.first_ns = record.time_ns
    return shard


def _order(scanned: Iterator[_Shard]) -> list[_Shard]:
    """The shards by index, once each checked to be of one run and to cover it exactly."""
    shards = list(scanned)
    if not shards:
        raise HistoryError("no history to merge")
    first = shards[0]
    for other in shards[1:]:
        _same_run(first, other)
    count = first.id.count
    by_index: dict[int, _Shard] = {}
    for shard in shards:
        index = shard.id.index
        if index in by_index:
            raise HistoryError(
                f"shard {shard.name} is given twice: {by_index[index].path} and {shard.path}"
            )
        by_index[index] = shard
    missing = [str(i) for i in range(1, count + 1) if i not in by_index]
    if missing:
        raise HistoryError(
            f"run {first.header.run_id}: shard {', '.join(missing)} of {count} is missing: a "
            "merge needs every shard's history, each once"
        )
    return [by_index[i] for i in range(1, count + 1)]


def _same_run(first: _Shard, other: _Shard) -> None:
    a, b = first.header, other.header
    differences = [
        ("run id", a.run_id, b.run_id),
        ("shard count", first.id.count, other.id.count),
        ("scenario digest", a.scenario_digest, b.scenario_digest),
        ("fingerprint key check", a.key_check, b.key_check),
        ("policy", a.policy, b.policy),
        ("checks", a.checks, b.checks),
        ("start time", a.start_at, b.start_at),
    ]
    for what, mine, theirs in differences:
        if mine != theirs:
            raise HistoryError(
                f"{other.path} is not a shard of the run of {first.path}: its {what} differs "
                f"({_show(theirs)} vs {_show(mine)})"
                + (" (set the same AUTH_STRESS_RUN_KEY on every shard)" if "key" in what else "")
            )


def _show(value: object) -> str:
    describe = getattr(value, "describe", None)
    return str(describe()) if callable(describe) else repr(value)


def _offset(clock: Clock) -> int:
    return clock.wall_ns - clock.monotonic_ns


def _ops(shard: _Shard) -> Iterator[tuple[_Shard, Op]]:
    for _, record in read_records(shard.path):
        if isinstance(record, Op):
            yield shard, record


def _time(item: tuple[_Shard, Op]) -> int:
    shard, op = item
    return op.time_ns + shard.shift_ns


def _renumbered(shard: _Shard, op: Op, index: int) -> Op:
    """``op`` as record ``index`` of the merged history, on the merged clock."""
    shard.indices[op.index] = index
    shift = shard.shift_ns
    return msgspec.structs.replace(
        op,
        index=index,
        process=op.process + shard.process_base,
        time_ns=op.time_ns + shift,
        sent_ns=None if op.sent_ns is None else op.sent_ns + shift,
        burst=None if op.burst is None else op.burst + shard.burst_base,
        retry_of=None if op.retry_of is None else shard.indices[op.retry_of],
    )


def _combined_end(shards: list[_Shard]) -> RunEnd:
    """One run-end record for the merged run: the worst end, every shard's notes and bursts,
    and each shard's end, wall time and start skew."""
    agreed = shards[0].header.start_at
    firsts = {id(s): s.clock.wall(s.first_ns) for s in shards if s.first_ns is not None}
    start = agreed if agreed is not None else min(firsts.values(), default=None)
    ends: list[ShardEnd] = []
    said: dict[str, list[str]] = {}  # a note -> the shards that made it, in order
    bursts: list[BurstRecord] = []
    dead: dict[str, int] = {}
    finish = 0.0
    for shard in shards:
        end = shard.end or RunEnd(end="interrupted", detail=_NO_END)
        first = firsts.get(id(shard))
        skew = None if first is None or start is None else first - start
        ends.append(
            ShardEnd(
                shard=shard.id,
                end=end.end,
                detail=end.detail,
                wall_seconds=end.wall_seconds,
                ops=shard.ops,
                start_skew_seconds=skew,
            )
        )
        for note in end.notes:
            said.setdefault(note, []).append(shard.name)
        bursts += [msgspec.structs.replace(b, burst=b.burst + shard.burst_base) for b in end.bursts]
        for where, since in end.dead_targets.items():
            dead[where] = min(dead.get(where, since + shard.shift_ns), since + shard.shift_ns)
        begun = first if first is not None else shard.header.started_unix
        finish = max(finish, begun + end.wall_seconds)
    worst = min(ends, key=lambda e: _END_ORDER.index(e.end))
    began = min(firsts.values(), default=min(s.header.started_unix for s in shards))
    notes = [
        f"shard{'s' if len(names) > 1 else ''} {', '.join(names)}: {note}"
        for note, names in said.items()
    ]
    notes.append(_skew_note(ends, agreed is not None))
    detail = worst.detail
    if worst.end != "completed" and (worst.end in INCONCLUSIVE_ENDS or detail):
        detail = f"shard {worst.shard.index}/{worst.shard.count}: {detail or worst.end}"
    return RunEnd(
        end=worst.end,
        detail=detail,
        wall_seconds=max(0.0, finish - began),
        notes=notes,
        bursts=bursts,
        dead_targets=dead,
        shards=ends,
    )


def _skew_note(ends: list[ShardEnd], agreed: bool) -> str:
    """One line on how far apart the shards began, for the report."""
    against = "the agreed start (--start-at)" if agreed else "the first shard's first op"
    parts = []
    for end in ends:
        skew = end.start_skew_seconds
        shown = "sent nothing" if skew is None else f"{skew * 1000:+.1f} ms"
        parts.append(f"{end.shard.index}/{end.shard.count} {shown} ({end.end}, "
                     f"{end.wall_seconds:.1f} s, {end.ops} records)")  # fmt: skip
    return f"merged {len(ends)} shards; start skew against {against}: " + "; ".join(parts)
