"""Sustained load: refresh/use cycles for a while, closed-loop or at an open arrival rate.

Placeholder interface owned by the load-mode work (issue 4); see ``run_load``.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import anyio

from stress.scenario import LoadStep
from stress.session import SessionState

if TYPE_CHECKING:
    from stress.runner import Runner

__all__ = ["run_load"]


async def run_load(runner: Runner, state: SessionState, step: LoadStep) -> None:
    """Closed model only, for now: one session loops refresh/use until the duration ends."""
    chooser = random.Random(runner.scenario.run.seed * 1_000_003 + state.n)
    kinds = [kind for kind, weight in step.mix.items() for _ in range(weight)]
    with anyio.move_on_after(step.duration_seconds):
        while True:
            kind = chooser.choice(kinds)
            result = await (
                runner.refresh_once(state) if kind == "refresh" else runner.use_once(state)
            )
            if result is None:
                return
            if step.think_seconds:
                await anyio.sleep(step.think_seconds)
