"""The rotation policy as pure functions: what a refresh or a revocation should do.

Why this module exists: every strategy must give the same answers and differ only in concurrency
control. The decision table lives here once, with no I/O, so it can be unit-tested exhaustively;
the Lua scripts in ``family_scripts`` mirror it line by line.

Policy "idempotent" (P1):

1. unknown family or token                       -> ``unknown_token`` (invalid_grant, no change)
2. family bound to another client                -> ``wrong_client`` (invalid_grant, no change;
   checked before reuse detection so a foreign client cannot revoke the owner's family)
3. family revoked                                -> ``family_revoked`` (a revoked family never
   comes back, grace or not)
4. the current token                             -> ``rotated`` (generation + 1)
5. the immediate predecessor, while its successor is replayable
                                                 -> ``replayed`` (the same successor again)
6. the immediate predecessor, arrived while its rotation was still in flight (the successor
   undelivered and its server not given up) or no later than ``tolerance`` after the
   successor's delivery                          -> ``superseded`` (invalid_grant, no change:
   a concurrent request of the holder, such as another tab, not a thief)
7. any other token of the family                 -> ``reuse_detected`` (revoke the family)

So the immediate predecessor is reuse once ``max(grace, tolerance)`` has passed since the
delivery of its successor; older tokens are reuse at once.

When is a successor replayable? Every rotation stores its successor (sealed, see ``tokens``)
as *undelivered*, with the time of the rotation; the server marks it *delivered*, with the
time, once it has Redis's reply and answers 200. A successor is replayable

- for ``grace`` after its rotation or its delivery (the grace window), and
- while undelivered, to any request that arrives after the rotating server has given up
  (``give_up_ms``, the Redis timeout, after the rotation): its client got a 503 or lost the
  connection, never the successor.

So a rotation that Redis commits after the server gave up on it (Redis hung, or crashed after
the commit, or the replica died) still replays to the client's retry with the same token however
late the retry comes, and the first such replay is a delivery that starts a grace window. Each
request is judged at its arrival, not after any wait for a lease. ``grace_ms == 0`` is strict
single use: only the retry of an undelivered rotation replays.

Why rule 6: the requests of one burst (tabs whose interceptors fire at once) reach the store
one after the other, so all but the first find their token already rotated. Reuse detection
that revoked the family for them would log the user out by their own tabs; a request that
arrived before the rotation it lost to was delivered cannot have seen that rotation's answer,
so it is concurrent, not a replay of a stolen token. It is refused and the family lives.

Why ``tolerance``: no arrival stamp the server can take is exact. A request is stamped once
its worker's event loop has read the whole body, which under load lags the bytes' arrival at
the socket by tens or hundreds of milliseconds, and the request that lost may have been read
by another worker process or replica than the one that delivered. A tab that sent before the
winner's answer could reach it may therefore be stamped after the delivery. Rule 6 allows for
that lag: a predecessor presented no later than ``tolerance`` after the delivery is refused
like one stamped before it. The refusal costs no security, since it revokes nothing and hands
out nothing: the late presenter gets no token. All it gives away is detection of a thief who
used the token less than ``tolerance`` before its holder did (the holder is refused and the
family, with the thief's successor, lives on): a far narrower gap than any grace window, which
would hand a late presenter the successor itself. After ``max(grace, tolerance)`` a use of the
predecessor is reuse. ``tolerance_ms == 0`` judges by the arrival stamp alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "FamilyState",
    "Outcome",
    "RevokeOutcome",
    "Snapshot",
    "StoredSuccessor",
    "decide_refresh",
    "decide_revoke",
]


class Outcome(StrEnum):
    """Result of presenting a refresh token."""

    ROTATED = "rotated"
    REPLAYED = "replayed"
    SUPERSEDED = "superseded"
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
    revoked: bool
    client_id: str
    subject: str
    scope: str


@dataclass(frozen=True, slots=True)
class StoredSuccessor:
    """The successor stored for a rotated-away token: sealed, whether it was delivered, and
    since when (its rotation or, once delivered, its delivery; wall-clock ms)."""

    sealed: str
    delivered: bool
    since_ms: int

    def replayable(self, arrival_ms: int, grace_ms: int, give_up_ms: int) -> bool:
        """Inside the grace window, or undelivered after the rotating server gave up."""
        age = arrival_ms - self.since_ms
        if grace_ms > 0 and age <= grace_ms:
            return True
        return not self.delivered and age >= give_up_ms

    def concurrent_at(self, arrival_ms: int, give_up_ms: int, tolerance_ms: int) -> bool:
        """True when a request that arrived at ``arrival_ms`` counts as concurrent with this
        rotation: undelivered and its server not yet given up, or delivered no more than
        ``tolerance_ms`` before that arrival (arrival stamps lag, see the module docstring)."""
        age = arrival_ms - self.since_ms
        if self.delivered:
            return age <= tolerance_ms
        return age < give_up_ms


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Everything a decision reads, taken at one moment.

    ``known`` says whether the presented hash is in the family's set of rotated-away tokens;
    ``successor`` is the successor stored for the presented token, if any.
    """

    state: FamilyState | None
    known: bool
    successor: StoredSuccessor | None


def decide_refresh(
    snap: Snapshot,
    presented: str,
    *,
    client_id: str,
    arrival_ms: int,
    grace_ms: int,
    give_up_ms: int,
    tolerance_ms: int,
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
        successor = snap.successor
        if successor is None:
            return Outcome.REUSE_DETECTED
        if successor.replayable(arrival_ms, grace_ms, give_up_ms):
            return Outcome.REPLAYED
        if successor.concurrent_at(arrival_ms, give_up_ms, tolerance_ms):
            return Outcome.SUPERSEDED
        return Outcome.REUSE_DETECTED
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
