"""Checker ``sibling-invalidation``: a burst member was rejected although the policy promised grace.

A burst is two or more refreshes sharing ``burst`` and presenting the same token ``r``. When the
target promises that a replay inside the window is accepted (``policy.replay`` other than
``rejected``, with a window above 0), no member of such a burst may be rejected if it completed
certainly within ``W`` of the earliest possible rotation of ``r``, nor when nothing else could
have consumed ``r`` before it (a burst that all failed on a fresh token). Without rotation
every refresh of a burst must succeed.

A rejection is excused when the family may already have been killed legitimately: a revoke of
the family, a possibly stale reuse (as ``policy.reuse_revokes`` scopes it), or a child of ``r``
presented before the rejection. Under single use (no window) losers may be rejected, so the rule
is off; whether the family survived such a burst is the ``self-inflicted-logout`` invariant.
"""

from __future__ import annotations

from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding
from stress.checkers.grace import Grace
from stress.checkers.judging import answer, finding, rejected, verdict
from stress.checkers.lineage import build_lineage, refresh_bursts, short
from stress.history import Operation

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check"]

CHECKER_ID = "sibling-invalidation"
KIND: CheckerClass = "policy-dependent"
MEANING = (
    "A refresh in a burst of concurrent refreshes of one token was rejected although the declared "
    "policy promises to accept a replay within its grace window: users with several tabs are "
    "logged out by their own requests. Honour the window the policy declares, or declare the "
    "policy the server really has (for example strict, single use), so that the run judges what "
    "the server promises."
)


def _excused(grace: Grace, family: str, token: str, burst: frozenset[int], horizon: int) -> bool:
    """True when the family may have been killed legitimately before ``horizon``."""
    if not grace.policy.rotates:
        return grace.family_revoked_before(family, horizon) is not None
    if grace.killed_before(family, horizon, exclude=burst) is not None:
        return True
    children = grace.lineage.children.get(token, ())
    return any(grace.rotation_possible_before(child, horizon) for child in children)


def _rejected_member(
    grace: Grace, ctx: CheckContext, token: str, family: str, members: list[Operation]
) -> Finding | None:
    burst = frozenset(o.index for o in members)
    for q in sorted(members, key=lambda o: (o.send_ns, o.index)):
        if not rejected(q, ctx) or q.recv_ns is None:
            continue
        if _excused(grace, family, token, burst, q.recv_ns):
            continue
        rivals = grace.rotation_possible_before(token, q.recv_ns, exclude=q.index)
        if ctx.policy.rotates and rivals and not grace.certainly_within(q):
            continue
        winner = next((o for o in members if o.outcome == "ok"), None)
        why = "within the grace window" if rivals else "though nothing else consumed it"
        # With no rival, the op that handed out the token is the other half of the proof.
        minted_index = grace.lineage.minted_by.get(token)
        minted = grace.lineage.by_index.get(minted_index) if minted_index is not None else None
        if winner is not None:
            proof = [(winner, f"won the burst: {short(token)} -> {short(winner.returned)}")]
        else:
            proof = [(minted, f"issued {short(token)}")] if minted is not None else []
        return finding(
            CHECKER_ID,
            f"burst {q.burst}: refresh({short(token)}) op {q.index} rejected ({answer(q)}) {why}",
            key=(q, f"{short(token)} rejected ({answer(q)}) {why}"),
            proof=proof,
        )
    return None


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report bursts within the grace window that had a member rejected."""
    if ctx.policy.rotates and not ctx.policy.accepts_replay:
        note = "off: the policy accepts no replay, so losers of a burst may be rejected"
        return CheckResult(CHECKER_ID, "pass", notes=(note,))
    lineage = build_lineage(ops)
    grace = Grace.of(lineage, ctx)
    found = refresh_bursts(lineage)
    relevant = [o for burst in found for o in burst.members]
    notes = [] if found else ["no bursts of concurrent refreshes of one token"]
    findings: list[Finding] = []
    for burst in found:
        family = lineage.family_of(burst.token)
        if family is None:
            continue
        rejection = _rejected_member(grace, ctx, burst.token, family, list(burst.members))
        if rejection is not None:
            findings.append(rejection)
    return verdict(CHECKER_ID, findings, ctx, relevant, notes)
