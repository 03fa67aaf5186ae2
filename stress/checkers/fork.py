"""Checker ``fork``: one refresh token grew two live branches.

Two rules (RFC 9700 §4.14.2; ROTATION.md invariants 1 and 3):

- ``strict``/``idempotent``: a token has two distinct successors among ``ok`` refreshes and
  probes. Under ``idempotent`` a replay inside the window must return the same successor, so a
  distinct one is a fork too.
- all policies: at quiescence, ok probes of two distinct leaves of one family (neither derived from
  the other) prove two live heads. Under ``overlap`` siblings minted inside the window are
  allowed to live until the window closes, so both probes must start certainly after ``W``
  past both mintings. Under ``none`` a probe that handed back its own token does not count, and
  live leaves of a server that mints new tokens but keeps old ones valid are only a warning.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from stress.checkers.base import CheckContext, CheckResult, Finding
from stress.checkers.grace import effective_window
from stress.checkers.judging import finding, verdict
from stress.checkers.lineage import ROTATING_KINDS, Lineage, build_lineage, short
from stress.history import Operation

__all__ = ["CHECKER_ID", "check"]

CHECKER_ID = "fork"


def _two_successors(lineage: Lineage) -> list[Finding]:
    findings: list[Finding] = []
    for token, ops in lineage.presenting.items():
        first_by_successor: dict[str, Operation] = {}
        for op in sorted(ops, key=lambda o: (o.send_ns, o.index)):
            if op.outcome == "ok" and op.returned is not None and op.returned != token:
                first_by_successor.setdefault(op.returned, op)
        if len(first_by_successor) < 2:
            continue
        a, b = list(first_by_successor.values())[:2]
        findings.append(
            finding(
                CHECKER_ID,
                f"{short(token)} has two successors: {short(a.returned)} (op {a.index}) "
                f"and {short(b.returned)} (op {b.index})",
                (a, b),
            )
        )
    return findings


def _live_forks(lineage: Lineage, ctx: CheckContext) -> list[Finding]:
    # Leaves are judged on refresh edges only: a probe's own successor is not a later rotation.
    refreshed = {
        op.presented
        for op in lineage.ops
        if op.kind == "refresh" and op.outcome == "ok" and op.returned not in (None, op.presented)
    }
    window = effective_window(ctx)
    live: dict[str, list[Operation]] = defaultdict(list)
    for op in lineage.ops:
        token = op.presented
        if op.kind != "probe" or op.outcome != "ok" or token is None or token in refreshed:
            continue
        if ctx.policy == "none" and op.returned in (None, token):
            continue
        family = lineage.family_of(token)
        if family is not None and all(p.presented != token for p in live[family]):
            live[family].append(op)
    findings: list[Finding] = []
    for family, probes in live.items():
        pair = _first_fork_pair(lineage, probes, ctx.policy == "overlap", window)
        if pair is None:
            continue
        p, q = pair
        mints = [
            lineage.by_index[i]
            for t in (p.presented, q.presented)
            if t is not None and (i := lineage.minted_by.get(t)) is not None
        ]
        # Under ``none`` the target promised no rotation at all; one that mints new tokens and
        # keeps the old ones valid (Keycloak's default) does what it says: worth a warning.
        findings.append(
            finding(
                CHECKER_ID,
                f"family {short(family)} has two live leaves after quiescence: "
                f"{short(p.presented)} (probe op {p.index}) and {short(q.presented)} "
                f"(probe op {q.index})",
                (*mints, p, q),
                severity="warning" if ctx.policy == "none" else "error",
            )
        )
    return findings


def _first_fork_pair(
    lineage: Lineage, probes: list[Operation], overlap: bool, window: int
) -> tuple[Operation, Operation] | None:
    for i, p in enumerate(probes):
        for q in probes[i + 1 :]:
            a, b = p.presented, q.presented
            if a is None or b is None or lineage.is_ancestor(a, b) or lineage.is_ancestor(b, a):
                continue
            if overlap and not _after_window(lineage, (p, q), window):
                continue
            return p, q
    return None


def _after_window(lineage: Lineage, probes: tuple[Operation, Operation], window: int) -> bool:
    minted: list[int] = []
    for probe in probes:
        index = lineage.minted_by.get(probe.presented or "")
        recv = lineage.by_index[index].recv_ns if index is not None else None
        if recv is None:
            return False
        minted.append(recv)
    return min(p.send_ns for p in probes) - max(minted) > window


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report tokens with two successors (strict, idempotent) and live forks (all policies)."""
    lineage = build_lineage(ops)
    findings: list[Finding] = []
    notes: list[str] = []
    if ctx.policy in ("strict", "idempotent"):
        findings.extend(_two_successors(lineage))
    findings.extend(_live_forks(lineage, ctx))
    relevant = [o for o in lineage.ops if o.kind in ROTATING_KINDS]
    if not any(o.kind == "probe" for o in relevant):
        notes.append("no probes at quiescence: live forks were not checked")
    return verdict(CHECKER_ID, findings, ctx, relevant, notes)
