"""Deciding each policy field from the ops a trial recorded: the analysis half of the prober.

Every trial runs on fresh sessions and records its requests in the history; the functions here
read those ops back and nothing else, so each field's value can be traced to the ops that show
it (and re-derived from the history). They never touch the network and are tested on
hand-written op sequences. A trial's ops are found by their step names (:data:`ROTATE`,
:data:`REPLAY_STEP`, :data:`PROBE`, the ``use`` steps) and sessions; a decision that the ops do
not support (an indeterminate answer, a login that failed) has ``value`` None and says why.

Answers: ``ok`` accepted; ``fail`` rejected, unless the target said to come back later (a 429
or a ``Retry-After``: that is no answer about the policy); ``info`` unknown.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import msgspec

from stress.history import REPLAY_STEP, Operation
from stress.measure.result import BurstOutcome, Evidence
from stress.measure.search import resolution, simplest_between
from stress.policy import Replay, ReuseScope

__all__ = [
    "ALLOWED",
    "PROBE",
    "ROTATE",
    "SIBLING",
    "USE_BEFORE",
    "USE_NEW",
    "USE_OLD",
    "Decision",
    "GraceDecision",
    "ReplayPoint",
    "accepted",
    "decide_access",
    "decide_generations",
    "decide_grace",
    "decide_replay",
    "decide_replays",
    "decide_retirement",
    "decide_reuse",
    "decide_rotation",
    "decide_tolerance",
    "describe",
    "evidence",
    "replay_delay",
    "replay_point",
    "reuse_point",
    "summarize_burst",
]

T = TypeVar("T")

ROTATE = "rotate"
"""A refresh of the session's current token (one legitimate rotation)."""
PROBE = "probe"
"""A refresh of the session's current token after a reuse or a burst: is the family alive?"""
USE_BEFORE = "use-before"
"""The protected resource called with the login's access token before any refresh."""
USE_OLD = "use-old"
"""The same access token again, after a refresh issued a new one."""
USE_NEW = "use-new"
"""The access token the refresh issued."""
ALLOWED = "replay-allowed"
"""A replay the policy's limit allows, sent before a reuse past that limit."""
SIBLING = "sibling"
"""A refresh of a burst winner's successor other than the one kept, after the kept one's access
token was used: does the sibling outlive a window that such a use ends?"""


@dataclass(frozen=True)
class Decision(Generic[T]):
    """A field's value as the ops show it; ``value`` None when they do not decide it.

    ``ops`` are the invoke indices that show it; ``lower_bound`` marks a value the search
    stopped at (the true one may be larger).
    """

    value: T | None
    why: str
    ops: tuple[int, ...] = ()
    lower_bound: bool = False


def _fp(fingerprint: str | None) -> str:
    return fingerprint[:8] if fingerprint else "-"


def describe(op: Operation) -> str:
    """One line for an op: what it presented and what came back."""
    step = op.invoke.step or op.kind
    head = f"{op.kind} ({step}, session {op.session})"
    if op.presented is not None:
        head += f" presented {_fp(op.presented)}"
    if op.done is None:
        return f"{head} -> no answer (the measurement stopped)"
    status = f" {op.status}" if op.status is not None else ""
    if op.outcome != "ok":
        return f"{head} -> {op.outcome}{status} {op.error or ''}".rstrip()
    if op.kind == "use":
        return f"{head} -> ok{status}"
    got = "no new refresh token" if op.returned == op.presented else f"refresh {_fp(op.returned)}"
    return f"{head} -> ok{status}: {got}, access {_fp(op.access)}"


def accepted(op: Operation) -> bool | None:
    """True accepted, False rejected, None no answer about the policy (unknown, or told to wait)."""
    if op.outcome == "ok":
        return True
    if op.outcome == "info" or op.status == 429 or op.retry_after is not None:
        return None
    return False


def _step(ops: Sequence[Operation], step: str, session: int | None = None) -> list[Operation]:
    return [o for o in ops if o.invoke.step == step and (session is None or o.session == session)]


