"""A target's death is dated where its failures stop saying anything about its behaviour."""

from __future__ import annotations

from collections.abc import Callable

from stress.drive.liveness import UNREACHABLE_AFTER, Liveness

A, B = "http://127.0.0.1:1", "http://127.0.0.1:2"


def _refuse(live: Liveness, where: str, times: range) -> list[bool]:
    return [live.refused(where, t) for t in times]


def _connected_at(attempted: int | None) -> Callable[[str], int | None]:
    """A wire whose latest accepted connection (to any origin) was attempted at ``attempted``."""
    return lambda where: attempted


def test_a_target_that_never_answered_is_dead_at_its_first_refusal() -> None:
    live = Liveness()
    assert live.refused(A, 7) is True
    assert live.dead == {A: 7}
    assert live.refused(A, 9) is False  # already dead: reported once
    assert not live.ever_answered(A)  # refused from the start: it never took a request


def test_a_target_that_answered_is_dead_after_refusals_in_a_row_dated_at_its_last_answer() -> None:
    live = Liveness()
    live.answered(A, 20, _connected_at(5))
    live.answered(B, 90, _connected_at(5))
    died = _refuse(live, A, range(100, 100 + UNREACHABLE_AFTER))
    assert died == [False] * (UNREACHABLE_AFTER - 1) + [True]
    assert live.dead == {A: 20}
    assert live.ever_answered(A)


def test_an_answer_breaks_the_row_of_refusals() -> None:
    live = Liveness()
    live.answered(A, 20, _connected_at(5))
    assert not any(_refuse(live, A, range(30, 30 + UNREACHABLE_AFTER - 1)))
    live.answered(A, 70, _connected_at(5))
    assert not any(_refuse(live, A, range(80, 80 + UNREACHABLE_AFTER - 1)))
    assert live.dead == {}


def test_a_refusal_while_the_target_finishes_what_it_holds_dates_the_death() -> None:
    # A graceful shutdown: the listener is closed at 30, answers to requests sent before
    # keep coming until 60, then every connection is refused.
    live = Liveness()
    live.answered(A, 20, _connected_at(5))
    assert live.refused(A, 30) is False
    live.answered(A, 60, _connected_at(5))  # on a connection from before the refusal
    _refuse(live, A, range(70, 70 + UNREACHABLE_AFTER))
    assert live.dead == {A: 30}


def test_an_answer_sent_after_a_refusal_on_an_older_connection_does_not_contradict_it() -> None:
    # A burst at 30: one member's new connection is refused, the others reuse keep-alive
    # connections opened at 5 and are answered by a server that has stopped listening.
    live = Liveness()
    live.answered(A, 20, _connected_at(5))
    live.refused(A, 30)
    live.answered(A, 45, _connected_at(5))
    live.answered(A, 46, _connected_at(5))
    _refuse(live, A, range(70, 70 + UNREACHABLE_AFTER))
    assert live.dead == {A: 30}


def test_a_connection_accepted_after_a_refusal_contradicts_it() -> None:
    live = Liveness()
    live.answered(A, 20, _connected_at(5))
    live.refused(A, 30)  # a passing refusal: the target accepted a connection attempted later
    live.answered(A, 50, _connected_at(40))
    _refuse(live, A, range(70, 70 + UNREACHABLE_AFTER))
    assert live.dead == {A: 50}
