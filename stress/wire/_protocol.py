"""What the runner needs of a wire client: one request, and one synchronised burst.

:class:`stress.wire.WireClient` is the real one and :class:`stress.wire.ScriptedWire` answers
from a function for in-process tests; the runner depends on this protocol, not on either.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from stress.wire._models import BurstResult, WireOutcome, WireRequest

__all__ = ["Wire"]


class Wire(Protocol):
    """Sends requests; never raises for network trouble (outcomes carry the error)."""

    async def request(self, req: WireRequest, *, timeout: float) -> WireOutcome:  # noqa: ASYNC109
        """One request and its outcome."""
        ...

    async def burst(
        self,
        reqs: Sequence[WireRequest],
        *,
        engine: str,
        timeout: float,  # noqa: ASYNC109 (the runner's contract names it)
    ) -> BurstResult:
        """``reqs`` released together; outcomes in request order."""
        ...

    def last_connected(self, url: str) -> int | None:
        """When the latest connection the origin of ``url`` accepted was attempted (monotonic
        ns), or None when it accepted none: whether the target was alive after a refusal."""
        ...
