"""Grace-window arithmetic: when was a token *certainly* reused, and when *certainly* not.

The moment a server rotated token ``r`` is never observed. It lies between the earliest send of
any refresh that may have consumed ``r`` (``ok`` or ``info``) and the earliest completion of an
``ok`` refresh that did. A later op ``q`` presenting ``r`` is therefore

- certainly within the window ``W`` iff ``q.recv - earliest_possible_rotation <= W``;
- certainly after it iff ``q.send - latest_possible_rotation > W``;
- otherwise ambiguous, and checkers stay silent.

Under ``strict`` the window is 0 whatever the scenario says: single use has no grace. Under
``none`` a refresh consumes its token only if the server actually returned a different one.

This module also answers the "was the family already legitimately killed?" questions that keep
checkers from blaming the server for a rejection it was entitled to make.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from stress.checkers.base import CheckContext, Policy
from stress.checkers.lineage import ROTATING_KINDS, Lineage
from stress.history import Operation

__all__ = ["Grace", "effective_window", "possibly_effective"]


def effective_window(ctx: CheckContext) -> int:
    """The grace window in ns that the declared policy grants (0 under strict)."""
    return 0 if ctx.policy == "strict" else max(ctx.grace_ns, 0)


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
        return cls(lineage=lineage, policy=ctx.policy, window=effective_window(ctx))

    def consumes(self, op: Operation) -> bool:
        """True when ``op`` certainly consumed its presented refresh token."""
        if op.kind not in ROTATING_KINDS or op.outcome != "ok":
            return False
        if self.policy == "none":
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

    def stale_ancestor(self, op: Operation) -> tuple[Operation, Operation] | None:
        """``(mint, consume)`` proving ``op`` presented a token older than the newest's parent.

        The presented token ``r`` had a child ``c`` that was itself consumed before ``op`` was
        sent, so ``r`` is a grandparent of the family's head whatever the window. Under
        ``overlap`` a sibling child minted inside the window may still be the live head, so
        every child that may precede ``op`` must have been consumed, and a maybe-consumed
        (``info``) refresh of ``r`` could have minted an unseen live child: then no verdict.
        """
        token = op.presented
        if token is None or op.kind not in ROTATING_KINDS:
            return None
        horizon = op.recv_ns if op.recv_ns is not None else None
        proofs: list[tuple[Operation, Operation]] = []
        for child in self.lineage.children.get(token, ()):
            mint = self.lineage.by_index[self.lineage.minted_by[child]]
            if mint.index == op.index:
                continue
            if horizon is not None and mint.send_ns >= horizon:
                continue
            done = [c for c in self.consumers(child) if (c.recv_ns or 0) < op.send_ns]
            if done:
                proofs.append((mint, done[0]))
            elif self.policy == "overlap":
                return None
        if not proofs:
            return None
        if self.policy == "overlap":
            unseen = [
                o
                for o in self.lineage.presenting.get(token, ())
                if o.index != op.index and o.outcome == "info" and o.send_ns < (horizon or 0)
            ]
            if unseen or horizon is None:
                return None
        return proofs[0]

    def stale_proof(self, op: Operation) -> tuple[Operation, ...] | None:
        """Ops (excluding ``op``) proving that ``op`` certainly presented a stale token."""
        consumer = self.stale_after_window(op)
        if consumer is not None:
            return (consumer,)
        ancestor = self.stale_ancestor(op)
        return ancestor if ancestor is not None else None

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
        if self.policy in ("strict", "none") or not self.certainly_within(op):
            return True
        # Within the window, reuse is still reuse when a child of the token may have rotated.
        return any(
            possibly_effective(o) and (horizon is None or o.send_ns < horizon)
            for child in self.lineage.children.get(token, ())
            for o in self.lineage.presenting.get(child, ())
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
        """Possibly stale reuses, per family, earliest send first."""
        found: dict[str, list[Operation]] = defaultdict(list)
        for o in self.lineage.ops:
            family = self.lineage.family_of(o.presented)
            if family is not None and self.possible_reuse(o):
                found[family].append(o)
        return {k: sorted(v, key=lambda o: (o.send_ns, o.index)) for k, v in found.items()}

    def family_revoked_before(self, family: str, horizon: int | None) -> Operation | None:
        """A revoke of ``family`` that may have taken effect before ``horizon`` (None: ever)."""
        for o in self._revokes.get(family, ()):
            if horizon is None or o.send_ns < horizon:
                return o
        return None

    def reuse_before(
        self, family: str, horizon: int | None, exclude: frozenset[int] = frozenset()
    ) -> Operation | None:
        """An op in ``family`` that may have been a stale reuse, sent before ``horizon``."""
        for o in self._reuses.get(family, ()):
            if horizon is not None and o.send_ns >= horizon:
                break
            if o.index not in exclude:
                return o
        return None
