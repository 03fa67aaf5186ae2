"""Whether each target still answers, and from when its failures are its death's.

A target that goes down under a run (stopped, crashed, redeployed) fails the requests sent to
it: those failures say nothing about how it behaves, and the threshold checker leaves out what
was sent after the death, or cut off without an answer after it. So the death needs a date.

A server that shuts down gracefully stops accepting connections first and answers the requests
it already holds for a few more milliseconds; a request that needed a new connection in that
time was refused before the last answer came. Its refusal is the death's, not an error of a
live server: a refused connection dates the death unless the target later answers a request
sent after it. The death is dated at the earlier of that first refusal and the last answer.
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["UNREACHABLE_AFTER", "Liveness"]

# Consecutive connect failures (nothing sent) after which a target is declared dead.
UNREACHABLE_AFTER = 20


class Liveness:
    """Per target origin: its answers and refused connections, and the targets now dead.

    A target that never answered is dead at its first refused connection; one that did, after
    ``UNREACHABLE_AFTER`` refusals in a row. :attr:`dead` maps each dead target to the
    monotonic ns its death began.
    """

    def __init__(self) -> None:
        self.dead: dict[str, int] = {}
        self._failures: dict[str, int] = {}
        self._answered: dict[str, int] = {}
        # The first refusal that no connection accepted later has contradicted.
        self._refused: dict[str, int] = {}

    def answered(self, where: str, recv_ns: int, connected: Callable[[str], int | None]) -> None:
        """``where`` answered a request at ``recv_ns``.

        ``connected(where)`` is when the latest connection ``where`` accepted was attempted
        (None when none was): asked only while a refusal waits to be confirmed or contradicted.
        """
        self._failures.pop(where, None)
        self._answered[where] = recv_ns
        if self._refused and where in self._refused:
            attempted = connected(where)
            if attempted is not None and attempted > self._refused[where]:
                del self._refused[where]  # it accepted a connection after the refusal: alive then

    def ever_answered(self, where: str) -> bool:
        """Whether ``where`` answered any request of the run (a target refused from the start
        did not: it never took one, which is not the same as going down)."""
        return where in self._answered

    def refused(self, where: str, time_ns: int) -> bool:
        """A connection to ``where`` attempted at ``time_ns`` failed (nothing was sent).

        Returns True when this makes ``where`` dead.
        """
        if where in self.dead:
            return False
        self._refused.setdefault(where, time_ns)
        count = self._failures.get(where, 0) + 1
        self._failures[where] = count
        last = self._answered.get(where)
        if last is not None and count < UNREACHABLE_AFTER:
            return False
        self.dead[where] = min(last, self._refused[where]) if last is not None else time_ns
        return True
