"""A replay plan: a finding's witness, as requests to send again with fresh tokens.

A history holds token fingerprints, never tokens, so a witness cannot be re-sent as recorded:
its shape is re-created instead. Every witness op presents a token that some earlier op
returned (a login's pair, a refresh's successor, the access token for a ``use``); the plan
names that op, its *source*, and adds it when it is not in the witness, up to the family's
login. The replay then presents, for each op, the token its source's replay returned: "the
token op 7 returned" becomes "the token the replay's op for 7 returned".

Ops sent before the witness's first request are *setup*: sent one at a time, in their order,
untimed (only their tokens matter). The rest are timed: released at their recorded send offset
from the witness's first request, the members of one recorded burst together with the engine
that burst used, each op only once its source and the previous op of its process are done.

Whether a replay reproduced the finding is decided on the replay's own history: the same
checker must find a violation of the same :class:`Signature` (checker, severity, and the kind
and phase of the key request).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stress.checkers.base import Finding, Severity
from stress.errors import StressError
from stress.history import Operation, OpKind, Phase
from stress.report.model import RunReport
from stress.report.timeline import short_fp

__all__ = ["PlannedOp", "ReplayError", "ReplayPlan", "Signature", "plan_replay", "signature"]

LOST_RESPONSE_STEP = "lost-response"
"""The step name of a refresh whose response the client discarded on purpose."""


class ReplayError(StressError):
    """A finding cannot be replayed: not in the history, or its witness cannot be re-created."""


@dataclass(frozen=True)
class Signature:
    """What "the same kind of violation" means for a replay."""

    checker: str
    severity: Severity
    key_kind: OpKind | None
    key_phase: Phase | None

    def describe(self) -> str:
        """``fork (error), key request a refresh (burst)``."""
        phase = f" ({self.key_phase})" if self.key_phase else ""
        return f"{self.checker} ({self.severity}), key request a {self.key_kind}{phase}"

    def found_in(self, report: RunReport) -> int:
        """How many findings of ``report`` have this signature."""
        return sum(1 for f in report.findings if signature(f, report.by_index) == self)


def signature(finding: Finding, by_index: Mapping[int, Operation]) -> Signature:
    """The signature of ``finding``, its key request looked up in ``by_index``."""
    key = by_index.get(finding.key)
    return Signature(
        checker=finding.checker,
        severity=finding.severity,
        key_kind=key.kind if key is not None else None,
        key_phase=key.phase if key is not None else None,
    )


@dataclass(frozen=True)
class PlannedOp:
    """One op to send again, as the recorded op ``index`` was sent.

    ``source`` is the op whose returned token this one presents (its access token for
    ``use``); None for a login. ``offset_ns`` is its recorded send time from the witness's
    first request (negative for setup). ``burst`` and ``engine`` are the recorded burst and the
    engine it actually used.
    """

    index: int
    kind: OpKind
    session: int
    process: int
    step: str | None
    phase: Phase | None
    target: str | None
    source: int | None
    offset_ns: int
    burst: int | None
    engine: str | None
    retry_of: int | None
    witness: bool

    @property
    def lost_response(self) -> bool:
        """True when the client discarded this op's response on purpose (a lost response)."""
        return self.step == LOST_RESPONSE_STEP

    def describe(self) -> str:
        """``op 12 refresh(op 5's token) session 3``."""
        presents = f"(op {self.source}'s token)" if self.source is not None else "()"
        return f"op {self.index} {self.kind}{presents} session {self.session}"


@dataclass(frozen=True)
class ReplayPlan:
    """The finding numbered ``number``, and the ops that re-create its witness.

    ``timed`` is a list of release groups in offset order: one recorded burst's members, or
    one op on its own.
    """

    number: int
    finding: Finding
    signature: Signature
    setup: tuple[PlannedOp, ...]
    timed: tuple[tuple[PlannedOp, ...], ...]

    @property
    def ops(self) -> list[PlannedOp]:
        return [*self.setup, *(op for group in self.timed for op in group)]


def _sources(operations: Sequence[Operation]) -> tuple[dict[str, int], dict[str, int]]:
    """First op that returned each refresh token (a mint, not a hand-back), and each access
    token."""
    refresh: dict[str, int] = {}
    access: dict[str, int] = {}
    for op in sorted(operations, key=lambda o: o.index):
        if op.outcome != "ok":
            continue
        if op.returned is not None and op.returned != op.presented:
            refresh.setdefault(op.returned, op.index)
        if op.access is not None:
            access.setdefault(op.access, op.index)
    return refresh, access


def _needed(by_index: Mapping[int, Operation], witness: Sequence[int]) -> dict[int, int | None]:
    """Every op the replay needs (the witness and, transitively, the sources of the tokens it
    presents) with its source."""
    refresh, access = _sources(list(by_index.values()))
    needed: dict[int, int | None] = {}
    todo = list(witness)
    while todo:
        index = todo.pop()
        if index in needed:
            continue
        op = by_index.get(index)
        if op is None:
            raise ReplayError(f"witness op {index} is not in the history")
        source: int | None = None
        if op.kind != "login":
            token = op.presented
            if token is None:
                raise ReplayError(f"op {index} ({op.kind}) presented no token to replay")
            source = (access if op.kind == "use" else refresh).get(token)
            if source is None:
                raise ReplayError(
                    f"op {index} ({op.kind}) presents {short_fp(token)}, which no op of the "
                    "history returned: its token cannot be re-created"
                )
            todo.append(source)
        needed[index] = source
    return needed


def plan_replay(
    operations: Sequence[Operation], finding: Finding, number: int, *, whole_bursts: bool = False
) -> ReplayPlan:
    """The plan that re-creates ``finding`` (numbered ``number`` in its report).

    ``whole_bursts`` sends every member of each recorded burst a witness op was part of, not
    only the members the checker blamed: the siblings that consumed a token are often the
    cause of a finding without being part of its proof. Raises :class:`ReplayError` when a
    witness op is missing or presents a token that no recorded op returned.
    """
    by_index = {op.index: op for op in operations}
    witness = set(finding.witness)
    missing = sorted(witness - by_index.keys())
    if missing:
        raise ReplayError(f"witness ops {missing} are not in the history")
    if whole_bursts:
        bursts = {by_index[i].burst for i in witness} - {None}
        witness |= {op.index for op in operations if op.burst in bursts}
    needed = _needed(by_index, sorted(witness))
    start = min(by_index[i].send_ns for i in witness)
    planned = []
    for index in sorted(needed):
        op = by_index[index]
        planned.append(
            PlannedOp(
                index=index,
                kind=op.kind,
                session=op.session,
                process=op.process,
                step=op.invoke.step,
                phase=op.phase,
                target=op.invoke.target,
                source=needed[index],
                offset_ns=op.send_ns - start,
                burst=op.burst if index in witness else None,
                engine=op.engine,
                retry_of=op.invoke.retry_of,
                witness=index in witness,
            )
        )
    setup = tuple(op for op in planned if op.offset_ns < 0)
    groups: dict[tuple[str, int], list[PlannedOp]] = {}
    for planned_op in planned:
        if planned_op.offset_ns < 0:
            continue
        burst = planned_op.burst
        key = ("burst", burst) if burst is not None else ("op", planned_op.index)
        groups.setdefault(key, []).append(planned_op)
    timed = sorted(
        (tuple(group) for group in groups.values()),
        key=lambda group: (min(op.offset_ns for op in group), group[0].index),
    )
    return ReplayPlan(
        number=number,
        finding=finding,
        signature=signature(finding, by_index),
        setup=setup,
        timed=tuple(timed),
    )