def _first(ops: Sequence[Operation], step: str, session: int | None = None) -> Operation | None:
    found = _step(ops, step, session)
    return found[0] if found else None


def _login(ops: Sequence[Operation], session: int) -> Operation | None:
    return next((o for o in ops if o.kind == "login" and o.session == session), None)


def replay_delay(rotation: Operation, replay: Operation) -> float | None:
    """Seconds from the rotation's answer to the replay's send (None if it never answered)."""
    received = rotation.recv_ns
    return None if received is None else (replay.send_ns - received) / 1e9


# -- rotation and replay --------------------------------------------------------------------


def decide_rotation(ops: Sequence[Operation]) -> Decision[bool]:
    """Does a refresh return a new refresh token? From a fresh login's first refresh."""
    rotation = _first(ops, ROTATE)
    if rotation is None:
        return Decision(None, "no session logged in, so nothing was refreshed")
    shown = (rotation.index,)
    answer = accepted(rotation)
    if answer is None:
        return Decision(None, f"the first refresh got no answer: {describe(rotation)}", shown)
    if not answer:
        return Decision(
            None,
            f"the first refresh of a fresh login was rejected: {rotation.status} {rotation.error}",
            shown,
        )
    if rotation.returned == rotation.presented:
        return Decision(
            False, "a refresh returned no new refresh token (the same one stays)", shown
        )
    return Decision(True, "a refresh returned a new refresh token", shown)


def decide_replay(ops: Sequence[Operation]) -> Decision[Replay]:
    """What a replay of the predecessor right after its rotation returns."""
    rotation, replay = _first(ops, ROTATE), _first(ops, REPLAY_STEP)
    if rotation is None or replay is None:
        return Decision(None, "the rotation trial did not get as far as the replay")
    shown = (rotation.index, replay.index)
    delay = replay_delay(rotation, replay)
    when = f"{delay:.3f} s after the rotation" if delay is not None else "after the rotation"
    answer = accepted(replay)
    if answer is None:
        return Decision(None, f"the replay {when} got no answer: {describe(replay)}", shown)
    if not answer:
        return Decision("rejected", f"the predecessor replayed {when} was rejected", shown)
    if replay.returned == rotation.returned:
        return Decision(
            "same-pair",
            f"the predecessor replayed {when} returned the successor already issued",
            shown,
        )
    if replay.returned == replay.presented:
        return Decision(
            "access-only",
            f"the predecessor replayed {when} returned an access token and no refresh token",
            shown,
        )
    return Decision(
        "new-pair",
        f"the predecessor replayed {when} returned another successor "
        f"({_fp(replay.returned)}, not {_fp(rotation.returned)})",
        shown,
    )


# -- the grace window -----------------------------------------------------------------------


@dataclass(frozen=True)
class GraceDecision:
    """The window from every replay trial: the bracket, and the value it stands for.

    ``accepted_at`` is the most an accepted replay proves the window lasts at least,
    ``rejected_at`` the least a rejected one proves it lasts at most (both
    :class:`ReplayPoint` bounds, in seconds after the rotation); ``value`` is the simplest
    decimal between them (or ``accepted_at`` when nothing was rejected up to the bound: a
    lower bound).
    """

    value: float | None
    why: str
    ops: tuple[int, ...]
    accepted_at: float | None
    rejected_at: float | None
    resolution: float
    lower_bound: bool = False


@dataclass(frozen=True)
class ReplayPoint:
    """What one replay trial shows about the window, whatever the scheduling did.

    The server measures the time between its rotation and the replay somewhere inside
    ``[rotation answered -> replay sent, rotation sent -> replay answered]``. An accepted
    replay proves the window is at least the lower end (``bound``); a rejected one that it is
    below the upper end. A stall on either side widens the span, never misleads the bracket.
    """

    accepted: bool
    bound: float
    op: int


