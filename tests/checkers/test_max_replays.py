"""``policy.max_replays``: a window that accepts the previous token only so many times again.

Keycloak with "Refresh Token Max Reuse" and Ory Hydra with a grace reuse count accept a replay
of the previous token inside the window at most N times. The checkers must then excuse a tab
refused past the limit (it was promised), count an acceptance past it as stale, and still see
a family revoked by the burst's own tabs as a self-inflicted logout.
"""

from __future__ import annotations

from stress.checkers import self_inflicted_logout, sibling_invalidation, stale_reuse_accepted
from stress.checkers.base import CheckContext
from stress.policy import resolve_policy

from .histories import History, ctx


def _policy(max_replays: int, reuse: str = "nothing") -> CheckContext:
    policy = resolve_policy(
        "overlap",
        grace_seconds=60,
        reuse_revokes=reuse,  # type: ignore[arg-type]
        max_replays=max_replays,
    )
    return ctx(policy)


def _burst(h: History, answers: str) -> list[int]:
    """One burst of refreshes of A, answered in send order: ``o`` accepted, ``x`` refused."""
    h.login(p=0, returned="A", t=(0, 1))
    return [
        h.refresh(
            p=1 + i,
            presented="A",
            returned=f"B{i}" if answer == "o" else None,
            t=(2 + i * 0.01, 5 + i),
            o="ok" if answer == "o" else "fail",
            burst=1,
        )
        for i, answer in enumerate(answers)
    ]


def test_tabs_refused_past_the_limit_are_promised() -> None:
    h = History()
    _burst(h, "ooxx")
    assert sibling_invalidation.check(h.operations(), _policy(1)).verdict == "pass"
    # Without a limit the same refusals break the window the policy declares.
    assert sibling_invalidation.check(h.operations(), _policy(0)).verdict == "fail"


def test_a_tab_refused_before_the_limit_is_reached_is_still_a_violation() -> None:
    h = History()
    _burst(h, "oxoo")
    result = sibling_invalidation.check(h.operations(), _policy(3))
    assert result.verdict == "fail"


def test_an_acceptance_past_the_limit_is_a_stale_reuse() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    rotation = h.refresh(p=0, presented="A", returned="B", t=(2, 3))
    replay = h.refresh(p=1, presented="A", returned="C", t=(4, 5))
    late = h.refresh(p=2, presented="A", returned="D", t=(6, 7))
    result = stale_reuse_accepted.check(h.operations(), _policy(1))
    assert result.verdict == "fail"
    [found] = result.findings
    assert found.witness == (rotation, replay, late)
    assert "the rotation and the 1 replay(s) the policy allows" in found.message
    assert [x.why for x in found.blame][:2] == [
        "presented A, accepted (1 of 2 allowed)",
        "presented A, accepted (2 of 2 allowed)",
    ]
    assert stale_reuse_accepted.check(h.operations(), _policy(2)).verdict == "pass"


def test_a_family_revoked_by_its_own_tabs_past_the_limit_is_still_a_logout() -> None:
    """Keycloak removes the session when a token is presented once too often: the limit is
    declared, yet the user with more tabs than it is logged out by them."""
    h = History()
    _burst(h, "ooxxxx")
    for i in range(2):  # both winners' successors died with the session
        h.probe(p=20 + i, presented=f"B{i}", t=(30 + i, 31 + i), o="fail")
    result = self_inflicted_logout.check(h.operations(), _policy(1, reuse="family"))
    assert result.verdict == "fail"
