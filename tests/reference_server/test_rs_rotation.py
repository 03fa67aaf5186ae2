"""Pure rotation-policy table: no server, no Redis."""

from __future__ import annotations

import pytest

from reference_server.rotation import (
    FamilyState,
    Outcome,
    RevokeOutcome,
    Snapshot,
    StoredSuccessor,
    decide_refresh,
    decide_revoke,
)

GRACE = 2000
STATE = FamilyState(
    generation=3,
    current="cur",
    previous="prev",
    revoked=False,
    client_id="demo-client",
    subject="user1",
    scope="api",
)


GIVE_UP = 1000
DELIVERED = StoredSuccessor("sealed", delivered=True, since_ms=10_000)
UNDELIVERED = StoredSuccessor("sealed", delivered=False, since_ms=10_000)


def snap(
    state: FamilyState | None = STATE,
    known: bool = False,
    succ: StoredSuccessor | None = DELIVERED,
) -> Snapshot:
    return Snapshot(state=state, known=known, successor=succ)


def decide(
    s: Snapshot, presented: str, now: int = 10_500, grace: int = GRACE, tolerance: int = 0
) -> Outcome:
    return decide_refresh(
        s,
        presented,
        client_id="demo-client",
        arrival_ms=now,
        grace_ms=grace,
        give_up_ms=GIVE_UP,
        tolerance_ms=tolerance,
    )


@pytest.mark.parametrize(
    ("snapshot", "presented", "now", "grace", "expected"),
    [
        (snap(), "cur", 10_500, GRACE, Outcome.ROTATED),
        (snap(), "prev", 10_500, GRACE, Outcome.REPLAYED),
        (snap(), "prev", 12_000, GRACE, Outcome.REPLAYED),
        (snap(), "prev", 12_001, GRACE, Outcome.REUSE_DETECTED),
        (snap(), "prev", 9_000, GRACE, Outcome.REPLAYED),  # arrived before the delivery
        (snap(succ=None), "prev", 10_500, GRACE, Outcome.REUSE_DETECTED),
        # Strict: a request that arrived no later than the delivery of the rotation it lost to
        # is the holder's concurrent request (another tab): refused, the family lives.
        (snap(), "prev", 10_000, 0, Outcome.SUPERSEDED),
        (snap(), "prev", 9_990, 0, Outcome.SUPERSEDED),
        (snap(), "prev", 10_001, 0, Outcome.REUSE_DETECTED),
        # Undelivered: its server gave up after GIVE_UP (a 503 or a lost connection), so a
        # retry replays however late, strict or not; before that, strict is strict.
        (snap(succ=UNDELIVERED), "prev", 12_500, GRACE, Outcome.REPLAYED),
        (snap(succ=UNDELIVERED), "prev", 99_000, GRACE, Outcome.REPLAYED),
        (snap(succ=UNDELIVERED), "prev", 11_000, 0, Outcome.REPLAYED),
        (snap(succ=UNDELIVERED), "prev", 10_900, 0, Outcome.SUPERSEDED),
        (snap(succ=UNDELIVERED), "prev", 10_900, 500, Outcome.SUPERSEDED),
        (snap(known=True, succ=UNDELIVERED), "grandparent", 10_500, GRACE, Outcome.REUSE_DETECTED),
        (snap(known=True), "grandparent", 10_500, GRACE, Outcome.REUSE_DETECTED),
        (snap(), "forged", 10_500, GRACE, Outcome.UNKNOWN_TOKEN),
        (snap(state=None), "cur", 10_500, GRACE, Outcome.UNKNOWN_TOKEN),
    ],
)
def test_refresh_table(
    snapshot: Snapshot, presented: str, now: int, grace: int, expected: Outcome
) -> None:
    assert decide(snapshot, presented, now, grace) is expected


