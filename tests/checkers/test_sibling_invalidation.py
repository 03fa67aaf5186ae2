"""sibling-invalidation: a burst inside the grace window must not log the user out."""

from __future__ import annotations

from stress.checkers import sibling_invalidation as sibling

from .histories import History, ctx


def _burst(h: History, second: str = "fail", t2: tuple[float, float] = (2, 6)) -> tuple[int, int]:
    h.login(p=0, returned="A", t=(0, 1))
    a = h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    if second == "fail":
        b = h.refresh(p=2, presented="A", t=t2, o="fail", burst=1)
    else:
        b = h.refresh(p=2, presented="A", returned="B", t=t2, burst=1)
    return a, b


def test_rejected_sibling_inside_window_is_caught() -> None:
    h = History()
    a, b = _burst(h)
    result = sibling.check(h.operations(), ctx("idempotent", 100))
    assert result.verdict == "fail"
    assert result.findings[0].witness == (a, b)
    assert result.findings[0].key == b
    assert "refresh(A) op 2 rejected (400 invalid_grant)" in result.findings[0].message


def test_clean_burst_passes() -> None:
    h = History()
    _burst(h, second="ok")
    h.probe(p=3, presented="B", returned="C", t=(20, 21))
    result = sibling.check(h.operations(), ctx("idempotent", 100))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_strict_losers_may_be_rejected() -> None:
    h = History()
    _burst(h)
    result = sibling.check(h.operations(), ctx("strict", 100))
    assert result.verdict == "pass"
    assert "off" in result.notes[0]


def test_zero_window_is_judged_by_strict_rules() -> None:
    h = History()
    _burst(h)
    assert sibling.check(h.operations(), ctx("overlap", 0)).verdict == "pass"


def test_rejection_that_may_be_after_window_is_ambiguous() -> None:
    h = History()
    _burst(h, t2=(2, 150))  # completed 148 ms after the earliest rotation, W = 100 ms
    assert sibling.check(h.operations(), ctx("overlap", 100)).verdict == "pass"


def test_burst_all_failed_on_fresh_token_is_caught() -> None:
    h = History()
    login = h.login(p=0, returned="A", t=(0, 1))
    first = h.refresh(p=1, presented="A", t=(2, 5), o="fail", burst=1)
    h.refresh(p=2, presented="A", t=(2, 5), o="fail", burst=1)
    result = sibling.check(h.operations(), ctx("overlap", 10))
    assert result.verdict == "fail"
    assert "though nothing else consumed it" in result.findings[0].message
    # The witness shows where the token came from, and its rejection.
    assert result.findings[0].witness == (login, first)
    assert [x.why for x in result.findings[0].blame] == [
        "issued A",
        "A rejected (400 invalid_grant) though nothing else consumed it",
    ]


def test_burst_after_earlier_reuse_is_excused() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 3))
    h.refresh(p=1, presented="A", t=(500, 501), o="fail")  # reuse after W: may revoke family
    h.refresh(p=2, presented="B", t=(600, 605), o="fail", burst=2)
    h.refresh(p=3, presented="B", t=(600, 605), o="fail", burst=2)
    assert sibling.check(h.operations(), ctx("idempotent", 100)).verdict == "pass"


def test_burst_after_revoke_is_excused() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.revoke(p=1, presented="A", t=(1, 2))
    h.refresh(p=2, presented="A", t=(2, 5), o="fail", burst=1)
    h.refresh(p=3, presented="A", t=(2, 5), o="fail", burst=1)
    assert sibling.check(h.operations(), ctx("idempotent", 100)).verdict == "pass"


def test_info_sibling_is_no_alarm() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", t=(2, None), burst=1)
    h.refresh(p=3, presented="A", t=(2, 40), o="info", status=504, burst=1)
    h.refresh(p=4, presented="A", returned="B", t=(2, 6), burst=1)
    result = sibling.check(h.operations(), ctx("idempotent", 100))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_documented_conflict_is_not_a_logout() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", t=(2, 6), o="fail", status=409, burst=1)
    assert sibling.check(h.operations(), ctx("overlap", 100)).verdict == "pass"


def test_none_policy_every_concurrent_refresh_must_succeed() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="A", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", t=(2, 900), o="fail", burst=1)
    assert sibling.check(h.operations(), ctx("none")).verdict == "fail"
