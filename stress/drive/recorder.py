"""The recorder: the single writer of a run's ops and of its process ids.

Jepsen's interpreter stamps every op itself, and so does this: an invoke is appended just
before a request leaves and its completion just after the outcome is known, both synchronously,
so no other task runs between a response and its record. The recorder also owns the two rules
that keep a history sound: processes are single-threaded (a tab's process id is replaced after
an indeterminate op, so a process never invokes again after ``info``), and every run is bounded
in op count (:class:`OpBound`). Tokens are fingerprinted here on their way into the history and
never written raw.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from stress.claims import ClaimReader
from stress.drive.session import SessionState
from stress.fingerprint import Fingerprinter
from stress.history import RUN_STOPPED, History, Op, OpKind, Outcome, Phase
from stress.run_record import RunEnd
from stress.target import TokenPair
from stress.wire import WireOutcome

__all__ = ["OpBound", "ProgressCallback", "Recorder", "arrival_ns"]

ProgressCallback = Callable[[int, int], None]
"""Called with (ops completed, ops planned) after every completion."""


class OpBound(Exception):
    """Raised where the next op would exceed the run's ``max_ops``: the session stops."""


class Recorder:
    """Appends invokes and completions to ``history``; hands out process ids."""

    def __init__(
        self,
        history: History,
        fingerprint: Fingerprinter,
        claims: ClaimReader,
        *,
        max_ops: int,
        planned: int,
        progress: ProgressCallback | None = None,
        on_unwritable: Callable[[OSError], None] | None = None,
    ) -> None:
        """``on_unwritable`` is told once when the history can no longer be written."""
        self.history = history
        self._on_unwritable = on_unwritable
        self.fp = fingerprint
        self.claims = claims
        self.max_ops = max_ops
        self.planned = planned
        self.progress = progress
        self.started = 0
        self.completed = 0
        self._next_process = 0

    # -- processes -----------------------------------------------------------------------

    def new_process(self) -> int:
        self._next_process += 1
        return self._next_process - 1

    def tab(self, state: SessionState, i: int) -> int:
        """The process id of the session's tab ``i`` (tabs are created on first use)."""
        while len(state.tabs) <= i:
            state.tabs.append(self.new_process())
        return state.tabs[i]

    def retire(self, state: SessionState, tab: int) -> None:
        """Give tab ``tab`` a fresh process: its last op is indeterminate (Jepsen's rule)."""
        if tab < len(state.tabs):
            state.tabs[tab] = self.new_process()

    # -- ops -----------------------------------------------------------------------------

    def count(self) -> None:
        """Claim one op of the run's budget; raises :class:`OpBound` when it is spent."""
        if self.started >= self.max_ops:
            raise OpBound(f"max_ops = {self.max_ops} reached")
        self.started += 1

    def invoke(
        self,
        process: int,
        state: SessionState,
        kind: OpKind,
        presented: str | None,
        *,
        burst: int | None = None,
        engine: str | None = None,
        target: str | None = None,
        step: str | None = None,
        retry_of: int | None = None,
        phase: Phase = "step",
    ) -> Op:
        """Record that ``process`` is about to send an op presenting the raw token ``presented``."""
        error = self.history.sink_error
        if error is not None and self._on_unwritable is not None:
            self._on_unwritable(error)
            self._on_unwritable = None
        return self.history.append(
            Op(
                index=self.history.next_index(),
                type="invoke",
                process=process,
                session=state.n,
                kind=kind,
                time_ns=time.monotonic_ns(),
                presented=self.fp(presented) if presented is not None else None,
                burst=burst,
                engine=engine,
                target=target,
                step=step or kind,
                retry_of=retry_of,
                phase=phase,
            )
        )

    def complete(
        self,
        invoke: Op,
        outcome: Outcome,
        tokens: TokenPair | None,
        wire: WireOutcome | None,
        *,
        error: str | None = None,
        engine: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Record how ``invoke`` ended; the raw tokens it got back are fingerprinted here."""
        returned = access = None
        claims = None
        if tokens is not None:
            if tokens.refresh is not None:
                returned = self.fp(tokens.refresh)
            elif invoke.presented is not None and invoke.kind != "login":
                returned = invoke.presented  # no new refresh token: the old one stays valid
            if tokens.access is not None:
                access = self.fp(tokens.access)
                claims = self.claims.read(tokens.access)
        response = wire.response if wire is not None else None
        self.history.append(
            Op(
                index=self.history.next_index(),
                type=outcome,
                process=invoke.process,
                session=invoke.session,
                kind=invoke.kind,
                time_ns=wire.recv_ns if wire is not None else time.monotonic_ns(),
                sent_ns=wire.send_ns if wire is not None and wire.sent else None,
                status=response.status if response is not None else None,
                error=error if outcome != "ok" else None,
                returned=returned,
                access=access,
                claims=claims,
                arrival_ns=arrival_ns(wire) if wire is not None else None,
                engine=engine,
                retry_after=retry_after,
            )
        )
        self.completed += 1
        if self.progress is not None:
            self.progress(self.completed, self.planned)

    def close_pending(self, why: str) -> None:
        """Complete every open invoke as ``info``: the run, not the target, ended it."""
        for invoke in self.history.open_invokes():
            self.complete(invoke, "info", None, None, error=f"{RUN_STOPPED}: {why}")

    def finish(self, end: RunEnd) -> None:
        """Write the run-end record."""
        self.history.finish(end)


def arrival_ns(outcome: WireOutcome) -> int | None:
    """The server-reported arrival time (``X-Arrival-Ns``), when the target sends one."""
    if outcome.response is None:
        return None
    value = outcome.response.header("x-arrival-ns")
    return int(value) if value is not None and value.isdigit() else None
