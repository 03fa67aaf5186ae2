"""``policy.use_retires``: a use of the access token a rotation handed out ends its window.

Doorkeeper keeps the previous refresh token valid until the new access token is used. The
checkers must then count a replay after that use as stale, excuse a sibling rejected after it,
and see two siblings still alive after it as a fork, while inside the window (no use yet)
everything stays allowed.
"""

from __future__ import annotations

from stress.checkers import dead_successor, fork, reuse_not_revoking, stale_reuse_accepted
from stress.checkers.base import CheckContext
from stress.checkers.grace import Grace
from stress.checkers.lineage import build_lineage
from stress.policy import Policy, resolve_policy

from .histories import History, ctx


def _policy(use_retires: bool, reuse: str = "nothing") -> CheckContext:
    policy: Policy = resolve_policy(
        replay="new-pair",
        grace_seconds=3600,
        generations=4,
        reuse_revokes=reuse,  # type: ignore[arg-type]
        use_retires=use_retires,
    )
    return ctx(policy)


def _siblings(h: History, *, used: bool) -> tuple[int, int, int | None]:
    """A burst of two refreshes of A, the keeper's access token used or not, both probed."""
    h.login(p=0, returned="A", t=(0, 1))
    b = h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="C", t=(2, 6), burst=1)
    use = h.use(p=1, presented=f"at{b}", t=(10, 11)) if used else None
    h.probe(p=3, presented="B", returned="D", t=(20, 21))
    h.probe(p=4, presented="C", returned="E", t=(22, 23))
    return b, 2, use


def test_siblings_alive_after_a_use_ended_their_window_are_a_fork() -> None:
    h = History()
    _, _, use = _siblings(h, used=True)
    result = fork.check(h.operations(), _policy(True))
    assert result.verdict == "fail"
    [found] = result.findings
    assert use is not None
    assert use in found.witness
    assert [x.why for x in found.blame if x.index == use] == ["used at1: the window ended"]
    assert "two live leaves" in found.message
    assert f"though the use at op {use} ended the window that minted them" in found.message


def test_siblings_inside_their_window_are_no_fork() -> None:
    h = History()
    _siblings(h, used=False)
    assert fork.check(h.operations(), _policy(True)).verdict == "pass"


def test_without_use_retires_a_use_changes_nothing() -> None:
    h = History()
    _siblings(h, used=True)
    assert fork.check(h.operations(), _policy(False)).verdict == "pass"


def test_a_replay_accepted_after_the_use_is_a_stale_reuse() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    rotation = h.refresh(p=0, presented="A", returned="B", t=(2, 5))
    use = h.use(p=0, presented=f"at{rotation}", t=(6, 7))
    replay = h.refresh(p=1, presented="A", returned="C", t=(8, 9))
    result = stale_reuse_accepted.check(h.operations(), _policy(True))
    assert result.verdict == "fail"
    [found] = result.findings
    assert found.witness == (rotation, use, replay)
    assert f"accepted after op {use} used the access token that op {rotation}" in found.message
    assert stale_reuse_accepted.check(h.operations(), _policy(False)).verdict == "pass"


def test_a_replay_before_the_use_completed_is_within_the_window() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    rotation = h.refresh(p=0, presented="A", returned="B", t=(2, 5))
    h.use(p=0, presented=f"at{rotation}", t=(6, 9))
    early = h.refresh(p=1, presented="A", returned="C", t=(5.5, 5.8))
    overlapping = h.refresh(p=2, presented="A", t=(7, 8), o="fail")
    grace = Grace.of(build_lineage(h.operations()), _policy(True))
    ops = {o.index: o for o in h.operations()}
    assert grace.certainly_within(ops[early])
    # The use may have been served before it: no longer certainly within, nor certainly stale.
    assert not grace.certainly_within(ops[overlapping])
    assert grace.retired_by_use(ops[overlapping]) is None
    assert stale_reuse_accepted.check(h.operations(), _policy(True)).verdict == "pass"


def test_a_sibling_rejected_after_the_use_is_not_a_dead_successor() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    b = h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="C", t=(2, 6), burst=1)
    h.use(p=1, presented=f"at{b}", t=(10, 11))
    h.probe(p=4, presented="C", t=(22, 23), o="fail")
    assert dead_successor.check(h.operations(), _policy(True)).verdict == "pass"
    # Without the promise nothing retired C: a 200 handed out a token that never worked.
    assert dead_successor.check(h.operations(), _policy(False)).verdict == "fail"


def test_a_rejected_reuse_after_the_use_must_revoke_as_the_policy_says() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    rotation = h.refresh(p=0, presented="A", returned="B", t=(2, 5))
    use = h.use(p=0, presented=f"at{rotation}", t=(6, 7))
    reuse = h.refresh(p=1, presented="A", t=(8, 9), o="fail")
    survivor = h.probe(p=0, presented="B", returned="C", t=(20, 21))
    result = reuse_not_revoking.check(h.operations(), _policy(True, reuse="family"))
    assert result.verdict == "fail"
    [found] = result.findings
    assert found.witness == (rotation, use, reuse, survivor)
    assert [x.why for x in found.blame][:2] == [
        f"rotated A, handing out at{rotation}",
        f"used at{rotation}: the window ended",
    ]
    assert reuse_not_revoking.check(h.operations(), _policy(False, "family")).verdict == "pass"
