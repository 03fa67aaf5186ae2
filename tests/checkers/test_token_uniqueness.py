"""token-uniqueness: no two requests get the same access token, refresh token or jti."""

from __future__ import annotations

import pytest

from stress.checkers import token_uniqueness as uniq
from stress.history import Claims

from .histories import History, ctx


def test_same_refresh_token_for_two_sessions_is_caught() -> None:
    h = History()
    a = h.login(p=0, s=0, returned="A", t=(0, 1))
    b = h.login(p=1, s=1, returned="A", t=(0, 2))
    result = uniq.check(h.operations(), ctx("strict"))
    assert result.verdict == "fail"
    assert result.findings[0].witness == (a, b)
    assert [(x.why, x.key) for x in result.findings[0].blame] == [
        ("got refresh token A", False),
        ("got refresh token A again", True),
    ]
    assert f"refresh token A was returned to op {a} (login) and again to op {b}" in (
        result.findings[0].message
    )


def test_identical_access_tokens_for_simultaneous_requests_are_caught() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", access="T", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="C", access="T", t=(2, 5), burst=1)
    result = uniq.check(h.operations(), ctx("overlap", 100))
    assert result.verdict == "fail"
    assert [f.message.split(" was")[0] for f in result.findings] == ["access token T"]


def test_the_same_jwt_without_a_jti_twice_is_a_warning_that_says_why() -> None:
    # jsonwebtoken's default: {sub, iat, exp} signed deterministically, iat in seconds.
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    bare = Claims(sub="u", iat=100, exp=1000)
    h.refresh(p=1, presented="A", returned="B", access="T", claims=bare, t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="C", access="T", claims=bare, t=(2, 5), burst=1)
    result = uniq.check(h.operations(), ctx("overlap", 100))
    assert result.verdict == "pass"
    (warned,) = result.findings
    assert warned.severity == "warning"
    assert "a JWT with no jti" in warned.message
    # With a jti (the same one, so no random source) it is a failure.
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    stamped = Claims(sub="u", iat=100, exp=1000, jti="j1")
    h.refresh(p=1, presented="A", returned="B", access="T", claims=stamped, t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="C", access="T", claims=stamped, t=(2, 5), burst=1)
    assert uniq.check(h.operations(), ctx("overlap", 100)).verdict == "fail"


def test_idempotent_replay_of_same_pair_is_allowed() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    same = Claims(jti="j1", sub="u")
    h.refresh(p=1, presented="A", returned="B", access="T", claims=same, t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="B", access="T", claims=same, t=(2, 5), burst=1)
    result = uniq.check(h.operations(), ctx("idempotent", 100))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_same_access_token_for_different_presented_tokens_is_caught_even_idempotent() -> None:
    h = History()
    h.login(p=0, returned="A", access="T", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", access="T", t=(2, 5))
    assert uniq.check(h.operations(), ctx("idempotent", 100)).verdict == "fail"


@pytest.mark.parametrize("policy", ["strict", "idempotent", "overlap"])
def test_one_identical_pair_for_every_concurrent_presenter_is_no_finding(policy: str) -> None:
    # A row lock that hands the pair it just minted to every request that waited on it: the
    # safe outcome under any policy, not a uniqueness violation.
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    for p in range(1, 9):
        h.refresh(p=p, presented="A", returned="B", access="T", t=(2, 5 + p), burst=1)
    result = uniq.check(h.operations(), ctx(policy, 100))  # type: ignore[arg-type]
    assert result.verdict == "pass"
    assert result.findings == ()


def test_same_access_token_with_different_refresh_tokens_is_caught() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    first = h.refresh(p=1, presented="A", returned="B", access="T", t=(2, 5), burst=1)
    second = h.refresh(p=2, presented="A", returned="C", access="T", t=(2, 6), burst=1)
    result = uniq.check(h.operations(), ctx("overlap", 100))
    assert result.verdict == "fail"
    assert [f.witness for f in result.findings] == [(first, second)]
    assert result.findings[0].message.startswith("access token T ")


def test_replay_of_an_ancestor_answered_with_the_head_pair_is_no_finding() -> None:
    # Servers that accept several generations back answer an old token with the current pair.
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", returned="B", t=(2, 3))
    h.refresh(p=0, presented="B", returned="C", access="TC", t=(4, 5))
    h.refresh(p=1, presented="A", returned="C", access="TC", t=(6, 7), step="replay")
    assert uniq.check(h.operations(), ctx("idempotent", 100)).verdict == "pass"


def test_repeated_jti_on_distinct_tokens_is_caught() -> None:
    h = History()
    a = h.login(p=0, s=0, returned="A", claims=Claims(jti="j"), t=(0, 1))
    b = h.login(p=1, s=1, returned="X", claims=Claims(jti="j"), t=(0, 1))
    result = uniq.check(h.operations(), ctx("strict"))
    assert result.verdict == "fail"
    assert result.findings[0].witness == (a, b)
    assert result.findings[0].message.startswith("jti j ")


def test_none_policy_returning_the_same_refresh_token_is_by_design() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="A", t=(2, 5))
    h.refresh(p=2, presented="A", returned="A", t=(6, 8))
    result = uniq.check(h.operations(), ctx("none"))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_non_rotation_under_strict_is_a_warning() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="A", t=(2, 5))
    result = uniq.check(h.operations(), ctx("strict"))
    assert result.verdict == "pass"
    assert [f.severity for f in result.findings] == ["warning"]


def test_indeterminate_ops_return_nothing_to_compare() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", t=(2, None))
    h.refresh(p=2, presented="A", t=(2, 50), o="info")
    h.refresh(p=3, presented="A", returned="B", t=(2, 5))
    result = uniq.check(h.operations(), ctx("strict"))
    assert result.findings == ()
    assert result.verdict == "pass"
