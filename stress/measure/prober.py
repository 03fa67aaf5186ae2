"""The measurement's plan: which trial to run next, given what the earlier ones showed.

1. ``rotation``: log in, rotate, replay the predecessor at once: does it rotate, and what does
   a replay right after a rotation return?
2. ``access`` (with ``target.resource``): does a refresh revoke the access token issued before
   it?
3. With replays accepted: the grace search (:class:`~stress.measure.search.GraceSearch`, the
   trials of each of its rounds at once), then (with ``target.resource``) a replay right after
   the new access token was used: does that use end the window (Doorkeeper's does)? Then
   replays in a row: does the window accept only so many (Keycloak's "Refresh Token Max
   Reuse")? Then replays 2, 3, ... generations back inside the window, then one reuse just
   past the window, or right after such a use or past such a limit when no window's end was
   found.
   With replays rejected there is no window, and the reuse is the replay itself.
   A reuse that revoked nothing starts the tolerance search (the same search, over reuse
   trials): a server may spare rejected reuses for a while after a rotation, so that its
   holder's late-stamped concurrent requests do not log the user out, and revoke after that.
4. ``burst``: N concurrent refreshes of one token; reported, it decides no field. Under a
   window that a use ends, the access token of the successor kept is used and the others are
   refreshed: siblings that still work outlived their window (Doorkeeper's fork).

Every field is decided from recorded ops by :mod:`stress.measure.decide`. A trial that ended
indeterminate (a 5xx, a timeout) is run once more on fresh sessions; a field still undecided
then, or never reached because a bound stopped the measurement, keeps its default and says so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

import anyio

from stress.history import Operation
from stress.measure import decide
from stress.measure.decide import Decision, GraceDecision
from stress.measure.result import (
    FIELDS,
    BurstOutcome,
    Evidence,
    FieldName,
    FieldResult,
    FieldValue,
    GraceBracket,
    policy_values,
)
from stress.measure.search import GraceSearch
from stress.measure.trials import Trials
from stress.policy import Policy, ReuseScope, preset

__all__ = ["GENERATIONS_BOUND", "REPLAYS_BOUND", "Bounds", "Prober"]

T = TypeVar("T")
Ops = list[Operation]

REPLAYS_BOUND = 4
"""Replays in a row are tried up to this many; a target accepting that many is reported as
having no limit on them (as far as was tried)."""

GENERATIONS_BOUND = 4
"""Replays are tried up to this many generations back; a target accepting that many is
reported as accepting at least that many."""


@dataclass(frozen=True)
class Bounds:
    """How far the measurement may go: the grace search's bound and precision, the burst's
    size, and the whole measurement's wall time and request count."""

    grace_max: float = 10.0
    resolution: float = 0.1
    burst: int = 8
    max_seconds: float = 110.0
    max_requests: int = 400


