"""Synchronised bursts: a refresh step's concurrent requests, and a replay step's.

A burst's invokes are all recorded first, then the wire client releases every request with the
step's sync engine (the completions carry the precise send time), then each outcome is recorded.
A tab told to come back later (429/503 ``Retry-After``) retries on its own, as its interceptor
would, and its final answer counts among the burst's. The engine actually used and the measured
spreads of every burst are kept for the run-end record.
"""

from __future__ import annotations

import dataclasses
import time

import anyio

from stress.drive import profiles
from stress.drive.actions import Actions, origin
from stress.drive.recorder import arrival_ns
from stress.drive.session import SessionState
from stress.history import REPLAY_STEP, Op, OpKind
from stress.run_record import BurstRecord
from stress.scenario import RefreshStep, ReplayStep
from stress.target import Parsed, TokenPair
from stress.wire import BurstResult, WireOutcome, WireRequest

__all__ = ["Bursts", "burst_record"]

Member = tuple[Op, WireOutcome, Parsed]
_NONCE_NOTE = "released again: the server wanted a new DPoP nonce of every request"


class Bursts:
    """Sends the bursts of a run; ``records`` describes each one that was released."""

    def __init__(self, actions: Actions, engine_override: str | None) -> None:
        self.actions = actions
        self.engine_override = engine_override
        self.records: list[BurstRecord] = []
        self._next = 0

    async def refresh(self, state: SessionState, step: RefreshStep, token: str) -> None:
        """The step's callers refresh ``token`` at once, as its client profile sends them."""
        if step.profile == profiles.LOST_RESPONSE:
            await self.actions.lost_response(state, token)
            return
        actions = self.actions
        count = profiles.requests(step)
        requests: list[tuple[OpKind, WireRequest]] = [
            ("refresh", actions.refresh_request(state, token, i)) for i in range(count)
        ]
        if step.revoke:
            requests.append(("revoke", actions.revoke_request(state, token, count)))
        members = await self._release(state, requests, token, step.sync, step.profile)
        answers = [(outcome.recv_ns, parsed) for _, outcome, parsed in members]
        told = [
            (tab, member)
            for tab, ((kind, _), member) in enumerate(zip(requests, members, strict=True))
            if kind == "refresh" and actions.wait_told(member[2]) is not None
        ]
        if told:
            async with anyio.create_task_group() as tg:
                for tab, (invoke, _, parsed) in told:
                    tg.start_soon(self._retry, state, requests[tab][1], token, tab,
                                  (invoke, parsed), answers)  # fmt: skip
        pairs: list[tuple[int, TokenPair]] = []
        for received, parsed in answers:
            tokens = parsed.tokens
            if parsed.outcome == "ok" and tokens is not None:
                pairs.append((received, tokens))
                if tokens.refresh is not None:
                    state.note_issued(tokens.refresh, actions.recorder.fp, tokens.csrf)
        pair = profiles.kept(step.profile, pairs)
        if pair is not None:
            state.adopt(pair.refresh, pair.access, actions.recorder.fp, pair.csrf)

    async def _retry(
        self,
        state: SessionState,
        request: WireRequest,
        token: str,
        tab: int,
        told: tuple[Op, Parsed],
        answers: list[tuple[int, Parsed]],
    ) -> None:
        """Retry one member as its Retry-After said; its final answer joins ``answers``."""
        parsed = await self.actions.obedient_refresh(
            state, request, token, step="retry-after", phase="burst", tab=tab, told=told,
            adopt=False,
        )  # fmt: skip
        answers.append((time.monotonic_ns(), parsed))

    async def replay(self, state: SessionState, step: ReplayStep) -> bool:
        """Present an older token of the session's chain, as an attacker would.

        False when the session has no token that old. The attacker's successors are recorded
        (they are leaves to probe) but never adopted.
        """
        if len(state.chain) <= step.age:
            return False
        token = state.chain[-1 - step.age]
        requests: list[tuple[OpKind, WireRequest]] = [
            ("refresh", self.actions.refresh_request(state, token, i)) for i in range(step.parallel)
        ]
        for _, _, parsed in await self._release(state, requests, token, step.sync, REPLAY_STEP):
            tokens = parsed.tokens
            if parsed.outcome == "ok" and tokens is not None and tokens.refresh is not None:
                state.note_issued(tokens.refresh, self.actions.recorder.fp, tokens.csrf)
        return True

    async def _release(
        self,
        state: SessionState,
        requests: list[tuple[OpKind, WireRequest]],
        token: str,
        sync: str,
        step: str,
    ) -> list[Member]:
        actions = self.actions
        recorder = actions.recorder
        engine = self.engine_override or sync
        burst = self._next
        self._next += 1
        invokes = []
        for i, (kind, request) in enumerate(requests):
            recorder.count()
            invokes.append(
                recorder.invoke(
                    recorder.tab(state, i),
                    state,
                    kind,
                    token,
                    burst=burst,
                    engine=engine,
                    target=origin(request.url),
                    step=step if kind == "refresh" else "revoke",
                    phase="burst",
                )
            )
        sent = [request for _, request in requests]
        timeout = actions.run.op_timeout_seconds
        result = await actions.wire.burst(sent, engine=engine, timeout=timeout)
        again = [actions.profile.nonce_resend(outcome) for outcome in result.outcomes]
        if again and all(request is not None for request in again):
            # The server wanted a new DPoP nonce of every member: it refused each before
            # looking at its token, so the burst is released again, whole and as tight, with
            # it (each op is its request and its final answer, as a single one resent is).
            renewed = [request for request in again if request is not None]
            result = await actions.wire.burst(renewed, engine=engine, timeout=timeout)
            result = dataclasses.replace(result, notes=(*result.notes, _NONCE_NOTE))
        answers = [
            actions.classify(invoke, outcome)
            for invoke, outcome in zip(invokes, result.outcomes, strict=True)
        ]
        if kids := actions.unknown_keys(answers):
            await actions.recorder.claims.learn_keys(kids)
        members = []
        for i, (invoke, outcome, answer) in enumerate(
            zip(invokes, result.outcomes, answers, strict=True)
        ):
            parsed = actions.complete(
                state, invoke, outcome, i, engine=result.engine, parsed=answer
            )
            members.append((invoke, outcome, parsed))
        self.records.append(burst_record(burst, result))
        return members


def burst_record(burst: int, result: BurstResult) -> BurstRecord:
    """What the run-end record keeps of burst ``burst``: the engine used, its size, the release
    spread the wire measured and the arrival spread the server's stamps show, if it stamps."""
    arrivals = [a for a in (arrival_ns(o) for o in result.outcomes) if a is not None]
    return BurstRecord(
        burst=burst,
        engine=result.engine,
        size=len(result.outcomes),
        release_spread_ns=result.release_spread_ns,
        arrival_spread_ns=max(arrivals) - min(arrivals) if len(arrivals) > 1 else None,
        notes=result.notes,
    )
