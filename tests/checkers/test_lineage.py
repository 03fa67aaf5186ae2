"""lineage: families come from refresh edges, never from sessions."""

from __future__ import annotations

from stress.checkers.lineage import build_lineage, short
from stress.history import Claims

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


def _chain(h: History, length: int, root: str = "T0") -> list[int]:
    """A login and ``length`` refreshes ``T0 -> T1 -> ...``; returns the mint of every token."""
    mints = [h.login(p=0, returned=root, t=(0, 1))]
    for i in range(1, length + 1):
        mints.append(h.refresh(p=0, presented=f"T{i - 1}", returned=f"T{i}", t=(2 * i, 2 * i + 1)))
    return mints


def test_ancestry_along_a_chain_thousands_of_refreshes_long() -> None:
    h = History()
    mints = _chain(h, 3000)
    fork = h.refresh(p=1, presented="T1499", returned="S", t=(2999, 3000))
    lineage = build_lineage(h.operations())
    assert lineage.is_ancestor("T0", "T3000")
    assert lineage.is_ancestor("T2999", "T3000")
    assert not lineage.is_ancestor("T3000", "T0")
    assert not lineage.is_ancestor("T3000", "T3000")
    assert lineage.is_ancestor("T1499", "S")
    assert lineage.is_ancestor("T0", "S")
    assert not lineage.is_ancestor("S", "T3000")
    assert not lineage.is_ancestor("T1500", "S")
    assert not lineage.is_ancestor("T0", "unknown")
    assert lineage.chain("T0", "T3000") == mints[1:]
    assert lineage.chain("T1499", "S") == [fork]
    assert len(list(lineage.descendants("T1499"))) == 1502


def test_ancestry_when_the_server_hands_back_an_older_token() -> None:
    """A buggy server can close a cycle; every token on it derives from every other."""
    h = History()
    h.login(p=0, returned="A", t=(0, 1))
    h.refresh(p=0, presented="A", returned="B", t=(2, 3))
    h.refresh(p=0, presented="B", returned="A", t=(4, 5))
    h.refresh(p=0, presented="B", returned="C", t=(6, 7))
    h.refresh(p=0, presented="X", returned="Y", t=(8, 9))
    lineage = build_lineage(h.operations())
    assert lineage.parent == {"B": "A", "A": "B", "C": "B", "Y": "X"}
    assert [lineage.is_ancestor(a, b) for a, b in ("AA", "AB", "BA", "BB")] == [True] * 4
    assert lineage.is_ancestor("A", "C")
    assert lineage.is_ancestor("B", "C")
    assert not lineage.is_ancestor("C", "A")
    assert not lineage.is_ancestor("C", "C")
    assert not lineage.is_ancestor("X", "A")
    assert lineage.is_ancestor("X", "Y")
    assert not lineage.is_ancestor("Y", "Y")
    assert sorted(lineage.descendants("A")) == ["B", "C"]


def test_same_user_keeps_the_families_of_the_subject_and_of_unknown_subjects() -> None:
    h = History()
    for n, sub in enumerate(["u1", "u2", None, "u1"]):
        h.login(p=n, returned=f"R{n}", t=(n, n + 1), claims=Claims(sub=sub))
    lineage = build_lineage(h.operations())
    assert lineage.same_user("R0") == ["R0", "R2", "R3"]
    assert lineage.same_user("R1") == ["R1", "R2"]
    assert lineage.same_user("R2") == ["R0", "R1", "R2", "R3"]
