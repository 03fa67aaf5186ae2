"""Replay plans from hand-written histories: sources, setup, timed groups, and signatures."""

from __future__ import annotations

import pytest
from checkers.histories import MS, History, ctx

from stress.checkers import fork
from stress.checkers.base import Blame, Finding
from stress.policy import Policy
from stress.report import build_report
from stress.reproduce.witness import ReplayError, plan_replay, signature


def _fork_history() -> History:
    """p0 logs in (A); p1, p2, p3 refresh A in one burst: B and C issued, p3 rejected; then
    p1 uses B's access token."""
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=0)
    h.refresh(p=2, presented="A", returned="C", t=(2.5, 6), burst=0)
    h.refresh(p=3, presented="A", o="fail", t=(2, 7), burst=0)
    h.use(p=1, presented="at1", t=(12, 13))
    return h


def test_a_fork_replays_as_a_login_then_its_burst() -> None:
    ops = _fork_history().operations()
    (finding,) = fork.check(ops, ctx("strict")).findings
    assert finding.witness == (1, 2)
    plan = plan_replay(ops, finding, 3)
    assert [op.index for op in plan.setup] == [0]
    assert plan.setup[0].offset_ns == -2 * MS
    ((first, second),) = plan.timed  # one release group: the burst's blamed members
    assert (first.index, second.index) == (1, 2)
    assert (first.source, second.source) == (0, 0)
    assert (first.burst, first.offset_ns, second.offset_ns) == (0, 0, MS // 2)
    assert all(op.witness for op in (first, second))
    assert not plan.setup[0].witness
    assert plan.signature == signature(finding, {op.index: op for op in ops})
    assert plan.signature.describe() == "fork (error), key request a refresh"


def test_whole_bursts_add_the_unblamed_members() -> None:
    ops = _fork_history().operations()
    (finding,) = fork.check(ops, ctx("strict")).findings
    plan = plan_replay(ops, finding, 1, whole_bursts=True)
    ((*members,),) = plan.timed
    assert [op.index for op in members] == [1, 2, 3]


def test_sources_follow_the_chain_back_to_the_login() -> None:
    ops = _fork_history().operations()
    # A finding blaming only the use: its access token came from op 1, whose token from op 0.
    finding = Finding("jwt-claims", "error", "bad claims", (Blame(4, "used", key=True),))
    plan = plan_replay(ops, finding, 1)
    assert [(op.index, op.source) for op in plan.setup] == [(0, None), (1, 0)]
    ((use,),) = plan.timed
    assert (use.index, use.kind, use.source, use.offset_ns) == (4, "use", 1, 0)
    assert use.describe() == "op 4 use(op 1's token) session 0"


def test_a_token_no_op_returned_cannot_be_replayed() -> None:
    h = History()
    h.refresh(p=1, presented="X", returned="Y", t=(0, 1))
    finding = Finding("fork", "error", "m", (Blame(0, "why", key=True),))
    with pytest.raises(ReplayError, match="no op of the history returned"):
        plan_replay(h.operations(), finding, 1)
    missing = Finding("fork", "error", "m", (Blame(9, "why", key=True),))
    with pytest.raises(ReplayError, match=r"witness ops \[9\] are not in the history"):
        plan_replay(h.operations(), missing, 1)


def test_a_signature_counts_the_same_kind_of_finding_only() -> None:
    ops = _fork_history().operations()
    result = fork.check(ops, ctx("strict"))
    (finding,) = result.findings
    report = build_report(
        scenario="s",
        targets=[],
        policy=Policy(),
        results=[result],
        operations=ops,
        wall_seconds=0,
        started_unix=0,
    )
    same = signature(finding, report.by_index)
    assert same.found_in(report) == 1
    other = signature(
        Finding("fork", "warning", "m", (Blame(1, "why", key=True),)), report.by_index
    )
    assert other.found_in(report) == 0
