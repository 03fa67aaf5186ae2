"""Merging shard histories: one run, each shard once, one valid history judged as a whole."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from stress.errors import HistoryError
from stress.history import Clock, Header, History, Op, load_history
from stress.merge import merge_histories
from stress.pipeline import analyze_history
from stress.policy import preset
from stress.run_record import Checks, Limits, RunEnd, ShardId

MS = 1_000_000
CHECKS = Checks(thresholds={"refresh": Limits(p95_ms=50)})


def header(index: int, count: int = 2, **changes: object) -> Header:
    base = Header(
        scenario="s",
        policy=preset("strict", 0),
        checks=CHECKS,
        targets=["http://t/"],
        seed=0,
        started_unix=1000.0,
        run_id="r1",
        shard=ShardId(index, count),
        scenario_digest="sha256:abc",
        key_check="k1",
        # Each shard's monotonic clock has its own origin; the wall clocks agree.
        clock=Clock(wall_ns=1000 * 10**9, monotonic_ns=index * 7 * 10**9),
    )
    return msgspec.structs.replace(base, **changes)


def shard_history(
    tmp_path: Path, index: int, latencies_ms: list[int], *, first_session: int, **changes: object
) -> Path:
    """One login, then one refresh per latency, per session: a refresh's latency as given."""
    path = tmp_path / f"shard-{index}-{len(list(tmp_path.iterdir()))}.jsonl"
    head = header(index, **changes)
    assert head.clock is not None
    t = head.clock.monotonic_ns + index * MS  # shards interleave in wall time
    with path.open("wb") as sink:
        history = History(head, sink)
        ops: list[Op] = []

        def add(**fields: object) -> Op:
            op = msgspec.convert({"index": len(ops), **fields}, Op)
            ops.append(op)
            return history.append(op)

        session = first_session
        add(type="invoke", process=0, session=session, kind="login", time_ns=t)
        add(type="ok", process=0, session=session, kind="login", time_ns=t + MS,
            returned=f"rt{index}-0", status=200)  # fmt: skip
        for n, latency in enumerate(latencies_ms):
            start = t + (n + 2) * 10 * MS
            refresh = {"process": 0, "session": session, "kind": "refresh"}
            add(type="invoke", time_ns=start, presented=f"rt{index}-{n}", burst=n, **refresh)
            end = start + latency * MS
            add(type="ok", time_ns=end, returned=f"rt{index}-{n + 1}", status=200, **refresh)
        history.finish(RunEnd(end="completed", wall_seconds=1.0, notes=["same note"]))
    return path


def verdict_of(path: Path) -> tuple[str, list[str]]:
    report = analyze_history(path)
    return report.verdict, sorted(f.checker for f in report.findings)


def test_a_threshold_is_judged_over_every_shards_ops(tmp_path: Path) -> None:
    # Shard 1 alone breaks p95 < 50 ms (one slow refresh of 3); over all 23 ops it holds.
    one = shard_history(tmp_path, 1, [10, 10, 80], first_session=0)
    two = shard_history(tmp_path, 2, [10] * 20, first_session=1)
    assert verdict_of(one) == ("fail", ["threshold"])
    assert verdict_of(two) == ("pass", [])
    merged = tmp_path / "merged.jsonl"
    summary = merge_histories([two, one], merged)
    assert (summary.shards, summary.ops, summary.end.end) == (2, 50, "completed")
    assert verdict_of(merged) == ("pass", [])


def test_the_merged_history_is_one_valid_timeline(tmp_path: Path) -> None:
    one = shard_history(tmp_path, 1, [5, 5], first_session=0)
    two = shard_history(tmp_path, 2, [5, 5], first_session=1)
    merged = tmp_path / "merged.jsonl"
    merge_histories([one, two], merged)
    history = load_history(merged)
    ops = history.ops
    assert [op.index for op in ops] == list(range(len(ops)))
    assert {op.process for op in ops if op.session == 1} == {1}  # renumbered apart
    assert len({op.burst for op in ops if op.burst is not None}) == 4
    times = [op.time_ns for op in ops]
    assert times == sorted(times)  # one clock: the shards interleave, 1 ms apart
    assert history.header.shard is None
    end = history.end
    assert end is not None
    assert [s.shard for s in end.shards] == [ShardId(1, 2), ShardId(2, 2)]
    skews = [s.start_skew_seconds for s in end.shards]
    assert skews == [pytest.approx(0.0), pytest.approx(0.001)]
    assert end.notes[0] == "shards 1/2, 2/2: same note"
    assert "start skew" in end.notes[-1]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"run_id": "r2"}, "its run id differs"),
        ({"key_check": "k2"}, "fingerprint key check differs"),
        ({"scenario_digest": "sha256:def"}, "scenario digest differs"),
        ({"policy": preset("none", 0)}, "policy differs"),
        ({"checks": Checks()}, "checks differs"),
    ],
)
def test_histories_of_other_runs_are_refused(
    tmp_path: Path, changes: dict[str, object], message: str
) -> None:
    one = shard_history(tmp_path, 1, [5], first_session=0)
    two = shard_history(tmp_path, 2, [5], first_session=1, **changes)
    with pytest.raises(HistoryError, match=message):
        merge_histories([one, two], tmp_path / "merged.jsonl")
    assert not (tmp_path / "merged.jsonl").exists()


def test_every_shard_once(tmp_path: Path) -> None:
    one = shard_history(tmp_path, 1, [5], first_session=0)
    again = shard_history(tmp_path, 1, [5], first_session=0)
    with pytest.raises(HistoryError, match="shard 2 of 2 is missing"):
        merge_histories([one], tmp_path / "m.jsonl")
    with pytest.raises(HistoryError, match="shard 1/2 is given twice"):
        merge_histories([one, again], tmp_path / "m.jsonl")


def test_a_history_without_shard_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    with path.open("wb") as sink:
        History(header(1, shard=None, run_id=None), sink).finish(RunEnd(end="completed"))
    with pytest.raises(HistoryError, match="records no shard"):
        merge_histories([path], tmp_path / "m.jsonl")


def test_a_shard_cut_off_makes_the_run_inconclusive(tmp_path: Path) -> None:
    one = shard_history(tmp_path, 1, [5], first_session=0)
    two = shard_history(tmp_path, 2, [5], first_session=1)
    lines = two.read_bytes().splitlines(keepends=True)
    two.write_bytes(b"".join(lines[:-1]))  # killed before its run-end record
    merged = tmp_path / "m.jsonl"
    assert merge_histories([one, two], merged).end.end == "interrupted"
    report = analyze_history(merged)
    assert report.verdict == "unknown"
