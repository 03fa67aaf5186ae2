"""Deciding each policy field from a trial's recorded ops, on hand-written op sequences.

Times are milliseconds (see tests/checkers/histories.py): ``t=(send, received)``.
"""

from __future__ import annotations

import msgspec
import pytest
from checkers.histories import MS, History

from stress.history import Operation
from stress.measure import decide
from stress.measure.result import BurstOutcome


def _replay_trial(
    h: History, *, s: int, delay_ms: float, o: str = "ok", returned: str | None = None, **kw: object
) -> list[Operation]:
    """A login, a rotation answered at 10 ms, a replay of the login's token ``delay_ms`` later."""
    start = len(h.operations())
    a, b = f"A{s}", f"B{s}"
    h.login(p=s, s=s, returned=a, t=(0, 1))
    h.refresh(p=s, s=s, presented=a, returned=b, t=(2, 10), step="rotate")
    h.refresh(
        p=s,
        s=s,
        presented=a,
        returned=returned if returned else b,
        t=(10 + delay_ms, 12 + delay_ms),
        o=o,
        step="replay",
        **kw,
    )  # type: ignore[arg-type]
    return h.operations()[start:]


# -- rotation and replay --------------------------------------------------------------------


def test_a_new_refresh_token_is_a_rotation() -> None:
    ops = _replay_trial(History(), s=0, delay_ms=1)
    decision = decide.decide_rotation(ops)
    assert (decision.value, decision.ops) == (True, (1,))


def test_the_same_refresh_token_back_is_no_rotation() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", returned="A", t=(2, 3), step="rotate")
    assert decide.decide_rotation(h.operations()).value is False


def test_a_rejected_first_refresh_decides_nothing_and_says_why() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(
        p=0, presented="A", t=(2, 3), o="fail", status=401, error="invalid_client", step="rotate"
    )
    decision = decide.decide_rotation(h.operations())
    assert decision.value is None
    assert "401 invalid_client" in decision.why


@pytest.mark.parametrize(
    ("returned", "outcome", "replay"),
    [
        ("B0", "ok", "same-pair"),
        ("C0", "ok", "new-pair"),
        ("A0", "ok", "access-only"),  # no refresh token: the history records the presented one
        (None, "fail", "rejected"),
        (None, "info", None),
    ],
)
def test_what_a_replay_right_after_the_rotation_returns(
    returned: str | None, outcome: str, replay: str | None
) -> None:
    ops = _replay_trial(History(), s=0, delay_ms=1, o=outcome, returned=returned)
    decision = decide.decide_replay(ops)
    assert decision.value == replay
    assert decision.ops == (1, 2)


def test_a_replay_told_to_come_back_later_is_no_answer() -> None:
    ops = _replay_trial(History(), s=0, delay_ms=1, o="fail", status=429, retry_after=1.0)
    assert decide.decide_replay(ops).value is None


# -- the grace window -----------------------------------------------------------------------


def _grace_trials(*answers: tuple[float, str]) -> list[list[Operation]]:
    h = History()
    return [_replay_trial(h, s=i, delay_ms=d, o=o) for i, (d, o) in enumerate(answers)]


def test_the_window_is_the_simplest_value_between_the_last_acceptance_and_first_rejection() -> None:
    trials = _grace_trials(
        (1, "ok"), (100, "ok"), (400, "ok"), (800, "fail"), (600, "fail"), (503, "ok")
    )
    window = decide.decide_grace(trials, grace_max=2, floor=0.1)
    # Accepted: at least from the rotation's answer to the replay's send; rejected: at most
    # from the rotation's send to the replay's answer.
    assert (window.accepted_at, window.rejected_at) == (0.503, 0.61)
    assert window.value == 0.6
    assert window.resolution == 0.1
    assert window.ops == (trials[5][2].index, trials[4][2].index)
    assert not window.lower_bound


def test_a_window_still_open_at_the_bound_is_a_lower_bound() -> None:
    trials = _grace_trials((1, "ok"), (1000, "ok"), (2000, "ok"))
    window = decide.decide_grace(trials, grace_max=2, floor=0.1)
    assert window.value == 2.0
    assert window.lower_bound
    assert window.rejected_at is None
    assert "at least" in window.why


