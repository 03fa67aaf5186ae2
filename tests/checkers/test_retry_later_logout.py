"""retry-later-logout: a client that retries as a 503/429 Retry-After told it is no thief."""

from __future__ import annotations

import pytest

from stress.checkers import retry_later_logout as retry

from .histories import History, ctx


def _told_to_wait(h: History, status: int = 503, after: float | None = 1.0) -> int:
    h.login(p=0, returned="A", t=(0, 1))
    return h.refresh(p=0, presented="A", t=(2, 5), o="info", status=status, retry_after=after)


@pytest.mark.parametrize("status", [503, 429])
def test_an_obedient_retry_rejected_as_reuse_is_a_logout(status: int) -> None:
    h = History()
    told = _told_to_wait(h, status)
    again = h.refresh(p=1, presented="A", t=(1005, 1006), o="fail", retry_of=told)
    result = retry.check(h.operations(), ctx("idempotent", 2000))
    assert result.verdict == "fail"
    [found] = result.findings
    assert found.witness == (told, again)
    assert found.key == again
    assert found.blame[0].why == f"answered {status} with Retry-After 1s"
    assert f"waited 1s as op 1's {status} Retry-After told it" in found.message


def test_a_retry_sooner_than_told_is_not_judged() -> None:
    h = History()
    told = _told_to_wait(h)
    h.refresh(p=1, presented="A", t=(500, 501), o="fail", retry_of=told)
    assert retry.check(h.operations(), ctx("strict")).findings == ()


def test_a_retry_that_gets_the_successor_passes() -> None:
    h = History()
    told = _told_to_wait(h)
    h.refresh(p=1, presented="A", returned="B", t=(1005, 1006), retry_of=told)
    assert retry.check(h.operations(), ctx("strict")).verdict == "pass"


def test_a_rejected_retry_is_no_logout_while_another_tab_holds_a_live_token() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 4), burst=1)
    told = h.refresh(p=2, presented="A", t=(2, 5), o="info", status=503, retry_after=1, burst=1)
    h.refresh(p=3, presented="A", t=(1005, 1006), o="fail", retry_of=told)
    h.probe(p=4, presented="B", returned="C", t=(1100, 1101))
    assert retry.check(h.operations(), ctx("strict")).findings == ()


def test_a_revoked_family_excuses_the_rejection() -> None:
    h = History()
    told = _told_to_wait(h)
    h.revoke(p=5, presented="A", t=(10, 11))
    h.refresh(p=1, presented="A", t=(1005, 1006), o="fail", retry_of=told)
    assert retry.check(h.operations(), ctx("strict")).findings == ()


def test_without_retry_after_nothing_was_promised() -> None:
    h = History()
    told = _told_to_wait(h, after=None)
    h.refresh(p=1, presented="A", t=(1005, 1006), o="fail", retry_of=told)
    assert retry.check(h.operations(), ctx("strict")).findings == ()


def test_the_losers_of_the_burst_the_retry_started_in_are_no_excuse() -> None:
    """A loser of the same burst presented the token too, but the client was still obedient."""
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", t=(2, 4), o="fail", burst=1)
    told = h.refresh(p=2, presented="A", t=(2, 5), o="info", status=503, retry_after=1, burst=1)
    again = h.refresh(p=3, presented="A", t=(1005, 1006), o="fail", retry_of=told)
    [found] = retry.check(h.operations(), ctx("strict")).findings
    assert found.witness == (told, again)
