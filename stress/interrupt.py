"""The user's stop signals (SIGINT, SIGTERM, SIGHUP), watched once for everything a drive does.

SIGHUP is one: a terminal that closes sends it, and a run killed by it would leave neither its
run-end record nor a report, so it stops the run like Ctrl-C.

Why once: a signal receiver that closes gives SIGINT back to Python's default handler, so with
a receiver per phase a Ctrl-C between two of them (after discovery, before the run) would raise
``KeyboardInterrupt`` wherever the drive happened to be, and the run would end without its
run-end record or report. Receivers cannot nest either: closing the inner one removes the outer
one's handler as well.
So a drive installs one handler for its whole life, and each phase (discovery, the policy
measurement, the wait for ``--start-at``, the run) only asks to be stopped by it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import anyio

__all__ = ["STOP_SIGNALS", "Interrupt", "Interrupted", "watched"]

logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    """The user stopped a command before it had opened anything to record into."""


class Interrupt:
    """Whether the user asked the drive to stop, and the phases that stop when they do.

    One that no handler feeds (``Interrupt()`` alone) simply never fires: what a driver built
    by a test, or driven inside another command's watch, is given.
    """

    def __init__(self) -> None:
        self.received = False
        self._stopping: list[tuple[anyio.CancelScope, Callable[[], None] | None]] = []

    @contextmanager
    def stops(self, on_stop: Callable[[], None] | None = None) -> Iterator[anyio.CancelScope]:
        """A scope the user's stop cancels; ``on_stop`` runs first, at once, so what the phase
        decides after the scope (its end reason) already knows. A stop that came before the
        phase began cancels it on entry."""
        with anyio.CancelScope() as scope:
            entry = (scope, on_stop)
            self._stopping.append(entry)
            try:
                if self.received:
                    self._stop(entry)
                yield scope
            finally:
                self._stopping.remove(entry)

    def fire(self) -> None:
        """Stop every phase now running and every one yet to start. A second signal changes
        nothing: the drive is already ending, and what it recorded is still to be written."""
        if self.received:
            return
        logger.warning("interrupted: stopping and writing what was recorded")
        self.received = True
        for entry in list(self._stopping):
            self._stop(entry)

    @staticmethod
    def _stop(entry: tuple[anyio.CancelScope, Callable[[], None] | None]) -> None:
        scope, on_stop = entry
        if on_stop is not None:
            on_stop()
        scope.cancel()


@contextmanager
def watched() -> Iterator[Interrupt]:
    """An :class:`Interrupt` fed by :data:`STOP_SIGNALS` while the context lasts; the handlers
    found at the start are put back at the end (the loop alone would leave the defaults).

    The handler is the event loop's own (as anyio's signal receivers use), so it runs in the
    loop between callbacks, never in the middle of one; it needs no task, so an error in the
    drive reaches the caller as itself, not wrapped in a task group's exception group.
    """
    loop = asyncio.get_running_loop()
    interrupt = Interrupt()
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, interrupt.fire)
    try:
        yield interrupt
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            if handler is not None:  # None: set outside Python, which cannot be put back
                signal.signal(sig, handler)
