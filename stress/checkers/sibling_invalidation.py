"""Checker ``sibling-invalidation``: a legitimate burst logged the user out.

A burst is two or more refreshes sharing ``burst`` and presenting the same token ``r``. When
the server promised a grace window (``idempotent``/``overlap`` with ``W > 0``), such a burst must
leave the family usable (ROTATION.md invariant 4). Two shapes are reported:

- a member was rejected although it completed certainly within ``W`` of the earliest possible
  rotation of ``r``, or although nothing else could have consumed ``r`` before it (a burst that
  all failed on a fresh token);
- every successor the burst returned was rejected the first time it was presented (or its access
  token was first used).

Either is excused when the family may already have been killed legitimately: a revoke of the
family, a possibly stale reuse in the family, or a child of ``r`` presented before the rejection.
Under ``strict`` (or a zero window) losers may be rejected, so the rule is off; under ``none``
every refresh of a burst must succeed.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckResult, Finding
from stress.checkers.grace import Grace, possibly_effective
from stress.checkers.judging import answer, finding, rejected, verdict
from stress.checkers.lineage import Lineage, build_lineage, short
from stress.history import Operation

__all__ = ["CHECKER_ID", "check"]

CHECKER_ID = "sibling-invalidation"


def _bursts(lineage: Lineage) -> list[tuple[str, list[Operation]]]:
    groups: dict[tuple[int, str], list[Operation]] = defaultdict(list)
    for op in lineage.ops:
        if op.kind == "refresh" and op.burst is not None and op.presented is not None:
            groups[(op.burst, op.presented)].append(op)
    return [(token, members) for (_, token), members in groups.items() if len(members) >= 2]


def _excused(grace: Grace, family: str, token: str, burst: frozenset[int], horizon: int) -> bool:
    """True when the family may have been killed legitimately before ``horizon``."""
    if grace.family_revoked_before(family, horizon) is not None:
        return True
    if grace.policy == "none":
        return False
    if grace.reuse_before(family, horizon, exclude=burst) is not None:
        return True
    return any(
        possibly_effective(o) and o.send_ns < horizon
        for child in grace.lineage.children.get(token, ())
        for o in grace.lineage.presenting.get(child, ())
    )


def _rejected_member(
    grace: Grace, ctx: CheckContext, token: str, family: str, members: list[Operation]
) -> Finding | None:
    burst = frozenset(o.index for o in members)
    for q in sorted(members, key=lambda o: (o.send_ns, o.index)):
        if not rejected(q, ctx) or q.recv_ns is None:
            continue
        if _excused(grace, family, token, burst, q.recv_ns):
            continue
        rivals = [
            o
            for o in grace.lineage.presenting.get(token, ())
            if o.index != q.index and possibly_effective(o) and o.send_ns < q.recv_ns
        ]
        if ctx.policy != "none" and rivals and not grace.certainly_within(q):
            continue
        winner = next((o for o in members if o.outcome == "ok"), None)
        why = "within the grace window" if rivals else "though nothing else consumed it"
        # With no rival, the op that handed out the token is the other half of the proof.
        minted_index = grace.lineage.minted_by.get(token)
        minted = grace.lineage.by_index.get(minted_index) if minted_index is not None else None
        return finding(
            CHECKER_ID,
            f"burst {q.burst}: refresh({short(token)}) op {q.index} rejected ({answer(q)}) {why}",
            [o for o in (winner or minted, q) if o is not None],
        )
    return None


def _evidence(
    lineage: Lineage, ctx: CheckContext, op: Operation, uses_of: dict[str, list[Operation]]
) -> Operation | None:
    """The first presentation of the successor ``op`` returned, if it was rejected."""
    token = op.returned
    if token is None:
        return None
    refreshes = list(lineage.presenting.get(token, ()))
    uses = uses_of.get(op.access, []) if op.access is not None else []
    candidates = sorted([*refreshes, *uses], key=lambda o: (o.send_ns, o.index))
    if not candidates:
        return None
    first = candidates[0]
    if not rejected(first, ctx) or first.recv_ns is None:
        return None
    if first.kind == "use" and any(o.send_ns < first.recv_ns for o in refreshes):
        return None
    return first


def _unusable(
    grace: Grace,
    ctx: CheckContext,
    token: str,
    family: str,
    members: list[Operation],
    uses_of: dict[str, list[Operation]],
) -> Finding | None:
    winners = [o for o in members if o.outcome == "ok" and o.returned not in (None, token)]
    completed = [o for o in members if o.recv_ns is not None]
    if not winners or not all(grace.certainly_within(o) for o in completed):
        return None
    seen: dict[str, Operation] = {}
    for op in winners:
        if op.returned is None or op.returned in seen:
            continue
        evidence = _evidence(grace.lineage, ctx, op, uses_of)
        if evidence is None:
            return None
        seen[op.returned] = evidence
    horizon = max((e.recv_ns or 0) for e in seen.values())
    burst = frozenset(o.index for o in members) | {e.index for e in seen.values()}
    if _excused(grace, family, token, burst, horizon):
        return None
    successors = ", ".join(short(s) for s in seen)
    rejections = ", ".join(str(e.index) for e in seen.values())
    return finding(
        CHECKER_ID,
        f"burst {members[0].burst} on {short(token)} left family {short(family)} unusable: "
        f"successors {successors} were all rejected (ops {rejections}) with no revoke or reuse",
        [*winners, *seen.values()],
    )


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report bursts within the grace window that invalidated their siblings or the family."""
    lineage = build_lineage(ops)
    grace = Grace.of(lineage, ctx)
    bursts = _bursts(lineage)
    relevant = [o for _, members in bursts for o in members]
    if ctx.policy == "strict" or (ctx.policy != "none" and grace.window <= 0):
        note = "off: no grace window, so losers of a burst may be rejected (strict rules)"
        return CheckResult(CHECKER_ID, "pass", notes=(note,))
    notes = [] if bursts else ["no bursts of concurrent refreshes of one token"]
    uses_of: dict[str, list[Operation]] = defaultdict(list)
    for op in lineage.ops:
        if op.kind == "use" and op.presented is not None:
            uses_of[op.presented].append(op)
    findings: list[Finding] = []
    for token, members in bursts:
        family = lineage.family_of(token)
        if family is None:
            continue
        for found in (
            _rejected_member(grace, ctx, token, family, members),
            _unusable(grace, ctx, token, family, members, uses_of)
            if ctx.policy != "none"
            else None,
        ):
            if found is not None:
                findings.append(found)
    return verdict(CHECKER_ID, findings, ctx, relevant, notes)
