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
