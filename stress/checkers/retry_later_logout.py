"""Checker ``retry-later-logout``: a client that retried exactly as told was logged out.

An invariant: it holds under every policy (a scenario may only relax it to a warning, with
``policy.relax``). A 503 or 429 with ``Retry-After`` says "try again later". It leaves the
refresh's outcome unknown (the rotation may have been committed after all), but a client that
waits as long as it was told and presents the same token again is doing exactly what the server
asked. A server that then rejects the retry as reuse and leaves the user no working token has
logged out an obedient client: the store timed out mid-commit, the server answered 503, the
commit landed, and the retry after the grace window was judged a thief.

The proof: refresh ``q`` retries ``p`` (``retry_of``) with the same token; ``p`` ended 503 or 429
with ``Retry-After: s`` and ``q`` was sent at least ``s`` after ``p`` completed; ``q`` was
rejected; and every other token of the family that the session still held (handed out by a 200
and not consumed before ``q``) was rejected when next presented, which holds trivially when it
held none. Excused: a revoke of the family, or a possibly stale reuse outside the retry chain
and the burst it started in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from functools import cache

from stress.checkers.base import CheckContext, CheckerClass, CheckResult, Finding
from stress.checkers.grace import Grace
from stress.checkers.judging import answer, finding, rejected, verdict
from stress.checkers.lineage import Lineage, build_lineage, short
from stress.checkers.self_inflicted_logout import dead_at_next_use
from stress.history import Operation

__all__ = ["CHECKER_ID", "KIND", "MEANING", "RETRY_LATER_STATUSES", "check"]

CHECKER_ID = "retry-later-logout"
KIND: CheckerClass = "invariant"
MEANING = (
    "A client that was told to retry later (429 or 503 with Retry-After), waited as long as it "
    "was told and retried with the same token was rejected and left with no working token: the "
    "first attempt had committed the rotation after all, and the obedient retry was judged a "
    "thief. Answer 503 only when nothing was committed, or accept the retry of a token whose "
    "rotation the failed request committed and return the successor it issued."
)

RETRY_LATER_STATUSES = frozenset({429, 503})
# Clock granularity between the runner's sleep and its next timestamp.
_TOLERANCE_NS = 1_000_000


def _told(p: Operation, q: Operation) -> bool:
    """True when ``q`` retried ``p``'s token no sooner than ``p``'s Retry-After said."""
    if p.status not in RETRY_LATER_STATUSES or p.retry_after is None or p.recv_ns is None:
        return False
    return p.presented == q.presented and (
        q.send_ns >= p.recv_ns + int(p.retry_after * 1e9) - _TOLERANCE_NS
    )


def _chain(grace: Grace, q: Operation) -> list[Operation]:
    """``q`` and every op it retries, newest first."""
    chain = [q]
    seen = {q.index}
    while (earlier := chain[-1].invoke.retry_of) is not None and earlier not in seen:
        op = grace.lineage.by_index.get(earlier)
        if op is None:
            break
        seen.add(earlier)
        chain.append(op)
    return chain


_Issued = dict[tuple[int, str], dict[str, None]]
"""(session, family) -> the refresh tokens handed to that session in that family, in order."""
_Indexes = Callable[[], tuple[_Issued, dict[int, list[int]]]]
"""Built on first use: most histories have no rejected obedient retry to look into."""


def _issued(lineage: Lineage) -> _Issued:
    issued: _Issued = defaultdict(dict)
    for o in lineage.ops:
        family = lineage.family_of(o.returned)
        if o.outcome == "ok" and o.returned is not None and family is not None:
            issued[(o.session, family)][o.returned] = None
    return issued


def _bursts(lineage: Lineage) -> dict[int, list[int]]:
    """Burst id -> the indices of every op released in it."""
    members: dict[int, list[int]] = defaultdict(list)
    for o in lineage.ops:
        if o.burst is not None:
            members[o.burst].append(o.index)
    return members


def _logout(grace: Grace, ctx: CheckContext, indexes: _Indexes, q: Operation) -> Finding | None:
    lineage = grace.lineage
    retry_of = q.invoke.retry_of
    p = lineage.by_index.get(retry_of) if retry_of is not None else None
    if p is None or not _told(p, q) or not rejected(q, ctx) or q.recv_ns is None:
        return None
    token = q.presented
    family = lineage.family_of(token)
    if token is None or family is None:
        return None
    chain = _chain(grace, q)
    first = chain[-1]
    skip = {o.index for o in chain}
    issued, bursts = indexes()
    if first.burst is not None:
        skip.update(bursts.get(first.burst, ()))
    if grace.killed_before(family, q.recv_ns, skip) is not None:
        return None
    held = [
        t
        for t in issued.get((q.session, family), ())
        if t != token and grace.consumed_before(t, q) is None
    ]
    evidence = []
    for other in held:
        dead = dead_at_next_use(lineage, ctx, other, q.recv_ns)
        if dead is None:
            return None
        evidence.append(dead)
    return finding(
        CHECKER_ID,
        f"refresh({short(token)}) op {q.index} waited {p.retry_after:g}s as op {p.index}'s "
        f"{p.status} Retry-After told it, retried, and was rejected ({answer(q)}), leaving the "
        "session no working token",
        key=(q, f"waited as told, retried {short(token)}, rejected ({answer(q)})"),
        proof=[
            (p, f"answered {p.status} with Retry-After {p.retry_after:g}s"),
            *(
                (e, f"{short(e.presented)}, also held, rejected when next presented")
                for e in evidence
            ),
        ],
        severity="warning" if ctx.policy.relaxed("retry-later-logout") else "error",
    )


def check(ops: Sequence[Operation], ctx: CheckContext) -> CheckResult:
    """Report retries after a 503/429 Retry-After that were rejected and logged the user out."""
    lineage = build_lineage(ops)
    grace = Grace.of(lineage, ctx)
    retries = [
        o
        for o in lineage.ops
        if o.kind == "refresh"
        and o.invoke.retry_of is not None
        and (p := lineage.by_index.get(o.invoke.retry_of)) is not None
        and p.status in RETRY_LATER_STATUSES
    ]
    notes = [] if retries else ["no retries after a 503 or 429 with Retry-After"]
    indexes = cache(lambda: (_issued(lineage), _bursts(lineage)))
    findings = [f for q in retries if (f := _logout(grace, ctx, indexes, q)) is not None]
    return verdict(CHECKER_ID, findings, ctx, retries, notes)