@pytest.mark.parametrize(
    ("snapshot", "presented", "now", "grace", "tolerance", "expected"),
    [
        # Strict with a tolerance: the predecessor stamped up to the tolerance after the
        # delivery is a tab whose arrival was stamped late, refused with the family alive.
        (snap(), "prev", 9_990, 0, 300, Outcome.SUPERSEDED),
        (snap(), "prev", 10_000, 0, 300, Outcome.SUPERSEDED),
        (snap(), "prev", 10_150, 0, 300, Outcome.SUPERSEDED),
        (snap(), "prev", 10_300, 0, 300, Outcome.SUPERSEDED),
        (snap(), "prev", 10_301, 0, 300, Outcome.REUSE_DETECTED),
        # Tolerance 0: judged by the arrival stamp alone, as without one.
        (snap(), "prev", 10_000, 0, 0, Outcome.SUPERSEDED),
        (snap(), "prev", 10_001, 0, 0, Outcome.REUSE_DETECTED),
        # A grace window longer than the tolerance: replayed through it, then reuse.
        (snap(), "prev", 10_200, GRACE, 300, Outcome.REPLAYED),
        (snap(), "prev", 12_000, GRACE, 300, Outcome.REPLAYED),
        (snap(), "prev", 12_001, GRACE, 300, Outcome.REUSE_DETECTED),
        # A tolerance longer than the grace window: replayed, then refused, then reuse.
        (snap(), "prev", 10_500, 500, 1_500, Outcome.REPLAYED),
        (snap(), "prev", 10_501, 500, 1_500, Outcome.SUPERSEDED),
        (snap(), "prev", 11_500, 500, 1_500, Outcome.SUPERSEDED),
        (snap(), "prev", 11_501, 500, 1_500, Outcome.REUSE_DETECTED),
        # Undelivered, the tolerance does not apply: in flight until its server gave up.
        (snap(succ=UNDELIVERED), "prev", 10_900, 0, 5_000, Outcome.SUPERSEDED),
        (snap(succ=UNDELIVERED), "prev", 11_000, 0, 5_000, Outcome.REPLAYED),
        # Older tokens are reuse at once, and so is a predecessor whose successor is gone.
        (snap(known=True), "grandparent", 10_001, 0, 5_000, Outcome.REUSE_DETECTED),
        (snap(succ=None), "prev", 10_001, 0, 5_000, Outcome.REUSE_DETECTED),
    ],
)
def test_refresh_table_with_a_tolerance(
    snapshot: Snapshot, presented: str, now: int, grace: int, tolerance: int, expected: Outcome
) -> None:
    assert decide(snapshot, presented, now, grace, tolerance) is expected


def test_revoked_family_never_comes_back() -> None:
    revoked = FamilyState(**{**_fields(STATE), "revoked": True})
    for presented in ("cur", "prev"):
        assert decide(snap(revoked), presented) is Outcome.FAMILY_REVOKED


def test_foreign_client_cannot_trigger_reuse_detection() -> None:
    outcome = decide_refresh(
        snap(known=True),
        "prev",
        client_id="other",
        arrival_ms=99_999,
        grace_ms=0,
        give_up_ms=0,
        tolerance_ms=0,
    )
    assert outcome is Outcome.WRONG_CLIENT
    assert not outcome.succeeded


def test_revoke_table() -> None:
    assert decide_revoke(snap(), "cur", client_id="demo-client") is RevokeOutcome.REVOKED
    assert decide_revoke(snap(known=True), "old", client_id="demo-client") is RevokeOutcome.REVOKED
    assert decide_revoke(snap(), None, client_id="demo-client") is RevokeOutcome.REVOKED
    assert decide_revoke(snap(), "forged", client_id="demo-client") is RevokeOutcome.UNKNOWN_TOKEN
    assert decide_revoke(snap(), "cur", client_id="x") is RevokeOutcome.WRONG_CLIENT
    assert decide_revoke(snap(None), "cur", client_id="demo-client") is RevokeOutcome.UNKNOWN_TOKEN


def _fields(state: FamilyState) -> dict[str, object]:
    return {name: getattr(state, name) for name in FamilyState.__slots__}