def test_acceptance_after_a_rejection_is_no_window() -> None:
    trials = _grace_trials((1, "ok"), (200, "fail"), (400, "ok"))
    window = decide.decide_grace(trials, grace_max=2, floor=0.1)
    assert window.value is None
    assert "not a window" in window.why


def test_no_accepted_replay_is_no_window() -> None:
    window = decide.decide_grace(_grace_trials((1, "fail")), grace_max=2, floor=0.1)
    assert window.value == 0.0


def test_unknown_replays_are_not_points_of_the_bracket() -> None:
    trials = _grace_trials((1, "ok"), (300, "info"), (500, "ok"), (700, "fail"))
    window = decide.decide_grace(trials, grace_max=2, floor=0.1)
    assert (window.accepted_at, window.rejected_at) == (0.5, 0.71)


def test_a_rejection_answered_late_does_not_narrow_the_bracket() -> None:
    """A stall (the server or the client descheduled) widens a rejection's span: the bracket
    stays honest instead of claiming the window ended before the stall."""
    h = History()
    trials = [_replay_trial(h, s=0, delay_ms=400), _replay_trial(h, s=1, delay_ms=450, o="fail")]
    stalled = _replay_trial(h, s=2, delay_ms=450, o="fail")
    late = stalled[2]
    assert late.done is not None
    stalled[2] = Operation(
        invoke=late.invoke,
        done=msgspec.structs.replace(late.done, time_ns=late.done.time_ns + 300 * MS),
    )
    assert decide.decide_grace(trials, grace_max=2, floor=0.1).rejected_at == 0.46
    assert decide.decide_grace([trials[0], stalled], grace_max=2, floor=0.1).rejected_at == 0.76


# -- generations ----------------------------------------------------------------------------


def _generation_trial(
    h: History, s: int, depth: int, o: str, replay_at: float = 20
) -> list[Operation]:
    start = len(h.operations())
    tokens = [f"T{s}.{i}" for i in range(depth + 1)]
    h.login(p=s, s=s, returned=tokens[0], t=(0, 1))
    for i in range(depth):
        h.refresh(
            p=s,
            s=s,
            presented=tokens[i],
            returned=tokens[i + 1],
            t=(2 + 2 * i, 3 + 2 * i),
            step="rotate",
        )
    h.refresh(
        p=s,
        s=s,
        presented=tokens[0],
        returned=tokens[-1],
        t=(replay_at, replay_at + 1),
        o=o,
        step="replay",
    )  # type: ignore[arg-type]
    return h.operations()[start:]


def test_generations_is_the_last_depth_accepted_before_a_rejection() -> None:
    h = History()
    trials = [_generation_trial(h, 2, 2, "ok"), _generation_trial(h, 3, 3, "fail")]
    decision = decide.decide_generations(trials, bound=4, window=0.5)
    assert decision.value == 2
    assert decision.ops == (trials[0][-1].index, trials[1][-1].index)


def test_a_rejected_grandparent_means_one_generation() -> None:
    trials = [_generation_trial(History(), 2, 2, "fail")]
    assert decide.decide_generations(trials, bound=4, window=0.5).value == 1


def test_every_depth_accepted_up_to_the_bound_is_a_lower_bound() -> None:
    h = History()
    trials = [_generation_trial(h, k, k, "ok") for k in (2, 3, 4)]
    decision = decide.decide_generations(trials, bound=4, window=0.5)
    assert (decision.value, decision.lower_bound) == (4, True)


def test_a_replay_sent_after_the_window_proves_nothing_about_generations() -> None:
    trials = [_generation_trial(History(), 2, 2, "fail", replay_at=900)]
    decision = decide.decide_generations(trials, bound=4, window=0.5)
    assert decision.value is None
    assert "too late" in decision.why


# -- reuse after the window -------------------------------------------------------------------


