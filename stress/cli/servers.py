"""``auth-stress serve`` and ``auth-stress demo``: the reference server, as separate processes.

The tester never imports the reference server: both commands start it as a child process.
"""

from __future__ import annotations

import subprocess
import sys

import typer

from stress.cli.output import LogLevel, fail, stderr, stdout
from stress.errors import LaunchError
from stress.logs import setup_logging
from stress.types import ExitCode

__all__ = ["demo_command", "serve_command"]


def serve_command(ctx: typer.Context) -> None:
    """Start the reference server (options as `python -m reference_server --help`)."""
    command = [sys.executable, "-m", "reference_server", *ctx.args]
    try:
        raise typer.Exit(subprocess.call(command))
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def demo_command(log_level: LogLevel = "warning") -> None:
    """Run the multi-tab burst against every reference-server strategy and compare."""
    from stress.demo import render_demo, run_demo

    setup_logging(log_level)
    try:
        rows = run_demo(stderr)
    except LaunchError as exc:
        raise fail(ExitCode.INTERNAL, str(exc)) from None
    raise typer.Exit(render_demo(rows, stdout))
