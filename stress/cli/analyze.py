"""``auth-stress analyze``: judge a saved history again, offline, with the run's own promises.

The history carries everything its verdict needs, so no scenario is required and the report is
the run's own. ``--scenario`` (its policy and thresholds) or ``--policy`` (a preset) judges it
by other promises instead, and the report says so.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer

from stress.cli.output import LogLevel, emit, fail, load, prepare_outputs, start_logging
from stress.errors import HistoryError
from stress.pipeline import Overrides, analyze_history, checks_of
from stress.policy import PRESETS, PresetName, preset
from stress.report import exit_code
from stress.types import ExitCode

__all__ = ["analyze_command", "noticing_interrupts", "parse_policy"]


@contextmanager
def noticing_interrupts() -> Iterator[list[int]]:
    """Raise ``KeyboardInterrupt`` at SIGINT as Python does, and remember that it came.

    Why: CPython runs a signal handler in whatever Python code the main thread is in, and when
    that is a finalizer (a generator or ``__del__`` collected mid-analysis) the exception is
    printed as "ignored" and the analysis goes on. The list says an interrupt came anyway.
    """
    received: list[int] = []

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield received
    finally:
        signal.signal(signal.SIGINT, previous)


def parse_policy(text: str) -> Overrides:
    """``strict``, ``none``, or ``idempotent:SECONDS`` / ``overlap:SECONDS``."""
    name, _, grace = text.partition(":")
    if name not in PRESETS:
        raise ValueError(f"--policy {text!r}: expected one of {', '.join(PRESETS)}")
    kind: PresetName = name
    needs_grace = kind in ("idempotent", "overlap")
    try:
        seconds = float(grace) if grace else 0.0
    except ValueError:
        raise ValueError(f"--policy {text!r}: {grace!r} is not a number of seconds") from None
    if needs_grace != (seconds > 0):
        raise ValueError(
            f"--policy {text!r}: {kind} takes a grace window as {kind}:SECONDS"
            if needs_grace
            else f"--policy {text!r}: {kind} takes no grace window"
        )
    return Overrides(source=f"--policy {text}", policy=preset(kind, seconds))


def analyze_command(
    history: Annotated[Path, typer.Argument(help="A JSONL history written by `run`.")],
    scenario: Annotated[
        Path | None,
        typer.Option(help="Judge by this scenario's policy and thresholds instead."),
    ] = None,
    policy: Annotated[
        str | None,
        typer.Option(help="Judge by this policy preset instead: strict, none, idempotent:S."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the JSON report.")] = None,
    junit: Annotated[Path | None, typer.Option(help="Write a JUnit XML report.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write a self-contained HTML report.")] = None,
    log_level: LogLevel = "warning",
) -> None:
    """Re-run the checkers on a saved history, without touching the network."""
    start_logging(log_level)
    if scenario is not None and policy is not None:
        raise fail(ExitCode.USAGE, "--scenario and --policy both override the policy: pick one")
    overrides = None
    if scenario is not None:
        loaded = load(scenario)
        overrides = Overrides(
            source=str(scenario), policy=loaded.policy.model(), checks=checks_of(loaded)
        )
    elif policy is not None:
        try:
            overrides = parse_policy(policy)
        except ValueError as exc:
            raise fail(ExitCode.USAGE, str(exc)) from None
    prepare_outputs({"--json": json_out, "--junit": junit, "--html": html})
    try:
        with noticing_interrupts() as received:
            report = analyze_history(history, overrides)
            if received:  # swallowed where it was raised
                raise KeyboardInterrupt
            emit(report, json_out, junit, html)
    except HistoryError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None
    except KeyboardInterrupt:
        raise fail(ExitCode.INCONCLUSIVE, "interrupted before the analysis finished") from None
    raise typer.Exit(exit_code(report))
