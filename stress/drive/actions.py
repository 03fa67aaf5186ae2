"""Single requests of a session, each recorded: refresh, use, revoke, probe, and their retries.

Every request goes the same way: claim an op from the budget, record the invoke, send it on the
wire, classify the outcome with the target profile (``ok``, ``fail`` or ``info``), record the
completion, and keep what the session now holds. Two client behaviours real SDKs have live here
too: a refresh answered 429/503 with ``Retry-After`` is retried with the same token after the
wait (:meth:`Actions.obedient_refresh`), and a refresh whose response is lost is retried with the
same token (:meth:`Actions.lost_response`, FAPI 2.0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

import anyio

from stress.drive.liveness import Liveness
from stress.drive.recorder import Recorder
from stress.drive.session import SessionState
from stress.history import Op, OpKind, Phase
from stress.scenario import RunSpec
from stress.target import Parsed, TargetProfile
from stress.wire import Wire, WireOutcome, WireRequest

__all__ = ["Actions", "discarded", "origin"]


def origin(url: str) -> str:
    """``scheme://host:port`` of an absolute URL: which target (replica) a request went to."""
    authority = url.find("://")
    if authority < 0:
        return f"{url}://"
    path = url.find("/", authority + 3)
    return url if path < 0 else url[:path]


def discarded(answered: WireOutcome, why: str) -> WireOutcome:
    """``answered`` as a client that never read its response sees it: the request was sent,
    its answer is unknown (``info``), and ``why`` says so."""
    return WireOutcome(
        request=answered.request,
        response=None,
        send_ns=answered.send_ns,
        recv_ns=answered.recv_ns,
        sent=answered.sent,
        error=answered.error,
        error_detail=f"response discarded: {why}",
    )


