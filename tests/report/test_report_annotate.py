"""Comments on violating witness lines, derived per checker from the witness ops alone."""

from __future__ import annotations

from stress.history import Op, Operation
from stress.report.annotate import annotate


def _op(
    index: int,
    kind: str,
    outcome: str,
    send: int,
    presented: str | None = None,
    returned: str | None = None,
    **extra: object,
) -> Operation:
    status = extra.pop("status", None)
    invoke = Op(
        index=index,
        type="invoke",
        process=index,
        session=0,
        kind=kind,  # type: ignore[arg-type]
        time_ns=send,
        presented=presented,
        **extra,  # type: ignore[arg-type]
    )
    done = Op(
        index=index + 100,
        type=outcome,  # type: ignore[arg-type]
        process=index,
        session=0,
        kind=kind,  # type: ignore[arg-type]
        time_ns=send + 10,
        returned=returned,
        status=status,  # type: ignore[arg-type]
    )
    return Operation(invoke=invoke, done=done)


def test_fork_two_successors_marks_the_second() -> None:
    ops = [
        _op(1, "refresh", "ok", 0, "aaaaaaaa11", "bbbbbbbb22"),
        _op(2, "refresh", "ok", 5, "aaaaaaaa11", "cccccccc33"),
    ]
    assert annotate("fork", ops) == {2: "aaaaaaaa has 2 successors"}


def test_fork_live_leaves_marks_both_probes() -> None:
    ops = [
        _op(1, "probe", "ok", 0, "bbbbbbbb22", "bbbbbbbb22"),
        _op(2, "probe", "ok", 5, "cccccccc33", "cccccccc33"),
    ]
    assert annotate("fork", ops) == {1: "bbbbbbbb still alive", 2: "cccccccc still alive"}


def test_stale_reuse_marks_the_second_acceptance() -> None:
    ops = [
        _op(1, "refresh", "ok", 0, "aaaaaaaa", "bbbbbbbb"),
        _op(2, "refresh", "ok", 9, "bbbbbbbb", "cccccccc"),
        _op(3, "refresh", "ok", 99, "aaaaaaaa", "dddddddd"),
    ]
    assert annotate("stale-reuse-accepted", ops) == {3: "aaaaaaaa already used, accepted again"}


def test_token_uniqueness_names_the_first_holder() -> None:
    ops = [
        _op(1, "refresh", "ok", 0, "aaaaaaaa", "bbbbbbbb"),
        _op(2, "refresh", "ok", 5, "zzzzzzzz", "bbbbbbbb"),
    ]
    assert annotate("token-uniqueness", ops) == {2: "bbbbbbbb also issued to #1"}


def test_lost_response_retry_marks_the_rejected_retry() -> None:
    ops = [
        _op(1, "refresh", "info", 0, "aaaaaaaa"),
        _op(2, "refresh", "fail", 5, "aaaaaaaa", retry_of=1, status=400),
    ]
    assert annotate("lost-response-retry", ops) == {2: "retry of #1 rejected"}


def test_revocation_race_marks_ops_sent_after_revocation() -> None:
    ops = [
        _op(1, "revoke", "ok", 0, "aaaaaaaa"),
        _op(2, "refresh", "ok", 5, "aaaaaaaa", "bbbbbbbb"),
        _op(3, "refresh", "ok", 50, "aaaaaaaa", "cccccccc"),
    ]
    assert annotate("revocation-race", ops) == {3: "aaaaaaaa accepted after revocation completed"}


def test_server_error_and_unknown_checker() -> None:
    ops = [_op(1, "refresh", "info", 0, "aaaaaaaa", status=503)]
    assert annotate("server-error", ops) == {1: "server error 503"}
    assert annotate("jwt-claims", ops) == {}