def _reuse_trial(replay: str, holder: str, twin: str) -> list[Operation]:
    """Sessions 0 and 1 are one user; 0 rotates, replays its predecessor, both probe."""
    h = History()
    h.login(p=0, s=0, returned="A", t=(0, 1))
    h.login(p=1, s=1, returned="X", t=(1, 2))
    h.refresh(p=0, s=0, presented="A", returned="B", t=(3, 4), step="rotate")
    h.refresh(p=0, s=0, presented="A", t=(800, 801), o=replay, step="replay")  # type: ignore[arg-type]
    h.probe(p=0, s=0, presented="B", returned="C", t=(802, 803), o=holder, step="probe")  # type: ignore[arg-type]
    h.probe(p=1, s=1, presented="X", returned="Y", t=(804, 805), o=twin, step="probe")  # type: ignore[arg-type]
    return h.operations()


@pytest.mark.parametrize(
    ("holder", "twin", "scope"),
    [
        ("fail", "ok", "family"),
        ("fail", "fail", "user"),
        ("ok", "ok", "nothing"),
        ("ok", "fail", None),
        ("info", "ok", None),
    ],
)
def test_what_a_reuse_after_the_window_revokes(holder: str, twin: str, scope: str | None) -> None:
    decision = decide.decide_reuse(_reuse_trial("fail", holder, twin))
    assert decision.value == scope
    assert decision.ops == (3, 4, 5)


def test_a_reuse_that_was_accepted_measures_no_revocation() -> None:
    decision = decide.decide_reuse(_reuse_trial("ok", "ok", "ok"))
    assert decision.value is None
    assert "accepted" in decision.why


# -- the tolerance ------------------------------------------------------------------------------


def _tolerance_trial(h: History, s: int, delay_ms: float, holder: str) -> list[Operation]:
    """A reuse trial on sessions ``2s`` and ``2s+1``: the rotation answered at 10 ms, the reuse
    rejected ``delay_ms`` later, then the holder's probe (``holder``) and the twin's (alive)."""
    start = len(h.operations())
    a, b = 2 * s, 2 * s + 1
    h.login(p=a, s=a, returned=f"A{s}", t=(0, 1))
    h.login(p=b, s=b, returned=f"X{s}", t=(1, 2))
    h.refresh(p=a, s=a, presented=f"A{s}", returned=f"B{s}", t=(3, 10), step="rotate")
    sent = 10 + delay_ms
    h.refresh(p=a, s=a, presented=f"A{s}", t=(sent, sent + 2), o="fail", step="replay")
    probe = sent + 3
    h.probe(p=a, s=a, presented=f"B{s}", returned=f"C{s}", t=(probe, probe + 1), o=holder,  # type: ignore[arg-type]
            step="probe")  # fmt: skip
    h.probe(p=b, s=b, presented=f"X{s}", returned=f"Y{s}", t=(probe + 2, probe + 3), step="probe")
    return h.operations()[start:]


def _tolerance_trials(*answers: tuple[float, str]) -> list[list[Operation]]:
    h = History()
    return [_tolerance_trial(h, i, d, holder) for i, (d, holder) in enumerate(answers)]


def test_the_tolerance_lies_between_the_last_spared_reuse_and_the_first_revoking_one() -> None:
    trials = _tolerance_trials((0, "ok"), (400, "ok"), (800, "ok"), (1600, "fail"), (1200, "fail"))
    points = [decide.reuse_point(t) for t in trials]
    # Spared: at least from the rotation's answer to the reuse's send; revoking: at most from
    # the rotation's send to the reuse's answer.
    assert [(p.accepted, p.bound) for p in points if p is not None] == [
        (True, 0.0), (True, 0.4), (True, 0.8), (False, 1.609), (False, 1.209)
    ]  # fmt: skip
    found = decide.decide_tolerance(trials, floor=0.1)
    assert (found.accepted_at, found.rejected_at, found.value) == (0.8, 1.209, 1.0)
    assert found.ops == (trials[2][3].index, trials[4][3].index)


def test_a_first_reuse_that_revokes_means_no_tolerance() -> None:
    found = decide.decide_tolerance(_tolerance_trials((0, "fail")), floor=0.1)
    assert found.value == 0.0
    assert "no tolerance" in found.why


