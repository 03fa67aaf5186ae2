"""The bounded memo of recent tokens: what it keeps, what it drops, and its bound."""

from __future__ import annotations

import pytest

from stress.recent import Recent


def test_keeps_what_was_stored_or_found_within_its_size() -> None:
    memo: Recent[str, int] = Recent(3)
    for n in range(3):
        memo.put(f"t{n}", n)
    assert [memo.get(f"t{n}") for n in range(3)] == [0, 1, 2]
    memo.put("t3", 3)  # the young generation was full: t0..t2 are the old one now
    assert memo.get("t0") == 0  # found in the old one: young again
    for n in range(4, 7):
        memo.put(f"t{n}", n)
    # t0 was found again within the last 3 stores and is still there; t1 and t2 were not.
    assert ("t0" in memo, "t1" in memo, "t2" in memo) == (True, False, False)
    assert (memo.get("t0"), memo.get("t6")) == (0, 6)


def test_never_holds_more_than_twice_its_size() -> None:
    memo: Recent[int, int] = Recent(100)
    for n in range(10_000):
        memo.put(n, n)
        assert len(memo) <= 200
    assert all(memo.get(n) == n for n in range(9_900, 10_000))
    assert memo.get(0) is None


def test_a_stored_none_is_told_apart_by_membership() -> None:
    memo: Recent[str, None] = Recent(4)
    memo.put("opaque", None)
    assert "opaque" in memo
    assert "other" not in memo


def test_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Recent(0)
