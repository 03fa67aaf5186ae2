"""The ``auth-stress`` command line: parse arguments, call one library function, render, exit.

One module per command; what they share (consoles, failing with an exit code, report files)
is :mod:`stress.cli.output`, and the exit codes are :class:`stress.types.ExitCode`: 0 every
expectation holds · 1 a violation was found · 2 usage error or invalid scenario/history ·
3 inconclusive (target unreachable, interrupted, too many indeterminate operations) · 4
internal error.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.markup import escape

from stress import __version__
from stress.cli.analyze import analyze_command
from stress.cli.calibrate import calibrate_command
from stress.cli.check import check_command
from stress.cli.init import init_command
from stress.cli.merge import merge_command
from stress.cli.output import stderr, stdout
from stress.cli.policy import policy_command
from stress.cli.replay import replay_command
from stress.cli.run import run_command
from stress.cli.servers import demo_command, serve_command
from stress.cli.shrink import shrink_command
from stress.errors import StressError
from stress.types import ExitCode

__all__ = ["app", "main", "only_interrupts"]

logger = logging.getLogger("stress.cli")

app = typer.Typer(
    name="auth-stress",
    help="Find concurrency bugs in refresh-token rotation before production does.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command(name="run")(run_command)
app.command(name="check")(check_command)
app.command(name="analyze")(analyze_command)
app.command(name="merge")(merge_command)
app.command(name="shrink")(shrink_command)
app.command(name="replay")(replay_command)
app.command(
    name="serve",
    add_help_option=False,  # --help goes to the server, which lists its own options
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)(serve_command)
app.command(name="demo")(demo_command)
app.command(name="calibrate")(calibrate_command)
app.command(name="init")(init_command)
app.command(name="policy")(policy_command)


@app.command()
def version() -> None:
    """Print the version."""
    stdout.print(__version__)


def _print_version(value: bool) -> None:
    if value:
        stdout.print(__version__)
        raise typer.Exit()


@app.callback()
def _options(
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_print_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Find concurrency bugs in refresh-token rotation before production does."""


def only_interrupts(exc: BaseException) -> bool:
    """True when ``exc`` is a ``KeyboardInterrupt``, or a group of nothing else."""
    if isinstance(exc, BaseExceptionGroup):
        return all(only_interrupts(inner) for inner in exc.exceptions)
    return isinstance(exc, KeyboardInterrupt)


def main() -> None:
    """Console-script entry point: map anything unexpected to exit 4 with a logged traceback."""
    try:
        app()
    except KeyboardInterrupt:  # a command that does not handle it itself: one line, not a trace
        stderr.print("[bold red]error:[/] interrupted", highlight=False)
        sys.exit(ExitCode.INCONCLUSIVE)
    except BaseExceptionGroup as group:
        # A Ctrl-C that lands inside a task group before its signal handler is in place comes
        # out wrapped in a group: it is still only an interrupt.
        if not only_interrupts(group):
            raise
        stderr.print("[bold red]error:[/] interrupted", highlight=False)
        sys.exit(ExitCode.INCONCLUSIVE)
    except StressError as exc:  # a library error that escaped a command's own handling
        stderr.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        sys.exit(ExitCode.INTERNAL)
    except Exception as exc:
        logger.critical("internal error", exc_info=exc)
        problem = escape(f"{type(exc).__name__}: {exc}")
        stderr.print(f"[bold red]internal error:[/] {problem}", highlight=False)
        sys.exit(ExitCode.INTERNAL)
