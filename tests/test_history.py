"""The history: append rules, pairing, streaming to disk and reading back."""

from __future__ import annotations

import io
from pathlib import Path

import msgspec
import pytest

from stress.errors import HistoryError
from stress.history import FORMAT_VERSION, Header, History, Op, load_history, pair_operations
from stress.pipeline import Drive, judge_drive
from stress.policy import Policy, preset
from stress.run_record import BurstRecord, RunEnd, inconclusive_reason

HEADER = Header(scenario="s", policy=Policy(), targets=["http://t/"], seed=1, started_unix=0)


def invoke(index: int, process: int, t: int, presented: str = "A") -> Op:
    return Op(index=index, type="invoke", process=process, session=0, kind="refresh",
              time_ns=t, presented=presented)  # fmt: skip


def done(index: int, process: int, t: int, kind: str = "ok", returned: str | None = "B") -> Op:
    return Op(index=index, type=kind, process=process, session=0, kind="refresh",  # type: ignore[arg-type]
              time_ns=t, returned=returned)  # fmt: skip


def test_pairs_concurrent_ops_by_process() -> None:
    history = History(HEADER)
    history.append(invoke(0, 1, 10))
    history.append(invoke(1, 2, 11))
    history.append(done(2, 2, 20, "fail", None))
    history.append(done(3, 1, 25))
    first, second = history.operations()
    assert (first.process, first.outcome, first.returned, first.latency_ns) == (1, "ok", "B", 15)
    assert (second.process, second.outcome, second.status) == (2, "fail", None)


def test_missing_completion_is_indeterminate() -> None:
    (op,) = pair_operations([invoke(0, 1, 10)])
    assert op.outcome == "info"
    assert op.recv_ns is None


def test_sent_ns_on_completion_is_the_send_time() -> None:
    completion = Op(index=1, type="ok", process=1, session=0, kind="refresh", time_ns=50,
                    sent_ns=30)  # fmt: skip
    (op,) = pair_operations([invoke(0, 1, 10), completion])
    assert op.send_ns == 30


@pytest.mark.parametrize(
    ("ops", "message"),
    [
        ([invoke(0, 1, 1), invoke(1, 1, 2)], "invoked twice"),
        ([done(0, 1, 1)], "never invoked"),
        ([invoke(1, 1, 1)], "not the next index"),
    ],
)
def test_append_rejects_inconsistent_records(ops: list[Op], message: str) -> None:
    history = History(HEADER)
    for op in ops[:-1]:
        history.append(op)
    with pytest.raises(ValueError, match=message):
        history.append(ops[-1])