class Actions:
    """Sends and records one session's requests against ``targets`` (spread by session)."""

    def __init__(
        self,
        recorder: Recorder,
        wire: Wire,
        profile: TargetProfile,
        targets: Sequence[str],
        run: RunSpec,
        on_unreachable: Callable[[str], None],
    ) -> None:
        self.recorder = recorder
        self.wire = wire
        self.profile = profile
        self.targets = list(targets)
        self.run = run
        self._on_unreachable = on_unreachable
        self._liveness = Liveness()
        self._alive = list(self.targets)

    @property
    def dead(self) -> dict[str, int]:
        """Targets that stopped answering, with the monotonic ns their death began: what was
        sent to them after it says nothing about the target's behaviour."""
        return self._liveness.dead

    def ever_answered(self, where: str) -> bool:
        """Whether the target ``where`` answered any request of the run."""
        return self._liveness.ever_answered(where)

    def base(self, state: SessionState, i: int = 0) -> str:
        """The target the session's ``i``-th concurrent request goes to (a live one)."""
        alive = self._alive or self.targets
        return alive[(state.n + i) % len(alive)]

    def refresh_request(self, state: SessionState, token: str, i: int = 0) -> WireRequest:
        """The refresh presenting ``token`` from the session's ``i``-th concurrent caller,
        with what a client sends beside it: its access token, the token's CSRF value and the
        session's cookies."""
        base = self.base(state, i)
        return self.profile.refresh(base, token, state.access, state.csrf_of(token), state.cookies)

    def revoke_request(self, state: SessionState, token: str, i: int = 0) -> WireRequest:
        """The logout presenting ``token`` (see :meth:`refresh_request`)."""
        base = self.base(state, i)
        return self.profile.revoke(base, token, state.access, state.csrf_of(token), state.cookies)

    # -- one request ---------------------------------------------------------------------

    async def send(
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
        adopt: bool = True,
        counted: bool = True,
    ) -> tuple[Op, Parsed]:
        """One recorded request from the session's tab ``tab``: (its invoke, its outcome).

        With ``adopt`` a successful refresh or probe becomes the session's current token;
        ``counted`` ops claim one op of the run's ``max_ops`` budget (final probes do not: they
        are bounded by the leaves there are).
        """
        if counted:
            self.recorder.count()
        invoke = self.recorder.invoke(
            self.recorder.tab(state, tab),
            state,
            kind,
            presented,
            target=origin(request.url),
            step=step,
            retry_of=retry_of,
            phase=phase,
        )
        outcome = await self.wire.request(request, timeout=self.run.op_timeout_seconds)
        again = self.profile.nonce_resend(outcome)
        if again is not None:  # refused before its token was looked at: one op, sent twice
            outcome = await self.wire.request(again, timeout=self.run.op_timeout_seconds)
        parsed = self.classify(invoke, outcome)
        if kids := self.unknown_keys((parsed,)):
            await self.recorder.claims.learn_keys(kids)
        parsed = self.complete(state, invoke, outcome, tab, parsed=parsed)
        tokens = parsed.tokens
        if adopt and kind in ("probe", "refresh") and parsed.outcome == "ok" and tokens:
            state.adopt(tokens.refresh, tokens.access, self.recorder.fp, tokens.csrf)
        return invoke, parsed

    def classify(self, invoke: Op, outcome: WireOutcome) -> Parsed:
        """What ``outcome`` says as ``invoke``'s completion (ok, fail or info, and the tokens it
        carries), without recording it or changing any state."""
        if outcome.response is None:
            error = outcome.error or ("response-lost" if outcome.sent else "error")
            return Parsed("info" if outcome.sent else "fail", None, error)
        if invoke.kind in ("login", "refresh", "probe"):
            return self.profile.parse_tokens(outcome.response, login=invoke.kind == "login")
        if invoke.kind == "revoke":
            return self.profile.parse_logout(outcome.response)
        return self.profile.parse_plain(outcome.response)

    def unknown_keys(self, answers: Iterable[Parsed]) -> set[str]:
        """The signing keys that access tokens in ``answers`` name and the run lacks: to be
        fetched (:meth:`ClaimReader.learn_keys`) before the tokens are recorded, since the target
        may have rotated its key during the run (see :mod:`stress.signing_keys`). Sync, so the
        run path awaits nothing for the usual answer."""
        claims = self.recorder.claims
        if not claims.verifying:
            return set()
        return {
            kid
            for parsed in answers
            if parsed.tokens is not None
            and parsed.tokens.access is not None
            and (kid := claims.unknown_key(parsed.tokens.access)) is not None
        }

    def complete(
        self,
        state: SessionState,
        invoke: Op,
        outcome: WireOutcome,
        tab: int,
        *,
        engine: str | None = None,
        parsed: Parsed | None = None,
    ) -> Parsed:
        """Record ``outcome`` as ``invoke``'s completion, classified here unless ``parsed``
        says how (:meth:`classify`)."""
        if parsed is None:
            parsed = self.classify(invoke, outcome)
        if outcome.response is None:
            self._note_connect(invoke, outcome)
        else:
            self.profile.hear(outcome)  # a DPoP nonce, for the next proofs
            where = origin(outcome.request.url)
            self._liveness.answered(where, outcome.recv_ns, self.wire.last_connected)
            if self.profile.spec.session_cookies:
                state.set_cookies(self.profile.session_cookies(outcome.response))
        if parsed.outcome == "ok" and invoke.kind in ("refresh", "probe") and invoke.presented:
            state.consume(invoke.presented)
        self.recorder.complete(
            invoke,
            parsed.outcome,
            parsed.tokens,
            outcome,
            error=parsed.error,
            engine=engine,
            retry_after=parsed.retry_after,
        )
        if parsed.outcome == "info":
            self.recorder.retire(state, tab)
        return parsed

    def _note_connect(self, invoke: Op, outcome: WireOutcome) -> None:
        """Count connect failures per target; a target that stops answering is left out.

        A dead target (:class:`Liveness`) gets no more requests: they go to the targets still
        alive, and when none is left the run stops as unreachable (no verdict is possible).
        """
        if outcome.sent:
            return
        where = origin(outcome.request.url)
        if not self._liveness.refused(where, invoke.time_ns):
            return
        self._alive = [t for t in self._alive if origin(t) != where]
        if not self._alive:
            self._on_unreachable(f"{where}: {outcome.error_detail or outcome.error}")

    # -- refreshes that behave like real clients -------------------------------------------

    def wait_told(self, parsed: Parsed) -> float | None:
        """How long to wait before retrying, when the answer said so and it is honoured."""
        wait = parsed.retry_after
        if parsed.outcome == "ok" or wait is None:
            return None
        return wait if wait <= self.run.retry_after_max_seconds else None

    async def obedient_refresh(
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
        invoke, parsed = told or await self.send(
            state, "refresh", request, token, step=step, tab=tab, phase=phase, adopt=adopt
        )
        for _ in range(self.run.max_retries):
            wait = self.wait_told(parsed)
            if wait is None:
                break
            await anyio.sleep(wait)
            request = self.profile.renewed(request)
            invoke, parsed = await self.send(
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

    async def lost_response(self, state: SessionState, token: str) -> None:
        """Send a refresh whose response is lost, then retry with the same token (FAPI 2.0).

        The server sends its answer in full and commits whatever it commits; the client never
        reads it (as when a mobile connection drops), so the op is recorded ``info`` with no
        tokens: the checkers must treat the token as maybe consumed.
        """
        self.recorder.count()
        request = self.refresh_request(state, token)
        process = self.recorder.tab(state, 0)
        invoke = self.recorder.invoke(process, state, "refresh", token, step="lost-response")
        answered = await self.wire.request(request, timeout=self.run.op_timeout_seconds)
        self.complete(state, invoke, discarded(answered, "simulated lost response"), 0)
        again = self.profile.renewed(request)
        await self.send(state, "refresh", again, token, step="retry", retry_of=invoke.index)

    # -- the other single ops ------------------------------------------------------------

    async def refresh_once(self, state: SessionState) -> Parsed | None:
        """One refresh of the session's current token under load; None when it holds none."""
        token = state.current
        if token is None:
            return None
        request = self.refresh_request(state, token)
        return await self.obedient_refresh(state, request, token, step="load", phase="load")

    async def use_once(
        self, state: SessionState, *, step: str = "load", phase: Phase = "load"
    ) -> Parsed | None:
        """One call of the protected resource; None when the session has no access token."""
        if state.access is None:
            return None
        request = self.profile.use(self.base(state), state.access, state.cookies)
        return (await self.send(state, "use", request, state.access, step=step, phase=phase))[1]

    async def revoke(self, state: SessionState, token: str) -> None:
        """Revoke the session's token (its family), as a logout does."""
        await self.send(state, "revoke", self.revoke_request(state, token), token)

    async def probe(
        self,
        state: SessionState,
        token: str,
        *,
        step: str = "probe",
        phase: Phase = "step",
        counted: bool = True,
    ) -> None:
        """Refresh ``token`` to see whether its family is still alive."""
        request = self.refresh_request(state, token)
        await self.send(state, "probe", request, token, step=step, phase=phase, counted=counted)