def replay_point(ops: Sequence[Operation]) -> ReplayPoint | None:
    """The trial's replay as a point of the bracket; None when it got no answer."""
    rotation, replay = _first(ops, ROTATE), _first(ops, REPLAY_STEP)
    if rotation is None or replay is None or rotation.recv_ns is None or replay.recv_ns is None:
        return None
    answer = accepted(replay)
    if answer is None:
        return None
    lower = (replay.send_ns - rotation.recv_ns) / 1e9
    upper = (replay.recv_ns - rotation.send_ns) / 1e9
    return ReplayPoint(answer, round(lower if answer else upper, 6), replay.index)


def decide_grace(
    trials: Sequence[Sequence[Operation]], *, grace_max: float, floor: float
) -> GraceDecision:
    """The grace window from replay trials (each: a login, a rotation, one replay after a delay).

    The bracket is measured, not planned: each point is a :class:`ReplayPoint`'s bound. Acceptance
    must fall off once: a replay accepted later than another was rejected is no window, and the
    decision says so.
    """
    points = [p for p in map(replay_point, trials) if p is not None]
    yes = [p for p in points if p.accepted]
    no = [p for p in points if not p.accepted]
    first_no = min(no, key=lambda p: p.bound) if no else None
    if not yes:
        shown = (first_no.op,) if first_no else ()
        rejected = first_no.bound if first_no else None
        return GraceDecision(0.0, "no replay was accepted: no window", shown, None, rejected, floor)
    last_yes = max(yes, key=lambda p: p.bound)
    accepted_at = last_yes.bound
    res = resolution(accepted_at, floor)
    if first_no is None:
        why = (
            f"replays were accepted up to {accepted_at:.3f} s after the rotation, the longest "
            f"delay tried (--grace-max {grace_max:g}): the window is at least that"
        )
        # Stated as the roundest value within the resolution below: still a lower bound.
        value = simplest_between(max(accepted_at - res, accepted_at / 2), accepted_at)
        return GraceDecision(value, why, (last_yes.op,), accepted_at, None, res, lower_bound=True)
    pair, rejected_at = (last_yes.op, first_no.op), first_no.bound
    if accepted_at >= rejected_at:
        why = (
            f"not a window: a replay was accepted {accepted_at:.3f} s after its rotation but "
            f"another rejected within {rejected_at:.3f} s"
        )
        return GraceDecision(None, why, pair, accepted_at, rejected_at, res)
    why = (
        f"accepted {accepted_at:.3f} s after the rotation, rejected within {rejected_at:.3f} s "
        f"(resolution {res:.3g} s)"
    )
    value = simplest_between(accepted_at, rejected_at)
    return GraceDecision(value, why, pair, accepted_at, rejected_at, res)


# -- generations ----------------------------------------------------------------------------


def decide_generations(
    trials: Sequence[Sequence[Operation]], *, bound: int, window: float
) -> Decision[int]:
    """How many generations back a replay inside the window is accepted (>= 1).

    Each trial logs in, rotates ``k`` times in a row and replays the login's token (``k`` back),
    ``k`` = 2, 3, ... in order; the answer is the last ``k`` accepted before the first rejection.
    A trial whose replay was answered more than ``window`` seconds after the first rotation was
    sent proves nothing (it may have been outside the window).
    """
    depth, shown = 1, list[int]()
    for ops in trials:
        rotations, replay = _step(ops, ROTATE), _first(ops, REPLAY_STEP)
        if not rotations or replay is None:
            return Decision(None, "a generations trial did not get as far as its replay", (*shown,))
        k = len(rotations)
        shown.append(replay.index)
        first, done = rotations[0].send_ns, replay.recv_ns
        answer = accepted(replay)
        if done is None or (done - first) / 1e9 > window:
            return Decision(
                None,
                f"the replay {k} generations back was too late to be inside the window",
                (*shown,),
            )
        if answer is None:
            return Decision(None, f"the replay {k} generations back got no answer", (*shown,))
        if not answer:
            why = f"a replay {k} generations back was rejected"
            if depth > 1:
                why = f"a replay {depth} generations back was accepted; {why}"
            return Decision(depth, why, (*shown,))
        depth = k
    if depth >= bound:
        return Decision(
            depth,
            f"replays up to {bound} generations back were accepted, the most "
            "tried: at least that many",
            (*shown,),
            lower_bound=True,
        )
    return Decision(depth, "only the immediate predecessor was tried", (*shown,))


