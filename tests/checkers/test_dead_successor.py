"""dead-successor: a 200 must not hand out a refresh token that never works."""

from __future__ import annotations

import pytest

from stress.checkers import dead_successor as dead
from stress.history import Claims
from stress.policy import resolve_policy

from .histories import History, ctx


def _last_write_wins(h: History) -> tuple[int, int, int]:
    """Two concurrent refreshes both succeed; only the one written last still works."""
    h.login(p=0, returned="A", t=(0, 1))
    first = h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="C", t=(2, 6), burst=1)
    rejected = h.probe(p=3, presented="B", t=(50, 51), o="fail")
    h.probe(p=4, presented="C", returned="D", t=(52, 53))
    return first, rejected, 0


@pytest.mark.parametrize("policy", ["strict", "overlap", "none"])
def test_last_write_wins_hands_out_a_dead_successor(policy: str) -> None:
    h = History()
    first, rejected, _ = _last_write_wins(h)
    result = dead.check(h.operations(), ctx(policy, 100))  # type: ignore[arg-type]
    assert result.verdict == "fail"
    [found] = result.findings
    assert found.witness == (first, rejected)
    assert [(x.index, x.key) for x in found.blame] == [(first, False), (rejected, True)]
    assert found.blame[1].why == "B rejected when first presented (400 invalid_grant)"
    assert found.message.startswith("refresh op 1 answered 200 with refresh token B, which")


def test_a_sibling_retired_by_the_family_moving_on_is_not_dead() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="C", t=(2, 6), burst=1)
    h.probe(p=4, presented="C", returned="D", t=(50, 51))
    h.probe(p=3, presented="B", t=(52, 53), o="fail")
    assert dead.check(h.operations(), ctx("overlap", 10)).findings == ()


def test_a_revoked_family_excuses_the_rejection() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", returned="B", t=(2, 3))
    h.revoke(p=1, presented="A", t=(4, 5))
    h.probe(p=0, presented="B", t=(10, 11), o="fail")
    assert dead.check(h.operations(), ctx("strict")).findings == ()


def test_reuse_detection_set_off_by_concurrent_losers_is_left_to_self_inflicted_logout() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", t=(2, 6), o="fail", burst=1)
    h.probe(p=3, presented="B", t=(50, 51), o="fail")
    assert dead.check(h.operations(), ctx("strict")).findings == ()


def test_a_login_that_hands_out_a_dead_token() -> None:
    h = History()
    login = h.login(p=0, returned="A", t=(0, 1))
    refresh = h.refresh(p=0, presented="A", t=(2, 3), o="fail")
    result = dead.check(h.operations(), ctx("strict"))
    assert [f.witness for f in result.findings] == [(login, refresh)]


def test_a_token_rejected_once_and_accepted_later_was_not_dead() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", t=(2, 3), o="fail")
    h.refresh(p=0, presented="A", returned="B", t=(4, 5))
    assert dead.check(h.operations(), ctx("strict")).findings == ()


def test_a_relaxed_invariant_is_a_warning() -> None:
    h = History()
    _last_write_wins(h)
    result = dead.check(h.operations(), ctx(resolve_policy("strict", relax=("dead-successor",))))
    assert result.verdict == "pass"
    assert [f.severity for f in result.findings] == ["warning"]


@pytest.mark.parametrize(("head_moved_at", "excused"), [(4, True), (20, False)])
def test_a_replay_inside_the_window_is_reuse_once_the_head_moved_beyond_reach(
    head_moved_at: float, excused: bool
) -> None:
    """One generation back is a replay the window covers, two are reuse that may revoke."""
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", returned="B", t=(2, 3))
    mint = h.refresh(p=0, presented="B", returned="C", t=(head_moved_at, head_moved_at + 1))
    h.refresh(p=1, presented="A", t=(6, 7), o="fail", step="replay")
    dead_at = h.refresh(p=0, presented="C", t=(30, 31), o="fail")
    findings = dead.check(h.operations(), ctx("idempotent", 100)).findings
    assert [f.witness for f in findings] == ([] if excused else [(mint, dead_at)])


def test_reuse_that_revokes_the_user_excuses_only_the_families_that_may_be_theirs() -> None:
    h = History()
    policy = resolve_policy("strict", reuse_revokes="user")
    expected = []
    for n, sub in enumerate(["u1", "u1", "u2", None]):
        base = 100 * n
        h.login(p=0, returned=f"R{n}", t=(base, base + 1), claims=Claims(sub=sub))
        mint = h.refresh(p=0, presented=f"R{n}", returned=f"S{n}", t=(base + 2, base + 3))
        if n == 0:
            h.refresh(p=1, presented="R0", t=(base + 10, base + 11), o="fail", step="replay")
        else:
            dead_at = h.refresh(p=0, presented=f"S{n}", t=(base + 20, base + 21), o="fail")
            if sub == "u2":
                expected.append((mint, dead_at))
    findings = dead.check(h.operations(), ctx(policy)).findings
    assert [f.witness for f in findings] == expected
