"""What every command shares: the consoles, the one way to fail with an exit code, logging, and
the report files a command was asked to write."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Literal, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from stress.errors import ScenarioError
from stress.logs import LEVELS, setup_logging
from stress.report import RunReport, render_report, write_html, write_json, write_junit
from stress.scenario import Scenario, load_scenario
from stress.types import ExitCode

__all__ = [
    "ConsoleStream",
    "LogLevel",
    "ReportPaths",
    "emit",
    "fail",
    "load",
    "prepare_outputs",
    "progress_bar",
    "start_logging",
    "stderr",
    "stdout",
]

logger = logging.getLogger(__name__)


class ConsoleStream:
    """``sys.stdout`` or ``sys.stderr`` as the consoles write them (looked up at each write, as
    rich does), going quiet once their reader is gone: a pipe whose reader quit (``| head``,
    EPIPE) or a terminal that hung up (EIO, after SIGHUP).

    Why: rich exits with status 1 on a broken pipe, which here says "a violation was found",
    and lets EIO escape as an internal error. The command instead carries on, writes the files
    it was asked for, and exits with its own status.
    """

    def __init__(self, name: Literal["stdout", "stderr"]) -> None:
        self._name = name
        self.gone = False

    def _stream(self) -> TextIO:
        stream: TextIO = getattr(sys, self._name)
        return stream

    def __getattr__(self, attribute: str) -> Any:
        if attribute.startswith("_"):  # none of the stream's, and no recursion before __init__
            raise AttributeError(attribute)
        return getattr(self._stream(), attribute)  # isatty, fileno, encoding: rich asks

    def write(self, text: str) -> int:
        if not self.gone:
            try:
                return self._stream().write(text)
            except OSError as exc:
                self._lost(exc)
        return len(text)

    def flush(self) -> None:
        if not self.gone:
            try:
                self._stream().flush()
            except OSError as exc:
                self._lost(exc)

    def _lost(self, exc: OSError) -> None:
        if exc.errno not in (errno.EPIPE, errno.EIO):
            raise exc
        self.gone = True
        logger.info("the console is gone (%s): nothing more is shown on it", exc.strerror)
        # What the stream still buffers would fail again at exit (and make it exit 120).
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream().fileno())


stdout = Console(file=ConsoleStream("stdout"))  # type: ignore[arg-type]
stderr = Console(file=ConsoleStream("stderr"))  # type: ignore[arg-type]

LogLevel = Annotated[
    str,
    typer.Option(
        "--log-level",
        metavar="LEVEL",
        help=f"{', '.join(LEVELS)} (JSON lines on stderr).",
    ),
]
ReportPaths = tuple[Path | None, Path | None, Path | None]
"""The ``--json``, ``--junit`` and ``--html`` files asked for (None: not asked for)."""


def fail(code: ExitCode, message: str) -> typer.Exit:
    """Print ``error: message`` on stderr (one line, no traceback); raise the result."""
    stderr.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(int(code))


def progress_bar(enabled: bool) -> Progress:
    """The progress bar of a command that makes runs, on stderr; gone once it is done."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=stderr,
        disable=not enabled,
        transient=True,
    )


def start_logging(level: str) -> None:
    """Set up structured logging at ``level``, or exit 2 naming the levels there are."""
    if level.lower() not in LEVELS:
        raise fail(ExitCode.USAGE, f"--log-level {level!r}: expected one of {', '.join(LEVELS)}")
    setup_logging(level)


def prepare_outputs(paths: dict[str, Path | None]) -> None:
    """Check every output path before any work starts, creating missing parent folders.

    A run must not spend minutes and then fail to write what was asked for; ``paths`` maps an
    option name (``--json``) to its file. Exits 2 with one line for the first unusable one.
    """
    for option, path in paths.items():
        if path is None:
            continue
        if path.is_dir():
            raise fail(ExitCode.USAGE, f"{option} {path}: is a folder; give a file name in it")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or exc
            message = f"{option} {path}: cannot create its folder: {reason}"
            raise fail(ExitCode.USAGE, message) from None
        if not os.access(path.parent, os.W_OK):
            raise fail(ExitCode.USAGE, f"{option} {path}: its folder is not writable")


def load(path: Path) -> Scenario:
    """Load and validate a scenario, or exit 2 naming the file and the problem."""
    try:
        return load_scenario(path)
    except ScenarioError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None


def emit(
    report: RunReport, json_path: Path | None, junit_path: Path | None, html_path: Path | None
) -> None:
    """Write every report file that was asked for, then render the report on the console.

    Files first: a console that is gone (a closed terminal, a pipe whose reader quit) must not
    cost the files.
    """
    if json_path is not None:
        write_json(report, json_path)
    if junit_path is not None:
        write_junit(report, junit_path, json_path)
    if html_path is not None:
        write_html(report, html_path)
    render_report(report, stdout, json_path=json_path)
