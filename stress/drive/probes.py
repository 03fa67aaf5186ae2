"""The final probes: once the run is quiet, is each leaf token still alive?

Every refresh token a session was handed and never saw consumed is a leaf; refreshing each one
after the traffic stops is what turns "two successors" into "two live heads" and "a rejected
loser" into "the family is dead". Probes must not make races of their own: each session probes
its leaves one at a time, current token first, and at most ``run.probe_concurrency`` sessions
probe at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import anyio

from stress.drive.actions import Actions
from stress.drive.session import SessionState

__all__ = ["probe_leaves"]


async def probe_leaves(actions: Actions, sessions: Sequence[SessionState]) -> None:
    """Probe every session's leaves, sessions ``run.probe_concurrency`` at a time."""
    limiter = anyio.CapacityLimiter(actions.run.probe_concurrency)

    async def probe(state: SessionState) -> None:
        async with limiter:
            for token in state.leaves():
                await actions.probe(
                    state, token, step="final-probe", phase="final-probe", counted=False
                )

    async with anyio.create_task_group() as tg:
        for state in sessions:
            tg.start_soon(probe, state)