# -- reuse after the window -------------------------------------------------------------------


def decide_reuse(ops: Sequence[Operation]) -> Decision[ReuseScope]:
    """What a reuse after the window revokes, from two sessions of one user.

    The trial logs the same user in twice (sessions A and B), rotates A's token, replays A's
    predecessor once the window is over, then probes A's current token and B's: A dead is the
    family, A and B dead is every family of the user, both alive is nothing.
    """
    rotation, replay = _first(ops, ROTATE), _first(ops, REPLAY_STEP)
    if rotation is None or replay is None:
        return Decision(None, "the reuse trial did not get as far as the replay")
    family = rotation.session
    twin = next((o.session for o in ops if o.kind == "login" and o.session != family), None)
    own = _first(ops, PROBE, family)
    other = _first(ops, PROBE, twin) if twin is not None else None
    if own is None or other is None:
        return Decision(None, "the reuse trial did not get as far as its probes", (replay.index,))
    shown = (replay.index, own.index, other.index)
    delay = replay_delay(rotation, replay)
    when = f"{delay:.3f} s after the rotation" if delay is not None else "after the rotation"
    reuse = accepted(replay)
    if reuse is not False:
        said = "was accepted" if reuse else "got no answer"
        return Decision(None, f"the reuse {when} {said}, so it revoked nothing to measure", shown)
    alive, twin_alive = accepted(own), accepted(other)
    if alive is None or twin_alive is None:
        return Decision(None, "a probe after the reuse got no answer", shown)
    if alive and twin_alive:
        return Decision(
            "nothing",
            f"after a rejected reuse {when} the family's current token "
            "and another session of the user still work",
            shown,
        )
    if not alive and not twin_alive:
        return Decision(
            "user",
            f"after a rejected reuse {when} the family's current token and "
            "another session of the same user were both rejected",
            shown,
        )
    if not alive:
        return Decision(
            "family",
            f"after a rejected reuse {when} the family's current token was "
            "rejected; another session of the same user still works",
            shown,
        )
    return Decision(
        None,
        "after the reuse the other session of the user died but the family "
        "itself still works: no scope the model knows",
        shown,
    )


# -- the tolerance ------------------------------------------------------------------------------


def reuse_point(ops: Sequence[Operation]) -> ReplayPoint | None:
    """A reuse trial as a point of the tolerance's bracket; None when it decided nothing.

    ``accepted`` here means spared: the reuse was rejected and revoked nothing. The bounds are a
    replay's (:class:`ReplayPoint`): a spared reuse proves the tolerance lasts at least the time
    from the rotation's answer to the reuse's send, a revoking one that it ends before the time
    from the rotation's send to the reuse's answer.
    """
    scope = decide_reuse(ops).value
    rotation, replay = _first(ops, ROTATE), _first(ops, REPLAY_STEP)
    if scope is None or rotation is None or replay is None:
        return None
    if rotation.recv_ns is None or replay.recv_ns is None:
        return None
    spared = scope == "nothing"
    lower = (replay.send_ns - rotation.recv_ns) / 1e9
    upper = (replay.recv_ns - rotation.send_ns) / 1e9
    return ReplayPoint(spared, round(lower if spared else upper, 6), replay.index)


