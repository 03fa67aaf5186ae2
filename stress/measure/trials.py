"""The prober's experiments on the wire: each one logs fresh sessions in and records its ops.

A trial is a short, fixed sequence of requests on sessions no other trial touches, sent one at
a time (the burst trial excepted, whose point is concurrency), each recorded in the history by
the run's :class:`~stress.drive.actions.Actions` like any other op: tokens only as fingerprints,
replays under the step name ``replay``. A trial returns the ops it recorded, and the deciding
functions (:mod:`stress.measure.decide`) read the field off them. Trials are built on the
driver's primitives (logins, single requests, the burst engine) and change nothing in them.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import msgspec

from stress.drive.actions import Actions
from stress.drive.bursts import Bursts
from stress.drive.logins import Logins
from stress.drive.session import SessionState
from stress.history import REPLAY_STEP, Operation, pair_operations
from stress.measure.decide import ALLOWED, PROBE, ROTATE, SIBLING, USE_BEFORE, USE_NEW, USE_OLD
from stress.scenario import AuthSpec, RefreshStep

__all__ = ["LoginFailed", "Trials"]


class LoginFailed(Exception):
    """A fresh session could not log in: nothing can be measured without one."""


class Trials:
    """Runs trials against the target behind ``actions``; trials may run at once, since each
    keeps to its own sessions and returns only their ops."""

    def __init__(
        self, actions: Actions, bursts: Bursts, auth: AuthSpec, scenario_dir: Path | None
    ) -> None:
        self.actions = actions
        self.bursts = bursts
        self.auth = auth
        self.scenario_dir = scenario_dir
        self.logins = Logins(actions, auth, scenario_dir)
        self._sessions = 0

    # -- the trials --------------------------------------------------------------------------

    async def replay(self, delay: float) -> list[Operation]:
        """Log in, rotate, wait ``delay`` seconds after the answer, replay the predecessor."""
        start, state = self._mark(), await self._login()
        first = self._current(state)
        if await self._rotate(state):
            await anyio.sleep(delay)
            await self._send_replay(state, first)
        return self._since(start, state)

    async def generations(self, depth: int) -> list[Operation]:
        """Log in, rotate ``depth`` times in a row, replay the login's token at once."""
        start, state = self._mark(), await self._login()
        first = self._current(state)
        for _ in range(depth):
            if not await self._rotate(state):
                return self._since(start, state)
        await self._send_replay(state, first)
        return self._since(start, state)

    async def retire(self) -> list[Operation]:
        """Log in, rotate, call the resource with the new access token, replay the predecessor
        at once: does that use end the window?"""
        start, state = self._mark(), await self._login()
        first = self._current(state)
        if await self._rotate(state) and await self._use_new(state):
            await self._send_replay(state, first)
        return self._since(start, state)

    async def replays(self, bound: int) -> list[Operation]:
        """Log in, rotate, replay the predecessor at once, again and again, until a replay is
        rejected or ``bound`` were accepted."""
        start, state = self._mark(), await self._login()
        first = self._current(state)
        if await self._rotate(state):
            for _ in range(bound):
                if not await self._send_replay(state, first):
                    break
        return self._since(start, state)

    async def reuse(
        self, delay: float, *, after_use: bool = False, allowed: int = 0
    ) -> list[Operation]:
        """Log one user in twice, rotate the first session, replay its predecessor ``delay``
        seconds later (``after_use``: at once, once the new access token was used; with
        ``allowed``, after that many replays the window accepts), then probe both sessions'
        current tokens."""
        start, logins = self._mark(), self._same_user()
        holder, twin = await self._login(logins), await self._login(logins)
        first = self._current(holder)
        if await self._rotate(holder) and (not after_use or await self._use_new(holder)):
            for _ in range(allowed):
                await self._send_replay(holder, first, step=ALLOWED)
            await anyio.sleep(delay)
            await self._send_replay(holder, first)
            await self._probe(holder, self._current(holder))
            await self._probe(twin, self._current(twin))
        return self._since(start, holder, twin)

    async def access(self) -> list[Operation]:
        """Call the resource with the login's access token, refresh, call it with the old
        access token and with the new one."""
        start, state = self._mark(), await self._login()
        old = state.access
        if (
            old is not None
            and await self._use(state, old, USE_BEFORE)
            and await self._rotate(state)
        ):
            await self._use(state, old, USE_OLD)
            if state.access is not None:
                await self._use(state, state.access, USE_NEW)
        return self._since(start, state)

    async def burst(self, size: int, *, use_kept: bool = False) -> list[Operation]:
        """``size`` concurrent refreshes of one fresh token, then a probe of each token the
        burst handed out until one works; with ``use_kept``, first a use of the access token of
        the successor the session kept and a refresh of every other one."""
        start, state = self._mark(), await self._login()
        token = self._current(state)
        await self.bursts.refresh(state, RefreshStep(parallel=size), token)
        handed_out = [t for t in state.issued.values() if t != token] or [token]
        kept = state.current
        if use_kept and kept is not None and await self._use_new(state):
            for sibling in dict.fromkeys(t for t in handed_out if t != kept):
                await self._probe(state, sibling, step=SIBLING, adopt=False)
        for candidate in handed_out:
            if await self._probe(state, candidate):
                break
        return self._since(start, state)

    # -- their requests ------------------------------------------------------------------------

    def _mark(self) -> int:
        return self.actions.recorder.history.next_index()

    def _since(self, start: int, *states: SessionState) -> list[Operation]:
        """The ops of ``states``' sessions recorded from ``start`` on: a trial's own, even while
        other trials record theirs."""
        sessions = {state.n for state in states}
        records = self.actions.recorder.history.ops[start:]
        return pair_operations([op for op in records if op.session in sessions])

    def _same_user(self) -> Logins:
        """Logins that all use the username (and mint command) of the next session number."""
        n = str(self._sessions)
        command = [arg.replace("{n}", n) for arg in self.auth.command or []] or None
        pinned = msgspec.structs.replace(
            self.auth, username=self.auth.username.replace("{n}", n), command=command
        )
        return Logins(self.actions, pinned, self.scenario_dir)

    async def _login(self, logins: Logins | None = None) -> SessionState:
        state = SessionState(n=self._sessions, tabs=[])
        self._sessions += 1
        logins = logins or self.logins
        if not await logins.login(state):
            raise LoginFailed(logins.problem or "login failed")
        return state

    @staticmethod
    def _current(state: SessionState) -> str:
        token = state.current
        if token is None:  # a login always starts a family with a refresh token
            raise LoginFailed("the session holds no refresh token")
        return token

    async def _rotate(self, state: SessionState) -> bool:
        token = self._current(state)
        request = self.actions.refresh_request(state, token)
        _, parsed = await self.actions.send(state, "refresh", request, token, step=ROTATE)
        return parsed.outcome == "ok"

    async def _send_replay(self, state: SessionState, token: str, step: str = REPLAY_STEP) -> bool:
        request = self.actions.refresh_request(state, token)
        _, parsed = await self.actions.send(
            state, "refresh", request, token, step=step, adopt=False
        )
        return parsed.outcome == "ok"

    async def _probe(
        self, state: SessionState, token: str, *, step: str = PROBE, adopt: bool = True
    ) -> bool:
        request = self.actions.refresh_request(state, token)
        _, parsed = await self.actions.send(state, "probe", request, token, step=step, adopt=adopt)
        return parsed.outcome == "ok"

    async def _use_new(self, state: SessionState) -> bool:
        return state.access is not None and await self._use(state, state.access, USE_NEW)

    async def _use(self, state: SessionState, access: str, step: str) -> bool:
        request = self.actions.profile.use(self.actions.base(state), access, state.cookies)
        _, parsed = await self.actions.send(state, "use", request, access, step=step)
        return parsed.outcome == "ok"
