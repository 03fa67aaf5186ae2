"""Grace-window arithmetic: when was a token *certainly* reused, and when *certainly* not.

The moment a server rotated token ``r`` is never observed. It lies between the earliest send of
any refresh that may have consumed ``r`` (``ok`` or ``info``) and the earliest completion of an
``ok`` refresh that did. A later op ``q`` presenting ``r`` is therefore

- certainly within the window ``W`` iff ``q.recv - earliest_possible_rotation <= W``;
- certainly after it iff ``q.send - latest_possible_rotation > W``;
- otherwise ambiguous, and checkers stay silent.

``W`` is the policy's window: 0 when the policy accepts no replay. Without rotation a refresh
consumes its token only if the server actually returned a different one. Under
``policy.use_retires`` the window also ends once an access token that a rotation of ``r``
handed out is used: ``q`` is certainly within it only if no such use was sent before ``q``
completed, and certainly after it once an accepted one completed before ``q`` was sent. Under
``policy.max_replays`` a presentation counts past the limit once that many replays and the
rotation, each possibly accepted, were sent before it completed (certainly, once they were
all accepted before it was sent). A
replay may go ``policy.depth`` generations back; a token further behind the family's head is
stale whatever the clock says.

This module also answers the "was the family already legitimately killed?" questions that keep
checkers from blaming the server for a rejection it was entitled to make.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property

from stress.checkers.base import CheckContext
from stress.checkers.lineage import ROTATING_KINDS, Lineage
from stress.history import Operation
from stress.policy import Policy

__all__ = ["Grace", "possibly_effective"]

_Earliest = tuple[tuple[int, int], ...]
"""The (send, index) of the two earliest ops of a set: enough to answer "did any op but one
happen before t?" for every t."""


def possibly_effective(op: Operation) -> bool:
    """True when the op may have taken effect on the server (``ok`` or ``info``)."""
    return op.outcome != "fail"


def _earliest(ops: Iterable[Operation]) -> _Earliest:
    keys = [(o.send_ns, o.index) for o in ops]
    return tuple(heapq.nsmallest(2, keys) if len(keys) > 2 else sorted(keys))


def _any_before(earliest: _Earliest, horizon: int | None, exclude: int | None) -> bool:
    return any(i != exclude and (horizon is None or send < horizon) for send, i in earliest)


def _first_kept(ops: Sequence[Operation], skip: frozenset[int]) -> Operation | None:
    return next((o for o in ops if o.index not in skip), None)


def _by_send(ops: Iterable[Operation]) -> list[Operation]:
    return sorted(ops, key=lambda o: (o.send_ns, o.index))


