"""Grace-window arithmetic: when was a token *certainly* reused, and when *certainly* not.

The moment a server rotated token ``r`` is never observed. It lies between the earliest send of
any refresh that may have consumed ``r`` (``ok`` or ``info``) and the earliest completion of an
``ok`` refresh that did. A later op ``q`` presenting ``r`` is therefore

- certainly within the window ``W`` iff ``q.recv - earliest_possible_rotation <= W``;
- certainly after it iff ``q.send - latest_possible_rotation > W``;
- otherwise ambiguous, and checkers stay silent.

``W`` is the policy's window: 0 when the policy accepts no replay. Without rotation a refresh
consumes its token only if the server actually returned a different one. A replay may go
``policy.depth`` generations back; a token further behind the family's head is stale whatever
the clock says.

This module also answers the "was the family already legitimately killed?" questions that keep
checkers from blaming the server for a rejection it was entitled to make.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from stress.checkers.base import CheckContext
from stress.checkers.lineage import ROTATING_KINDS, Lineage
from stress.history import Operation
from stress.policy import Policy

__all__ = ["Grace", "possibly_effective"]


def possibly_effective(op: Operation) -> bool:
    """True when the op may have taken effect on the server (``ok`` or ``info``)."""
    return op.outcome != "fail"


@dataclass(frozen=True)
class Grace:
    """Timing questions about one history under one declared policy."""

    lineage: Lineage
    policy: Policy
    window: int

    @classmethod
    def of(cls, lineage: Lineage, ctx: CheckContext) -> Grace:
        return cls(lineage=lineage, policy=ctx.policy, window=ctx.policy.window_ns)

    def consumes(self, op: Operation) -> bool:
        """True when ``op`` certainly consumed its presented refresh token."""
        if op.kind not in ROTATING_KINDS or op.outcome != "ok":
            return False
        if not self.policy.rotates:
            return op.returned is not None and op.returned != op.presented
        return True

    def consumers(self, token: str, exclude: int | None = None) -> list[Operation]:
        """Ops except ``exclude`` that certainly consumed ``token``, earliest completion first."""
        found = [
            o
            for o in self.lineage.presenting.get(token, ())
            if o.index != exclude and self.consumes(o) and o.recv_ns is not None
        ]
        return sorted(found, key=lambda o: (o.recv_ns or 0, o.index))

    def earliest_rotation(self, token: str, candidates: Sequence[Operation] = ()) -> int | None:
        """Earliest send of any op that may have rotated ``token``, ``candidates`` included."""
        sends = [
            o.send_ns
            for o in (*self.lineage.presenting.get(token, ()), *candidates)
            if possibly_effective(o)
        ]
        return min(sends) if sends else None

    def certainly_within(self, op: Operation) -> bool:
        """True when ``op`` completed within ``W`` of the earliest possible rotation of its token.

        ``op`` itself counts as a possible rotation: it may have been the first.
        """
        if op.presented is None or op.recv_ns is None:
            return False
        earliest = self.earliest_rotation(op.presented, (op,))
        return earliest is not None and op.recv_ns - earliest <= self.window

    def stale_after_window(self, op: Operation) -> Operation | None:
        """The op whose completed rotation proves ``op`` presented its token after ``W``."""
        if op.presented is None:
            return None
        for consumer in self.consumers(op.presented, exclude=op.index):
            if consumer.recv_ns is not None and op.send_ns - consumer.recv_ns > self.window:
                return consumer
        return None

    def _children_before(self, token: str, op: Operation) -> list[str]:
        """Children of ``token`` minted by another op that may precede ``op``."""
        found = []
        for child in self.lineage.children.get(token, ()):
            mint = self.lineage.by_index[self.lineage.minted_by[child]]
            if mint.index != op.index and (op.recv_ns is None or mint.send_ns < op.recv_ns):
                found.append(child)
        return found

    def consumed_before(self, token: str, op: Operation) -> Operation | None:
        """The first op that certainly consumed ``token`` before ``op`` was sent."""
        done = [c for c in self.consumers(token) if (c.recv_ns or 0) < op.send_ns]
        return done[0] if done else None

    def stale_ancestor(self, op: Operation) -> tuple[Operation, ...] | None:
        """Mints and a consume proving ``op`` presented a token too many generations back.

        The presented token ``r`` has a descendant ``policy.depth`` generations down that was
        itself consumed before ``op`` was sent, so ``r`` is further behind the family's head
        than any replay may go, whatever the window. Under ``new-pair`` a sibling minted
        inside the window may still be a live head, so every descendant that may precede
        ``op`` down to that depth must have been consumed, and a maybe-consumed (``info``)
        presentation on the way could have minted an unseen live child: then no verdict.
        """
        token = op.presented
        if token is None or op.kind not in ROTATING_KINDS:
            return None
        if self.policy.replay != "new-pair":
            return self._stale_path(token, op, self.policy.depth)
        return self._stale_everywhere(token, op, self.policy.depth)

    def _stale_path(self, token: str, op: Operation, depth: int) -> tuple[Operation, ...] | None:
        """One chain ``token -> ... -> d`` of ``depth`` mints whose last token was consumed."""
        for child in self._children_before(token, op):
            mint = self.lineage.by_index[self.lineage.minted_by[child]]
            if depth == 1:
                consume = self.consumed_before(child, op)
                if consume is not None:
                    return (mint, consume)
                continue
            deeper = self._stale_path(child, op, depth - 1)
            if deeper is not None:
                return (mint, *deeper)
        return None

    def _stale_everywhere(
        self, token: str, op: Operation, depth: int
    ) -> tuple[Operation, ...] | None:
        """Like :meth:`_stale_path`, but every branch down to ``depth`` must be consumed."""
        unseen = [
            o
            for o in self.lineage.presenting.get(token, ())
            if o.index != op.index and o.outcome == "info" and o.send_ns < (op.recv_ns or 0)
        ]
        children = self._children_before(token, op)
        if unseen or op.recv_ns is None or not children:
            return None
        proof: tuple[Operation, ...] | None = None
        for child in children:
            mint = self.lineage.by_index[self.lineage.minted_by[child]]
            consume = self.consumed_before(child, op)
            if consume is None:
                return None
            branch = (mint, consume) if depth == 1 else self._stale_everywhere(child, op, depth - 1)
            if branch is None:
                return None
            proof = proof or ((mint, *branch) if depth > 1 else branch)
        return proof

    def stale_proof(self, op: Operation) -> tuple[Operation, ...] | None:
        """Ops (excluding ``op``) proving that ``op`` certainly presented a stale token."""
        consumer = self.stale_after_window(op)
        if consumer is not None:
            return (consumer,)
        return self.stale_ancestor(op)

    def _descendants_at(self, token: str, depth: int) -> list[str]:
        level = [token]
        for _ in range(depth):
            level = [c for t in level for c in self.lineage.children.get(t, ())]
        return level

    def possible_reuse(self, op: Operation) -> bool:
        """True when ``op`` may have presented an already-rotated token outside the grace.

        Such a presentation may legitimately trigger reuse detection and revoke the family, so
        later rejections in that family prove nothing.
        """
        token = op.presented
        if token is None or op.kind not in ROTATING_KINDS:
            return False
        horizon = op.recv_ns
        earlier = [
            o
            for o in self.lineage.presenting.get(token, ())
            if o.index != op.index
            and possibly_effective(o)
            and (horizon is None or o.send_ns < horizon)
        ]
        if not earlier:
            return False
        if not self.policy.accepts_replay or not self.certainly_within(op):
            return True
        # Within the window, a replay is still reuse when the head may have moved further on
        # than the policy's generations reach.
        return any(
            possibly_effective(o) and (horizon is None or o.send_ns < horizon)
            for deep in self._descendants_at(token, self.policy.depth)
            for o in self.lineage.presenting.get(deep, ())
        )

    @cached_property
    def _revokes(self) -> dict[str, list[Operation]]:
        """Revokes that may have taken effect, per family, earliest send first."""
        found: dict[str, list[Operation]] = defaultdict(list)
        for o in self.lineage.ops:
            family = self.lineage.family_of(o.presented)
            if o.kind == "revoke" and possibly_effective(o) and family is not None:
                found[family].append(o)
        return {k: sorted(v, key=lambda o: (o.send_ns, o.index)) for k, v in found.items()}

    @cached_property
    def _reuses(self) -> dict[str, list[Operation]]:
        """Possibly stale reuses that may have set off reuse detection, per family.

        A presentation the server accepted (``ok``) was not treated as reuse, whatever else it
        proves, so only rejected and indeterminate ones count. Earliest send first.
        """
        found: dict[str, list[Operation]] = defaultdict(list)
        for o in self.lineage.ops:
            family = self.lineage.family_of(o.presented)
            if family is not None and o.outcome != "ok" and self.possible_reuse(o):
                found[family].append(o)
        return {k: sorted(v, key=lambda o: (o.send_ns, o.index)) for k, v in found.items()}

    def family_revoked_before(self, family: str, horizon: int | None) -> Operation | None:
        """A revoke of ``family`` that may have taken effect before ``horizon`` (None: ever)."""
        for o in self._revokes.get(family, ()):
            if horizon is None or o.send_ns < horizon:
                return o
        return None

    def reuse_before(
        self, family: str, horizon: int | None, exclude: Iterable[int] = ()
    ) -> Operation | None:
        """A possibly stale reuse sent before ``horizon`` that may have revoked ``family``.

        Which reuses count follows ``policy.reuse_revokes``: those in the family, those in any
        family of the same user, or none at all when reuse revokes nothing.
        """
        if self.policy.reuse_revokes == "nothing":
            return None
        skip = frozenset(exclude)
        scope = (
            [family] if self.policy.reuse_revokes == "family" else self.lineage.same_user(family)
        )
        found = [
            o
            for f in scope
            for o in self._reuses.get(f, ())
            if (horizon is None or o.send_ns < horizon) and o.index not in skip
        ]
        return min(found, key=lambda o: (o.send_ns, o.index)) if found else None

    def killed_before(
        self, family: str, horizon: int | None, exclude: Iterable[int] = ()
    ) -> Operation | None:
        """A revoke or a stale reuse that may have legitimately killed ``family`` by ``horizon``."""
        return self.family_revoked_before(family, horizon) or self.reuse_before(
            family, horizon, exclude
        )
