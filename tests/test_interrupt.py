"""The user's stop: one handler for a whole drive, phases that stop with it, none left behind."""

from __future__ import annotations

import os
import signal

import anyio
import anyio.lowlevel
import pytest

from stress.interrupt import Interrupt, watched


def test_a_stop_cancels_the_running_phase_after_telling_it() -> None:
    seen: list[str] = []

    async def main() -> None:
        interrupt = Interrupt()
        with interrupt.stops(lambda: seen.append("told")) as scope:
            interrupt.fire()
            seen.append("before the checkpoint")
            await anyio.sleep(5)
            seen.append("not reached")
        assert scope.cancelled_caught
        assert interrupt.received

    anyio.run(main)
    assert seen == ["told", "before the checkpoint"]


def test_a_phase_that_begins_after_the_stop_is_stopped_at_once() -> None:
    seen: list[str] = []

    async def main() -> None:
        interrupt = Interrupt()
        interrupt.fire()
        with interrupt.stops(lambda: seen.append("told")) as scope:
            await anyio.sleep(5)
        assert scope.cancelled_caught

    anyio.run(main)
    assert seen == ["told"]


def test_a_second_signal_tells_no_phase_again() -> None:
    seen: list[str] = []

    async def main() -> None:
        interrupt = Interrupt()
        with interrupt.stops(lambda: seen.append("told")):
            interrupt.fire()
            interrupt.fire()
            await anyio.sleep(5)

    anyio.run(main)
    assert seen == ["told"]


def test_a_phase_that_ended_is_not_stopped_later() -> None:
    async def main() -> None:
        interrupt = Interrupt()
        with interrupt.stops(lambda: pytest.fail("an ended phase was told")):
            await anyio.lowlevel.checkpoint()
        interrupt.fire()
        assert interrupt.received

    anyio.run(main)


def test_an_interrupt_nobody_feeds_never_fires() -> None:
    async def main() -> None:
        with Interrupt().stops() as scope:
            await anyio.sleep(0.01)
        assert not scope.cancelled_caught

    anyio.run(main)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_real_signal_between_phases_is_kept_for_the_next(signum: int) -> None:
    """The case one receiver per phase lost: a signal while no phase runs raised
    KeyboardInterrupt (or killed the process, for SIGTERM and SIGHUP) instead of stopping the
    drive."""

    async def main() -> bool:
        with watched() as interrupt:
            os.kill(os.getpid(), signum)
            await anyio.sleep(0.05)  # the loop runs its handler
            assert interrupt.received
            with interrupt.stops() as scope:
                await anyio.sleep(5)
            return scope.cancelled_caught

    assert anyio.run(main)


def test_the_handlers_are_given_back_when_the_watch_ends() -> None:
    before = signal.getsignal(signal.SIGTERM)

    async def main() -> None:
        with watched():
            assert signal.getsignal(signal.SIGTERM) is not before

    anyio.run(main)
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_handler_set_before_the_watch_is_put_back() -> None:
    caught: list[int] = []
    before = signal.signal(signal.SIGTERM, lambda signum, _frame: caught.append(signum))
    try:

        async def main() -> None:
            with watched():
                pass

        anyio.run(main)
        os.kill(os.getpid(), signal.SIGTERM)
        assert caught == [signal.SIGTERM]
    finally:
        signal.signal(signal.SIGTERM, before)
