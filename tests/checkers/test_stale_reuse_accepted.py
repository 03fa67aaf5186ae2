"""stale-reuse-accepted: a token past its window, or a grandparent, must be refused."""

from __future__ import annotations

from stress.checkers import stale_reuse_accepted as stale
from stress.policy import resolve_policy

from .histories import History, ctx


def test_strict_reuse_after_completed_rotation_is_caught() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    rot = h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    reuse = h.refresh(p=2, presented="A", returned="C", t=(6, 8), step="replay")
    result = stale.check(h.operations(), ctx("strict", 1000))  # strict ignores the window
    assert result.verdict == "fail"
    assert result.findings[0].witness == (rot, reuse)
    assert [(x.index, x.why, x.key) for x in result.findings[0].blame] == [
        (rot, "rotated A", False),
        (reuse, f"presented A after op {rot} rotated it, accepted", True),
    ]
    assert f"refresh(A) op {reuse} accepted 1.0 ms after op {rot}" in result.findings[0].message


def test_strict_concurrent_ops_may_linearise_either_way() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="B", t=(4, 8), burst=1)
    assert stale.check(h.operations(), ctx("strict")).verdict == "pass"


def test_idempotent_replay_inside_window_passes() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    h.refresh(p=2, presented="A", returned="B", t=(50, 52), step="replay")
    result = stale.check(h.operations(), ctx("idempotent", 100))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_idempotent_replay_after_window_is_caught() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    h.refresh(p=2, presented="A", returned="B", t=(106, 108), step="replay")
    assert stale.check(h.operations(), ctx("idempotent", 100)).verdict == "fail"


def test_replay_near_window_edge_is_ambiguous() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    # Sent 102 ms after the rotation began but only 99 ms after it certainly ended: the
    # rotation may have happened at 4.9 ms, so the replay may still be inside W = 100 ms.
    h.refresh(p=2, presented="A", returned="B", t=(104, 106), step="replay")
    assert stale.check(h.operations(), ctx("idempotent", 100)).verdict == "pass"


def test_replay_just_past_window_is_caught() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    h.refresh(p=2, presented="A", returned="B", t=(105.5, 106), step="replay")
    assert stale.check(h.operations(), ctx("idempotent", 100)).verdict == "fail"


def test_grandparent_inside_window_is_caught() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    mint = h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    consume = h.refresh(p=1, presented="B", returned="C", t=(6, 8))
    reuse = h.refresh(p=2, presented="A", returned="D", t=(10, 12), step="replay")
    result = stale.check(h.operations(), ctx("overlap", 1000))
    assert result.verdict == "fail"
    assert result.findings[0].witness == (mint, consume, reuse)
    assert [(x.why, x.key) for x in result.findings[0].blame] == [
        ("issued B", False),
        ("rotated B", False),
        ("presented A, 2 generations behind, accepted", True),
    ]
    assert (
        "2 generations behind: B (op 1) was already rotated by op 2" in result.findings[0].message
    )


def test_overlap_grandparent_with_unseen_sibling_is_ambiguous() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    h.refresh(p=3, presented="A", t=(3, 9), o="info")  # may have minted a live sibling of B
    h.refresh(p=1, presented="B", returned="C", t=(6, 8))
    h.refresh(p=2, presented="A", returned="D", t=(10, 12), step="replay")
    assert stale.check(h.operations(), ctx("overlap", 1000)).verdict == "pass"


def test_info_rotation_proves_nothing() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", t=(2, 5), o="info")
    h.refresh(p=2, presented="A", returned="B", t=(50, 52))
    h.refresh(p=3, presented="B", t=(60, None))
    h.probe(p=4, presented="B", returned="C", t=(70, 71))
    result = stale.check(h.operations(), ctx("strict"))
    assert result.findings == ()
    assert result.verdict == "pass"


def test_none_policy_same_token_reuse_is_by_design() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="A", t=(2, 5))
    h.refresh(p=2, presented="A", returned="A", t=(6, 8))
    assert stale.check(h.operations(), ctx("none")).findings == ()


def test_none_policy_rotating_server_accepting_old_token_is_a_warning() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    h.refresh(p=2, presented="A", returned="C", t=(6, 8))
    result = stale.check(h.operations(), ctx("none"))
    assert result.verdict == "pass"
    assert [f.severity for f in result.findings] == ["warning"]


def test_generations_set_how_far_back_a_replay_inside_the_window_may_go() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", returned="B", t=(2, 3))
    h.refresh(p=0, presented="B", returned="C", t=(4, 5))
    h.refresh(p=0, presented="C", returned="D", t=(6, 7))
    grandparent = h.refresh(p=1, presented="B", returned="D", t=(10, 11), step="replay")
    great = h.refresh(p=2, presented="A", returned="D", t=(12, 13), step="replay")
    two = resolve_policy(replay="same-pair", grace_seconds=1, generations=2)
    result = stale.check(h.operations(), ctx(two))
    assert [f.witness[-1] for f in result.findings] == [great]
    assert "3 generations behind" in result.findings[0].message
    one = stale.check(h.operations(), ctx("idempotent", 1000))
    assert sorted(f.witness[-1] for f in one.findings) == [grandparent, great]
