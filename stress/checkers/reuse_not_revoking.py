"""Checker ``reuse-not-revoking``: reuse was detected, yet the family lives on.

RFC 9700 §4.14.2 says that on reuse the server "will revoke the active refresh token" and OAuth
2.1 adds the grant (ROTATION.md invariant 7). The proof: a refresh presenting a certainly stale
token (rotated more than the longer of ``W`` and the policy's tolerance earlier, or too many
generations behind the head, see ``Grace.stale_proof``) was rejected, and afterwards an op that
certainly started after that rejection completed still refreshed a token of the same family.
Many servers do not revoke (Spring Authorization Server, simplejwt): they declare
``policy.reuse_revokes = "nothing"``, and the rule is off for them, as it is without rotation.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding
from stress.checkers.grace import Grace
from stress.checkers.judging import answer, finding, rejected, stale_blame, verdict
from stress.checkers.lineage import ROTATING_KINDS, Lineage, build_lineage, short
from stress.history import Operation

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check"]

CHECKER_ID = "reuse-not-revoking"
KIND: CheckerClass = "policy-dependent"
MEANING = (
    "The server rejected the reuse of a retired refresh token but the family's current token kept "
    "refreshing: the theft was noticed and nobody was stopped, so whoever holds the current "
    "token, user or attacker, carries on. Revoke the family (or the user's grants) on reuse, as "
    "RFC 9700 recommends, or declare reuse_revokes = 'nothing' for a server that only rejects."
)


_Survivors = dict[str, tuple[list[int], list[Operation]]]


def _survivors(lineage: Lineage) -> _Survivors:
    """Per family, its ok refreshes and probes in record order, with the running maximum of
    their send times: the first one recorded that was sent after ``t`` is where that maximum
    first exceeds ``t``, found by bisection."""
    per_family: dict[str, list[Operation]] = defaultdict(list)
    for op in lineage.ops:
        family = lineage.family_of(op.presented)
        if op.kind in ROTATING_KINDS and op.outcome == "ok" and family is not None:
            per_family[family].append(op)
    found: _Survivors = {}
    for family, ops in per_family.items():
        running: list[int] = []
        for op in ops:
            running.append(max(running[-1], op.send_ns) if running else op.send_ns)
        found[family] = (running, ops)
    return found


def _survivor(survivors: _Survivors, family: str, after: int) -> Operation | None:
    """The first op recorded in ``family`` that refreshed and was sent after ``after``."""
    running, ops = survivors.get(family, ([], []))
    i = bisect_right(running, after)
    return ops[i] if i < len(ops) else None


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report families that still refresh after a rejected stale reuse."""
    lineage = build_lineage(ops)
    grace = Grace.of(lineage, ctx)
    if not ctx.policy.rotates or ctx.policy.reuse_revokes == "nothing":
        note = f"off under policy {ctx.policy.describe()}: reuse is not promised to revoke"
        return CheckResult(CHECKER_ID, "pass", notes=(note,))
    findings: list[Finding] = []
    reported: set[str] = set()
    relevant: list[Operation] = []
    survivors: _Survivors | None = None
    for op in lineage.ops:
        if op.kind not in ROTATING_KINDS or op.presented is None:
            continue
        family = lineage.family_of(op.presented)
        proof = grace.stale_proof(op)
        if proof is None or family is None:
            continue
        relevant.append(op)
        if family in reported or not rejected(op, ctx) or op.recv_ns is None:
            continue
        survivors = _survivors(lineage) if survivors is None else survivors
        survivor = _survivor(survivors, family, op.recv_ns)
        if survivor is None:
            continue
        reported.add(family)
        findings.append(
            finding(
                CHECKER_ID,
                f"reuse of stale {short(op.presented)} was rejected at op {op.index} "
                f"({answer(op)}) but family {short(family)} still refreshed "
                f"{short(survivor.presented)} at op {survivor.index}; the policy says reuse "
                f"revokes the {ctx.policy.reuse_revokes} (RFC 9700), declare "
                "reuse_revokes = 'nothing' for a server that only rejects",
                key=(survivor, f"{short(survivor.presented)} still refreshed after the reuse"),
                proof=[
                    *stale_blame(proof),
                    (op, f"reused stale {short(op.presented)}, rejected ({answer(op)})"),
                ],
            )
        )
    notes = [] if relevant else ["no certainly stale reuse in the history"]
    return verdict(CHECKER_ID, findings, ctx, relevant, notes)