def test_streams_every_record_and_reads_back(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with path.open("wb") as sink:
        history = History(HEADER, sink)
        history.append(invoke(0, 1, 10))
        # Already on disk before the run ends: an interrupted run keeps what it observed.
        assert len(path.read_bytes().splitlines()) == 2
        history.append(done(1, 1, 20))
    loaded = load_history(path)
    assert loaded.header == HEADER
    assert loaded.ops == history.ops


def test_truncated_last_line_is_ignored(tmp_path: Path) -> None:
    sink = io.BytesIO()
    history = History(HEADER, sink)
    history.append(invoke(0, 1, 10))
    path = tmp_path / "h.jsonl"
    path.write_bytes(sink.getvalue() + b'{"index":1,"type":"o')
    assert len(load_history(path)) == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"not json\n", ":1: not an auth-stress history header"),
        (b'{"format":99,"scenario":"s","policy":"strict","grace_seconds":0,"targets":[],'
         b'"seed":0,"started_unix":0}\n', "format 99 is not supported"),
    ],
)  # fmt: skip
def test_bad_files_name_file_and_line(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "h.jsonl"
    path.write_bytes(content)
    with pytest.raises(HistoryError, match=message):
        load_history(path)


def test_bad_record_in_the_middle_names_its_line(tmp_path: Path) -> None:
    sink = io.BytesIO()
    History(HEADER, sink)
    path = tmp_path / "h.jsonl"
    path.write_bytes(sink.getvalue() + b'{"index": "x"}\n' + b"{}\n")
    with pytest.raises(HistoryError, match=r"h.jsonl:2: invalid op record"):
        load_history(path)


def test_missing_file() -> None:
    with pytest.raises(HistoryError, match="cannot read history"):
        load_history(Path("/nonexistent/history.jsonl"))


def test_a_format_1_history_is_read_with_its_preset_expanded(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_bytes(
        b'{"format":1,"scenario":"s","policy":"idempotent","grace_seconds":2.5,'
        b'"targets":["http://t/"],"seed":3,"started_unix":0}\n'
    )
    header = load_history(path).header
    assert header.policy == preset("idempotent", 2.5)
    assert (header.format, header.seed, header.targets) == (FORMAT_VERSION, 3, ["http://t/"])


def test_a_format_2_history_reads_without_the_run_fields(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    policy = msgspec.json.encode(preset("strict", 0)).decode()
    path.write_text(
        f'{{"format":2,"scenario":"s","policy":{policy},"targets":["http://t/"],'
        '"seed":3,"started_unix":0}\n'
    )
    header = load_history(path).header
    assert (header.run_id, header.shard, header.key_check, header.clock) == (None,) * 4


def test_the_header_records_every_policy_field(tmp_path: Path) -> None:
    sink = io.BytesIO()
    policy = Policy(grace_seconds=2, replay="access-only", generations=3, reuse_revokes="user")
    History(Header(scenario="s", policy=policy, targets=[], seed=0, started_unix=0), sink)
    path = tmp_path / "h.jsonl"
    path.write_bytes(sink.getvalue())
    assert load_history(path).header.policy == policy


def test_the_run_end_record_is_read_back(tmp_path: Path) -> None:
    sink = io.BytesIO()
    history = History(HEADER, sink)
    history.append(invoke(0, 1, 10))
    history.append(done(1, 1, 20))
    burst = BurstRecord(burst=0, engine="last-byte", size=8, release_spread_ns=900,
                        arrival_spread_ns=None, notes=("fell back",))  # fmt: skip
    end = RunEnd(end="interrupted", wall_seconds=1.5, notes=["n"], bursts=[burst])
    history.finish(end)
    path = tmp_path / "h.jsonl"
    path.write_bytes(sink.getvalue())
    loaded = load_history(path)
    assert (loaded.end, len(loaded)) == (end, 2)
    assert inconclusive_reason(loaded.end) == "interrupted"


def test_nothing_follows_the_run_end_record(tmp_path: Path) -> None:
    sink = io.BytesIO()
    history = History(HEADER, sink)
    history.finish(RunEnd(end="completed"))
    with pytest.raises(ValueError, match="after the run-end record"):
        history.append(invoke(0, 1, 10))
    path = tmp_path / "h.jsonl"
    path.write_bytes(sink.getvalue() + b'{"index":0,"type":"invoke","process":1,"session":0,'
                     b'"kind":"refresh","time_ns":10}\n')  # fmt: skip
    with pytest.raises(HistoryError, match=r"h.jsonl:3: inconsistent op record"):
        load_history(path)


def test_a_history_cut_off_before_its_end_is_inconclusive(tmp_path: Path) -> None:
    sink = io.BytesIO()
    History(HEADER, sink).append(invoke(0, 1, 10))
    path = tmp_path / "h.jsonl"
    path.write_bytes(sink.getvalue())
    loaded = load_history(path)
    assert loaded.end is None
    assert "no run-end record" in (inconclusive_reason(loaded.end) or "")


class _DiskFillsUp(io.RawIOBase):
    """A file that takes ``room`` records, then fails as a full disk does."""

    def __init__(self, path: Path, room: int) -> None:
        self._file = path.open("wb", buffering=0)
        self._room = room

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        if self._room == 0:
            raise OSError(28, "No space left on device")
        self._room -= 1
        return self._file.write(data) or 0

    def close(self) -> None:
        self._file.close()
        super().close()


def test_a_streaming_history_keeps_only_pending_invokes(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    with path.open("wb") as sink:
        history = History(HEADER, sink, retain=False)
        for n in range(0, 1000, 2):
            history.append(invoke(n, 1, n))
            history.append(done(n + 1, 1, n + 1))
        history.append(invoke(1000, 2, 1000))
        pending = [op.index for op in history.open_invokes()]
        assert (len(history), history.ops, pending) == (1001, [], [1000])
        assert history.open_invokes() == [invoke(1000, 2, 1000)]
    assert len(load_history(path)) == 1001


def test_a_full_disk_keeps_the_rest_in_memory_and_the_run_is_judged_whole(
    tmp_path: Path,
) -> None:
    path = tmp_path / "h.jsonl"
    sink = _DiskFillsUp(path, room=3)  # the header and two ops
    history = History(HEADER, sink, retain=False)
    for n in range(0, 6, 2):
        history.append(invoke(n, 1, n, presented=f"T{n}"))
        history.append(done(n + 1, 1, n + 1, returned=f"T{n + 2}"))
    end = RunEnd(end="completed")
    history.finish(end)
    sink.close()
    assert history.sink_error is not None
    assert (history.kept_from, [op.index for op in history]) == (2, [2, 3, 4, 5])
    report = judge_drive(Drive(path=path, history=history, end=end))
    assert len(report.operations) == 3
    assert any("could not be written" in note for note in report.notes)


class _CountingSink(io.BytesIO):
    """A sink that counts the writes it is asked for."""

    writes = 0

    def write(self, data: bytes | bytearray) -> int:  # type: ignore[override]
        self.writes += 1
        return super().write(data)


def test_deferred_writes_go_out_together_once_asked() -> None:
    sink, asked = _CountingSink(), list[object]()
    history = History(HEADER, sink, retain=False, defer=asked.append)
    assert sink.writes == 1  # the header, at once
    for n in range(0, 6, 2):
        history.append(invoke(n, 1, n))
        history.append(done(n + 1, 1, n + 1))
    assert (sink.writes, asked) == (1, [history.flush])  # asked once per batch
    history.flush()
    history.flush()  # nothing left: no empty write
    assert sink.writes == 2
    history.append(invoke(6, 1, 6))
    history.finish(RunEnd(end="completed"))  # flushes the op first, then writes the end
    assert (sink.writes, len(asked)) == (4, 2)
    lines = sink.getvalue().splitlines()
    assert [msgspec.json.decode(line).get("index") for line in lines[1:-1]] == list(range(7))
    assert b'"record"' in lines[-1]


def test_deferred_writes_read_back_as_written_one_by_one(tmp_path: Path) -> None:
    def write(path: Path, defer: bool) -> bytes:
        asked: list[object] = []
        with path.open("wb", buffering=0) as sink:
            history = History(HEADER, sink, retain=False, defer=asked.append if defer else None)
            for n in range(0, 40, 2):
                history.append(invoke(n, n % 3, n, presented=f"T{n}"))
                history.append(done(n + 1, n % 3, n + 1, returned=f"T{n + 2}"))
                if n % 10 == 0:
                    history.flush()
            history.finish(RunEnd(end="completed"))
        return path.read_bytes()

    batched = write(tmp_path / "batched.jsonl", defer=True)
    assert batched == write(tmp_path / "each.jsonl", defer=False)
    loaded = load_history(tmp_path / "batched.jsonl")
    assert (len(loaded), loaded.end) == (40, RunEnd(end="completed"))


def test_a_full_disk_under_deferred_writes_keeps_the_unwritten_batch(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    sink = _DiskFillsUp(path, room=2)  # the header and the first batch
    history = History(HEADER, sink, retain=False, defer=lambda flush: None)
    for n in range(0, 6, 2):
        history.append(invoke(n, 1, n, presented=f"T{n}"))
        history.append(done(n + 1, 1, n + 1, returned=f"T{n + 2}"))
        history.flush()
    end = RunEnd(end="completed")
    history.finish(end)
    sink.close()
    assert history.sink_error is not None
    assert (history.kept_from, [op.index for op in history]) == (2, [2, 3, 4, 5])
    report = judge_drive(Drive(path=path, history=history, end=end))
    assert len(report.operations) == 3