def decide_tolerance(trials: Sequence[Sequence[Operation]], *, floor: float) -> GraceDecision:
    """How long after a rotation a rejected reuse still revokes nothing, from reuse trials of
    which at least one revoked: the bracket between the latest spared reuse and the earliest
    revoking one. A reuse spared later than another revoked is no threshold, and the decision
    says so.
    """
    points = [p for p in map(reuse_point, trials) if p is not None]
    spared = [p for p in points if p.accepted]
    revoked = [p for p in points if not p.accepted]
    first_revoked = min(revoked, key=lambda p: p.bound) if revoked else None
    if first_revoked is None:
        raise ValueError("decide_tolerance needs a reuse trial that revoked")
    if not spared:
        why = "the first reuse, just past the window, already revoked: no tolerance"
        return GraceDecision(0.0, why, (first_revoked.op,), None, first_revoked.bound, floor)
    last_spared = max(spared, key=lambda p: p.bound)
    pair = (last_spared.op, first_revoked.op)
    low, high = last_spared.bound, first_revoked.bound
    res = resolution(low, floor)
    if low >= high:
        why = (
            f"not a threshold: a reuse {low:.3f} s after its rotation revoked nothing but "
            f"another within {high:.3f} s revoked"
        )
        return GraceDecision(None, why, pair, low, high, res)
    why = (
        f"a rejected reuse {low:.3f} s after the rotation revoked nothing, one within "
        f"{high:.3f} s revoked (resolution {res:.3g} s)"
    )
    return GraceDecision(simplest_between(low, high), why, pair, low, high, res)


# -- the access token ---------------------------------------------------------------------------


def decide_retirement(ops: Sequence[Operation], window: float) -> Decision[bool]:
    """Does a use of the new access token end the window? Doorkeeper's does.

    The trial rotates, calls the resource with the access token the rotation issued (it must
    work), then replays the predecessor at once. Rejected, while replays ``window`` seconds
    after a rotation were accepted by the grace search, it was the use that retired it.
    """
    rotation, use = _first(ops, ROTATE), _first(ops, USE_NEW)
    replay = _first(ops, REPLAY_STEP)
    if rotation is None or use is None:
        return Decision(None, "the trial did not get as far as a use of the new access token")
    if accepted(use) is not True:
        why = "the access token the refresh issued did not work at target.resource"
        return Decision(None, why, (use.index,))
    if replay is None:
        return Decision(None, "the trial did not get as far as the replay", (use.index,))
    shown = (rotation.index, use.index, replay.index)
    point = replay_point(ops)
    answer = accepted(replay)
    if answer is None or point is None:
        return Decision(None, "the replay after the use got no answer", shown)
    if answer:
        why = "the predecessor replayed right after the new access token was used was accepted"
        return Decision(False, why, shown)
    if point.bound >= window:
        why = (
            f"the predecessor replayed right after the new access token was used was rejected, "
            f"but as late as {point.bound:.3f} s after the rotation, and replays were accepted "
            f"only up to {window:.3f} s: the window may have ended by itself"
        )
        return Decision(None, why, shown)
    why = (
        f"the predecessor replayed right after the new access token was used was rejected "
        f"(within {point.bound:.3f} s of the rotation, while replays {window:.3f} s after a "
        "rotation were accepted): the use ended the window"
    )
    return Decision(True, why, shown)


def decide_replays(ops: Sequence[Operation], *, bound: int, window: float) -> Decision[int]:
    """How many replays the window accepts: the trial rotates, then replays the predecessor at
    once, one after another, until one is rejected or ``bound`` were accepted. A rejection while
    replays ``window`` seconds after a rotation were accepted is a limit (Keycloak's "Refresh
    Token Max Reuse"); ``bound`` accepted is no limit, as far as was tried (0)."""
    rotation, replays = _first(ops, ROTATE), _step(ops, REPLAY_STEP)
    if rotation is None or not replays:
        return Decision(None, "the trial did not get as far as a replay")
    shown = tuple(o.index for o in replays)
    for count, op in enumerate(replays):
        answer = accepted(op)
        if answer is None:
            return Decision(None, f"replay {count + 1} in a row got no answer", shown)
        if answer:
            continue
        point = replay_point([rotation, op])
        if point is None or point.bound >= window or count == 0:
            why = f"replay {count + 1} in a row was rejected, but the window may have ended"
            return Decision(None, why, shown)
        why = (
            f"{count} replay(s) in a row were accepted and the next one rejected, within "
            f"{point.bound:.3f} s of the rotation (replays {window:.3f} s after a rotation were "
            "accepted): a limit on replays"
        )
        return Decision(count, why, shown)
    why = f"{bound} replays in a row were accepted, the most tried: no limit as far as was tried"
    return Decision(0, why, shown, lower_bound=True)


