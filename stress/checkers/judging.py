"""Shared judgement: what counts as a rejection, how witnesses are ordered, and how findings
become a verdict.

Kept in one place so that all ten checkers agree on the verdict rules: ``fail`` if any finding is
an error, ``unknown`` if the ops the checker needed were mostly indeterminate, else ``pass``
(warnings keep ``pass``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from stress.checkers.base import CheckContext, CheckResult, Finding, Severity
from stress.history import Operation

__all__ = [
    "RETRYABLE_STATUSES",
    "answer",
    "finding",
    "info_ratio",
    "rejected",
    "verdict",
    "witness",
]

# Statuses that say "try again later", not "this token is dead": never a logout.
RETRYABLE_STATUSES = frozenset({409, 429})


def rejected(op: Operation, ctx: CheckContext) -> bool:
    """True when the server explicitly refused the op with a 4xx that means "no".

    A connect error is ``fail`` too, but nothing reached the server, so it proves nothing about
    the token. Documented and retryable statuses (409, 429) are not rejections of the token.
    """
    status = op.status
    return (
        op.outcome == "fail"
        and status is not None
        and 400 <= status < 500
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


def witness(ops: Iterable[Operation]) -> tuple[int, ...]:
    """Invoke indices of ``ops`` in time order, each once."""
    unique = {o.index: o for o in ops}
    return tuple(o.index for o in sorted(unique.values(), key=lambda o: (o.send_ns, o.index)))


def finding(
    checker: str, message: str, ops: Iterable[Operation], severity: Severity = "error"
) -> Finding:
    """A finding whose witness is ``ops`` in time order."""
    return Finding(checker=checker, severity=severity, message=message, witness=witness(ops))


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