def test_a_reuse_spared_after_one_revoked_is_no_threshold() -> None:
    found = decide.decide_tolerance(_tolerance_trials((200, "fail"), (900, "ok")), floor=0.1)
    assert found.value is None
    assert "not a threshold" in found.why


def test_a_reuse_trial_that_decided_nothing_is_no_point() -> None:
    assert decide.reuse_point(_tolerance_trials((100, "info"))[0]) is None


# -- the access token ---------------------------------------------------------------------------


def _access_trial(before: str, old: str, new: str) -> list[Operation]:
    h = History()
    h.login(p=0, returned="A", access="at-old", t=(0, 1))
    h.use(p=0, presented="at-old", t=(2, 3), o=before, step="use-before")  # type: ignore[arg-type]
    h.refresh(p=0, presented="A", returned="B", access="at-new", t=(4, 5), step="rotate")
    h.use(p=0, presented="at-old", t=(6, 7), o=old, step="use-old")  # type: ignore[arg-type]
    h.use(p=0, presented="at-new", t=(8, 9), o=new, step="use-new")  # type: ignore[arg-type]
    return h.operations()


@pytest.mark.parametrize(
    ("before", "old", "new", "revokes"),
    [
        ("ok", "fail", "ok", True),
        ("ok", "ok", "ok", False),
        ("fail", "fail", "fail", None),
        ("ok", "fail", "fail", None),
        ("ok", "info", "ok", None),
    ],
)
def test_whether_a_refresh_revokes_the_access_token_before_it(
    before: str, old: str, new: str, revokes: bool | None
) -> None:
    assert decide.decide_access(_access_trial(before, old, new)).value is revokes


def _retire_trial(use: str, replay: str, replay_at_ms: float = 8) -> list[Operation]:
    """A rotation answered at 5 ms, its access token used, then the predecessor replayed."""
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", returned="B", access="at-new", t=(2, 5), step="rotate")
    h.use(p=0, presented="at-new", t=(6, 7), o=use, step="use-new")  # type: ignore[arg-type]
    h.refresh(
        p=0, presented="A", returned="C", t=(replay_at_ms, replay_at_ms + 1), o=replay,  # type: ignore[arg-type]
        step="replay",
    )  # fmt: skip
    return h.operations()


@pytest.mark.parametrize(
    ("use", "replay", "window", "retires"),
    [
        ("ok", "fail", 1.0, True),  # rejected at once, while replays 1 s late were accepted
        ("ok", "ok", 1.0, False),
        ("ok", "fail", 0.002, None),  # the window itself may have ended: no verdict
        ("fail", "fail", 1.0, None),  # the new access token did not work
        ("ok", "info", 1.0, None),
    ],
)
def test_whether_a_use_of_the_new_access_token_ends_the_window(
    use: str, replay: str, window: float, retires: bool | None
) -> None:
    decision = decide.decide_retirement(_retire_trial(use, replay), window)
    assert decision.value is retires, decision.why
    if retires:
        assert decision.ops == (1, 2, 3)
        assert "the use ended the window" in decision.why


def _replays_trial(answers: str) -> list[Operation]:
    """A rotation answered at 5 ms, then the predecessor replayed in a row: ``o`` accepted."""
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", returned="B", t=(2, 5), step="rotate")
    for i, answer in enumerate(answers):
        h.refresh(
            p=0, presented="A", returned=f"C{i}" if answer == "o" else None, step="replay",
            t=(6 + 2 * i, 7 + 2 * i), o="ok" if answer == "o" else "fail",
        )  # fmt: skip
    return h.operations()


@pytest.mark.parametrize(
    ("answers", "window", "limit", "lower"),
    [
        ("oox", 1.0, 2, False),  # the third replay at once refused: a limit of two
        ("oooo", 1.0, 0, True),  # four accepted, the most tried: no limit found
        ("oox", 0.005, None, False),  # the window itself may have ended
        ("x", 1.0, None, False),  # not even one: that is the window's business, not a limit's
    ],
)
def test_how_many_replays_in_a_row_the_window_accepts(
    answers: str, window: float, limit: int | None, lower: bool
) -> None:
    decision = decide.decide_replays(_replays_trial(answers), bound=4, window=window)
    assert (decision.value, decision.lower_bound) == (limit, lower), decision.why


