"""The runner: interprets a scenario against a target and records every operation.

One anyio task group holds a task per session; each session walks its steps, and a refresh step
with ``parallel = N`` becomes one synchronised burst from N processes (tabs). Invokes are
appended before a request leaves and completions after its outcome is known, synchronously, so
the history is exact; it is streamed to disk as it grows. The runner knows nothing about
checking: it returns the history and why the run ended, and the checkers judge.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

import anyio
from anyio import CancelScope

from stress.claims import ClaimReader
from stress.errors import ScenarioError
from stress.fingerprint import Fingerprinter
from stress.history import REPLAY_STEP, RUN_STOPPED, History, Op, OpKind, Phase
from stress.load import run_load
from stress.report.stats import BurstInfo
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
from stress.session import SessionState
from stress.target import Parsed, TargetProfile, TokenPair
from stress.wire import Wire, WireOutcome, WireRequest

__all__ = ["ProgressCallback", "RunOutcome", "Runner", "planned_ops"]

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
EndReason = Literal[
    "completed",
    "time-bound",
    "op-bound",
    "interrupted",
    "target-unreachable",
    "login-failed",
    "crashed",
]

# Consecutive connect failures (nothing sent) after which the target is declared dead.
UNREACHABLE_AFTER = 20


@dataclass
class RunOutcome:
    """Why the run ended and what the engine measured; the history itself is the main result."""

    end: EndReason = "completed"
    detail: str | None = None
    bursts: list[BurstInfo] = field(default_factory=list)
    wall_seconds: float = 0.0
    # Things the run noticed that are not checker findings, for the report.
    notes: list[str] = field(default_factory=list)

    @property
    def inconclusive_reason(self) -> str | None:
        """Interrupted or unreachable runs prove nothing by passing; bounds are normal ends."""
        if self.end == "interrupted":
            return "interrupted"
        if self.end == "target-unreachable":
            return f"target unreachable: {self.detail}"
        if self.end == "login-failed":
            return f"no session could log in: {self.detail}"
        if self.end == "crashed":
            return f"internal error: {self.detail}"
        return None


def _step_ops(step: Step) -> int:
    if isinstance(step, RefreshStep):
        return step.requests + int(step.revoke) + int(step.profile == "lost-response-retry")
    if isinstance(step, ReplayStep):
        return step.parallel
    if isinstance(step, LoadStep):
        return 0  # open-ended until its duration ends; the op bound still applies
    return 0 if isinstance(step, SleepStep) else 1


def planned_ops(scenario: Scenario) -> int:
    """How many operations the scenario plans (before final probes), for progress display."""
    per_round = sum(_step_ops(step) for step in scenario.steps)
    return min(scenario.run.sessions * scenario.run.rounds * per_round, scenario.run.max_ops)


class _Stop(Exception):
    """Raised inside a session when the run's op bound is reached."""


