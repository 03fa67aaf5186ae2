"""The token lineage: which refresh token became which, and which tokens form one family.

Every checker that reasons about rotation needs the same picture, so it is built once here from
the operations alone. A login's returned refresh token is a root; an ``ok`` refresh or probe that
presented ``r`` and returned ``r'`` (``r' != r``) adds the edge ``r -> r'``. A family is a
connected component of that graph, so families are derived from lineage and never from sessions
(a session may log in twice, and a buggy server may hand one session's successor to another).

Refreshes that ended ``info`` add no edge: their successor, if any, was never seen.

Every checker needs the lineage of the same history, so :func:`build_lineage` keeps the last one
it built and hands it out again for the same operations: an analysis builds it once. Lookups
that walk the graph are bounded by what they answer (``is_ancestor`` by the generations between
the two tokens), never by the length of the history, so a soak family thousands of refreshes
long costs no more per question than a short one.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from operator import attrgetter

from stress.history import Operation

__all__ = ["ROTATING_KINDS", "Burst", "Lineage", "build_lineage", "refresh_bursts", "short"]

# Kinds whose ``presented`` is a refresh token and whose ``ok`` may return a successor.
ROTATING_KINDS = frozenset({"refresh", "probe"})


def short(fp: str | None) -> str:
    """The first 8 characters of a fingerprint, as messages name tokens."""
    return "?" if fp is None else fp[:8]


@dataclass(frozen=True)
class Lineage:
    """The refresh-token graph of one history, with lookups the checkers share."""

    ops: tuple[Operation, ...]
    by_index: dict[int, Operation]
    # token -> family id (the earliest-issued token of its connected component)
    family: dict[str, str]
    # child -> parent, and parent -> children in the order they were first returned
    parent: dict[str, str]
    children: dict[str, tuple[str, ...]]
    # token -> index of the first op that returned it (login, refresh or probe)
    minted_by: dict[str, int]
    # token -> refresh/probe ops presenting it, in invoke order
    presenting: dict[str, tuple[Operation, ...]]
    # access-token fingerprint -> refresh token returned with it
    access_to_refresh: dict[str, str]
    # family -> the ``sub`` claim of its access tokens, when the tokens are readable JWTs
    subject: dict[str, str]

    def family_of(self, token: str | None) -> str | None:
        """The family of a refresh token, or None when the history never issued it."""
        return None if token is None else self.family.get(token)

    def family_of_op(self, op: Operation) -> str | None:
        """The family an operation acted on (``use`` maps through its access token)."""
        if op.kind == "login":
            return self.family_of(op.returned)
        if op.kind == "use":
            refresh = self.access_to_refresh.get(op.presented or "")
            return self.family_of(refresh)
        return self.family_of(op.presented)

    @cached_property
    def families(self) -> tuple[str, ...]:
        """Every family id, in the order their tokens were first seen."""
        return tuple(dict.fromkeys(self.family.values()))

    def same_user(self, family: str) -> list[str]:
        """Families that may belong to the user of ``family`` (all, when subjects are unknown)."""
        sub = self.subject.get(family)
        if sub is None:
            return list(self.families)
        return [f for f in self.families if self.subject.get(f) in (None, sub)]

    def descendants(self, token: str) -> Iterator[str]:
        """Every token derived from ``token`` by refreshes, depth first, excluding itself."""
        stack = list(self.children.get(token, ()))
        seen: set[str] = {token}
        while stack:
            t = stack.pop()
            if t in seen:
                continue
            seen.add(t)
            yield t
            stack.extend(self.children.get(t, ()))

    def is_ancestor(self, older: str, newer: str) -> bool:
        """True when ``newer`` was derived from ``older`` through one or more refreshes.

        A token on a cycle (a server that handed back an older token as a successor) derives
        from every token on that cycle, itself included.
        """
        depth, looping = self._depths
        if newer in looping or older in looping:
            return self._walks_to(older, newer)
        steps = depth.get(newer, 0) - depth.get(older, 0)
        if steps <= 0:
            return False
        t = newer
        for _ in range(steps):
            t = self.parent[t]
        return t == older

    @cached_property
    def _depths(self) -> tuple[dict[str, int], frozenset[str]]:
        """Generations from each token with a parent up to its root, and the tokens whose
        ancestry runs into a cycle instead (they have no depth). Roots have depth 0."""
        depth: dict[str, int] = {}
        looping: set[str] = set()
        for start in self.parent:
            path: list[str] = []
            on_path: set[str] = set()
            t: str | None = start
            while t is not None and t not in depth and t not in looping and t not in on_path:
                path.append(t)
                on_path.add(t)
                t = self.parent.get(t)
            if t is not None and t not in depth:
                looping.update(path)
                continue
            base = -1 if t is None else depth[t]
            for node in reversed(path):
                base += 1
                depth[node] = base
        return depth, frozenset(looping)

    def _walks_to(self, older: str, newer: str) -> bool:
        seen: set[str] = set()
        t = self.parent.get(newer)
        while t is not None and t not in seen:
            if t == older:
                return True
            seen.add(t)
            t = self.parent.get(t)
        return False

    def chain(self, older: str, newer: str) -> list[int]:
        """Indices of the ops that minted each token on the path ``older -> ... -> newer``."""
        path: list[int] = []
        t: str | None = newer
        seen: set[str] = set()
        while t is not None and t != older and t not in seen:
            seen.add(t)
            minted = self.minted_by.get(t)
            if minted is not None:
                path.append(minted)
            t = self.parent.get(t)
        return sorted(path)

    def presented_from(self, token: str, after: int | None) -> tuple[tuple[Operation, ...], int]:
        """The refreshes and probes presenting ``token`` by send time (ties by index), and the
        position of the first one sent at or after ``after`` (0 when None).

        A position, not a slice: a token presented throughout a run (a target that does not
        rotate) would otherwise be copied on every question about it.
        """
        ops = self.presenting.get(token, ())
        if len(ops) == 1:  # most tokens: nothing to sort, nothing worth keeping
            return ops, 0 if after is None or ops[0].send_ns >= after else 1
        found = self._in_time.get(token)
        if found is None:
            ops = tuple(sorted(ops, key=lambda o: (o.send_ns, o.index)))
            found = self._in_time[token] = (tuple(o.send_ns for o in ops), ops)
        sends, ops = found
        return ops, 0 if after is None else bisect_left(sends, after)

    @cached_property
    def _in_time(self) -> dict[str, tuple[tuple[int, ...], tuple[Operation, ...]]]:
        return {}

    @cached_property
    def bursts(self) -> tuple[Burst, ...]:
        """Every burst of two or more refreshes presenting the same token, in invoke order."""
        groups: dict[tuple[int, str], list[Operation]] = defaultdict(list)
        for op in self.ops:
            if op.kind == "refresh" and op.burst is not None and op.presented is not None:
                groups[(op.burst, op.presented)].append(op)
        return tuple(
            Burst(id=burst, token=token, members=tuple(members))
            for (burst, token), members in groups.items()
            if len(members) >= 2
        )


@dataclass(frozen=True)
class Burst:
    """Two or more refreshes of one token sent as one synchronised burst."""

    id: int
    token: str
    members: tuple[Operation, ...]


def refresh_bursts(lineage: Lineage) -> list[Burst]:
    """Every burst of two or more refreshes presenting the same token, in invoke order."""
    return list(lineage.bursts)


_ISSUING = frozenset({"login", "refresh", "probe"})
_INDEX = attrgetter("index")


_last: tuple[tuple[Operation, ...], Lineage] | None = None


def build_lineage(ops: Sequence[Operation]) -> Lineage:
    """Build the lineage graph and families from paired operations.

    The last lineage built is kept and returned again while the operations are the same (the
    comparison is by identity first, so it costs a pass over the references, not a rebuild).
    """
    global _last
    key = tuple(ops)
    if _last is not None and _last[0] == key:
        return _last[1]
    lineage = _build(key)
    _last = (key, lineage)
    return lineage


def _build(ops: tuple[Operation, ...]) -> Lineage:
    ordered = tuple(sorted(ops, key=_INDEX))
    parent: dict[str, str] = {}
    # A token's first child or presentation is stored bare, and only a second one makes a list:
    # most tokens have one of each, and millions of small lists would be millions of objects
    # for the cyclic collector to walk.
    children: dict[str, str | list[str]] = {}
    minted_by: dict[str, int] = {}
    presenting: dict[str, Operation | list[Operation]] = {}
    access_to_refresh: dict[str, str] = {}
    claimed: list[tuple[str, str | None, str | None]] = []  # (sub, returned, presented)
    # Union-find over tokens; the representative is the token issued first.
    uf: dict[str, str] = {}
    first_seen: dict[str, int] = {}

    def find(t: str) -> str:
        root = t
        while uf[root] != root:
            root = uf[root]
        while uf[t] != root:
            uf[t], t = root, uf[t]
        return root

    for op in ordered:
        kind, presented, index = op.kind, op.presented, op.index
        if presented is not None and kind in ROTATING_KINDS:
            seen = presenting.get(presented)
            if seen is None:
                presenting[presented] = op
                if presented not in uf:
                    uf[presented] = presented
                    first_seen[presented] = index
            elif isinstance(seen, list):
                seen.append(op)
            else:
                presenting[presented] = [seen, op]
        if op.outcome != "ok":
            continue
        returned, access, claims = op.returned, op.access, op.claims
        if claims is not None and claims.sub is not None:
            claimed.append((claims.sub, returned, presented))
        if kind not in _ISSUING:
            continue
        if returned is not None:
            if returned not in uf:
                uf[returned] = returned
                first_seen[returned] = index
            minted_by.setdefault(returned, index)
            if access is not None:
                access_to_refresh.setdefault(access, returned)
        if (
            kind != "login"
            and presented is not None
            and returned is not None
            and returned != presented
        ):
            parent.setdefault(returned, presented)
            successors = children.get(presented)
            if successors is None:
                children[presented] = returned
            elif isinstance(successors, list):
                if returned not in successors:
                    successors.append(returned)
            elif successors != returned:
                children[presented] = [successors, returned]
            ra, rb = find(presented), find(returned)
            if ra != rb:
                if first_seen[rb] < first_seen[ra]:
                    ra, rb = rb, ra
                uf[rb] = ra
            continue
        if kind != "login" and access is not None and presented is not None:
            # A non-rotating refresh: its access token belongs to the presented token's family.
            access_to_refresh.setdefault(access, presented)

    family = {t: find(t) for t in uf}
    subject: dict[str, str] = {}
    for sub, returned, presented in claimed:
        owner = family.get(returned or "") or family.get(presented or "")
        if owner is not None:
            subject.setdefault(owner, sub)
    return Lineage(
        ops=ordered,
        by_index={op.index: op for op in ordered},
        family=family,
        parent=parent,
        children={k: tuple(v) if isinstance(v, list) else (v,) for k, v in children.items()},
        minted_by=minted_by,
        presenting={k: tuple(v) if isinstance(v, list) else (v,) for k, v in presenting.items()},
        access_to_refresh=access_to_refresh,
        subject=subject,
    )