# -- the burst ----------------------------------------------------------------------------------


def _burst(answers: list[tuple[str, str | None]], probes: list[str]) -> BurstOutcome:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    for i, (o, returned) in enumerate(answers):
        h.refresh(p=1 + i, presented="A", returned=returned, t=(2, 5 + i), o=o, burst=0)  # type: ignore[arg-type]
    for j, o in enumerate(probes):
        h.probe(p=20 + j, presented=f"P{j}", returned="Z", t=(30 + j, 31 + j), o=o, step="probe")  # type: ignore[arg-type]
    return decide.summarize_burst(h.operations())


def test_a_burst_whose_losers_revoke_the_family_logs_its_holder_out() -> None:
    summary = _burst([("ok", "B"), *[("fail", None)] * 7], ["fail"])
    assert (summary.size, summary.winners, summary.rejected, summary.survived) == (8, 1, 7, False)
    assert "logged its own holder out" in summary.summary
    assert [e.op for e in summary.evidence] == list(range(1, 10))


def test_one_identical_pair_for_every_member_and_a_live_family() -> None:
    summary = _burst([("ok", "B")] * 8, ["ok"])
    assert (summary.winners, summary.distinct_pairs, summary.survived) == (8, 1, True)
    assert summary.outlived_use is None  # no sibling was tried


def test_access_only_answers_and_distinct_pairs_are_counted_apart() -> None:
    summary = _burst([("ok", "B"), ("ok", "A"), ("ok", "A"), ("ok", "C")], ["ok"])
    assert (summary.distinct_pairs, summary.access_only) == (2, 2)


@pytest.mark.parametrize(("siblings", "alive", "said"), [
    (["ok", "ok", "fail"], 2, "2 of the 3 other successors still worked: the family forked"),
    (["fail", "fail", "fail"], 0, "0 of the 3 other successors still worked: the use retired"),
])  # fmt: skip
def test_siblings_tried_after_the_kept_one_was_used_are_counted(
    siblings: list[str], alive: int, said: str
) -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    for i, returned in enumerate("BCDE"):
        h.refresh(p=1 + i, presented="A", returned=returned, t=(2, 5 + i), burst=0)
    h.use(p=1, presented="at1", t=(10, 11), step="use-new")
    for j, (token, o) in enumerate(zip("CDE", siblings, strict=True)):
        h.probe(p=1, presented=token, returned=f"S{j}", t=(12 + j, 13 + j), o=o, step="sibling")  # type: ignore[arg-type]
    h.probe(p=1, presented="B", returned="Z", t=(20, 21), step="probe")
    summary = decide.summarize_burst(h.operations())
    assert (summary.survived, summary.outlived_use) == (True, alive)
    assert said in summary.summary


def test_a_burst_with_no_winner_leaves_no_token() -> None:
    summary = _burst([("fail", None)] * 3, [])
    assert (summary.winners, summary.survived) == (0, False)


def test_a_retry_after_a_retry_later_counts_as_its_member() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    told = h.refresh(p=1, presented="A", t=(2, 3), o="fail", status=503, retry_after=0.0, burst=0)
    h.refresh(p=2, presented="A", returned="B", t=(2, 4), burst=0)
    h.refresh(p=1, presented="A", returned="B", t=(5, 6), retry_of=told, step="retry-after")
    h.probe(p=3, presented="B", returned="C", t=(7, 8), step="probe")
    summary = decide.summarize_burst(h.operations())
    assert (summary.size, summary.winners, summary.rejected) == (2, 2, 0)


def test_an_op_summary_names_fingerprints_short_and_the_answer() -> None:
    h = History()
    h.refresh(p=0, presented="0123456789abcdef", t=(0, 1), o="fail", step="replay")
    line = decide.describe(h.operations()[0])
    assert line == "refresh (replay, session 0) presented 01234567 -> fail 400 invalid_grant"
