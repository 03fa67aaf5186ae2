"""lineage: families come from refresh edges, never from sessions."""

from __future__ import annotations

from stress.checkers.lineage import build_lineage, short

from .histories import History


def test_families_follow_lineage_not_sessions() -> None:
    h = History()
    h.login(p=0, s=0, returned="A", t=(0, 1))
    h.login(p=0, s=0, returned="X", t=(2, 3))  # second login of the same session
    h.refresh(p=1, s=0, presented="A", returned="B", t=(4, 5))
    h.refresh(p=2, s=1, presented="B", returned="C", t=(6, 7))  # another session holds B
    h.refresh(p=3, s=0, presented="X", t=(8, 9), o="info")
    use = h.use(p=4, s=1, presented="at3", t=(10, 11))
    lineage = build_lineage(h.operations())
    assert {t: lineage.family[t] for t in "ABCX"} == {"A": "A", "B": "A", "C": "A", "X": "X"}
    assert lineage.children == {"A": ("B",), "B": ("C",)}
    assert lineage.is_ancestor("A", "C")
    assert not lineage.is_ancestor("C", "A")
    assert sorted(lineage.descendants("A")) == ["B", "C"]
    assert lineage.chain("A", "C") == [2, 3]
    assert lineage.family_of_op(lineage.by_index[use]) == "A"


def test_non_rotating_refresh_adds_no_edge() -> None:
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=1, presented="A", returned="A", access="T2", t=(2, 3))
    lineage = build_lineage(h.operations())
    assert lineage.children == {}
    assert lineage.access_to_refresh["T2"] == "A"


def test_short_names_tokens_by_eight_characters() -> None:
    assert short("0123456789abcdef") == "01234567"
    assert short(None) == "?"
