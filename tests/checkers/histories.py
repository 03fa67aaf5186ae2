"""A small builder for hand-written histories, so checker tests read like timelines.

Times are in milliseconds: ``t=(0, 5)`` means sent at 0 ms, completed at 5 ms; ``t=(0, None)``
means the run stopped before the op completed. Every call returns the op's invoke index, which
is what witnesses name::

    h = History()
    a = h.login(p=0, returned="A", t=(0, 1))
    b = h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    h.operations()
"""

from __future__ import annotations

from stress.checkers.base import CheckContext, Threshold
from stress.history import Claims, Op, Operation, OpKind, Outcome
from stress.policy import Policy, PresetName, preset

__all__ = ["MS", "History", "ctx"]

MS = 1_000_000
_DONE_OFFSET = 1_000_000


def ctx(
    policy: PresetName | Policy,
    grace_ms: float = 0,
    *,
    thresholds: dict[str, Threshold] | None = None,
    documented: frozenset[int] = frozenset(),
    max_info_ratio: float = 0.5,
) -> CheckContext:
    """A check context for a preset with the grace window in milliseconds, or for a policy."""
    return CheckContext(
        policy=policy if isinstance(policy, Policy) else preset(policy, grace_ms / 1000),
        thresholds=thresholds or {},
        documented_statuses=documented,
        max_info_ratio=max_info_ratio,
    )


class History:
    """Collects operations in call order; invoke indices are 0, 1, 2, ..."""

    def __init__(self) -> None:
        self._ops: list[Operation] = []

    def operations(self) -> list[Operation]:
        return list(self._ops)

    def op(
        self,
        kind: OpKind,
        *,
        p: int,
        s: int = 0,
        t: tuple[float, float | None],
        o: Outcome = "ok",
        presented: str | None = None,
        returned: str | None = None,
        access: str | None = None,
        status: int | None = None,
        error: str | None = None,
        claims: Claims | None = None,
        burst: int | None = None,
        retry_of: int | None = None,
        step: str | None = None,
        retry_after: float | None = None,
        target: str | None = None,
    ) -> int:
        index = len(self._ops)
        send, recv = t
        invoke = Op(
            index=index,
            type="invoke",
            process=p,
            session=s,
            kind=kind,
            time_ns=int(send * MS),
            presented=presented,
            burst=burst,
            retry_of=retry_of,
            step=step or kind,
            target=target,
        )
        done: Op | None = None
        if recv is not None:
            if status is None:
                status = {"ok": 200, "fail": 400, "info": None}[o]
            if o == "fail" and error is None and status is not None and status < 500:
                error = "invalid_grant"
            if o == "ok" and access is None and kind in ("login", "refresh", "probe"):
                access = f"at{index}"
            done = Op(
                index=index + _DONE_OFFSET,
                type=o,
                process=p,
                session=s,
                kind=kind,
                time_ns=int(recv * MS),
                returned=returned if o == "ok" else None,
                access=access if o == "ok" else None,
                status=status,
                error=error,
                claims=claims if o == "ok" else None,
                retry_after=retry_after,
            )
        self._ops.append(Operation(invoke=invoke, done=done))
        return index

    def login(self, *, p: int, returned: str, t: tuple[float, float | None], **kw: object) -> int:
        return self.op("login", p=p, returned=returned, t=t, **kw)  # type: ignore[arg-type]

    def refresh(
        self, *, p: int, presented: str, t: tuple[float, float | None], **kw: object
    ) -> int:
        return self.op("refresh", p=p, presented=presented, t=t, **kw)  # type: ignore[arg-type]

    def probe(self, *, p: int, presented: str, t: tuple[float, float | None], **kw: object) -> int:
        return self.op("probe", p=p, presented=presented, t=t, **kw)  # type: ignore[arg-type]

    def revoke(self, *, p: int, presented: str, t: tuple[float, float | None], **kw: object) -> int:
        return self.op("revoke", p=p, presented=presented, t=t, **kw)  # type: ignore[arg-type]

    def use(self, *, p: int, presented: str, t: tuple[float, float | None], **kw: object) -> int:
        return self.op("use", p=p, presented=presented, t=t, **kw)  # type: ignore[arg-type]
