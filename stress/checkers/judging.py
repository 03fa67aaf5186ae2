"""Shared judgement: what counts as a rejection, how a finding's blame is ordered, and how
findings become a verdict.

Kept in one place so that all the checkers agree on the verdict rules: ``fail`` if any finding
is an error, ``unknown`` if the ops the checker needed were mostly indeterminate, else ``pass``
(warnings keep ``pass``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stress.checkers.base import Blame, CheckContext, CheckResult, Finding, Severity
from stress.checkers.lineage import short
from stress.history import Operation
from stress.types import RETRYABLE_STATUSES

__all__ = [
    "RETRYABLE_STATUSES",
    "Why",
    "answer",
    "counted",
    "finding",
    "info_ratio",
    "rejected",
    "stale_blame",
    "verdict",
]

Why = tuple[Operation, str]
"""An op of a witness and why it matters, as the checker that proved the finding says it."""


def rejected(op: Operation, ctx: CheckContext) -> bool:
    """True when the server explicitly refused the op: with a 4xx that means "no", or with a
    2xx whose body says no (the client recorded it ``fail``: an RFC 6749 error document, as
    GitHub answers with 200, or a GraphQL error answer).

    A connect error is ``fail`` too, but nothing reached the server, so it proves nothing about
    the token. Documented and retryable statuses (409, 429) are not rejections of the token.
    """
    status = op.status
    if op.outcome != "fail" or status is None:
        return False
    if 200 <= status < 300:
        return True
    return (
        400 <= status < 500
        and status not in RETRYABLE_STATUSES
        and status not in ctx.documented_statuses
    )


def answer(op: Operation) -> str:
    """How the server answered, for messages: ``400 invalid_grant``, ``info``, ``ok``."""
    if op.outcome == "ok":
        return "ok"
    parts: list[str] = [str(op.status) if op.status is not None else op.outcome]
    if op.error:
        parts.append(op.error)
    return " ".join(parts)


def counted(count: int, noun: str) -> str:
    """``1 successor``, ``8 successors``: messages count what is there."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def finding(
    checker: str,
    message: str,
    key: Why,
    proof: Iterable[Why] = (),
    severity: Severity = "error",
) -> Finding:
    """A finding blaming ``key`` (the violating request) and the ``proof`` ops, in time order.

    An op named more than once keeps each distinct reason, joined by ``; ``.
    """
    key_op = key[0]
    ops: dict[int, Operation] = {}
    whys: dict[int, list[str]] = {}
    for op, why in (key, *proof):
        ops.setdefault(op.index, op)
        reasons = whys.setdefault(op.index, [])
        if why not in reasons:
            reasons.append(why)
    blame = tuple(
        Blame(o.index, "; ".join(whys[o.index]), key=o.index == key_op.index)
        for o in sorted(ops.values(), key=lambda o: (o.send_ns, o.index))
    )
    return Finding(checker=checker, severity=severity, message=message, blame=blame)


def stale_blame(proof: Sequence[Operation]) -> list[Why]:
    """Why each op of a staleness proof (see ``Grace.stale_proof``) matters.

    The proof is the mints down the family, then the op that rotated the last of them; or,
    under ``policy.use_retires``, a rotation and the use of the access token it handed out; or,
    under ``policy.max_replays``, the accepted presentations of one token the limit allows.
    """
    *mints, rotation = proof
    if mints and all(m.presented == rotation.presented for m in mints):  # policy.max_replays
        return [
            (o, f"presented {short(o.presented)}, accepted ({i} of {len(proof)} allowed)")
            for i, o in enumerate(proof, 1)
        ]
    if rotation.kind == "use":
        return [
            *((m, f"rotated {short(m.presented)}, handing out {short(m.access)}") for m in mints),
            (rotation, f"used {short(rotation.presented)}: the window ended"),
        ]
    return [
        *((m, f"issued {short(m.returned)}") for m in mints),
        (rotation, f"rotated {short(rotation.presented)}"),
    ]


def info_ratio(ops: Sequence[Operation]) -> float:
    """Share of ``ops`` whose outcome is unknown (``info`` or never completed)."""
    if not ops:
        return 0.0
    return sum(1 for o in ops if o.outcome == "info") / len(ops)


def verdict(
    checker: str,
    findings: Iterable[Finding],
    ctx: CheckContext,
    relevant: Sequence[Operation],
    notes: Iterable[str] = (),
) -> CheckResult:
    """Turn findings into a result; ``relevant`` are the ops the checker needed to decide."""
    ordered = tuple(sorted(findings, key=lambda f: (f.witness, f.message)))
    all_notes = list(notes)
    if any(f.severity == "error" for f in ordered):
        return CheckResult(checker, "fail", ordered, tuple(all_notes))
    ratio = info_ratio(relevant)
    if relevant and ratio > ctx.max_info_ratio:
        all_notes.append(
            f"{ratio:.0%} of {len(relevant)} relevant ops are indeterminate "
            f"(limit {ctx.max_info_ratio:.0%}): cannot decide"
        )
        return CheckResult(checker, "unknown", ordered, tuple(all_notes))
    return CheckResult(checker, "pass", ordered, tuple(all_notes))
