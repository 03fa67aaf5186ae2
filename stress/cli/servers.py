"""``auth-stress serve`` and ``auth-stress demo``: the reference server, as separate processes.

The tester never imports the reference server: both commands start it as a child process.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import typer

from stress.cli.output import LogLevel, fail, start_logging, stderr, stdout
from stress.errors import LaunchError
from stress.launcher import child_environment
from stress.types import ExitCode

__all__ = ["demo_command", "serve_command"]


# How long the server gets to stop after a forwarded signal before its process group is killed.
STOP_SECONDS = 10.0


def serve_command(ctx: typer.Context) -> None:
    """Start the reference server in the foreground; `serve --help` lists its options.

    The server runs in a process group of its own, and every signal that stops this command
    (SIGINT, SIGTERM, SIGHUP) stops it once (SIGHUP as SIGTERM: granian takes SIGHUP as "reload
    the workers"); if it has not stopped within STOP_SECONDS, its whole group (workers,
    embedded Redis) is killed, so nothing is orphaned. A signal that stops this command with
    no chance to forward it (SIGKILL) reaches the server as a SIGTERM from the kernel, which it
    asks for (``stress.launcher.child_environment``).
    """
    command = [sys.executable, "-m", "reference_server", *ctx.args]
    child = subprocess.Popen(command, start_new_session=True, env=child_environment())
    stopping: list[int] = []

    def forward(signum: int, _frame: object) -> None:
        if not stopping:
            stopping.append(signum)
            child.send_signal(signal.SIGTERM if signum == signal.SIGHUP else signum)

    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous = {sig: signal.signal(sig, forward) for sig in stops}
    deadline: float | None = None
    try:
        while True:
            # A short wait, so that a signal's deadline is noticed: a blocking wait would be
            # resumed with no timeout after the handler ran.
            try:
                code = child.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                if stopping and deadline is None:
                    deadline = time.monotonic() + STOP_SECONDS
                if deadline is not None and time.monotonic() > deadline:
                    os.killpg(child.pid, signal.SIGKILL)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)  # anything the server left of its group
    stopped = stopping and code in (0, -signal.SIGTERM, -stopping[0])
    raise typer.Exit(0 if stopped else code)


def demo_command(log_level: LogLevel = "warning") -> None:
    """Run the multi-tab burst against every reference-server strategy and compare."""
    from stress.demo import render_demo, run_demo

    start_logging(log_level)
    try:
        rows = run_demo(stderr)
    except LaunchError as exc:
        raise fail(ExitCode.INTERNAL, str(exc)) from None
    except KeyboardInterrupt:
        raise fail(ExitCode.INCONCLUSIVE, "interrupted while a server was starting") from None
    raise typer.Exit(render_demo(rows, stdout))
