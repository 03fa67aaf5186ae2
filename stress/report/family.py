"""A finding's token family as a tree: every successor the burst produced, the violating edge.

A witness is the smallest set of ops that proves a finding, so it shows two successors of a
forked token even when the burst produced eight. The family view shows the whole picture around
the key op, from the history's recorded edges (an ``ok`` refresh or probe that presented ``r``
and returned ``r'``): the token the burst presented, each successor it was handed and by which
op, process and replica, and what became of each successor next (presented again and rotated,
rejected, or never presented). Edges of the finding's witness are marked, the key op's in red.
Pure: built from the operations and the finding, then drawn as an SVG.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from stress.checkers.base import Finding
from stress.checkers.judging import counted
from stress.checkers.lineage import ROTATING_KINDS
from stress.history import Operation
from stress.report.svg import svg_open, text
from stress.report.timeline import short_fp

__all__ = ["Family", "Successor", "TokenIndex", "family_of", "family_svg"]

_E = html.escape
# Successors drawn in full; the rest are counted in one line.
_MAX_ROWS = 12


@dataclass(frozen=True)
class TokenIndex:
    """Who minted each refresh token and who presented it, from the whole history."""

    minted_by: Mapping[str, Operation]
    presented_by: Mapping[str, Sequence[Operation]]

    @classmethod
    def of(cls, operations: Sequence[Operation]) -> TokenIndex:
        minted: dict[str, Operation] = {}
        presented: dict[str, list[Operation]] = {}
        for op in sorted(operations, key=lambda o: (o.send_ns, o.index)):
            if op.outcome == "ok" and op.returned and op.returned != op.presented:
                minted.setdefault(op.returned, op)
            if op.presented and op.kind in ROTATING_KINDS:
                presented.setdefault(op.presented, []).append(op)
        return cls(minted, presented)


@dataclass(frozen=True)
class Successor:
    """One edge ``root -> token`` by ``op``, and what the ops that presented ``token`` got."""

    op: Operation
    token: str
    witness: bool
    key: bool
    next_ops: tuple[Operation, ...]


@dataclass(frozen=True)
class Family:
    """The tree around a finding: ``root``, the ops that presented it, and its successors."""

    root: str
    minted_by: Operation | None
    presented: tuple[Operation, ...]
    successors: tuple[Successor, ...]
    key: int

    @property
    def distinct(self) -> int:
        """How many different successors the root was given (a replayed pair counts once)."""
        return len({s.token for s in self.successors})

    @property
    def rejected(self) -> tuple[Operation, ...]:
        """Presentations of the root that did not rotate it (rejected, or no answer)."""
        return tuple(op for op in self.presented if op.outcome != "ok" or op.returned is None)


def family_of(
    index: TokenIndex, by_index: Mapping[int, Operation], finding: Finding
) -> Family | None:
    """The family view of ``finding``; None when its key op presents no refresh token.

    The root is the token the key op presented, or, when that token was itself minted inside
    the history, the token its minter presented (so a rejected successor is shown beside its
    siblings, under the burst that produced them).
    """
    key = by_index.get(finding.key)
    if key is None or key.presented is None or key.kind not in ROTATING_KINDS | {"revoke"}:
        return None
    root = key.presented
    minter = index.minted_by.get(root)
    rotated = key.outcome == "ok" and key.returned is not None
    if minter is not None and minter.presented is not None and minter.kind in ROTATING_KINDS:
        # A rejected successor is shown beside its siblings, under the burst's token.
        root = root if rotated else minter.presented
    witness = set(finding.witness)
    presented = tuple(index.presented_by.get(root, ()))
    successors = tuple(
        Successor(
            op=op,
            token=op.returned,
            witness=op.index in witness,
            key=op.index == finding.key,
            next_ops=tuple(index.presented_by.get(op.returned, ())),
        )
        for op in presented
        if op.outcome == "ok" and op.returned is not None and op.returned != root
    )
    return Family(root, index.minted_by.get(root), presented, successors, finding.key)


_W = 720
_ROW = 36
_BOX_W, _BOX_H = 168, 30
_ROOT_X, _CHILD_X, _NEXT_X = 8, 250, 250 + _BOX_W + 16


def _op_tag(op: Operation, replica: Callable[[Operation], str]) -> str:
    where = replica(op)
    return f"op {op.index} \u00b7 p{op.process}" + (f" \u00b7 {where}" if where else "")


def _answer(op: Operation) -> str:
    if op.outcome == "ok" and op.returned is not None:
        return f"\u2192 {short_fp(op.returned)}"
    status = f" {op.status}" if op.status is not None else ""
    return "rejected" + status if op.outcome == "fail" else "no answer (maybe consumed)"


def _next_line(successor: Successor) -> tuple[str, str]:
    """What became of a successor, in one line, and its CSS class (``bad`` when rejected)."""
    ops = successor.next_ops
    if not ops:
        return "never presented again", "sub"
    first = ops[0]
    line = f"{first.kind} op {first.index}: {_answer(first)}"
    if len(ops) > 1:
        line += f" (+{len(ops) - 1} more)"
    return line, "sub" if first.outcome == "ok" else "bad"


def family_svg(family: Family, replica: Callable[[Operation], str]) -> str:
    """The tree: the root on the left, one row per successor, what became of each on the right."""
    rows = list(family.successors[:_MAX_ROWS])
    hidden = len(family.successors) - len(rows)
    n_rows = max(len(rows) + (1 if hidden else 0), 1)
    root_lines_n = 3 if family.rejected else 2
    root_h = _BOX_H + 12 * (root_lines_n - 1)
    height = max(n_rows * _ROW, root_h + 8) + 16
    count = counted(family.distinct, "successor")
    parts = [svg_open("family", _W, height, f"token {short_fp(family.root)}: {count}")]
    root_y = max((n_rows * _ROW) / 2 - root_h / 2 + 4, 8)
    minted = (
        f"from {family.minted_by.kind} op {family.minted_by.index}"
        if family.minted_by is not None
        else "minted before the history"
    )
    rejected = family.rejected
    root_lines = [f"{count}", minted]
    if rejected:
        root_lines.insert(1, f"{len(rejected)} not rotated")
    parts.append(
        f'<g data-tokens="{_E(short_fp(family.root))}"><title>{_E(family.root[:16])}: presented '
        f"{counted(len(family.presented), 'time')}, {count}</title>"
        f'<rect class="node root" x="{_ROOT_X}" y="{root_y:.1f}" width="{_BOX_W}" '
        f'height="{root_h}" rx="4"/></g>'
        + text(_ROOT_X + 6, root_y + 13, f"token {short_fp(family.root)}", _BOX_W - 10, "strong")
    )
    for n, line in enumerate(root_lines):
        css = "bad" if n == 0 and family.distinct > 1 else "sub"
        parts.append(text(_ROOT_X + 6, root_y + 25 + 12 * n, line, _BOX_W - 10, css))
    sx, sy = _ROOT_X + _BOX_W, root_y + root_h / 2
    for n, successor in enumerate(rows):
        y = n * _ROW + 8
        ty = y + _BOX_H / 2
        css = "edge viol" if successor.key else "edge witness" if successor.witness else "edge"
        bend = (_CHILD_X - sx) / 2
        parts.append(
            f'<path class="{css}" d="M{sx},{sy:.1f} C{sx + bend:.1f},{sy:.1f} '
            f'{_CHILD_X - bend:.1f},{ty:.1f} {_CHILD_X},{ty:.1f}"/>'
        )
        op = successor.op
        rejected_key = any(o.index == family.key for o in successor.next_ops)
        node = "node viol" if successor.key or rejected_key else "node"
        target = op.invoke.target or "the target"
        tip = f"{short_fp(successor.token)}: returned by op {op.index} (p{op.process}, {target})"
        parts.append(
            f'<g data-tokens="{_E(short_fp(successor.token))}"><title>{_E(tip)}</title>'
            f'<rect class="{node}" x="{_CHILD_X}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" '
            'rx="4"/></g>'
            + text(_CHILD_X + 6, y + 12, short_fp(successor.token), _BOX_W - 10, "strong")
            + text(_CHILD_X + 6, y + 25, _op_tag(op, replica), _BOX_W - 10, "sub")
        )
        line, line_css = _next_line(successor)
        if rejected_key:
            line, line_css = "\u2717 " + line, "bad"
        parts.append(text(_NEXT_X, ty + 4, line, _W - _NEXT_X - 4, line_css))
    if hidden:
        y = len(rows) * _ROW + 8
        parts.append(
            text(_CHILD_X, y + 18, f"\u2026 and {hidden} more successors", _W - _CHILD_X, "sub")
        )
    if not rows:
        parts.append(text(_CHILD_X, 8 + 18, "no successor was issued", _W - _CHILD_X, "bad"))
    parts.append("</svg>")
    return "".join(parts)