class Runner:
    """Drives one scenario; construct, then ``await run()``."""

    def __init__(
        self,
        scenario: Scenario,
        profile: TargetProfile,
        targets: Sequence[str],
        client: Wire,
        history: History,
        claims: ClaimReader,
        *,
        engine: str | None = None,
        fingerprint: Fingerprinter | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        if not targets:
            raise ValueError("at least one target base URL is needed")
        self.scenario = scenario
        self.profile = profile
        self.targets = list(targets)
        self.client = client
        self.history = history
        self.claims = claims
        self.engine_override = engine
        self.fp = fingerprint or Fingerprinter()
        self.progress = progress
        self.outcome = RunOutcome()
        self._next_process = 0
        self._next_burst = 0
        self._started_ops = 0
        self._done_ops = 0
        self._connect_failures = 0
        self._answered = 0
        self._logins = 0
        self._families = 0
        self._login_problem: str | None = None
        self._planned = planned_ops(scenario)
        self._scope: CancelScope | None = None
        self._password = self._resolve_password()

    # -- top level -----------------------------------------------------------------------

    async def run(self) -> RunOutcome:
        """Run every session, then probe the leaves; never raises for target trouble."""
        started = time.monotonic()
        run = self.scenario.run
        sessions = [SessionState(n=n, tabs=[]) for n in range(run.sessions)]
        limiter = anyio.CapacityLimiter(run.concurrency or run.sessions)
        try:
            async with anyio.create_task_group() as outer:
                outer.start_soon(self._watch_signals, outer.cancel_scope)
                with anyio.move_on_after(run.max_seconds) as bound:
                    self._scope = bound
                    async with anyio.create_task_group() as tg:
                        for state in sessions:
                            tg.start_soon(self._session, state, limiter)
                if bound.cancelled_caught and self.outcome.end == "completed":
                    self.outcome.end = "time-bound"
                if self._logins and not self._families and self.outcome.end != "interrupted":
                    self._stop("login-failed", self._login_problem)
                self._close_pending(self.outcome.end)
                if run.probe_at_end and self.outcome.end in ("completed", "time-bound", "op-bound"):
                    with anyio.move_on_after(max(run.op_timeout_seconds * 4, 10.0)):
                        await self._probe_all(sessions)
                outer.cancel_scope.cancel()
        except Exception as exc:
            # A bug of ours must not lose what was observed: log it, keep the history, and let
            # the report say the run is inconclusive (the CLI exits 4).
            logger.exception("the runner crashed; the partial history is kept")
            self.outcome.end = "crashed"
            self.outcome.detail = f"{type(exc).__name__}: {exc}"
        finally:
            # Whatever stopped us (Ctrl-C, a crash), every open invoke gets its info completion.
            self._close_pending(self.outcome.end)
            self.outcome.wall_seconds = time.monotonic() - started
        return self.outcome

    async def _watch_signals(self, scope: CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                logger.warning("interrupted: stopping the run and writing what was recorded")
                self.outcome.end = "interrupted"
                scope.cancel()
                return

    def _stop(self, end: EndReason, detail: str | None = None) -> None:
        if self.outcome.end == "completed":
            self.outcome.end = end
            self.outcome.detail = detail
        if self._scope is not None:
            self._scope.cancel()

    # -- sessions ------------------------------------------------------------------------

    async def _session(self, state: SessionState, limiter: anyio.CapacityLimiter) -> None:
        async with limiter:
            try:
                for _ in range(self.scenario.run.rounds):
                    for step in self.scenario.steps:
                        if not await self._step(state, step):
                            break
            except _Stop:
                return

    async def _step(self, state: SessionState, step: Step) -> bool:
        """Run one step; False ends the session's round (no pair to continue with)."""
        if isinstance(step, SleepStep):
            await anyio.sleep(step.seconds)
            return True
        if isinstance(step, LoginStep):
            return await self._login(state)
        token = state.current
        if token is None:
            return False
        if isinstance(step, RefreshStep):
            await self._refresh_burst(state, step, token)
        elif isinstance(step, ReplayStep):
            await self._replay(state, step)
        elif isinstance(step, UseStep):
            await self._use(state)
        elif isinstance(step, RevokeStep):
            await self._single(
                state, "revoke", self.profile.revoke(self._base(state), token), token
            )
        elif isinstance(step, ProbeStep):
            await self._single(
                state, "probe", self.profile.refresh(self._base(state), token), token
            )
        elif isinstance(step, LoadStep):
            await run_load(self, state, step)
        return True

    # -- primitives for traffic generators (stress.load) ---------------------------------

    async def refresh_once(self, state: SessionState) -> Parsed | None:
        """One refresh of the session's current token under load; None when it holds none."""
        token = state.current
        if token is None:
            return None
        request = self.profile.refresh(self._base(state), token)
        return await self._obedient_refresh(state, request, token, step="load", phase="load")

    async def use_once(
        self, state: SessionState, *, step: str = "load", phase: Phase = "load"
    ) -> Parsed | None:
        """One call of the protected resource; None when the session has no access token."""
        if state.access is None:
            return None
        request = self.profile.use(self._base(state), state.access)
        return await self._single(state, "use", request, state.access, step=step, phase=phase)

    def _base(self, state: SessionState, i: int = 0) -> str:
        return self.targets[(state.n + i) % len(self.targets)]

    def _tab(self, state: SessionState, i: int) -> int:
        while len(state.tabs) <= i:
            state.tabs.append(self._new_process())
        return state.tabs[i]

    def _new_process(self) -> int:
        self._next_process += 1
        return self._next_process - 1

    # -- operations ----------------------------------------------------------------------

    async def _login(self, state: SessionState) -> bool:
        auth = self.scenario.auth
        if auth.mode == "mint":
            return await self._mint(state)
        username = auth.username.replace("{n}", str(state.n))
        request = self.profile.login(self._base(state), username, self._password, state.n)
        self._logins += 1
        parsed = await self._single(state, "login", request, None)
        if parsed.outcome != "ok" or parsed.tokens is None:
            self._login_problem = f"login answered {parsed.outcome} ({parsed.error})"
            return False
        if parsed.tokens.refresh is None:
            self._login_problem = (
                "login succeeded but returned no refresh token "
                "(does the client need a scope such as offline_access?)"
            )
            return False
        state.start_family(parsed.tokens.refresh, parsed.tokens.access, self.fp)
        self._families += 1
        return True

    async def _mint(self, state: SessionState) -> bool:
        command = [arg.replace("{n}", str(state.n)) for arg in self.scenario.auth.command or []]
        self._count()
        process = self._tab(state, 0)
        self._logins += 1
        invoke = self._invoke(process, state, "login", None, step="mint")
        try:
            with anyio.fail_after(self.scenario.run.op_timeout_seconds):
                result = await anyio.run_process(command, check=False)
            document = json.loads(result.stdout)
            pair = TokenPair(access=document["access_token"], refresh=document["refresh_token"])
            if result.returncode != 0 or not isinstance(pair.refresh, str):
                raise ValueError(f"exit status {result.returncode}")
            self._families += 1
        except (OSError, ValueError, KeyError, TypeError, TimeoutError) as exc:
            logger.error(
                "mint command failed",
                extra={"command": command[0] if command else "", "error_type": type(exc).__name__},
                exc_info=exc,
            )
            self._append_completion(invoke, "fail", None, None, error=f"mint: {type(exc).__name__}")
            self._login_problem = f"mint command failed: {type(exc).__name__}: {exc}"
            return False
        self._append_completion(invoke, "ok", pair, None)
        state.start_family(pair.refresh, pair.access, self.fp)
        return True

    async def _use(self, state: SessionState) -> None:
        await self.use_once(state, step="use", phase="step")

    async def _single(
        self,
        state: SessionState,
        kind: OpKind,
        request: WireRequest,
        presented: str | None,
        *,
        step: str | None = None,
        retry_of: int | None = None,
        tab: int = 0,
        phase: Phase = "step",
    ) -> Parsed:
        return (
            await self._send(
                state, kind, request, presented, step=step, retry_of=retry_of, tab=tab, phase=phase
            )
        )[1]

    async def _send(
        self,
        state: SessionState,
        kind: OpKind,
        request: WireRequest,
        presented: str | None,
        *,
        step: str | None,
        retry_of: int | None,
        tab: int,
        phase: Phase,
        adopt: bool = True,
    ) -> tuple[Op, Parsed]:
        """One recorded request from the session's tab ``tab``: (its invoke, its outcome)."""
        self._count()
        invoke = self._invoke(
            self._tab(state, tab),
            state,
            kind,
            presented,
            target=_origin(request.url),
            step=step,
            retry_of=retry_of,
            phase=phase,
        )
        outcome = await self.client.request(request, timeout=self.scenario.run.op_timeout_seconds)
        parsed = self._complete(state, invoke, outcome, tab)
        ok = kind in ("probe", "refresh") and parsed.outcome == "ok" and parsed.tokens is not None
        if ok and adopt and parsed.tokens is not None:
            state.adopt(parsed.tokens.refresh, parsed.tokens.access, self.fp)
        return invoke, parsed

    def _wait_told(self, parsed: Parsed) -> float | None:
        """How long to wait before retrying, when the answer said so and it is honoured."""
        wait = parsed.retry_after
        if parsed.outcome == "ok" or wait is None:
            return None
        return wait if wait <= self.scenario.run.retry_after_max_seconds else None

    async def _obedient_refresh(
        self,
        state: SessionState,
        request: WireRequest,
        token: str,
        *,
        step: str,
        phase: Phase,
        tab: int = 0,
        told: tuple[Op, Parsed] | None = None,
        adopt: bool = True,
    ) -> Parsed:
        """A refresh that waits and retries with the same token as a 429/503 Retry-After says.

        Real clients (SDK interceptors, mobile retry policies) do this, so a server must not
        treat the retry as token reuse. ``told`` is an answer already received (a burst
        member's), to retry rather than send anew. At most ``run.max_retries`` retries.
        """
        invoke, parsed = told or await self._send(
            state, "refresh", request, token, step=step, retry_of=None, tab=tab, phase=phase,
            adopt=adopt,
        )  # fmt: skip
        for _ in range(self.scenario.run.max_retries):
            wait = self._wait_told(parsed)
            if wait is None:
                break
            await anyio.sleep(wait)
            invoke, parsed = await self._send(
                state,
                "refresh",
                request,
                token,
                step="retry-after",
                retry_of=invoke.index,
                tab=tab,
                phase=phase,
                adopt=adopt,
            )
        return parsed

    async def _refresh_burst(self, state: SessionState, step: RefreshStep, token: str) -> None:
        if step.profile == "lost-response-retry":
            await self._lost_response(state, token)
            return
        requests: list[tuple[OpKind, WireRequest]] = [
            ("refresh", self.profile.refresh(self._base(state, i), token))
            for i in range(step.requests)
        ]
        if step.revoke:
            requests.append(
                ("revoke", self.profile.revoke(self._base(state, step.requests), token))
            )
        results = await self._burst(state, requests, token, step.sync, step.profile)
        answers = [(outcome.recv_ns, parsed) for _, outcome, parsed in results]
        told = [
            (tab, member)
            for tab, ((kind, _), member) in enumerate(zip(requests, results, strict=True))
            if kind == "refresh" and self._wait_told(member[2]) is not None
        ]
        if told:
            # Each tab told to come back later does so, on its own, as its interceptor would.
            async with anyio.create_task_group() as tg:
                for tab, (invoke, _, parsed) in told:
                    tg.start_soon(self._retry_member, state, requests[tab][1], token, tab,
                                  (invoke, parsed), answers)  # fmt: skip
        successors: list[tuple[int, TokenPair]] = []
        for recv_ns, parsed in answers:
            if parsed.outcome == "ok" and parsed.tokens is not None:
                successors.append((recv_ns, parsed.tokens))
                if parsed.tokens.refresh is not None:
                    state.note_issued(parsed.tokens.refresh, self.fp)
        if successors:
            successors.sort(key=lambda pair: pair[0])
            # Tabs sharing storage and fanned-out server requests keep the last answer that
            # lands (last write wins); a single caller keeps the first. The others stay leaves.
            keep_last = step.profile in ("multi-tab", "server-fan-out")
            kept = successors[-1 if keep_last else 0][1]
            state.adopt(kept.refresh, kept.access, self.fp)

    async def _retry_member(
        self,
        state: SessionState,
        request: WireRequest,
        token: str,
        tab: int,
        told: tuple[Op, Parsed],
        answers: list[tuple[int, Parsed]],
    ) -> None:
        """Retry one burst member as its Retry-After said; its final answer joins ``answers``."""
        parsed = await self._obedient_refresh(
            state, request, token, step="retry-after", phase="burst", tab=tab, told=told,
            adopt=False,
        )  # fmt: skip
        answers.append((time.monotonic_ns(), parsed))

    async def _replay(self, state: SessionState, step: ReplayStep) -> None:
        if len(state.chain) <= step.age:
            logger.info(
                "replay skipped: the session has no token that old",
                extra={"session": state.n, "age": step.age, "chain": len(state.chain)},
            )
            return
        token = state.chain[-1 - step.age]
        requests: list[tuple[OpKind, WireRequest]] = [
            ("refresh", self.profile.refresh(self._base(state, i), token))
            for i in range(step.parallel)
        ]
        for _, _, parsed in await self._burst(state, requests, token, step.sync, REPLAY_STEP):
            # An attacker's successor is recorded (it is a leaf to probe) but never adopted.
            if parsed.outcome == "ok" and parsed.tokens and parsed.tokens.refresh is not None:
                state.note_issued(parsed.tokens.refresh, self.fp)

    async def _lost_response(self, state: SessionState, token: str) -> None:
        """Send a refresh whose response is lost, then retry with the same token (FAPI 2.0).

        The server sends its answer in full and commits whatever it commits; the client never
        reads it (as when a mobile connection drops), so the op is recorded ``info`` with no
        tokens: the checkers must treat the token as maybe consumed.
        """
        self._count()
        request = self.profile.refresh(self._base(state), token)
        process = self._tab(state, 0)
        invoke = self._invoke(process, state, "refresh", token, step="lost-response")
        answered = await self.client.request(request, timeout=self.scenario.run.op_timeout_seconds)
        lost = WireOutcome(
            request=request,
            response=None,
            send_ns=answered.send_ns,
            recv_ns=answered.recv_ns,
            sent=answered.sent,
            error=answered.error,
            error_detail="response discarded: simulated lost response",
        )
        self._complete(state, invoke, lost, 0)
        await self._single(state, "refresh", request, token, step="retry", retry_of=invoke.index)

    async def _burst(
        self,
        state: SessionState,
        requests: list[tuple[OpKind, WireRequest]],
        token: str,
        sync: str,
        step: str,
    ) -> list[tuple[Op, WireOutcome, Parsed]]:
        engine = self.engine_override or sync
        burst = self._next_burst
        self._next_burst += 1
        invokes = []
        for i, (kind, request) in enumerate(requests):
            self._count()
            invokes.append(
                self._invoke(
                    self._tab(state, i),
                    state,
                    kind,
                    token,
                    burst=burst,
                    engine=engine,
                    target=_origin(request.url),
                    step=step if kind == "refresh" else "revoke",
                    phase="burst",
                )
            )
        result = await self.client.burst(
            [request for _, request in requests],
            engine=engine,
            timeout=self.scenario.run.op_timeout_seconds,
        )
        parsed_all = []
        for i, (invoke, outcome) in enumerate(zip(invokes, result.outcomes, strict=True)):
            parsed = self._complete(state, invoke, outcome, i, engine=result.engine)
            parsed_all.append((invoke, outcome, parsed))
        arrivals = [a for a in (_arrival(o) for o in result.outcomes) if a is not None]
        self.outcome.bursts.append(
            BurstInfo(
                burst=burst,
                engine=result.engine,
                size=len(requests),
                release_spread_ns=result.release_spread_ns,
                arrival_spread_ns=max(arrivals) - min(arrivals) if len(arrivals) > 1 else None,
                notes=result.notes,
            )
        )
        return parsed_all

    # -- final probes --------------------------------------------------------------------

    async def _probe_all(self, sessions: list[SessionState]) -> None:
        """Probe every leaf once the run has quiesced: which tokens are still alive?"""
        limiter = anyio.CapacityLimiter(self.scenario.run.probe_concurrency)

        async def probe(state: SessionState) -> None:
            async with limiter:
                for token in state.leaves():
                    request = self.profile.refresh(self._base(state), token)
                    process = self._tab(state, 0)
                    invoke = self._invoke(
                        process, state, "probe", token, step="final-probe", phase="final-probe"
                    )
                    outcome = await self.client.request(
                        request, timeout=self.scenario.run.op_timeout_seconds
                    )
                    self._complete(state, invoke, outcome, 0)

        async with anyio.create_task_group() as tg:
            for state in sessions:
                tg.start_soon(probe, state)

    # -- recording -----------------------------------------------------------------------

    def _count(self) -> None:
        if self._started_ops >= self.scenario.run.max_ops:
            self._stop("op-bound", f"max_ops = {self.scenario.run.max_ops} reached")
            raise _Stop
        self._started_ops += 1

    def _invoke(
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

    def _complete(
        self,
        state: SessionState,
        invoke: Op,
        outcome: WireOutcome,
        tab: int,
        *,
        engine: str | None = None,
    ) -> Parsed:
        if outcome.response is None:
            error = outcome.error or ("response-lost" if outcome.sent else "error")
            parsed = Parsed("info" if outcome.sent else "fail", None, error)
            self._note_connect(outcome)
        else:
            self._connect_failures = 0
            self._answered += 1
            if invoke.kind in ("login", "refresh", "probe"):
                parsed = self.profile.parse_tokens(outcome.response)
            else:
                parsed = self.profile.parse_plain(outcome.response)
        if parsed.outcome == "ok" and invoke.kind in ("refresh", "probe") and invoke.presented:
            state.consumed.add(invoke.presented)
        self._append_completion(
            invoke,
            parsed.outcome,
            parsed.tokens,
            outcome,
            error=parsed.error,
            engine=engine,
            retry_after=parsed.retry_after,
        )
        if parsed.outcome == "info" and tab < len(state.tabs):
            # Jepsen's rule: a process whose op is indeterminate is never reused.
            state.tabs[tab] = self._new_process()
        return parsed

    def _append_completion(
        self,
        invoke: Op,
        outcome: Literal["ok", "fail", "info"],
        tokens: TokenPair | None,
        wire: WireOutcome | None,
        *,
        error: str | None = None,
        engine: str | None = None,
        retry_after: float | None = None,
    ) -> None:
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
        self.history.append(
            Op(
                index=self.history.next_index(),
                type=outcome,
                process=invoke.process,
                session=invoke.session,
                kind=invoke.kind,
                time_ns=wire.recv_ns if wire is not None else time.monotonic_ns(),
                sent_ns=wire.send_ns if wire is not None and wire.sent else None,
                status=wire.response.status if wire and wire.response else None,
                error=error if outcome != "ok" else None,
                returned=returned,
                access=access,
                claims=claims,
                arrival_ns=_arrival(wire) if wire is not None else None,
                engine=engine,
                retry_after=retry_after,
            )
        )
        self._done_ops += 1
        if self.progress is not None:
            self.progress(self._done_ops, self._planned)

    def _close_pending(self, why: str) -> None:
        for index in self.history.pending():
            invoke = self.history.ops[index]
            self._append_completion(invoke, "info", None, None, error=f"{RUN_STOPPED}: {why}")

    def _note_connect(self, outcome: WireOutcome) -> None:
        if outcome.sent:
            return
        self._connect_failures += 1
        # Nothing ever answered, or the target stopped answering: no verdict is possible.
        if self._connect_failures >= UNREACHABLE_AFTER or self._answered == 0:
            detail = f"{_origin(outcome.request.url)}: {outcome.error_detail or outcome.error}"
            self._stop("target-unreachable", detail)

    def _resolve_password(self) -> str:
        auth = self.scenario.auth
        if auth.mode != "password":
            return ""
        if auth.password_env is not None:
            value = os.environ.get(auth.password_env)
            if value is None:
                raise ScenarioError(
                    f"auth.password_env: environment variable {auth.password_env} is not set"
                )
            return value
        return auth.password or ""


def _origin(url: str) -> str:
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.split('/', 1)[0]}"


def _arrival(outcome: WireOutcome) -> int | None:
    if outcome.response is None:
        return None
    value = outcome.response.header("x-arrival-ns")
    return int(value) if value is not None and value.isdigit() else None
