"""What a replay says: the plan it sends, one line per replay, the closing estimate, and the
``replay --json FILE`` document.

::

    replaying finding 1 (fork (error), key request a refresh (burst)) of runs/x/history.jsonl
      setup  op 0 login() session 3
      +0.000ms  op 18 refresh(op 0's token) session 3  burst 2 (single-packet)
    replay 1/5: reproduced (1 matching finding), history: runs/…/replay-01.jsonl
    finding 1 (fork) reproduced 5/5 (100%, 95% CI 57%-100%)
"""

from __future__ import annotations

import shlex
from typing import Any

from stress.reproduce.render import estimate_document, findings_summary, tool_document
from stress.reproduce.replay import Replay, ReplayResult
from stress.reproduce.witness import PlannedOp, ReplayPlan

__all__ = ["plan_lines", "replay_document", "replay_line", "replay_lines"]


def _timed(op: PlannedOp) -> str:
    burst = f"  burst {op.burst} ({op.engine})" if op.burst is not None else ""
    return f"  +{op.offset_ns / 1e6:.3f}ms  {op.describe()}{burst}"


def plan_lines(plan: ReplayPlan, history: str) -> list[str]:
    """The finding being replayed and every op the replay sends, in order."""
    lines = [
        f"replaying finding {plan.number} ({plan.signature.describe()}) of {history}",
        f"  {plan.finding.message}",
    ]
    lines += [f"  setup  {op.describe()}" for op in plan.setup]
    lines += [_timed(op) for group in plan.timed for op in group]
    return lines


def replay_line(replay: Replay, of: int) -> str:
    """One line per finished replay."""
    report = replay.run.report
    if replay.reproduced:
        said = f"reproduced ({replay.matches} matching finding{'s' * (replay.matches != 1)})"
    else:
        reason = f": {report.inconclusive_reason}" if report.inconclusive_reason else ""
        said = f"not reproduced ({report.verdict}{reason})"
    return (
        f"replay {replay.run.number}/{of}: {said}, findings: {findings_summary(replay.run)}, "
        f"history: {replay.run.history}"
    )


def replay_lines(result: ReplayResult) -> list[str]:
    """The closing summary."""
    made = len(result.replays)
    stopped = (
        "" if made == result.requested else f" (interrupted after {made} of {result.requested})"
    )
    notes = sorted({note for r in result.replays for note in r.run.report.notes})
    others = result.others
    return [
        *(f"note: {note}" for note in notes),
        f"finding {result.plan.number} ({result.plan.finding.checker}) reproduced "
        f"{result.estimate.describe()}{stopped}",
        *(
            [f"other violations in replays {', '.join(map(str, others))}: see their histories"]
            if others
            else []
        ),
        f"replay again: {shlex.join(result.command)}",
    ]


def _op_document(op: PlannedOp) -> dict[str, Any]:
    return {
        "index": op.index,
        "kind": op.kind,
        "session": op.session,
        "source": op.source,
        "offset_ms": round(op.offset_ns / 1e6, 6),
        "burst": op.burst,
        "engine": op.engine,
        "witness": op.witness,
    }


def replay_document(result: ReplayResult) -> dict[str, Any]:
    """The ``replay --json FILE`` document, keys in their documented order."""
    plan = result.plan
    return {
        "kind": "replay",
        "history": str(result.history),
        "finding": {
            "number": plan.number,
            "checker": plan.finding.checker,
            "severity": plan.finding.severity,
            "message": plan.finding.message,
            "key": plan.finding.key,
            "key_kind": plan.signature.key_kind,
            "key_phase": plan.signature.key_phase,
        },
        "reproduction": estimate_document(result.estimate),
        "replays_requested": result.requested,
        "replays": [
            {
                "replay": r.run.number,
                "reproduced": r.reproduced,
                "matching_findings": r.matches,
                "verdict": r.run.report.verdict,
                "inconclusive_reason": r.run.report.inconclusive_reason,
                "findings": r.run.finding_counts(),
                "history": str(r.run.history),
            }
            for r in result.replays
        ],
        "plan": {
            "setup": [_op_document(op) for op in plan.setup],
            "timed": [[_op_document(op) for op in group] for group in plan.timed],
        },
        "command": shlex.join(result.command),
        "tool": tool_document(),
    }