def decide_access(ops: Sequence[Operation]) -> Decision[bool]:
    """Does a refresh revoke the access token issued before it? From the protected resource.

    The trial calls the resource with the login's access token (it must work), refreshes, then
    calls it with that old access token and with the new one (which must work).
    """
    before, rotation = _first(ops, USE_BEFORE), _first(ops, ROTATE)
    old, new = _first(ops, USE_OLD), _first(ops, USE_NEW)
    if before is None or accepted(before) is not True:
        return Decision(
            None,
            "the login's access token did not work at target.resource before any refresh",
            (before.index,) if before else (),
        )
    if rotation is None or old is None or new is None:
        return Decision(None, "the access trial did not get as far as its calls", (before.index,))
    shown = (before.index, rotation.index, old.index, new.index)
    if rotation.access == before.presented:
        return Decision(None, "the refresh returned the same access token", shown)
    if accepted(new) is not True:
        return Decision(None, "the access token the refresh issued did not work", shown)
    answer = accepted(old)
    if answer is None:
        return Decision(None, "the old access token got no answer after the refresh", shown)
    if answer:
        return Decision(
            False, "the access token issued before a refresh still works after it", shown
        )
    return Decision(True, "the access token issued before a refresh was rejected after it", shown)


# -- the concurrent burst -------------------------------------------------------------------------


def evidence(ops: Sequence[Operation]) -> list[Evidence]:
    """Each op as evidence: its invoke index and its one-line summary."""
    return [Evidence(op=o.index, summary=describe(o)) for o in ops]


def summarize_burst(ops: Sequence[Operation]) -> BurstOutcome:
    """Winners, distinct pairs and rejections of the burst, and whether its family survived.

    The family survived when a probe of a token the burst handed out (stopping at the first
    that works) was accepted; when no member won there is nothing to probe and it did not.
    Under a window that a use of the new access token ends, the other successors were tried
    after such a use (:data:`SIBLING`): any that still works outlived its window.
    """
    members = [o for o in ops if o.kind == "refresh" and o.burst is not None]
    for o in ops:  # a member told to come back later retried: its retries count with it
        if o.kind == "refresh" and o.invoke.retry_of in {m.index for m in members}:
            members.append(o)
    retried = {o.invoke.retry_of for o in members if o.invoke.retry_of is not None}
    final = [o for o in members if o.index not in retried]
    wins = [o for o in final if o.outcome == "ok"]
    probes = _step(ops, PROBE)
    answers = [accepted(o) for o in probes]
    survived: bool | None
    if not wins:
        survived, fate = False, "the family was left without a token"
    elif any(answers):
        survived, fate = True, "the family survived (a token it handed out works)"
    elif answers and all(a is False for a in answers):
        survived = False
        fate = "every token it handed out was rejected: the burst logged its own holder out"
    else:
        survived, fate = None, "whether the family survived is unknown (a probe got no answer)"
    siblings = _step(ops, SIBLING)
    alive = [o for o in siblings if accepted(o)]
    if siblings:
        fate += (
            f"; after the access token of the successor kept was used, {len(alive)} of the "
            f"{len(siblings)} other successors still worked"
            + (": the family forked for good" if alive else ": the use retired them")
        )
    outcome = BurstOutcome(
        size=sum(1 for o in members if o.burst is not None),
        winners=len(wins),
        distinct_pairs=len({o.returned for o in wins if o.returned != o.presented}),
        access_only=sum(1 for o in wins if o.returned == o.presented),
        rejected=sum(1 for o in final if o.outcome == "fail"),
        unknown=sum(1 for o in final if o.outcome == "info"),
        survived=survived,
        outlived_use=len(alive) if siblings else None,
        summary="",
        evidence=evidence([*members, *probes, *siblings]),
    )
    counts = (
        f"{outcome.winners} of {outcome.size} accepted ({outcome.distinct_pairs} distinct "
        f"successor(s), {outcome.access_only} access token only), {outcome.rejected} rejected, "
        f"{outcome.unknown} unknown"
    )
    return msgspec.structs.replace(outcome, summary=f"{counts}; {fate}")
