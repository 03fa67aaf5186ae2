"""A session holds what the run can still present, however long it runs."""

from __future__ import annotations

from stress.drive.session import SessionState


def fp(token: str) -> str:
    return f"fp-{token}"


def test_a_long_session_keeps_a_bounded_chain_and_only_live_leaves() -> None:
    state = SessionState(n=0, tabs=[], keep=3)
    state.start_family("t0", "a0", fp)
    for n in range(1, 10_000):
        state.consume(fp(f"t{n - 1}"))
        state.adopt(f"t{n}", f"a{n}", fp)
    assert state.chain == ["t9997", "t9998", "t9999"]
    assert state.issued == {"fp-t9999": "t9999"}
    assert state.consumed == {"fp-t9997", "fp-t9998"}
    assert state.leaves() == ["t9999"]


def test_a_token_handed_out_again_after_it_was_accepted_is_no_leaf() -> None:
    state = SessionState(n=0, tabs=[])
    state.start_family("t0", None, fp)
    state.adopt("t1", None, fp)
    state.consume(fp("t0"))
    state.consume(fp("t1"))
    state.note_issued("t1", fp)  # an idempotent replay returns the successor again
    state.note_issued("sibling", fp)
    assert state.leaves() == ["t1", "sibling"]  # the current one first, as always
    assert "fp-t1" not in state.issued


def test_each_token_goes_with_the_csrf_value_it_came_with_while_it_can_be_presented() -> None:
    state = SessionState(n=0, tabs=[], keep=2)
    state.start_family("t0", "a0", fp, csrf="c0")
    state.note_issued("sibling", fp, "c-sibling")  # a fork's other successor: a leaf
    state.consume(fp("t0"))
    state.adopt("t1", "a1", fp, "c1")
    assert [state.csrf_of(t) for t in ("t0", "sibling", "t1")] == ["c0", "c-sibling", "c1"]
    state.consume(fp("t1"))
    state.adopt("t2", "a2", fp)  # an answer that set no CSRF cookie: the latest value holds
    assert state.csrf_of("t2") == "c1"
    # t0 left the chain and was accepted: its value is forgotten; the unaccepted sibling's is
    # kept until it is probed and accepted.
    assert state.csrf == {"sibling": "c-sibling", "t1": "c1"}
    state.consume(fp("sibling"))
    assert "sibling" not in state.csrf
    for n in range(3, 1_000):
        state.consume(fp(f"t{n - 1}"))
        state.adopt(f"t{n}", None, fp, f"c{n}")
    assert state.csrf == {"t998": "c998", "t999": "c999"}  # bounded by the chain
    state.start_family("u0", None, fp)  # a new login forgets the old family's values
    assert (state.csrf, state.csrf_of("u0")) == ({}, None)


def test_the_sessions_cookies_are_kept_as_last_set_and_dropped_when_cleared() -> None:
    state = SessionState(n=0, tabs=[0])
    state.set_cookies({"sid": "S1", "_csrf": "C"})
    state.set_cookies({"sid": "S2"})  # a rolling session sets it again
    assert state.cookies == {"sid": "S2", "_csrf": "C"}
    state.set_cookies({"sid": None})  # cleared by the logout
    assert state.cookies == {"_csrf": "C"}
    state.start_family("R", "A", fp=lambda t: t)  # a new login keeps the jar, as a browser does
    assert state.cookies == {"_csrf": "C"}
