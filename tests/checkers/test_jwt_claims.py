"""jwt-claims: access tokens verify, are valid on their face, and agree with their family."""

from __future__ import annotations

from stress.checkers import jwt_claims
from stress.history import Claims

from .histories import History, ctx

GOOD = Claims(jti="j", sub="alice", sid="s1", iat=100, nbf=100, exp=400, verified=True)


def _claims(**changes: object) -> Claims:
    fields = {f: getattr(GOOD, f) for f in GOOD.__struct_fields__}
    fields.update(changes)
    return Claims(**fields)


def test_failed_verification_is_caught() -> None:
    h = History()
    bad = h.login(
        p=0, returned="A", claims=_claims(verified=False, verify_error="bad signature"), t=(0, 1)
    )
    result = jwt_claims.check(h.operations(), ctx("strict"))
    assert result.verdict == "fail"
    assert result.findings[0].witness == (bad,)
    assert result.findings[0].key == bad
    assert "failed verification: bad signature" in result.findings[0].message


def test_born_expired_and_never_valid_tokens_are_caught() -> None:
    h = History()
    h.login(p=0, s=0, returned="A", claims=_claims(exp=100), t=(0, 1))
    h.login(p=1, s=1, returned="X", claims=_claims(sub="bob", nbf=500), t=(0, 1))
    result = jwt_claims.check(h.operations(), ctx("strict"))
    assert result.verdict == "fail"
    messages = " | ".join(f.message for f in result.findings)
    assert "at or before iat" in messages
    assert "nbf 500 after exp" in messages


def test_sub_change_within_family_is_caught() -> None:
    h = History()
    a = h.login(p=0, returned="A", claims=GOOD, t=(0, 1))
    b = h.refresh(p=1, presented="A", returned="B", claims=_claims(sub="bob"), t=(2, 5))
    result = jwt_claims.check(h.operations(), ctx("strict"))
    assert result.verdict == "fail"
    assert result.findings[0].witness == (a, b)
    assert [(x.why, x.key) for x in result.findings[0].blame] == [
        ("sub 'alice'", False),
        ("sub 'bob' in the same family", True),
    ]
    assert "changed sub from 'alice'" in result.findings[0].message


def test_sid_change_within_family_is_caught_but_missing_sid_is_not() -> None:
    h = History()
    h.login(p=0, returned="A", claims=GOOD, t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", claims=_claims(sid=None), t=(2, 5))
    assert jwt_claims.check(h.operations(), ctx("strict")).verdict == "pass"
    h.refresh(p=1, presented="B", returned="C", claims=_claims(sid="s2"), t=(6, 8))
    assert jwt_claims.check(h.operations(), ctx("strict")).verdict == "fail"


def test_consistent_family_and_other_users_pass() -> None:
    h = History()
    h.login(p=0, s=0, returned="A", claims=GOOD, t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", claims=_claims(iat=200, exp=500), t=(2, 5))
    h.login(p=2, s=1, returned="X", claims=_claims(sub="bob", sid="s9"), t=(0, 1))
    result = jwt_claims.check(h.operations(), ctx("overlap", 10))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_opaque_tokens_and_indeterminate_ops_are_no_alarm() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", t=(2, None))
    h.refresh(p=2, presented="A", returned="B", t=(3, 5))
    result = jwt_claims.check(h.operations(), ctx("strict"))
    assert result.verdict == "pass"
    assert "no access-token claims" in result.notes[0]


def test_unverified_tokens_are_noted() -> None:
    h = History()
    h.login(p=0, returned="A", claims=_claims(verified=None), t=(0, 1))
    result = jwt_claims.check(h.operations(), ctx("strict"))
    assert result.verdict == "pass"
    assert "not verified" in result.notes[0]


def test_tokens_signed_with_a_shared_secret_pass_with_the_reason_noted() -> None:
    h = History()
    why = "signed with HS256, a shared secret that no JWKS publishes"
    h.login(p=0, returned="A", claims=_claims(verified=None, verify_error=why), t=(0, 1))
    h.refresh(p=0, presented="A", returned="B", claims=_claims(verified=None, verify_error=why),
              t=(2, 3))  # fmt: skip
    result = jwt_claims.check(h.operations(), ctx("strict"))
    assert (result.verdict, result.findings) == ("pass", ())
    assert list(result.notes) == [f"2 access token(s) not verified: {why}"]
