"""The history: the append-only record of every operation, and the only contract between the
network half of the tester and its analysis half.

Records follow Jepsen's meanings. An ``invoke`` record is appended before a request is sent and
a completion (``ok``, ``fail`` or ``info``) after it ends:

- ``ok``: the operation took effect;
- ``fail``: it certainly did not (an explicit rejection, or a connect error before any byte left);
- ``info``: unknown (timeout, connection lost after sending, cancellation, 5xx). A refresh that
  ended ``info`` may have rotated its token, so checkers treat it as "maybe consumed".

Appends are synchronous, so no other task can run between a response and its record, and every
record is streamed to the JSONL sink as it is appended (or, for a run on an event loop, right
after the loop's turn that appended it, one write for them all): an interrupted run still
leaves its history on disk. Tokens never appear here, only fingerprints (see
``stress.fingerprint``).

The first line of a history file is a :class:`Header`; every further line is an :class:`Op`,
and a complete history ends with a :class:`stress.run_record.RunEnd`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Literal

import msgspec

from stress.errors import HistoryError
from stress.policy import Policy, PresetName, preset
from stress.run_record import Checks, RequestTemplate, RunEnd, ShardId, TlsRecord
from stress.types import OpKind

__all__ = [
    "FORMAT_VERSION",
    "REPLAY_STEP",
    "RUN_STOPPED",
    "Claims",
    "Clock",
    "Header",
    "History",
    "Op",
    "OpKind",
    "OpType",
    "Operation",
    "Outcome",
    "Phase",
    "load_history",
    "read_header",
    "read_records",
]

FORMAT_VERSION = 3
# Format 1 named the policy by its preset and grace; format 2 records every policy field;
# format 3 adds what ties the shards of one run together (run id, shard, scenario digest, key
# check) and the wall clock of the monotonic times, all optional, so format 2 reads as 3.
_READABLE_FORMATS = (1, 2, 3)

# Error text of the ``info`` completions the runner writes for requests still in flight when a
# run stops (interrupt, time bound, crash): unknown outcomes, but not the target's doing.
RUN_STOPPED = "run-stopped"

logger = logging.getLogger(__name__)

# The step name of requests that present an older token on purpose, as an attacker (or a
# replaying proxy) would: their effects are never the legitimate holder's doing.
REPLAY_STEP = "replay"

Phase = Literal["step", "burst", "load", "final-probe"]
"""Where in a run an op happened: a scenario step, a synchronised burst, sustained load, or the
probes of every leaf token once the run is quiet."""
OpType = Literal["invoke", "ok", "fail", "info"]
Outcome = Literal["ok", "fail", "info"]


# Records hold only strings, numbers and other such records, so they can never be part of a
# reference cycle: ``gc=False`` keeps millions of them out of the cyclic collector's way.


class Claims(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    """Access-token claims that checkers need; decoded without verification by the client."""

    jti: str | None = None
    sub: str | None = None
    sid: str | None = None
    iat: int | None = None
    nbf: int | None = None
    exp: int | None = None
    verified: bool | None = None
    verify_error: str | None = None


class Op(msgspec.Struct, frozen=True, omit_defaults=True, kw_only=True, gc=False):
    """One history record: an invocation or a completion.

    ``time_ns`` is ``time.monotonic_ns()`` when the record was made: for an invoke, just before
    the request's first (or, for held-back sends, last) byte left; for a completion, when the
    response was complete. Invoke fields say what was asked (``presented``, ``burst``,
    ``target``, ``step``); completion fields say what came back.
    """

    index: int
    type: OpType
    process: int
    session: int
    kind: OpKind
    time_ns: int
    # What was presented: the refresh-token fingerprint for refresh/probe/revoke, the
    # access-token fingerprint for use.
    presented: str | None = None
    # Refresh-token fingerprint returned by login/refresh/probe (the lineage successor).
    returned: str | None = None
    # Access-token fingerprint returned by login/refresh/probe.
    access: str | None = None
    status: int | None = None
    error: str | None = None
    claims: Claims | None = None
    # Ops of one synchronised burst share a burst id. ``engine`` names its sync engine: on the
    # invoke the one asked for (e.g. ``auto``), on the completion the one actually used.
    burst: int | None = None
    engine: str | None = None
    target: str | None = None
    # Name of the scenario step (or of the client profile action) that produced the op.
    step: str | None = None
    # For a retry: the index of the invoke it retries (a lost response, or a 503/429 that said
    # Retry-After).
    retry_of: int | None = None
    phase: Phase | None = None
    # On a completion: the server's Retry-After, in seconds, when it sent one.
    retry_after: float | None = None
    # Server-reported monotonic arrival time (``X-Arrival-Ns``), when the target sends one.
    arrival_ns: int | None = None
    # On a completion: when the request's final byte actually left. A synchronised burst
    # records its invokes before warming up and releasing, so this is the precise send time.
    sent_ns: int | None = None


class Clock(msgspec.Struct, frozen=True):
    """``time.time_ns()`` and ``time.monotonic_ns()`` read together: maps an op's monotonic
    times to wall-clock time, which is what shards on different machines have in common."""

    wall_ns: int
    monotonic_ns: int

    def wall(self, monotonic_ns: int) -> float:
        """The wall-clock time (unix seconds) of a monotonic reading of this process."""
        return (self.wall_ns + monotonic_ns - self.monotonic_ns) / 1e9


class Header(msgspec.Struct, frozen=True, kw_only=True):
    """First line of a history file: enough context to analyse it without the scenario.

    ``command`` is the command line that reproduces the run; ``requests`` the shape of each
    kind of request (by op kind), for the reproducer lines of findings. ``run_id``, ``shard``,
    ``scenario_digest`` and ``key_check`` (a digest of the fingerprint key) say which run a
    shard's history belongs to; ``start_at`` is the wall-clock start the shards agreed on;
    ``tls`` how the run did TLS, when it was told anything about it (for the curl lines).
    """

    format: int = FORMAT_VERSION
    scenario: str
    scenario_path: str | None = None
    command: list[str] = []
    policy: Policy
    checks: Checks = Checks()
    targets: list[str]
    requests: dict[str, RequestTemplate] = {}
    seed: int
    started_unix: float
    run_id: str | None = None
    shard: ShardId | None = None
    scenario_digest: str | None = None
    key_check: str | None = None
    clock: Clock | None = None
    start_at: float | None = None
    tls: TlsRecord | None = None


class Operation(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """An invoke paired with its completion; ``done`` is None when the run ended first.

    Checkers work on these: an operation whose completion is missing is indeterminate, exactly
    like one that completed ``info``.

    Build one from ``invoke`` and ``done`` only. The fields after them are derived from those
    two records in ``__post_init__`` (whatever is passed for them): checkers read them tens of
    millions of times in a large history, and a field costs a fraction of a property.
    """

    invoke: Op
    done: Op | None
    index: int = 0
    kind: OpKind = "login"
    presented: str | None = None
    burst: int | None = None
    outcome: Outcome = "info"
    send_ns: int = 0
    """When the request left: the completion's ``sent_ns`` if known, else the invoke time."""
    recv_ns: int | None = None
    returned: str | None = None
    access: str | None = None
    status: int | None = None
    claims: Claims | None = None

    def __post_init__(self) -> None:
        invoke, done = self.invoke, self.done
        put = msgspec.structs.force_setattr
        put(self, "index", invoke.index)
        put(self, "kind", invoke.kind)
        put(self, "presented", invoke.presented)
        put(self, "burst", invoke.burst)
        if done is None:
            put(self, "outcome", "info")
            put(self, "send_ns", invoke.time_ns)
            for name in ("recv_ns", "returned", "access", "status", "claims"):
                put(self, name, None)
            return
        put(self, "outcome", "info" if done.type == "invoke" else done.type)
        put(self, "send_ns", invoke.time_ns if done.sent_ns is None else done.sent_ns)
        put(self, "recv_ns", done.time_ns)
        put(self, "returned", done.returned)
        put(self, "access", done.access)
        put(self, "status", done.status)
        put(self, "claims", done.claims)

    @property
    def process(self) -> int:
        return self.invoke.process

    @property
    def session(self) -> int:
        return self.invoke.session

    @property
    def phase(self) -> Phase | None:
        return self.invoke.phase

    @property
    def retry_after(self) -> float | None:
        return self.done.retry_after if self.done is not None else None

    @property
    def engine(self) -> str | None:
        """The sync engine actually used (the completion's), else the one asked for."""
        if self.done is not None and self.done.engine is not None:
            return self.done.engine
        return self.invoke.engine

    @property
    def error(self) -> str | None:
        return self.done.error if self.done is not None else None

    @property
    def stopped_by_run(self) -> bool:
        """True when the runner, not the target, ended this op (see :data:`RUN_STOPPED`)."""
        return self.done is None or (self.done.error or "").startswith(RUN_STOPPED)

    @property
    def latency_ns(self) -> int | None:
        if self.done is None:
            return None
        return self.done.time_ns - self.invoke.time_ns


