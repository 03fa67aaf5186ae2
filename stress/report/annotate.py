"""Why a witness line is the violating one: per-checker comments for timeline lines.

A finding names its witness ops but not which edge of them is wrong. A reader should not have
to work that out, so for each checker id we derive, from the witness ops alone, a short comment
for the line(s) that break the rule (Elle's "However, ...: a contradiction!"). Derivation is
best effort: a checker we do not know, or a witness we cannot explain, yields no comments and
the timeline is still correct.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from stress.history import Operation

__all__ = ["Annotator", "annotate", "short_fp"]

Annotator = Callable[[Sequence[Operation]], dict[int, str]]
"""Maps witness ops in real order to ``{invoke index: comment}``."""


def short_fp(fp: str | None) -> str:
    """The 8-character form of a fingerprint used in timelines; ``-`` for none."""
    return fp[:8] if fp else "-"


def _ok_refreshes(ops: Sequence[Operation]) -> list[Operation]:
    return [op for op in ops if op.kind == "refresh" and op.outcome == "ok"]


def _fork(ops: Sequence[Operation]) -> dict[int, str]:
    # Rule 1: a token with two distinct successors (refreshes and probes both rotate).
    comments: dict[int, str] = {}
    successors: dict[str, list[str]] = {}
    for op in ops:
        if op.kind not in ("refresh", "probe") or op.outcome != "ok":
            continue
        if op.presented is None or op.returned in (None, op.presented):
            continue
        seen = successors.setdefault(op.presented, [])
        if op.returned not in seen:
            seen.append(op.returned)
            if len(seen) > 1:
                comments[op.index] = f"{short_fp(op.presented)} has {len(seen)} successors"
    # Rule 2: two leaves of one family both alive after quiescence.
    alive = [op for op in ops if op.kind == "probe" and op.outcome == "ok"]
    if len({op.presented for op in alive}) > 1:
        for op in alive:
            comments.setdefault(op.index, f"{short_fp(op.presented)} still alive")
    return comments


def _stale_reuse(ops: Sequence[Operation]) -> dict[int, str]:
    comments: dict[int, str] = {}
    consumed: set[str] = set()
    for op in _ok_refreshes(ops):
        if op.presented is None:
            continue
        if op.presented in consumed:
            comments[op.index] = f"{short_fp(op.presented)} already used, accepted again"
        consumed.add(op.presented)
    return comments


def _token_uniqueness(ops: Sequence[Operation]) -> dict[int, str]:
    comments: dict[int, str] = {}
    seen: dict[str, int] = {}
    for op in ops:
        if op.outcome != "ok":
            continue
        for fp in (op.returned, op.access):
            if fp is None:
                continue
            if fp in seen and seen[fp] != op.index:
                comments[op.index] = f"{short_fp(fp)} also issued to #{seen[fp]}"
            seen.setdefault(fp, op.index)
    return comments


def _rejected(ops: Sequence[Operation]) -> dict[int, str]:
    return {
        op.index: f"{short_fp(op.presented)} rejected"
        for op in ops
        if op.kind in ("refresh", "use", "probe") and op.outcome == "fail"
    }


def _lost_response_retry(ops: Sequence[Operation]) -> dict[int, str]:
    return {
        op.index: f"retry of #{op.invoke.retry_of} rejected"
        for op in ops
        if op.invoke.retry_of is not None and op.outcome == "fail"
    }


def _reuse_not_revoking(ops: Sequence[Operation]) -> dict[int, str]:
    detected = [op for op in ops if op.kind == "refresh" and op.outcome == "fail"]
    if not detected:
        return {}
    first = min(op.recv_ns or op.send_ns for op in detected)
    return {
        op.index: f"{short_fp(op.presented)} still works after reuse was detected"
        for op in ops
        if op.outcome == "ok" and op.kind != "login" and op.send_ns > first
    }


def _revocation_race(ops: Sequence[Operation]) -> dict[int, str]:
    revokes = [op for op in ops if op.kind == "revoke" and op.outcome == "ok"]
    done = [op.recv_ns for op in revokes if op.recv_ns is not None]
    if not done:
        return {}
    revoked_at = min(done)
    return {
        op.index: f"{short_fp(op.presented)} accepted after revocation completed"
        for op in ops
        if op.kind != "revoke" and op.outcome == "ok" and op.send_ns > revoked_at
    }


def _server_error(ops: Sequence[Operation]) -> dict[int, str]:
    return {
        op.index: f"server error {op.status}"
        for op in ops
        if op.status is not None and op.status >= 500
    }


_ANNOTATORS: dict[str, Annotator] = {
    "fork": _fork,
    "sibling-invalidation": _rejected,
    "lost-response-retry": _lost_response_retry,
    "stale-reuse-accepted": _stale_reuse,
    "reuse-not-revoking": _reuse_not_revoking,
    "revocation-race": _revocation_race,
    "token-uniqueness": _token_uniqueness,
    "server-error": _server_error,
}


def annotate(checker: str, ops: Sequence[Operation]) -> dict[int, str]:
    """Comments for the violating lines of a witness (ops in real order), keyed by invoke index."""
    annotator = _ANNOTATORS.get(checker)
    return annotator(ops) if annotator is not None else {}
