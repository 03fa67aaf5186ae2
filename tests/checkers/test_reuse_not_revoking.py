"""reuse-not-revoking: a rejected stale reuse must take the family down with it."""

from __future__ import annotations

from stress.checkers import reuse_not_revoking as reuse
from stress.policy import resolve_policy

from .histories import History, ctx


def _rejected_replay(h: History, replay_at: float = 500) -> tuple[int, int]:
    h.login(p=0, returned="A", t=(0, 1))
    rot = h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    replay = h.refresh(p=2, presented="A", t=(replay_at, replay_at + 2), o="fail", step="replay")
    return rot, replay


def test_family_still_refreshing_after_rejected_reuse_is_caught() -> None:
    h = History()
    rot, replay = _rejected_replay(h)
    alive = h.probe(p=3, presented="B", returned="C", t=(510, 511))
    result = reuse.check(h.operations(), ctx("idempotent", 100))
    assert result.verdict == "fail"
    assert result.findings[0].severity == "error"
    assert result.findings[0].witness == (rot, replay, alive)
    assert result.findings[0].key == alive
    assert [x.why for x in result.findings[0].blame] == [
        "rotated A",
        "reused stale A, rejected (400 invalid_grant)",
        "B still refreshed after the reuse",
    ]
    assert "RFC 9700" in result.findings[0].message
    assert "family A still refreshed B" in result.findings[0].message


def test_family_revoked_after_reuse_passes() -> None:
    h = History()
    _rejected_replay(h)
    h.probe(p=3, presented="B", t=(510, 511), o="fail")
    result = reuse.check(h.operations(), ctx("strict"))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_concurrent_survivor_may_linearise_before_the_rejection() -> None:
    h = History()
    _rejected_replay(h)
    h.refresh(p=3, presented="B", returned="C", t=(501, 510))  # sent before the rejection ended
    assert reuse.check(h.operations(), ctx("strict")).verdict == "pass"


def test_rejection_inside_window_is_not_reuse_detection() -> None:
    h = History()
    _rejected_replay(h, replay_at=50)
    h.probe(p=3, presented="B", returned="C", t=(510, 511))
    assert reuse.check(h.operations(), ctx("overlap", 100)).verdict == "pass"


def test_a_rejection_inside_the_tolerance_is_not_reuse_detection() -> None:
    """A strict server sparing late-stamped tabs revokes nothing for a while after a rotation:
    a rejected reuse 500 ms after it is no proof against a 1 s tolerance, one at 1.5 s is."""
    tolerant = resolve_policy("strict", tolerance_seconds=1)
    h = History()
    _rejected_replay(h)
    h.probe(p=3, presented="B", returned="C", t=(510, 511))
    assert reuse.check(h.operations(), ctx("strict")).verdict == "fail"
    assert reuse.check(h.operations(), ctx(tolerant)).verdict == "pass"
    late = History()
    _rejected_replay(late, replay_at=1500)
    late.probe(p=3, presented="B", returned="C", t=(1510, 1511))
    assert reuse.check(late.operations(), ctx(tolerant)).verdict == "fail"


def test_timed_out_replay_is_no_alarm() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    h.refresh(p=2, presented="A", t=(500, 900), o="info", step="replay")
    h.probe(p=3, presented="B", returned="C", t=(910, 911))
    result = reuse.check(h.operations(), ctx("strict"))
    assert result.findings == ()
    assert result.verdict == "unknown"


def test_off_under_none() -> None:
    h = History()
    _rejected_replay(h)
    h.probe(p=3, presented="B", returned="C", t=(510, 511))
    assert reuse.check(h.operations(), ctx("none")).verdict == "pass"


def test_the_survivor_is_the_first_recorded_op_certainly_sent_after_the_rejection() -> None:
    h = History()
    rot, replay = _rejected_replay(h)
    h.refresh(p=3, presented="B", returned="C", t=(501, 503))  # concurrent with the rejection
    survivor = h.refresh(p=4, presented="C", returned="D", t=(520, 521))
    h.probe(p=5, presented="C", returned="E", t=(510, 511))  # recorded later, sent sooner
    [found] = reuse.check(h.operations(), ctx("strict")).findings
    assert found.witness == (rot, replay, survivor)
    assert f"still refreshed C at op {survivor}" in found.message