class Prober:
    """Runs the plan on ``trials`` and keeps each field's result with its evidence."""

    def __init__(self, trials: Trials, bounds: Bounds, *, has_resource: bool) -> None:
        self.trials = trials
        self.bounds = bounds
        self.has_resource = has_resource
        self.fields: dict[FieldName, FieldResult] = {}
        self.bracket: GraceBracket | None = None
        self.tolerance: GraceBracket | None = None
        self.burst: BurstOutcome | None = None
        self.notes: list[str] = []
        self._ops: dict[int, Operation] = {}
        self._replays: list[Ops] = []  # every replay trial so far, for a partial grace

    # -- the plan ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Measure every field the target lets us; stops early only by raising or cancelling."""
        first, rotates = await self._decided(
            partial(self.trials.replay, 0.0), decide.decide_rotation
        )
        self._replays.append(first)
        self._set("rotates", rotates)
        if rotates.value is None:
            self._unmeasured(FIELDS[1:], rotates.why)
            return
        if not rotates.value:
            self._unmeasured(FIELDS[1:], "not applicable: the target does not rotate")
            await self._burst()
            return
        replay = decide.decide_replay(first)
        self._set("replay", replay)
        await self._access()
        if replay.value == "rejected":
            none = Decision(0.0, "replays are rejected: there is no window", replay.ops)
            self._set("grace_seconds", none)
            self._set("generations", Decision(0, "replays are rejected", replay.ops))
            self._set("use_retires", Decision(False, "replays are rejected: no window to end"))
            self._set("max_replays", Decision(0, "replays are rejected: no window to limit"))
            await self._reuse(0.0)
        elif replay.value is None:
            self._unmeasured(
                (
                    "grace_seconds",
                    "generations",
                    "reuse_revokes",
                    "tolerance_seconds",
                    "use_retires",
                    "max_replays",
                ),
                replay.why,
            )
        else:
            window = await self._grace()
            if window.value is None:
                left: tuple[FieldName, ...] = (
                    "generations",
                    "reuse_revokes",
                    "tolerance_seconds",
                    "use_retires",
                )
                self._unmeasured((*left, "max_replays"), window.why)
            elif window.accepted_at is not None:
                retires = await self._retirement(window.accepted_at)
                allowed = await self._replay_limit(window.accepted_at)
                await self._generations(window.accepted_at)
                if window.rejected_at is None and retires:
                    await self._reuse(0.0, after_use=True)
                elif window.rejected_at is None and allowed:
                    await self._reuse(0.0, allowed=allowed)
                elif window.rejected_at is None:
                    why = "the window is longer than --grace-max, so no reuse after it was tried"
                    self._unmeasured(("reuse_revokes", "tolerance_seconds"), why)
                else:
                    await self._reuse(window.rejected_at + window.resolution)
        await self._burst()

    async def _access(self) -> None:
        if not self.has_resource:
            reason = "target.resource is not set (set it, or pass --resource), so no access "
            self._set("refresh_revokes_access", Decision(None, reason + "token was tried"))
            return
        _, decision = await self._decided(self.trials.access, decide.decide_access)
        self._set("refresh_revokes_access", decision)

    async def _grace(self) -> GraceDecision:
        search = GraceSearch(self.bounds.grace_max, self.bounds.resolution)
        while delays := search.next_round():
            results = await self._round(delays, self.trials.replay, _replay_point)
            self._replays.extend(ops for _, ops, _ in results)
            unanswered = [delay for delay, _, point in results if point.value is None]
            if unanswered:
                self.notes.append(
                    f"the grace search stopped: a replay {unanswered[0]:g} s after its rotation "
                    "got no answer about the policy (unknown, or told to come back later)"
                )
                break
            for _, _, point in results:
                if point.value is not None:
                    search.observe(point.value.bound, point.value.accepted)
        window = self._window()
        self._set_grace(window)
        return window

    async def _round(
        self,
        delays: Sequence[float],
        trial: Callable[[float], Awaitable[Ops]],
        point_of: Callable[[Ops], Decision[decide.ReplayPoint]],
    ) -> list[tuple[float, Ops, Decision[decide.ReplayPoint]]]:
        """One trial per delay, all at once (each on its own sessions), shortest delay first.
        A round lasts as long as its longest delay, not as their sum, and less once a point
        falls on the far side of the threshold (a replay rejected, a reuse revoking): the
        trials still waiting to send later could only land there too, so they are called
        off."""
        results: dict[float, tuple[Ops, Decision[decide.ReplayPoint]]] = {}
        scopes = {delay: anyio.CancelScope() for delay in delays}

        async def one(delay: float) -> None:
            with scopes[delay]:
                _, point = results[delay] = await self._decided(partial(trial, delay), point_of)
                if point.value is not None and not point.value.accepted:
                    for later in (d for d in delays if d > delay):
                        scopes[later].cancel()

        async with anyio.create_task_group() as group:
            for delay in delays:
                group.start_soon(one, delay)
        return [(delay, *results[delay]) for delay in delays if delay in results]

    def _window(self) -> GraceDecision:
        return decide.decide_grace(
            self._replays, grace_max=self.bounds.grace_max, floor=self.bounds.resolution
        )

    def _set_grace(self, window: GraceDecision) -> None:
        self.bracket = GraceBracket(
            accepted_at=window.accepted_at,
            rejected_at=window.rejected_at,
            resolution=window.resolution,
            grace_max=self.bounds.grace_max,
        )
        shown = Decision(window.value, window.why, window.ops, lower_bound=window.lower_bound)
        self._set("grace_seconds", shown)

    async def _retirement(self, window: float) -> bool:
        """Does a use of the new access token end the window (True: it does)?"""
        if not self.has_resource:
            why = "target.resource is not set (set it, or pass --resource), so no access token "
            self._set("use_retires", Decision(None, why + "was used before a replay"))
            return False
        _, decision = await self._decided(
            self.trials.retire, partial(decide.decide_retirement, window=window)
        )
        self._set("use_retires", decision)
        return decision.value is True

    async def _replay_limit(self, window: float) -> int:
        """How many replays in a row the window accepts (0: no limit found)."""
        trial = partial(self.trials.replays, REPLAYS_BOUND)
        decide_on = partial(decide.decide_replays, bound=REPLAYS_BOUND, window=window)
        _, decision = await self._decided(trial, decide_on)
        self._set("max_replays", decision)
        return decision.value or 0

    async def _generations(self, window: float) -> None:
        trials: list[Ops] = []
        for depth in range(2, GENERATIONS_BOUND + 1):
            ops, point = await self._decided(partial(self.trials.generations, depth), _replay_point)
            trials.append(ops)
            if point.value is None or not point.value.accepted:
                break
        decision = decide.decide_generations(trials, bound=GENERATIONS_BOUND, window=window)
        self._set("generations", decision)

    async def _reuse(self, delay: float, *, after_use: bool = False, allowed: int = 0) -> None:
        """A reuse ``delay`` s after the rotation (``after_use``: right after the new access
        token retired the predecessor; ``allowed``: right after the replays the window allows);
        one that revoked nothing may have come within a tolerance, so the tolerance search
        follows it, unless a use or the limit had ended the window."""
        trial = partial(self.trials.reuse, delay, after_use=after_use, allowed=allowed)
        ops, decision = await self._decided(trial, decide.decide_reuse)
        if decision.value == "nothing" and (after_use or allowed):
            self._set("reuse_revokes", decision)
            why = "reuse revokes nothing, so no tolerance applies"
            self._set("tolerance_seconds", Decision(0.0, why))
            return
        if decision.value == "nothing":
            await self._tolerance(delay, ops, decision)
            return
        self._set("reuse_revokes", decision)
        if decision.value is None:
            self._set("tolerance_seconds", Decision(None, decision.why))
        else:
            why = "the first reuse, just past the window, revoked already: no tolerance"
            self._set("tolerance_seconds", Decision(0.0, why, decision.ops))

    async def _tolerance(self, start: float, first: Ops, spared: Decision[ReuseScope]) -> None:
        """Reuse trials at growing delays from ``start`` until one revokes, then narrowing the
        bracket, as the grace search does; none revoking up to ``--grace-max`` is ``nothing``."""
        search = GraceSearch(self.bounds.grace_max, self.bounds.resolution, accepted=start)
        trials = [first]
        while delays := search.next_round():
            results = await self._round(delays, self.trials.reuse, _reuse_point)
            trials.extend(ops for _, ops, _ in results)
            unanswered = [delay for delay, _, point in results if point.value is None]
            if unanswered:
                self.notes.append(
                    f"the tolerance search stopped: a reuse {unanswered[0]:g} s after its "
                    "rotation decided nothing"
                )
                break
            for _, _, point in results:
                if point.value is not None:
                    search.observe(point.value.bound, point.value.accepted)
        points = [(decide.reuse_point(ops), ops) for ops in trials]
        revoking = [(p.bound, ops) for p, ops in points if p is not None and not p.accepted]
        if not revoking:
            if search.longer_than_max:
                limit = self.bounds.grace_max
                why = f"{spared.why}; no reuse up to --grace-max ({limit:g} s) revoked anything"
                self._set("reuse_revokes", Decision("nothing", why, spared.ops))
                why = "reuse revokes nothing, so no tolerance applies"
                self._set("tolerance_seconds", Decision(0.0, why))
            else:
                why = "the tolerance search stopped before a reuse revoked or --grace-max"
                self._unmeasured(("reuse_revokes", "tolerance_seconds"), why)
            return
        self._set("reuse_revokes", decide.decide_reuse(min(revoking, key=lambda r: r[0])[1]))
        found = decide.decide_tolerance(trials, floor=self.bounds.resolution)
        self.tolerance = GraceBracket(
            accepted_at=found.accepted_at,
            rejected_at=found.rejected_at,
            resolution=found.resolution,
            grace_max=self.bounds.grace_max,
        )
        self._set("tolerance_seconds", Decision(found.value, found.why, found.ops))

    async def _burst(self) -> None:
        retires = self.fields.get("use_retires")
        use_kept = retires is not None and retires.value is True
        trial = partial(self.trials.burst, self.bounds.burst, use_kept=use_kept)
        self.burst = decide.summarize_burst(await self._trial(trial))

    # -- trials and results ----------------------------------------------------------------------

    async def _trial(self, run: Callable[[], Awaitable[Ops]]) -> Ops:
        ops = await run()
        self._ops.update((o.index, o) for o in ops)
        return ops

    async def _decided(
        self, run: Callable[[], Awaitable[Ops]], decide_on: Callable[[Ops], Decision[T]]
    ) -> tuple[Ops, Decision[T]]:
        """Run a trial, and once more when it ended undecided because an answer was unknown."""
        ops = await self._trial(run)
        decision = decide_on(ops)
        if decision.value is None and any(o.outcome == "info" for o in ops):
            ops = await self._trial(run)
            decision = decide_on(ops)
        return ops, decision

    def _evidence(self, indices: Sequence[int]) -> list[Evidence]:
        return decide.evidence([self._ops[i] for i in indices])

    def _set(self, name: FieldName, decision: Decision[T]) -> None:
        measured = decision.value is not None
        value = decision.value if measured else self._default(name)
        self.fields[name] = FieldResult(
            name=name,
            value=_field_value(value),
            measured=measured,
            why=decision.why,
            lower_bound=decision.lower_bound,
            evidence=self._evidence(decision.ops),
        )

    def _unmeasured(self, names: Sequence[FieldName], why: str) -> None:
        for name in names:
            self._set(name, Decision(None, why))

    def _default(self, name: FieldName) -> FieldValue:
        """What an unmeasured field is left at: the model's default, kept consistent with the
        fields measured (no rotation is the ``none`` preset; a replay accepted needs a window
        and at least one generation)."""
        rotates, replay = self.fields.get("rotates"), self.fields.get("replay")
        if rotates is not None and rotates.value is False:
            return policy_values(preset("none"))[name]
        if replay is not None and replay.value != "rejected":
            if name == "grace_seconds":
                return self._window().accepted_at or self.bounds.resolution
            if name == "generations":
                return 1
        return policy_values(Policy())[name]

    def finish(self, reason: str | None) -> list[FieldResult]:
        """Every field, those never reached left at their defaults with ``reason``."""
        if "grace_seconds" not in self.fields and len(self._replays) > 1:
            window = self._window()  # a search cut short still bounds the window from below
            self._set_grace(
                GraceDecision(
                    None,
                    window.why,
                    window.ops,
                    window.accepted_at,
                    window.rejected_at,
                    window.resolution,
                    lower_bound=True,
                )
            )
        why = f"not measured: {reason}" if reason else "not measured"
        for name in FIELDS:
            if name not in self.fields:
                self._set(name, Decision(None, why))
        return [self.fields[name] for name in FIELDS]


def _replay_point(ops: Ops) -> Decision[decide.ReplayPoint]:
    """The trial's replay as a bracket point (None: it got no answer about the policy)."""
    point = decide.replay_point(ops)
    return Decision(point, "the replay got no answer" if point is None else "")


def _reuse_point(ops: Ops) -> Decision[decide.ReplayPoint]:
    """The trial's reuse as a tolerance bracket point (None: it decided nothing)."""
    point = decide.reuse_point(ops)
    return Decision(point, "the reuse decided nothing" if point is None else "")


def _field_value(value: object) -> FieldValue:
    if isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"not a policy field value: {value!r}")