_encoder = msgspec.json.Encoder()


class History:
    """Append-only op log with invoke/completion pairing, optionally streamed to a JSONL sink.

    ``append`` is synchronous on purpose: the runner records a completion in the same step as
    it receives the response, so no other task can interleave between the two.

    With ``retain=False`` (a run streaming to its file) only what the run still needs stays in
    memory: the op count and each process's pending invoke, so a long soak needs no more
    memory than a short one; the verdict is judged from the file. When the sink fails (a full
    disk), recording goes on in memory from the op that could not be written (``kept_from``)
    and ``sink_error`` says why, so that what was observed can still be judged: the file's
    records before ``kept_from``, then the ones kept.

    ``defer`` (an event loop's ``call_soon``) batches the writes: the ops appended in one turn
    of the loop are written together by :meth:`flush` right after it (the next turn does not
    wait for I/O while a callback is ready), one system call for them all instead of one each:
    a load step appends a completion and the next invoke in the same turn, and several
    sessions' answers often arrive in one. Whoever closes the sink calls :meth:`flush` first;
    :meth:`finish` flushes too.
    """

    def __init__(
        self,
        header: Header,
        sink: IO[bytes] | None = None,
        *,
        retain: bool = True,
        defer: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        self.header = header
        self.end: RunEnd | None = None
        self.sink_error: OSError | None = None
        self.kept_from = 0
        self._retain = retain or sink is None
        self._ops: list[Op] = []
        self._count = 0
        self._open: dict[int, Op] = {}  # process -> its pending invoke
        self._sink = sink
        self._defer = defer
        self._buffer = bytearray()  # encoded ops not yet written (with ``defer``)
        self._buffered: list[Op] = []  # those ops, unless they are retained anyway
        self._write(header)

    def _write(self, record: Header | Op | RunEnd) -> None:
        if self._sink is None:
            return
        if self._defer is not None and isinstance(record, Op):
            if not self._buffer:
                self._defer(self.flush)
            _encoder.encode_into(record, self._buffer, -1)
            self._buffer += b"\n"
            if not self._retain:
                self._buffered.append(record)
            return
        self.flush()
        if self._sink is not None:
            held = (record,) if isinstance(record, Op) else None
            self._put(_encoder.encode(record) + b"\n", held)

    def flush(self) -> None:
        """Write the ops that ``defer`` held back (nothing to do without it)."""
        if not self._buffer or self._sink is None:
            return
        data, self._buffer = self._buffer, bytearray()
        held, self._buffered = self._buffered, []
        self._put(data, held)

    def _put(self, data: bytes | bytearray, held: Sequence[Op] | None) -> None:
        """Write ``data``: the records ``held`` (None: the header or the run end)."""
        assert self._sink is not None
        try:
            self._sink.write(data)
            # Flushed per write: a crash must not lose what was already observed.
            self._sink.flush()
        except OSError as exc:
            # Not a bug of ours but of the disk: said once here, and in one line by the CLI.
            logger.warning(
                "cannot write the history; recording goes on in memory",
                extra={"error_type": type(exc).__name__, "error": str(exc)},
            )
            self.sink_error = exc
            self._sink = None
            if not self._retain:
                self._retain = True
                if held:
                    self.kept_from = held[0].index
                    self._ops.extend(held)
                else:
                    self.kept_from = self._count

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[Op]:
        return iter(self._ops)

    @property
    def ops(self) -> list[Op]:
        """The ops kept in memory: every op, unless the history streams without retaining."""
        return list(self._ops)

    def next_index(self) -> int:
        return self._count

    def append(self, op: Op) -> Op:
        """Append a record; enforces one pending invoke per process and dense indices."""
        if self.end is not None:
            raise ValueError(f"op {op.index} appended after the run-end record")
        if op.index != self._count:
            raise ValueError(f"op index {op.index} is not the next index {self._count}")
        if op.type == "invoke":
            if op.process in self._open:
                raise ValueError(f"process {op.process} invoked twice without completing")
            self._open[op.process] = op
        elif self._open.pop(op.process, None) is None:
            raise ValueError(f"process {op.process} completed an op it never invoked")
        self._count += 1
        if self._retain:
            self._ops.append(op)
        self._write(op)
        return op

    def finish(self, end: RunEnd) -> None:
        """Write the run-end record: nothing may be appended after it."""
        if self.end is not None:
            raise ValueError("the history already ended")
        self.end = end
        self._write(end)

    def open_invokes(self) -> list[Op]:
        """The invokes that have no completion yet, in index order."""
        return sorted(self._open.values(), key=lambda op: op.index)

    def operations(self) -> list[Operation]:
        """Pair every invoke with its completion, in invoke order."""
        return pair_operations(self._ops)


def pair_operations(ops: Iterable[Op]) -> list[Operation]:
    """Pair invokes with completions by process, in invoke order; unmatched invokes get None."""
    pending: dict[int, Op] = {}
    done: dict[int, Op] = {}
    invokes: list[Op] = []
    for op in ops:
        if op.type == "invoke":
            pending[op.process] = op
            invokes.append(op)
        else:
            invoke = pending.pop(op.process, None)
            if invoke is not None:
                done[invoke.index] = op
    return [Operation(invoke=i, done=done.get(i.index)) for i in invokes]


def load_history(path: Path) -> History:
    """Read a JSONL history written by :class:`History`; errors name the file and line.

    The file is streamed line by line, so memory holds the ops and never the text beside them.
    """
    try:
        with path.open("rb") as stream:
            return _read(path, stream)
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read history: {exc.strerror or exc}") from exc


def _read(path: Path, stream: IO[bytes]) -> History:
    first = stream.readline()
    if not first:
        raise HistoryError(f"{path}: empty file, expected a history header on line 1")
    history = History(_decode_header(path, first))
    append = history.append
    for number, record in _records(path, stream):
        if isinstance(record, RunEnd):
            try:
                history.finish(record)
            except ValueError as exc:
                raise HistoryError(f"{path}:{number}: invalid run-end record: {exc}") from exc
            continue
        try:
            append(record)
        except ValueError as exc:
            raise HistoryError(f"{path}:{number}: inconsistent op record: {exc}") from exc
    return history


def read_header(path: Path) -> Header:
    """Only the header of a history file (its first line)."""
    try:
        with path.open("rb") as stream:
            first = stream.readline()
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read history: {exc.strerror or exc}") from exc
    if not first:
        raise HistoryError(f"{path}: empty file, expected a history header on line 1")
    return _decode_header(path, first)


def read_records(path: Path) -> Iterator[tuple[int, Op | RunEnd]]:
    """The records after the header with their line numbers, streamed one at a time, so a
    history of any length can be read in constant memory (pairing is not checked here)."""
    try:
        with path.open("rb") as stream:
            stream.readline()
            yield from _records(path, stream)
    except OSError as exc:
        raise HistoryError(f"{path}: cannot read history: {exc.strerror or exc}") from exc


def _records(path: Path, stream: IO[bytes]) -> Iterator[tuple[int, Op | RunEnd]]:
    decode = msgspec.json.Decoder(Op).decode
    ending = msgspec.json.Decoder(RunEnd)
    seen: dict[object, object] = {}
    for number, line in enumerate(stream, start=2):
        if line.startswith(b'{"record":'):
            try:
                yield number, ending.decode(line)
            except msgspec.DecodeError as exc:
                raise HistoryError(f"{path}:{number}: invalid run-end record: {exc}") from exc
            continue
        try:
            op = _shared(decode(line), seen)
        except msgspec.DecodeError as exc:
            if not line.strip():
                continue
            if not line.endswith(b"\n"):
                # The writer died mid-line: everything before it is intact and still evidence.
                logger.warning("history %s ends with a truncated record; ignoring it", path)
                break
            raise HistoryError(f"{path}:{number}: invalid op record: {exc}") from exc
        yield number, op


# Fields whose values repeat across records (one target URL, a few step names, one subject per
# user): a history of a million records would otherwise hold a million copies of each.
_SHARED_FIELDS = ("process", "session", "target", "step", "engine", "error")
_SHARED_CLAIMS = ("sub", "sid", "iat", "exp")


def _shared(op: Op, seen: dict[object, object]) -> Op:
    """``op`` with its repeating values replaced by the first equal ones read.

    The record was just decoded and nobody else holds it yet, so setting its fields in place
    is still part of building it.
    """
    keep, put = seen.setdefault, msgspec.structs.force_setattr
    for record, names in ((op, _SHARED_FIELDS), (op.claims, _SHARED_CLAIMS)):
        if record is None:
            continue
        for name in names:
            value = getattr(record, name)
            if value is not None and (kept := keep(value, value)) is not value:
                put(record, name, kept)
    return op


class _HeaderV1(msgspec.Struct, frozen=True, kw_only=True):
    format: int
    scenario: str
    policy: PresetName
    grace_seconds: float
    targets: list[str]
    seed: int
    started_unix: float


def _decode_header(path: Path, line: bytes) -> Header:
    """Decode the header of any readable format into the current :class:`Header`."""
    try:
        version = msgspec.json.decode(line, type=dict[str, object]).get("format")
        if version not in _READABLE_FORMATS:
            raise HistoryError(
                f"{path}:1: history format {version} is not supported (this version reads "
                f"formats {', '.join(map(str, _READABLE_FORMATS))})"
            )
        if version != 1:
            return msgspec.json.decode(line, type=Header)
        old = msgspec.json.decode(line, type=_HeaderV1)
    except msgspec.DecodeError as exc:
        raise HistoryError(f"{path}:1: not an auth-stress history header: {exc}") from exc
    grace = old.grace_seconds if old.policy in ("idempotent", "overlap") else 0.0
    return Header(
        scenario=old.scenario,
        policy=preset(old.policy, grace),
        targets=old.targets,
        seed=old.seed,
        started_unix=old.started_unix,
    )
