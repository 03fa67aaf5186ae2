"""fork: two successors of one token, and live leaves at quiescence."""

from __future__ import annotations

from stress.checkers import fork

from .histories import History, ctx


def test_two_successors_under_strict_is_a_fork() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    b = h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    c = h.refresh(p=2, presented="A", returned="C", t=(2, 6), burst=1)
    result = fork.check(h.operations(), ctx("strict"))
    assert result.verdict == "fail"
    assert [f.witness for f in result.findings] == [(b, c)]
    assert [(x.index, x.why, x.key) for x in result.findings[0].blame] == [
        (b, "A -> B, successor 1 of 2", False),
        (c, "A -> C, successor 2 of 2", True),
    ]
    assert "A has 2 successors: B (op 1), C (op 2)" in result.findings[0].message


def test_idempotent_replay_with_same_successor_passes() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="B", t=(2, 6), burst=1)
    h.probe(p=3, presented="B", returned="C", t=(20, 21))
    assert fork.check(h.operations(), ctx("idempotent", 100)).verdict == "pass"


def test_idempotent_replay_with_distinct_successor_is_a_fork() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5))
    h.refresh(p=2, presented="A", returned="C", t=(6, 8))
    assert fork.check(h.operations(), ctx("idempotent", 100)).verdict == "fail"


def test_overlap_allows_distinct_successors_inside_window() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="C", t=(2, 6), burst=1)
    h.probe(p=3, presented="B", returned="D", t=(20, 21))
    h.probe(p=4, presented="C", t=(22, 23), o="fail")
    assert fork.check(h.operations(), ctx("overlap", 100)).verdict == "pass"


def test_two_live_leaves_at_quiescence_is_a_fork_under_overlap_after_window() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    b = h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    c = h.refresh(p=2, presented="A", returned="C", t=(2, 6), burst=1)
    pb = h.probe(p=3, presented="B", returned="D", t=(200, 201))
    pc = h.probe(p=4, presented="C", returned="E", t=(202, 203))
    result = fork.check(h.operations(), ctx("overlap", 100))
    assert result.verdict == "fail"
    assert result.findings[0].witness == (b, c, pb, pc)
    assert result.findings[0].key == pc
    assert [x.why for x in result.findings[0].blame][2:] == [
        "B works after quiescence",
        "C works too: a second live head",
    ]
    assert "two live leaves" in result.findings[0].message


def test_overlap_live_leaves_inside_window_are_ambiguous() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="C", t=(2, 6), burst=1)
    h.probe(p=3, presented="B", returned="D", t=(50, 51))
    h.probe(p=4, presented="C", returned="E", t=(52, 53))
    assert fork.check(h.operations(), ctx("overlap", 100)).verdict == "pass"


def test_none_policy_probe_returning_same_token_is_not_a_fork() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.login(p=1, returned="X", t=(0, 1))
    h.refresh(p=2, presented="A", returned="A", t=(2, 5), burst=1)
    h.refresh(p=3, presented="A", returned="A", t=(2, 5), burst=1)
    h.probe(p=4, presented="A", returned="A", t=(20, 21))
    assert fork.check(h.operations(), ctx("none")).verdict == "pass"


def test_none_policy_server_minting_new_tokens_keeps_old_alive_is_a_warning() -> None:
    """Keycloak's default: every refresh returns a new token and the old ones stay valid."""
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", returned="C", t=(2, 6), burst=1)
    h.probe(p=3, presented="B", returned="D", t=(200, 201))
    h.probe(p=4, presented="C", returned="E", t=(202, 203))
    result = fork.check(h.operations(), ctx("none"))
    assert result.verdict == "pass"
    assert [f.severity for f in result.findings] == ["warning"]
    assert "keeps the old ones valid, so every token it hands out stays a way in" in (
        result.findings[0].message
    )


def test_info_refreshes_give_no_false_fork() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="B", t=(2, 5), burst=1)
    h.refresh(p=2, presented="A", t=(2, 9), o="info", burst=1)
    h.refresh(p=3, presented="A", t=(2, None), burst=1)
    h.probe(p=4, presented="B", returned="C", t=(20, 21))
    result = fork.check(h.operations(), ctx("strict"))
    assert result.verdict == "pass"
    assert result.findings == ()


def test_mostly_indeterminate_history_is_unknown() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", t=(2, 9), o="info", burst=1)
    h.refresh(p=2, presented="A", t=(2, None), burst=1)
    h.refresh(p=3, presented="A", returned="B", t=(2, 5), burst=1)
    assert fork.check(h.operations(), ctx("strict")).verdict == "unknown"


def test_every_successor_of_a_burst_is_counted() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    for p in range(1, 9):
        h.refresh(p=p, presented="A", returned=f"S{p}", t=(2, 5 + p), burst=1)
    [found] = fork.check(h.operations(), ctx("strict")).findings
    assert found.message.startswith("A has 8 successors: S1 (op 1), S2 (op 2), ")
    assert len(found.witness) == 8


def test_a_replay_answered_with_the_familys_head_is_no_second_branch() -> None:
    # A server that accepts several generations back answers the grandparent with the head.
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", returned="B", t=(2, 3))
    h.refresh(p=0, presented="B", returned="C", t=(4, 5))
    h.refresh(p=1, presented="A", returned="C", t=(6, 7), step="replay")
    assert fork.check(h.operations(), ctx("idempotent", 100)).findings == ()
