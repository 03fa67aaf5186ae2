"""The rotation policy as pure functions: what a refresh or a revocation should do.

Why this module exists: every strategy must give the same answers and differ only in concurrency
control. The decision table lives here once, with no I/O, so it can be unit-tested exhaustively;
the ``atomic`` and ``redis-lock`` Lua scripts in ``store`` mirror it line by line.

Policy "idempotent" (P1):

1. unknown family or token                       -> ``unknown_token`` (invalid_grant, no change)
2. family bound to another client                -> ``wrong_client`` (invalid_grant, no change;
   checked before reuse detection so a foreign client cannot revoke the owner's family)
3. family revoked                                -> ``family_revoked`` (a revoked family never
   comes back, grace or not)
4. the current token                             -> ``rotated`` (generation + 1)
5. the immediate predecessor, within ``grace`` of the last rotation, successor still stored
                                                 -> ``replayed`` (the same successor again)
6. the predecessor after grace, or any older token of the family
                                                 -> ``reuse_detected`` (revoke the family)

``grace_ms == 0`` turns rule 5 off: strict single use.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "FamilyState",
    "Outcome",
    "RevokeOutcome",
    "Snapshot",
    "decide_refresh",
    "decide_revoke",
]


class Outcome(StrEnum):
    """Result of presenting a refresh token."""

    ROTATED = "rotated"
    REPLAYED = "replayed"
    REUSE_DETECTED = "reuse_detected"
    FAMILY_REVOKED = "family_revoked"
    UNKNOWN_TOKEN = "unknown_token"
    WRONG_CLIENT = "wrong_client"

    @property
    def succeeded(self) -> bool:
        """True when the client gets tokens back."""
        return self in (Outcome.ROTATED, Outcome.REPLAYED)


class RevokeOutcome(StrEnum):
    """Result of an RFC 7009 revocation request."""

    REVOKED = "revoked"
    ALREADY_REVOKED = "already_revoked"
    UNKNOWN_TOKEN = "unknown_token"
    WRONG_CLIENT = "wrong_client"


@dataclass(frozen=True, slots=True)
class FamilyState:
    """One family's record (token values appear only as SHA-256 hashes)."""

    generation: int
    current: str
    previous: str
    rotated_at_ms: int
    revoked: bool
    client_id: str
    subject: str
    scope: str


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a decision reads, taken at one moment.

    ``known`` says whether the presented hash is in the family's set of rotated-away tokens;
    ``has_successor`` whether the successor of ``previous`` is still stored (it expires with the
    grace window).
    """

    state: FamilyState | None
    known: bool
    has_successor: bool


def decide_refresh(
    snap: Snapshot, presented: str, *, client_id: str, now_ms: int, grace_ms: int
) -> Outcome:
    """Apply the policy table in the module docstring to one refresh request."""
    state = snap.state
    if state is None:
        return Outcome.UNKNOWN_TOKEN
    if state.client_id != client_id:
        return Outcome.WRONG_CLIENT
    if state.revoked:
        return Outcome.FAMILY_REVOKED
    if presented == state.current:
        return Outcome.ROTATED
    if presented == state.previous:
        within = grace_ms > 0 and now_ms - state.rotated_at_ms <= grace_ms
        return Outcome.REPLAYED if within and snap.has_successor else Outcome.REUSE_DETECTED
    return Outcome.REUSE_DETECTED if snap.known else Outcome.UNKNOWN_TOKEN


def decide_revoke(snap: Snapshot, presented: str | None, *, client_id: str) -> RevokeOutcome:
    """Decide an RFC 7009 revocation; ``presented=None`` revokes by family (a verified JWT)."""
    state = snap.state
    if state is None:
        return RevokeOutcome.UNKNOWN_TOKEN
    if state.client_id != client_id:
        return RevokeOutcome.WRONG_CLIENT
    if state.revoked:
        return RevokeOutcome.ALREADY_REVOKED
    if presented is None or presented in (state.current, state.previous) or snap.known:
        return RevokeOutcome.REVOKED
    return RevokeOutcome.UNKNOWN_TOKEN
