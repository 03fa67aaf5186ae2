"""revocation-race: revocation is final, and wins over a refresh that overlapped it."""

from __future__ import annotations

from stress.checkers import revocation_race as race

from .histories import History, ctx


def test_refresh_after_completed_revoke_is_caught() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    rev = h.revoke(p=1, presented="A", t=(2, 4))
    after = h.refresh(p=2, presented="A", returned="B", t=(5, 7))
    result = race.check(h.operations(), ctx("idempotent", 1000))  # no grace revives a revoke
    assert result.verdict == "fail"
    assert result.findings[0].witness == (rev, after)
    assert result.findings[0].key == after


def test_successor_of_overlapping_refresh_alive_after_both_is_caught() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    rev = h.revoke(p=1, presented="A", t=(2, 6))
    mint = h.refresh(p=2, presented="A", returned="B", t=(2, 5))
    probe = h.probe(p=3, presented="B", returned="C", t=(10, 11))
    result = race.check(h.operations(), ctx("strict"))
    assert result.verdict == "fail"
    assert result.findings[0].witness == (rev, mint, probe)
    assert [(x.why, x.key) for x in result.findings[0].blame] == [
        ("revoked A", False),
        ("issued B", False),
        ("B accepted after the revoke completed", True),
    ]
    assert "derived from A" in result.findings[0].message


def test_overlapping_refresh_may_succeed_if_its_successor_dies() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.revoke(p=1, presented="A", t=(2, 6))
    h.refresh(p=2, presented="A", returned="B", t=(2, 5))
    h.probe(p=3, presented="B", t=(10, 11), o="fail")
    result = race.check(h.operations(), ctx("strict"))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_revoke_of_already_rotated_token_is_skipped() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 3))
    h.revoke(p=2, presented="A", t=(4, 5))  # RFC 7009 answers 200 even if A is unknown now
    h.probe(p=3, presented="B", returned="C", t=(10, 11))
    assert race.check(h.operations(), ctx("strict")).verdict == "pass"


def test_revoke_that_timed_out_proves_nothing() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.revoke(p=1, presented="A", t=(2, 4), o="info")
    h.revoke(p=1, presented="A", t=(5, 7), o="fail", status=401)
    h.refresh(p=2, presented="A", returned="B", t=(10, 12))
    result = race.check(h.operations(), ctx("strict"))
    assert result.findings == ()
    assert result.verdict == "pass"


def test_refresh_sent_before_revoke_completed_may_succeed() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.revoke(p=1, presented="A", t=(2, 6))
    h.refresh(p=2, presented="A", returned="B", t=(5, 8))
    assert race.check(h.operations(), ctx("none")).verdict == "pass"


def test_the_first_recorded_success_in_the_revoked_lineage_is_reported() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    mint = h.refresh(p=1, presented="A", returned="B", t=(4, 7))  # overlaps the revoke
    rev = h.revoke(p=2, presented="A", t=(5, 6))
    derived = h.refresh(p=3, presented="B", returned="C", t=(10, 11))
    h.refresh(p=4, presented="A", returned="D", t=(8, 9))  # sent sooner, recorded later
    [found] = race.check(h.operations(), ctx("strict")).findings
    assert found.witness == (mint, rev, derived)
    assert "derived from A" in found.message
