"""lost-response-retry: a retry with the previous token inside the window must succeed."""

from __future__ import annotations

from stress.checkers import lost_response_retry as lost

from .histories import History, ctx


def _lost(h: History) -> int:
    h.login(p=0, returned="A", t=(0, 1))
    # The client dropped the response of this refresh on purpose: the server may have rotated A.
    return h.refresh(p=1, presented="A", t=(2, 4), o="info", step="refresh")


def test_rejected_retry_inside_window_is_caught() -> None:
    h = History()
    first = _lost(h)
    retry = h.refresh(p=2, presented="A", t=(5, 7), o="fail", retry_of=first)
    result = lost.check(h.operations(), ctx("idempotent", 100))
    assert result.verdict == "fail"
    assert result.findings[0].witness == (first, retry)
    assert result.findings[0].key == retry
    assert "retry op 1 of refresh(A)" not in result.findings[0].message
    assert f"retry op {retry} of refresh(A) after the lost response of op {first}" in (
        result.findings[0].message
    )


def test_successful_retry_passes() -> None:
    h = History()
    first = _lost(h)
    h.refresh(p=2, presented="A", returned="B", t=(5, 7), retry_of=first)
    result = lost.check(h.operations(), ctx("overlap", 100))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_retry_after_window_may_be_rejected() -> None:
    h = History()
    first = _lost(h)
    h.refresh(p=2, presented="A", t=(150, 151), o="fail", retry_of=first)
    assert lost.check(h.operations(), ctx("idempotent", 100)).verdict == "pass"


def test_retry_straddling_window_edge_is_ambiguous() -> None:
    h = History()
    first = _lost(h)
    h.refresh(p=2, presented="A", t=(90, 110), o="fail", retry_of=first)
    assert lost.check(h.operations(), ctx("idempotent", 100)).verdict == "pass"


def test_strict_retry_may_fail() -> None:
    h = History()
    first = _lost(h)
    h.refresh(p=2, presented="A", t=(5, 7), o="fail", retry_of=first)
    result = lost.check(h.operations(), ctx("strict", 100))
    assert result.verdict == "pass"
    assert "off" in result.notes[0]


def test_retry_that_timed_out_is_no_alarm() -> None:
    h = History()
    first = _lost(h)
    h.refresh(p=2, presented="A", t=(5, None), retry_of=first)
    h.refresh(p=3, presented="A", t=(5, 60), o="info", status=503, retry_of=first)
    result = lost.check(h.operations(), ctx("idempotent", 100))
    assert result.findings == ()
    assert result.verdict == "unknown"


def test_retry_after_the_successor_was_used_is_excused() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    first = h.refresh(p=1, presented="A", returned="B", t=(2, 4))
    h.refresh(p=3, presented="B", returned="C", t=(5, 6))
    h.refresh(p=2, presented="A", t=(7, 8), o="fail", retry_of=first)
    assert lost.check(h.operations(), ctx("idempotent", 100)).verdict == "pass"
