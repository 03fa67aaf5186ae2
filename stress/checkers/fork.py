"""Checker ``fork``: one refresh token grew two live branches.

An invariant: it holds under every policy, and a scenario can only relax it to a warning
explicitly (``policy.relax``). Two rules (RFC 9700 §4.14.2; ROTATION.md invariants 1 and 3):

- every rotating policy except ``replay = "new-pair"``: a token has two distinct successors among
  ``ok`` refreshes and probes, neither descending from the other. A replay inside the window
  must return the successor already issued (or the family's head, or an access token only), so
  a distinct one is a fork.
- all policies: at quiescence, ok probes of two distinct leaves of one family (neither derived from
  the other) prove two live heads. Under ``new-pair`` siblings minted inside the window are
  allowed to live until the window closes, so both probes must start certainly after ``W``
  past both mintings (or, under ``use_retires``, after an accepted use of the access token
  that one of the rotations of the token they branch from handed out). Without rotation a
  probe that handed back its own token does not count, and live leaves of a server that mints
  new tokens but keeps old ones valid are a warning.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding
from stress.checkers.grace import Grace
from stress.checkers.judging import finding, verdict
from stress.checkers.lineage import ROTATING_KINDS, Lineage, build_lineage, short
from stress.history import Operation

__all__ = ["CHECKER_ID", "KIND", "MEANING", "check"]

CHECKER_ID = "fork"
KIND: CheckerClass = "invariant"
MEANING = (
    "One refresh token grew two live branches: it was exchanged more than once and each exchange "
    "minted a different successor, or two tokens of one family still worked once the run was "
    "quiet. Rotation is defeated: a stolen token keeps a branch of its own, and reuse detection "
    "can no longer tell the thief from the user. Make the exchange atomic: check and consume the "
    "presented token in one step (a compare-and-set on the family's current token), so that "
    "concurrent refreshes get the same successor or are rejected."
)


def _successors(lineage: Lineage) -> list[Finding]:
    """Tokens with more than one successor where neither successor descends from the other.

    A replay answered with the family's current head (a descendant of the first successor)
    extends one chain; it is not a second branch.
    """
    findings: list[Finding] = []
    for token, ops in lineage.presenting.items():
        if len(ops) < 2:
            continue  # one presentation has one successor at most
        first_by_successor: dict[str, Operation] = {}
        for op in sorted(ops, key=lambda o: (o.send_ns, o.index)):
            successor = op.returned
            if op.outcome != "ok" or successor is None or successor == token:
                continue
            if successor in first_by_successor or any(
                lineage.is_ancestor(seen, successor) or lineage.is_ancestor(successor, seen)
                for seen in first_by_successor
            ):
                continue
            first_by_successor[successor] = op
        if len(first_by_successor) < 2:
            continue
        branches = list(first_by_successor.values())
        listed = ", ".join(f"{short(o.returned)} (op {o.index})" for o in branches)
        whys = [
            (o, f"{short(token)} -> {short(o.returned)}, successor {i} of {len(branches)}")
            for i, o in enumerate(branches, 1)
        ]
        findings.append(
            finding(
                CHECKER_ID,
                f"{short(token)} has {len(branches)} successors: {listed}",
                key=whys[1],
                proof=whys,
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
    window = ctx.policy.window_ns
    rotates = ctx.policy.rotates
    live: dict[str, list[Operation]] = defaultdict(list)
    probed: set[str] = set()
    for op in lineage.ops:
        token = op.presented
        if op.kind != "probe" or op.outcome != "ok" or token is None or token in refreshed:
            continue
        if not rotates and op.returned in (None, token):
            continue
        family = lineage.family_of(token)
        if family is not None and token not in probed:
            probed.add(token)
            live[family].append(op)
    findings: list[Finding] = []
    uses = Grace.of(lineage, ctx) if ctx.policy.use_retires else None
    for family, probes in live.items():
        pair = _first_fork_pair(lineage, probes, ctx.policy.replay == "new-pair", window, uses)
        if pair is None:
            continue
        p, q, ended = pair
        mints = [
            lineage.by_index[i]
            for t in (p.presented, q.presented)
            if t is not None and (i := lineage.minted_by.get(t)) is not None
        ]
        # A target that promised no rotation at all but mints new tokens and keeps the old ones
        # valid (Keycloak's default) does what it says: worth a warning.
        kept = (
            ""
            if rotates
            else ": no rotation is declared, and the target mints new refresh tokens but keeps "
            "the old ones valid, so every token it hands out stays a way in until the login ends"
        )
        findings.append(
            finding(
                CHECKER_ID,
                f"family {short(family)} has two live leaves after quiescence: "
                f"{short(p.presented)} (probe op {p.index}) and {short(q.presented)} "
                f"(probe op {q.index}){kept}"
                + (
                    ""
                    if ended is None
                    else f", though the use at op {ended.index} ended the window that minted "
                    "them (the policy says it retires every sibling but the one used)"
                ),
                key=(q, f"{short(q.presented)} works too: a second live head"),
                proof=[
                    *((m, f"issued {short(m.returned)}") for m in mints),
                    *(
                        ()
                        if ended is None
                        else [(ended, f"used {short(ended.presented)}: the window ended")]
                    ),
                    (p, f"{short(p.presented)} works after quiescence"),
                ],
                severity="warning" if not rotates or ctx.policy.relaxed("fork") else "error",
            )
        )
    return findings


def _first_fork_pair(
    lineage: Lineage,
    probes: list[Operation],
    overlap: bool,
    window: int,
    uses: Grace | None,
) -> tuple[Operation, Operation, Operation | None] | None:
    """Two probes proving two live heads, and the use that ended their window early if that
    is what lets them count (``uses``: the grace to ask, under ``policy.use_retires``)."""
    for i, p in enumerate(probes):
        for q in probes[i + 1 :]:
            a, b = p.presented, q.presented
            if a is None or b is None or lineage.is_ancestor(a, b) or lineage.is_ancestor(b, a):
                continue
            if not overlap or _after_window(lineage, (p, q), window):
                return p, q, None
            ended = _ended_by_use(uses, p, q) if uses is not None else None
            if ended is not None:
                return p, q, ended
    return None


def _ended_by_use(grace: Grace, p: Operation, q: Operation) -> Operation | None:
    """Under ``policy.use_retires``: the use that ended, before both probes, the window in
    which the two probed leaves' branches were minted: an accepted use of the access token that
    one of the rotations of the token they branch from handed out. After it at most one branch
    may live."""
    lineage = grace.lineage
    fork = _branching(lineage, p.presented or "", q.presented or "")
    if fork is None:
        return None
    start = min(p.send_ns, q.send_ns)
    for child in lineage.children.get(fork, ()):
        use = grace.first_use(lineage.by_index[lineage.minted_by[child]].access)
        if use is not None and (use.recv_ns or 0) < start:
            return use
    return None


def _branching(lineage: Lineage, a: str, b: str) -> str | None:
    """The token from which the chains of ``a`` and ``b`` part (their latest common ancestor)."""
    above: set[str] = set()
    t: str | None = a
    while t is not None and t not in above:
        above.add(t)
        t = lineage.parent.get(t)
    seen: set[str] = set()
    t = lineage.parent.get(b)
    while t is not None and t not in seen:
        if t in above:
            return t
        seen.add(t)
        t = lineage.parent.get(t)
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
    if ctx.policy.one_successor:
        findings.extend(
            replace(f, severity="warning") if ctx.policy.relaxed("fork") else f
            for f in _successors(lineage)
        )
    findings.extend(_live_forks(lineage, ctx))
    relevant = [o for o in lineage.ops if o.kind in ROTATING_KINDS]
    if not any(o.kind == "probe" for o in relevant):
        notes.append("no probes at quiescence: live forks were not checked")
    return verdict(CHECKER_ID, findings, ctx, relevant, notes)
