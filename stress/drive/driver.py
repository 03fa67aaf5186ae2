"""The driver: interprets a scenario against a target and records every operation.

One anyio task group holds a task per session; each session walks its steps (a refresh step
becomes one synchronised burst from its tabs). The driver owns the run's life: its bounds (time
and op count), the user's stop, the final probes once it is quiet, and the
run-end record that says why it ended. It knows nothing about checking: the history it leaves
on disk is the whole result, and the analysis half judges it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import anyio
from anyio import CancelScope

from stress.claims import ClaimReader
from stress.drive import profiles
from stress.drive.actions import Actions
from stress.drive.bursts import Bursts
from stress.drive.load import LoadRun, run_load
from stress.drive.logins import Logins
from stress.drive.probes import probe_leaves
from stress.drive.recorder import OpBound, ProgressCallback, Recorder
from stress.drive.session import SessionState
from stress.fingerprint import Fingerprinter
from stress.history import History
from stress.interrupt import Interrupt
from stress.run_record import EndReason, RunEnd
from stress.scenario import (
    LoadStep,
    LoginStep,
    ProbeStep,
    RefreshStep,
    ReplayStep,
    RevokeStep,
    Scenario,
    SleepStep,
    Step,
    UseStep,
)
from stress.target import TargetProfile
from stress.wire import Wire

__all__ = ["Driver", "planned_ops"]

logger = logging.getLogger(__name__)


def _step_ops(step: Step) -> int:
    if isinstance(step, RefreshStep):
        retry = int(step.profile == profiles.LOST_RESPONSE)
        return profiles.requests(step) + int(step.revoke) + retry
    if isinstance(step, ReplayStep):
        return step.parallel
    if isinstance(step, LoadStep):
        return 0  # open-ended until its duration ends; the op bound still applies
    return 0 if isinstance(step, SleepStep) else 1


def planned_ops(scenario: Scenario) -> int:
    """How many operations the scenario plans (before final probes), for progress display."""
    per_round = sum(_step_ops(step) for step in scenario.steps)
    return min(scenario.run.sessions * scenario.run.rounds * per_round, scenario.run.max_ops)


class Driver:
    """Drives one scenario; construct, then ``await run()``.

    ``scenario_dir`` is the folder of the scenario file (a mint command runs there).
    """

    def __init__(
        self,
        scenario: Scenario,
        profile: TargetProfile,
        targets: Sequence[str],
        wire: Wire,
        history: History,
        claims: ClaimReader,
        *,
        engine: str | None = None,
        fingerprint: Fingerprinter | None = None,
        progress: ProgressCallback | None = None,
        scenario_dir: Path | None = None,
        notes: Sequence[str] = (),
        first_session: int = 0,
        schedule_seed: int | None = None,
        interrupt: Interrupt | None = None,
    ) -> None:
        """``notes`` are what the run learned before it started (e.g. a published policy that
        contradicts the scenario's); the run-end record carries them to the report. A shard
        numbers its sessions from ``first_session`` (session numbers are global to the run)
        and seeds its open-model arrivals with ``schedule_seed`` (default: the run's seed).
        ``interrupt`` is the user's stop, watched by whoever drives (none: never stopped)."""
        if not targets:
            raise ValueError("at least one target base URL is needed")
        self.scenario = scenario
        self.recorder = Recorder(
            history,
            fingerprint or Fingerprinter(),
            claims,
            max_ops=scenario.run.max_ops,
            planned=planned_ops(scenario),
            progress=progress,
            on_unwritable=self._unwritable,
        )
        self.actions = Actions(
            self.recorder, wire, profile, targets, scenario.run, self._unreachable
        )
        self.bursts = Bursts(self.actions, engine)
        self.logins = Logins(self.actions, scenario.auth, scenario_dir)
        self.notes: list[str] = list(notes)
        self.load = LoadRun(
            self.actions,
            history.header.seed,
            list(scenario.steps),
            self.notes,
            schedule_seed=schedule_seed,
        )
        self.first_session = first_session
        self.interrupt = interrupt or Interrupt()
        self._end: EndReason = "completed"
        self._detail: str | None = None
        self._scope: CancelScope | None = None

    # -- the run's life ------------------------------------------------------------------

    async def run(self) -> RunEnd:
        """Run every session, probe the leaves, write the run-end record; never raises for
        target trouble. A crash of the tester's own is logged and recorded as ``crashed``."""
        started = time.monotonic()
        started_ns = time.monotonic_ns()
        run = self.scenario.run
        first = self.first_session
        # A replay step presents a token ``age`` rotations back: older ones need not be kept.
        keep = 1 + max((s.age for s in self.scenario.steps if isinstance(s, ReplayStep)), default=0)
        sessions = [
            SessionState(n=n, tabs=[], keep=keep) for n in range(first, first + run.sessions)
        ]
        limiter = anyio.CapacityLimiter(run.concurrency or run.sessions)
        try:
            with self.interrupt.stops(self._interrupted):
                with anyio.move_on_after(run.max_seconds) as bound:
                    self._scope = bound
                    async with anyio.create_task_group() as tg:
                        for state in sessions:
                            tg.start_soon(self._session, state, limiter)
                if bound.cancelled_caught and self._end == "completed":
                    self._end = "time-bound"
                logins = self.logins
                if logins.attempts and not logins.families and self._end != "interrupted":
                    self._stop("login-failed", logins.problem)
                self.recorder.close_pending(self._end)
                if run.probe_at_end and self._end in ("completed", "time-bound", "op-bound"):
                    with anyio.move_on_after(max(run.op_timeout_seconds * 4, 10.0)):
                        await probe_leaves(self.actions, sessions)
        except Exception as exc:
            # A bug of ours must not lose what was observed: log it, keep the history, and let
            # the run-end record say the run is inconclusive (the CLI exits 4).
            logger.exception("the driver crashed; the partial history is kept")
            cause = _cause(exc)
            self._end = "crashed"
            self._detail = f"{type(cause).__name__}: {cause}"
        finally:
            # Whatever stopped us (Ctrl-C, a crash), every open invoke gets its info completion.
            self.recorder.close_pending(self._end)
            dead = self.actions.dead
            survivors = len(self.actions.targets) - len(dead)
            for where, since in dead.items():
                after = (since - started_ns) / 1e9
                rest = "the run went on with the others" if survivors else "none was left"
                if self.actions.ever_answered(where):
                    said = f"stopped answering {after:.1f}s into the run"
                else:  # refused from the start (down, or its TLS refused us): it never died
                    said = "took no request of the run"
                self.notes.append(f"target {where} {said}; {rest}")
            end = RunEnd(
                end=self._end,
                detail=self._detail,
                wall_seconds=time.monotonic() - started,
                notes=[*self.notes, *self.recorder.claims.keys.notes],
                bursts=list(self.bursts.records),
                dead_targets=dict(dead),
            )
            self.recorder.finish(end)
        return end

    def _interrupted(self) -> None:
        self._end = "interrupted"

    def _stop(self, end: EndReason, detail: str | None = None) -> None:
        if self._end == "completed":
            self._end = end
            self._detail = detail
        if self._scope is not None:
            self._scope.cancel()

    def _unreachable(self, detail: str) -> None:
        self._stop("target-unreachable", detail)

    def _unwritable(self, error: OSError) -> None:
        self._stop("history-unwritable", str(error.strerror or error))

    # -- sessions ------------------------------------------------------------------------

    async def _session(self, state: SessionState, limiter: anyio.CapacityLimiter) -> None:
        async with limiter:
            try:
                for _ in range(self.scenario.run.rounds):
                    for step in self.scenario.steps:
                        if not await self._step(state, step):
                            break
            except* OpBound as bound:
                # Raised in the session's own task or in one of its burst's retry tasks.
                self._stop("op-bound", str(bound.exceptions[0]))

    async def _step(self, state: SessionState, step: Step) -> bool:
        """Run one step; False ends the session's round (no pair to continue with)."""
        if isinstance(step, SleepStep):
            await anyio.sleep(step.seconds)
            return True
        if isinstance(step, LoginStep):
            return await self.logins.login(state)
        token = state.current
        if token is None:
            return False
        actions = self.actions
        if isinstance(step, RefreshStep):
            await self.bursts.refresh(state, step, token)
        elif isinstance(step, ReplayStep):
            if not await self.bursts.replay(state, step):
                logger.info(
                    "replay skipped: the session has no token that old",
                    extra={"session": state.n, "age": step.age, "chain": len(state.chain)},
                )
        elif isinstance(step, UseStep):
            await actions.use_once(state, step="use", phase="step")
        elif isinstance(step, RevokeStep):
            await actions.revoke(state, token)
        elif isinstance(step, ProbeStep):
            await actions.probe(state, token)
        elif isinstance(step, LoadStep):
            await run_load(self.load, state, step)
        return True


def _cause(exc: BaseException) -> BaseException:
    """The first real error inside task-group wrappers, which say nothing to a reader."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc
