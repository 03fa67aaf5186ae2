"""Sending a replay plan: fresh logins, then the witness at its recorded offsets, recorded.

The replay is a drive body (see :func:`stress.pipeline.drive_with`): it records into a history
of its own through the driver's recorder and actions, so its ops have the same meanings as a
run's and the replay is judged exactly like one. Each recorded process gets a process of its
own (a fresh one after an indeterminate op, Jepsen's rule, as in a run); each op waits for its
release time, for the op whose token it presents, and for the previous op of its process. An op
whose source got no token is skipped, and the run-end notes say so. Like a run, a replay is
bounded by the scenario's ``max_seconds`` and stops at SIGINT or SIGTERM.
"""

from __future__ import annotations

import logging
import time

import anyio

from stress.drive.actions import Actions, discarded, origin
from stress.drive.bursts import burst_record
from stress.drive.logins import Logins
from stress.drive.recorder import OpBound, Recorder
from stress.drive.session import SessionState
from stress.fingerprint import Fingerprinter
from stress.history import Op
from stress.pipeline import DriveParts
from stress.reproduce.witness import PlannedOp, ReplayPlan
from stress.run_record import BurstRecord, EndReason, RunEnd
from stress.target import Parsed, TokenPair
from stress.wire import WireRequest

__all__ = ["Replayer"]

logger = logging.getLogger(__name__)


class Replayer:
    """Sends one plan into ``parts.history``; construct, then ``await run()``.

    ``recorded_targets`` are the targets the history was recorded against: an op sent to the
    ``i``-th of them goes to the ``i``-th of ``parts.targets`` (to the first when the counts
    differ).
    """

    def __init__(self, plan: ReplayPlan, parts: DriveParts, recorded_targets: list[str]) -> None:
        self.plan = plan
        self.parts = parts
        run = parts.scenario.run
        self.recorder = Recorder(
            parts.history,
            Fingerprinter(),
            parts.claims,
            max_ops=run.max_ops,
            planned=len(plan.ops),
        )
        self.actions = Actions(
            self.recorder, parts.wire, parts.profile, parts.targets, run, self._unreachable
        )
        self.logins = Logins(self.actions, parts.scenario.auth, parts.scenario_dir)
        self.recorded = [origin(t) for t in recorded_targets]
        self.states: dict[int, SessionState] = {}
        # One cookie jar per recorded session, shared by the states of its processes (its tabs).
        self.jars: dict[int, dict[str, str]] = {}
        self.tokens: dict[int, TokenPair | None] = {}
        self.done = {op.index: anyio.Event() for op in plan.ops}
        self.invokes: dict[int, int] = {}  # recorded invoke index -> the replay's
        self.bursts: list[BurstRecord] = []
        self.notes: list[str] = []
        self._end: EndReason = "completed"
        self._detail: str | None = None
        self._scope: anyio.CancelScope | None = None
        previous: dict[int, int] = {}
        self.after: dict[int, int] = {}  # op -> the previous planned op of its process
        for op in plan.ops:
            if op.process in previous:
                self.after[op.index] = previous[op.process]
            previous[op.process] = op.index

    # -- the replay's life ---------------------------------------------------------------

    async def run(self) -> RunEnd:
        """Send the plan and write the run-end record; a crash of ours is recorded."""
        started = time.monotonic()
        try:
            with self.parts.interrupt.stops(self._interrupted):
                with anyio.move_on_after(self.parts.scenario.run.max_seconds) as bound:
                    self._scope = bound
                    try:
                        await self._send_all()
                    except* OpBound as exc:
                        self._stop("op-bound", str(exc.exceptions[0]))
                if bound.cancelled_caught and self._end == "completed":
                    self._end = "time-bound"
        except Exception as exc:
            logger.exception("the replay crashed; the partial history is kept")
            self._end = "crashed"
            self._detail = f"{type(exc).__name__}: {exc}"
        finally:
            self.recorder.close_pending(self._end)
            end = RunEnd(
                end=self._end,
                detail=self._detail,
                wall_seconds=time.monotonic() - started,
                notes=[*self.notes, *self.recorder.claims.keys.notes],
                bursts=list(self.bursts),
                dead_targets=dict(self.actions.dead),
            )
            self.recorder.finish(end)
        return end

    def _interrupted(self) -> None:
        self._end = "interrupted"

    def _stop(self, end: EndReason, detail: str | None) -> None:
        if self._end == "completed":
            self._end, self._detail = end, detail
        if self._scope is not None:
            self._scope.cancel()

    def _unreachable(self, detail: str) -> None:
        self._stop("target-unreachable", detail)

    # -- sending -------------------------------------------------------------------------

    async def _send_all(self) -> None:
        for op in self.plan.setup:
            await self._group((op,))
        start = time.monotonic()
        async with anyio.create_task_group() as tg:
            for group in self.plan.timed:
                tg.start_soon(self._timed, group, start)

    async def _timed(self, group: tuple[PlannedOp, ...], start: float) -> None:
        release = start + min(op.offset_ns for op in group) / 1e9
        await anyio.sleep(max(0.0, release - time.monotonic()))
        for op in group:
            for before in (op.source, self.after.get(op.index)):
                if before is not None and before in self.done:
                    await self.done[before].wait()
        await self._group(group)

    async def _group(self, group: tuple[PlannedOp, ...]) -> None:
        """Send one release group (one op, or a burst's members), then mark each done."""
        try:
            ready = [(op, token) for op in group if (token := self._token(op)) is not None]
            if len(ready) > 1 or (ready and ready[0][0].burst is not None):
                await self._burst(ready)
            elif ready:
                await self._single(*ready[0])
        finally:
            for op in group:
                self.done[op.index].set()

    def _token(self, op: PlannedOp) -> str | None:
        """The raw token ``op`` presents ("" for a login); None when its source got none."""
        if op.source is None:
            return ""
        pair = self.tokens.get(op.source)
        token = (pair.access if op.kind == "use" else pair.refresh) if pair else None
        if token is None:
            self.notes.append(
                f"replay of op {op.index} ({op.kind}) skipped: the replay of op {op.source} "
                "returned no token to present"
            )
        return token

    def _state(self, op: PlannedOp) -> SessionState:
        """The session state of ``op``'s recorded process: one replay process per process."""
        state = self.states.get(op.process)
        if state is None:
            jar = self.jars.setdefault(op.session, {})
            state = SessionState(n=op.session, tabs=[self.recorder.new_process()], cookies=jar)
            self.states[op.process] = state
        return state

    def _base(self, op: PlannedOp) -> str:
        targets = self.parts.targets
        if op.target in self.recorded and len(self.recorded) == len(targets):
            return targets[self.recorded.index(op.target)]
        return targets[0]

    def _request(self, op: PlannedOp, token: str) -> WireRequest:
        profile, base = self.parts.profile, self._base(op)
        cookies = self.jars.get(op.session, {})
        if op.kind == "use":
            return profile.use(base, token, cookies)
        pair = self.tokens.get(op.source) if op.source is not None else None
        # What was issued with the token presented.
        access, csrf = (pair.access, pair.csrf) if pair is not None else (None, None)
        if op.kind == "revoke":
            return profile.revoke(base, token, access, csrf, cookies)
        return profile.refresh(base, token, access, csrf, cookies)

    def _keep(self, op: PlannedOp, invoke: Op, parsed: Parsed, presented: str) -> None:
        """Remember what ``op``'s replay returned, as the recorder fingerprints it."""
        self.invokes[op.index] = invoke.index
        tokens = parsed.tokens if parsed.outcome == "ok" else None
        if tokens is not None:
            source = self.tokens.get(op.source) if op.source is not None else None
            # An answer that set no CSRF value leaves the one sent in force.
            csrf = tokens.csrf or (source.csrf if source is not None else None)
            self.tokens[op.index] = TokenPair(tokens.access, tokens.refresh or presented, csrf)

    async def _single(self, op: PlannedOp, token: str) -> None:
        state = self._state(op)
        if op.kind == "login":
            if await self.logins.login(state):
                current = state.current
                csrf = state.csrf_of(current) if current is not None else None
                self.tokens[op.index] = TokenPair(state.access, current, csrf)
            return
        request = self._request(op, token)
        if op.lost_response:
            invoke, parsed = await self._lost(state, op, request, token)
        else:
            retry_of = self.invokes.get(op.retry_of) if op.retry_of is not None else None
            invoke, parsed = await self.actions.send(
                state, op.kind, request, token, step=op.step, retry_of=retry_of,
                phase=op.phase or "step", adopt=False,
            )  # fmt: skip
        self._keep(op, invoke, parsed, token)

    async def _lost(
        self, state: SessionState, op: PlannedOp, request: WireRequest, token: str
    ) -> tuple[Op, Parsed]:
        """Send ``request`` and discard its answer, as the recorded client lost it."""
        recorder = self.recorder
        recorder.count()
        invoke = recorder.invoke(
            state.tabs[0], state, op.kind, token, target=origin(request.url), step=op.step
        )
        answered = await self.parts.wire.request(
            request, timeout=self.parts.scenario.run.op_timeout_seconds
        )
        lost = discarded(answered, "replay of a lost response")
        return invoke, self.actions.complete(state, invoke, lost, 0)

    async def _burst(self, members: list[tuple[PlannedOp, str]]) -> None:
        """Release ``members`` together with the engine their recorded burst used."""
        recorder = self.recorder
        engine = members[0][0].engine or "auto"
        burst = len(self.bursts)
        invokes = []
        requests = []
        for op, token in members:
            state = self._state(op)
            request = self._request(op, token)
            recorder.count()
            invoke = recorder.invoke(
                state.tabs[0], state, op.kind, token, burst=burst, engine=engine,
                target=origin(request.url), step=op.step, phase=op.phase or "burst",
            )  # fmt: skip
            invokes.append((op, state, invoke, token))
            requests.append(request)
        result = await self.parts.wire.burst(
            requests, engine=engine, timeout=self.parts.scenario.run.op_timeout_seconds
        )
        answers = [
            self.actions.classify(invoke, outcome)
            for (_, _, invoke, _), outcome in zip(invokes, result.outcomes, strict=True)
        ]
        if kids := self.actions.unknown_keys(answers):
            await self.recorder.claims.learn_keys(kids)
        for (op, state, invoke, token), outcome, answer in zip(
            invokes, result.outcomes, answers, strict=True
        ):
            parsed = self.actions.complete(
                state, invoke, outcome, 0, engine=result.engine, parsed=answer
            )
            self._keep(op, invoke, parsed, token)
        self.bursts.append(burst_record(burst, result))