@dataclass(frozen=True)
class Grace:
    """Timing questions about one history under one declared policy.

    Each answer comes from per-token facts computed once (the consumers in completion order,
    the earliest presentations that may have rotated a token), so a question costs the same in
    a soak family thousands of refreshes long as in a short one.
    """

    lineage: Lineage
    policy: Policy
    window: int

    @classmethod
    def of(cls, lineage: Lineage, ctx: CheckContext) -> Grace:
        """The grace of ``lineage`` under ``ctx``'s policy; the last one (and everything it has
        worked out) is handed out again for the same lineage and policy."""
        global _last
        if _last is None or _last.lineage is not lineage or _last.policy != ctx.policy:
            _last = cls(lineage=lineage, policy=ctx.policy, window=ctx.policy.window_ns)
        return _last

    def consumes(self, op: Operation) -> bool:
        """True when ``op`` certainly consumed its presented refresh token."""
        if op.kind not in ROTATING_KINDS or op.outcome != "ok":
            return False
        if not self.policy.rotates:
            return op.returned is not None and op.returned != op.presented
        return True

    def consumers(self, token: str, exclude: int | None = None) -> list[Operation]:
        """Ops except ``exclude`` that certainly consumed ``token``, earliest completion first."""
        return [o for o in self._consumers(token) if o.index != exclude]

    def _consumers(self, token: str) -> tuple[Operation, ...]:
        ops = self.lineage.presenting.get(token, ())
        if len(ops) == 1:  # most tokens: nothing to sort, nothing worth keeping
            return ops if self.consumes(ops[0]) and ops[0].recv_ns is not None else ()
        found = self._consumed.get(token)
        if found is None:
            kept = (o for o in ops if self.consumes(o) and o.recv_ns is not None)
            found = tuple(sorted(kept, key=lambda o: (o.recv_ns or 0, o.index)))
            self._consumed[token] = found
        return found

    def _effective(self, token: str) -> _Earliest:
        """The two earliest presentations of ``token`` that may have rotated it."""
        ops = self.lineage.presenting.get(token, ())
        if len(ops) <= 2:
            return _earliest(o for o in ops if possibly_effective(o))
        found = self._effective_cache.get(token)
        if found is None:
            found = _earliest(o for o in ops if possibly_effective(o))
            self._effective_cache[token] = found
        return found

    def _unseen(self, token: str) -> _Earliest:
        """The two earliest indeterminate presentations of ``token`` (successor never seen)."""
        ops = self.lineage.presenting.get(token, ())
        if len(ops) <= 2:
            return _earliest(o for o in ops if o.outcome == "info")
        found = self._unseen_cache.get(token)
        if found is None:
            found = self._unseen_cache[token] = _earliest(o for o in ops if o.outcome == "info")
        return found

    @cached_property
    def _consumed(self) -> dict[str, tuple[Operation, ...]]:
        return {}

    @cached_property
    def _effective_cache(self) -> dict[str, _Earliest]:
        return {}

    @cached_property
    def _unseen_cache(self) -> dict[str, _Earliest]:
        return {}

    @cached_property
    def _deep_cache(self) -> dict[str, int | None]:
        return {}

    def rotation_possible_before(
        self, token: str, horizon: int | None, exclude: int | None = None
    ) -> bool:
        """True when an op other than ``exclude`` that may have rotated ``token`` (``ok`` or
        ``info``) presented it before ``horizon`` (at any time, when ``horizon`` is None)."""
        return _any_before(self._effective(token), horizon, exclude)

    def earliest_rotation(self, token: str, candidates: Sequence[Operation] = ()) -> int | None:
        """Earliest send of any op that may have rotated ``token``, ``candidates`` included."""
        sends = [o.send_ns for o in candidates if possibly_effective(o)]
        sends.extend(send for send, _ in self._effective(token)[:1])
        return min(sends) if sends else None

    def certainly_within(self, op: Operation) -> bool:
        """True when ``op`` completed within ``W`` of the earliest possible rotation of its token.

        ``op`` itself counts as a possible rotation: it may have been the first.
        """
        if op.presented is None or op.recv_ns is None:
            return False
        earliest = self.earliest_rotation(op.presented, (op,))
        if earliest is None or op.recv_ns - earliest > self.window:
            return False
        if self.policy.max_replays and self._maybe_beyond_replays(op):
            return False
        return not self.policy.use_retires or not any(
            (send := self._use_sent(c.access)) is not None and send < op.recv_ns
            for c in self._consumers(op.presented)
            if c.index != op.index and c.access is not None
        )

    @cached_property
    def _uses(self) -> tuple[dict[str, int], dict[str, Operation]]:
        """Per access token, the earliest send of a use that may have been served (``ok`` or
        ``info``) and the accepted use that completed first: where ``policy.use_retires`` ends
        a window."""
        sent: dict[str, int] = {}
        accepted: dict[str, Operation] = {}
        for o in self.lineage.ops:
            token = o.presented
            if o.kind != "use" or token is None or not possibly_effective(o):
                continue
            if token not in sent or o.send_ns < sent[token]:
                sent[token] = o.send_ns
            if o.outcome == "ok" and o.recv_ns is not None:
                first = accepted.get(token)
                if first is None or o.recv_ns < (first.recv_ns or 0):
                    accepted[token] = o
        return sent, accepted

    def _use_sent(self, access: str) -> int | None:
        return self._uses[0].get(access)

    def first_use(self, access: str | None) -> Operation | None:
        """The accepted use of ``access`` that completed first (None: never accepted)."""
        return None if access is None else self._uses[1].get(access)

    def _maybe_beyond_replays(self, op: Operation) -> bool:
        """Under ``policy.max_replays``: may the server have counted ``op`` past the replays
        it allows? So when the rotation and those replays, ``max_replays + 1`` other
        presentations that may have been accepted, were sent before ``op`` completed."""
        token, recv = op.presented, op.recv_ns
        if token is None or recv is None:
            return False
        earlier = sum(
            1
            for o in self.lineage.presenting.get(token, ())
            if o.index != op.index and possibly_effective(o) and o.send_ns < recv
        )
        return earlier > self.policy.max_replays

    def beyond_replays(self, op: Operation) -> tuple[Operation, ...] | None:
        """The accepted presentations proving ``op`` came after the rotation and every replay
        ``policy.max_replays`` allows: ``max_replays + 1`` of them completed before ``op`` was
        sent (None: not proven, or no limit)."""
        limit, token = self.policy.max_replays, op.presented
        if not limit or token is None:
            return None
        done = sorted(
            (
                o
                for o in self._consumers(token)
                if o.index != op.index and (o.recv_ns or 0) < op.send_ns
            ),
            key=lambda o: (o.recv_ns or 0, o.index),
        )
        return tuple(done[: limit + 1]) if len(done) > limit else None

    def retired_by_use(self, op: Operation) -> tuple[Operation, Operation] | None:
        """(rotation, use) proving ``op`` presented a token its window had already given up
        under ``policy.use_retires``: a rotation of the token other than ``op`` handed out an
        access token whose accepted use completed before ``op`` was sent."""
        if not self.policy.use_retires or op.presented is None:
            return None
        proofs = [
            (consumer, use)
            for consumer in self._consumers(op.presented)
            if consumer.index != op.index
            and (use := self.first_use(consumer.access)) is not None
            and (use.recv_ns or 0) < op.send_ns
        ]
        return min(proofs, key=lambda p: p[1].recv_ns or 0) if proofs else None

    def stale_after_window(self, op: Operation, horizon: int | None = None) -> Operation | None:
        """The op whose completed rotation proves ``op`` presented its token more than
        ``horizon`` ns (default ``W``) after it.

        Consumers are in completion order, so the first one other than ``op`` decides: every
        later one completed later still.
        """
        if op.presented is None:
            return None
        limit = self.window if horizon is None else horizon
        for consumer in self._consumers(op.presented):
            if consumer.index == op.index:
                continue
            recv = consumer.recv_ns or 0
            return consumer if op.send_ns - recv > limit else None
        return None

    def _children_before(self, token: str, op: Operation) -> list[str]:
        """Children of ``token`` minted by another op that may precede ``op``."""
        found = []
        lineage = self.lineage
        for child in lineage.children.get(token, ()):
            minted = lineage.minted_by[child]
            if minted == op.index:
                continue
            if op.recv_ns is None or lineage.by_index[minted].send_ns < op.recv_ns:
                found.append(child)
        return found

    def consumed_before(self, token: str, op: Operation) -> Operation | None:
        """The first op that certainly consumed ``token`` before ``op`` was sent."""
        first = next(iter(self._consumers(token)), None)
        return first if first is not None and (first.recv_ns or 0) < op.send_ns else None

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
        unseen = _any_before(self._unseen(token), op.recv_ns or 0, op.index)
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
        """Ops (excluding ``op``) proving that ``op`` certainly presented a token the policy
        counts as reused: after both the window and the tolerance, or too many generations
        back (a tolerance spares only the previous token)."""
        consumer = self.stale_after_window(op, self.policy.reuse_horizon_ns)
        if consumer is not None:
            return (consumer,)
        return self.retired_by_use(op) or self.beyond_replays(op) or self.stale_ancestor(op)

    def _deep_earliest(self, token: str) -> int | None:
        """Earliest send that may have rotated a token ``policy.depth`` generations below."""
        if token in self._deep_cache:
            return self._deep_cache[token]
        level = [token]
        for _ in range(self.policy.depth):
            level = [c for t in level for c in self.lineage.children.get(t, ())]
        sends = [send for t in level for send, _ in self._effective(t)[:1]]
        found = self._deep_cache[token] = min(sends) if sends else None
        return found

    def possible_reuse(self, op: Operation) -> bool:
        """True when ``op`` may have presented an already-rotated token outside the grace.

        Such a presentation may legitimately trigger reuse detection and revoke the family, so
        later rejections in that family prove nothing.
        """
        token = op.presented
        if token is None or op.kind not in ROTATING_KINDS:
            return False
        horizon = op.recv_ns
        if not self.rotation_possible_before(token, horizon, exclude=op.index):
            return False
        if not self.policy.accepts_replay or not self.certainly_within(op):
            return True
        # Within the window, a replay is still reuse when the head may have moved further on
        # than the policy's generations reach.
        deep = self._deep_earliest(token)
        return deep is not None and (horizon is None or deep < horizon)

    @cached_property
    def _revokes(self) -> dict[str, list[Operation]]:
        """Revokes that may have taken effect, per family, earliest send first."""
        found: dict[str, list[Operation]] = defaultdict(list)
        for o in self.lineage.ops:
            family = self.lineage.family_of(o.presented)
            if o.kind == "revoke" and possibly_effective(o) and family is not None:
                found[family].append(o)
        return {k: _by_send(v) for k, v in found.items()}

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
        return {k: _by_send(v) for k, v in found.items()}

    @cached_property
    def _user_reuses(self) -> dict[str | None, list[Operation]]:
        """The reuses of every family of each subject (None: families without one), by send."""
        found: dict[str | None, list[Operation]] = defaultdict(list)
        for family, reuses in self._reuses.items():
            found[self.lineage.subject.get(family)].extend(reuses)
        return {k: _by_send(v) for k, v in found.items()}

    @cached_property
    def _all_reuses(self) -> list[Operation]:
        return _by_send(o for reuses in self._reuses.values() for o in reuses)

    def family_revoked_before(self, family: str, horizon: int | None) -> Operation | None:
        """A revoke of ``family`` that may have taken effect before ``horizon`` (None: ever)."""
        first = next(iter(self._revokes.get(family, ())), None)
        return first if first is not None and (horizon is None or first.send_ns < horizon) else None

    def reuse_before(
        self, family: str, horizon: int | None, exclude: Iterable[int] = ()
    ) -> Operation | None:
        """A possibly stale reuse sent before ``horizon`` that may have revoked ``family``.

        Which reuses count follows ``policy.reuse_revokes``: those in the family, those in any
        family of the same user, or none at all when reuse revokes nothing. The earliest one is
        the answer, so only the first of each list (past the excluded ops) needs a look.
        """
        if self.policy.reuse_revokes == "nothing":
            return None
        skip = frozenset(exclude)
        if self.policy.reuse_revokes == "family":
            groups = [self._reuses.get(family, [])]
        elif (sub := self.lineage.subject.get(family)) is None:
            groups = [self._all_reuses]  # an unknown user may own any family
        else:
            groups = [self._user_reuses.get(sub, []), self._user_reuses.get(None, [])]
        found = [
            o
            for group in groups
            if (o := _first_kept(group, skip)) is not None
            and (horizon is None or o.send_ns < horizon)
        ]
        return min(found, key=lambda o: (o.send_ns, o.index)) if found else None

    def killed_before(
        self, family: str, horizon: int | None, exclude: Iterable[int] = ()
    ) -> Operation | None:
        """A revoke or a stale reuse that may have legitimately killed ``family`` by ``horizon``."""
        return self.family_revoked_before(family, horizon) or self.reuse_before(
            family, horizon, exclude
        )


_last: Grace | None = None
