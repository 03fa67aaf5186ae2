"""self-inflicted-logout: the holder's own concurrent refreshes must leave it a working token."""

from __future__ import annotations

import pytest

from stress.checkers import self_inflicted_logout as logout
from stress.policy import resolve_policy

from .histories import History, ctx


def _strict_burst(h: History, winner_alive: bool) -> tuple[int, int, int]:
    """One tab wins, two lose; the winner's successor is probed once the run is quiet."""
    h.login(p=0, returned="A", t=(0, 1))
    win = h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    lose = h.refresh(p=2, presented="A", t=(2, 6), o="fail", burst=1)
    h.refresh(p=3, presented="A", t=(2, 7), o="fail", burst=1)
    probe = h.probe(
        p=4, presented="B", returned="C" if winner_alive else None, t=(50, 51),
        o="ok" if winner_alive else "fail",
    )  # fmt: skip
    return win, lose, probe


@pytest.mark.parametrize("policy", ["strict", "idempotent", "overlap"])
def test_reuse_detection_that_revokes_the_family_logs_the_holder_out(policy: str) -> None:
    h = History()
    win, lose, probe = _strict_burst(h, winner_alive=False)
    result = logout.check(h.operations(), ctx(policy, 100))  # type: ignore[arg-type]
    assert result.verdict == "fail"
    [found] = result.findings
    assert found.witness == (win, lose, probe)
    assert found.key == probe
    assert [x.why for x in found.blame][1:] == [
        "lost the burst (400 invalid_grant)",
        "B rejected when next presented (400 invalid_grant)",
    ]
    assert "3 concurrent refreshes of A by its holder (1 succeeded, 2 rejected)" in found.message
    assert "B (op 4: 400 invalid_grant) rejected when next presented" in found.message


def test_strict_losers_rejected_with_the_winner_alive_is_safe() -> None:
    h = History()
    _strict_burst(h, winner_alive=True)
    result = logout.check(h.operations(), ctx("strict"))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_one_identical_pair_for_every_tab_is_safe() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    for p in range(1, 5):
        h.refresh(p=p, presented="A", returned="B", access="T", t=(2, 5), burst=1)
    h.probe(p=5, presented="B", returned="C", t=(50, 51))
    assert logout.check(h.operations(), ctx("strict")).verdict == "pass"


def test_a_relaxed_invariant_is_a_warning() -> None:
    h = History()
    _strict_burst(h, winner_alive=False)
    policy = resolve_policy("strict", relax=("self-inflicted-logout",))
    result = logout.check(h.operations(), ctx(policy))
    assert result.verdict == "pass"
    assert [f.severity for f in result.findings] == ["warning"]


def test_a_logout_racing_the_burst_is_no_self_inflicted_logout() -> None:
    h = History()
    _strict_burst(h, winner_alive=False)
    h.revoke(p=9, presented="A", t=(2, 4), burst=1)
    assert logout.check(h.operations(), ctx("strict")).verdict == "pass"


def test_an_attackers_replay_burst_is_not_the_holders() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", returned="B", t=(2, 3))
    h.refresh(p=1, presented="A", t=(10, 12), o="fail", burst=1, step="replay")
    h.refresh(p=2, presented="A", t=(10, 12), o="fail", burst=1, step="replay")
    h.probe(p=0, presented="B", t=(50, 51), o="fail")
    assert logout.check(h.operations(), ctx("strict")).verdict == "pass"


def test_a_stale_reuse_of_the_testers_own_excuses_the_death() -> None:
    h = History()
    _strict_burst(h, winner_alive=True)  # adds B -> C at t=50
    h.refresh(p=5, presented="B", t=(60, 61), o="fail", step="replay")  # reuse after rotation
    h.probe(p=6, presented="C", t=(70, 71), o="fail")
    assert logout.check(h.operations(), ctx("strict")).findings == ()


def test_a_reuse_that_the_policy_says_revokes_nothing_is_no_excuse() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", returned="B", t=(2, 3))
    h.refresh(p=9, presented="A", t=(10, 11), o="fail", step="replay")  # stale reuse
    h.refresh(p=1, presented="B", returned="C", t=(20, 25), burst=1)
    h.refresh(p=2, presented="B", t=(20, 26), o="fail", burst=1)
    h.probe(p=3, presented="C", t=(50, 51), o="fail")
    family = resolve_policy("strict")
    assert logout.check(h.operations(), ctx(family)).verdict == "pass"
    nothing = resolve_policy("strict", reuse_revokes="nothing")
    assert logout.check(h.operations(), ctx(nothing)).verdict == "fail"


def test_no_later_presentation_proves_nothing() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", t=(2, 6), o="fail", burst=1)
    assert logout.check(h.operations(), ctx("strict")).findings == ()


def test_a_burst_with_no_winner_proves_nothing_about_the_burst() -> None:
    # Its token may have been dead before it came: that is a dead successor, not this burst.
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", t=(2, 5), o="fail", burst=1)
    h.refresh(p=2, presented="A", t=(2, 6), o="fail", burst=1)
    h.probe(p=3, presented="A", t=(50, 51), o="fail")
    assert logout.check(h.operations(), ctx("strict")).findings == ()


def test_a_token_that_works_again_later_was_not_dead() -> None:
    # A server that rejects every concurrent refresh (serialisation failures as 400) but keeps
    # the token valid does not log anyone out.
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", t=(2, 5), o="fail", burst=1)
    h.refresh(p=2, presented="A", t=(2, 6), o="fail", burst=1)
    h.refresh(p=3, presented="A", t=(10, 11), o="fail")
    h.probe(p=3, presented="A", returned="B", t=(50, 51))
    assert logout.check(h.operations(), ctx("strict")).verdict == "pass"


def test_an_indeterminate_member_without_a_winner_proves_nothing() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", t=(2, 5), o="fail", burst=1)
    h.refresh(p=2, presented="A", t=(2, 900), o="info", burst=1)
    h.probe(p=3, presented="A", t=(950, 951), o="fail")
    assert logout.check(h.operations(), ctx("strict")).findings == ()


def test_a_second_burst_on_a_dead_family_is_reported_once() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", t=(2, 6), o="fail", burst=1)
    h.refresh(p=1, presented="B", t=(20, 25), o="fail", burst=2)
    h.refresh(p=2, presented="B", t=(20, 26), o="fail", burst=2)
    h.probe(p=3, presented="B", t=(50, 51), o="fail")
    result = logout.check(h.operations(), ctx("strict"))
    assert [f.message.split(":")[0] for f in result.findings] == ["burst 1"]


@pytest.mark.parametrize("error", ["bad_refresh_token", "UNAUTHENTICATED"])
def test_a_refusal_answered_with_200_counts_as_one(error: str) -> None:
    """GitHub's token endpoint and GraphQL APIs refuse with a 200 whose body says no (the
    client recorded it ``fail``): the logout is the same one."""
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", t=(2, 6), o="fail", status=200, error=error, burst=1)
    probe = h.probe(p=3, presented="B", t=(50, 51), o="fail", status=200, error=error)
    result = logout.check(h.operations(), ctx("strict"))
    assert result.verdict == "fail"
    assert result.findings[0].key == probe
    # ...and a 200 the client took for a success is none (nothing was refused).
    alive = History()
    alive.login(p=0, returned="A", t=(0, 1))
    alive.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    alive.probe(p=3, presented="B", returned="C", t=(50, 51))
    assert logout.check(alive.operations(), ctx("strict")).verdict == "pass"
