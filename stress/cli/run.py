"""``auth-stress run``: drive a scenario against a target, judge its history, report, exit."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Annotated, cast

import typer
from rich.markup import escape
from rich.progress import Progress

from stress.cli.output import (
    LogLevel,
    emit,
    fail,
    load,
    prepare_outputs,
    progress_bar,
    start_logging,
    stderr,
)
from stress.cli.repeat import run_repeated
from stress.cli.target_options import CaFile
from stress.errors import ScenarioError
from stress.pipeline import RUN_KEY_ENV, RunOptions, drive_scenario, judge_drive, uninterrupted
from stress.report import exit_code
from stress.scenario import LoadStep, Scenario, SleepStep
from stress.shard import Shard, parse_shard, shard_from_env
from stress.types import ENGINES, ExitCode
from stress.wire import HTTP2Mode
from stress.wire import run as run_async

__all__ = ["parse_start_at", "run_command"]

_HTTP2 = ("auto", "never", "always")
RUN_ID_ENV = "AUTH_STRESS_RUN_ID"
START_AT_ENV = "AUTH_STRESS_START_AT"
MAX_WAIT_SECONDS = 24 * 3600.0


def parse_start_at(text: str, now: float) -> float:
    """``--start-at``: unix seconds or an ISO-8601 time with a zone (``2026-05-01T12:00:00Z``),
    at most a day ahead; ValueError with a one-line reason otherwise."""
    try:
        at = float(text)
    except ValueError:
        at = _iso_time(text)
    if not math.isfinite(at) or at - now > MAX_WAIT_SECONDS:
        raise ValueError(f"--start-at {text!r}: more than 24 hours away")
    return at


def _iso_time(text: str) -> float:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        moment = None
    if moment is None:
        raise ValueError(
            f"--start-at {text!r}: expected unix seconds or an ISO-8601 time such as "
            "2026-05-01T12:00:00Z"
        )
    if moment.tzinfo is None:
        raise ValueError(f"--start-at {text!r}: give a time zone (e.g. Z for UTC)")
    return moment.timestamp()


def _shard_of(
    text: str | None, run_id: str | None, env: Mapping[str, str]
) -> tuple[Shard, str | None]:
    """The shard (``--shard``, else a Kubernetes Indexed Job's environment, else 1/1) and the
    run id (``--run-id``, else ``AUTH_STRESS_RUN_ID``), which the shards of a run must share."""
    try:
        shard = parse_shard(text) if text is not None else shard_from_env(env) or Shard(1, 1)
    except ValueError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None
    run_id = run_id if run_id is not None else env.get(RUN_ID_ENV) or None
    if run_id is not None and not run_id.strip():
        raise fail(ExitCode.USAGE, "--run-id: empty")
    if shard.count > 1 and run_id is None:
        raise fail(
            ExitCode.USAGE,
            f"shard {shard}: the shards of one run must share a run id: pass --run-id ID "
            f"or set {RUN_ID_ENV}",
        )
    return shard, run_id


def _timed_seconds(scenario: Scenario) -> float:
    """How long the scenario's time-bounded steps take per session (load and sleep steps)."""
    per_round = sum(
        step.duration_seconds if isinstance(step, LoadStep) else step.seconds
        for step in scenario.steps
        if isinstance(step, LoadStep | SleepStep)
    )
    return min(per_round * scenario.run.rounds, scenario.run.max_seconds)


PROGRESS_EVERY = 0.05
"""Seconds between two progress-bar updates (the bar redraws ten times a second)."""


def _progress_of(scenario: Scenario, bar: Progress) -> Callable[[int, int], None]:
    """Progress by ops, or by time when time-bounded load steps make op counts meaningless.

    Called after every completion, so it updates the bar only every :data:`PROGRESS_EVERY`
    seconds (and at the last planned op): an update costs about 5 us, a twentieth of the
    whole run path's budget per op, even with the bar disabled.
    """
    task = bar.add_task(scenario.name, total=None)
    seconds = _timed_seconds(scenario)
    started = time.monotonic()
    shown = [started - PROGRESS_EVERY]  # when the bar was last updated
    if any(isinstance(step, LoadStep) for step in scenario.steps) and seconds > 0:

        def by_time(done: int, planned: int) -> None:
            now = time.monotonic()
            if now - shown[0] >= PROGRESS_EVERY:
                shown[0] = now
                bar.update(task, completed=round(min(now - started, seconds)), total=round(seconds))

        return by_time

    def by_ops(done: int, planned: int) -> None:
        now = time.monotonic()
        if now - shown[0] >= PROGRESS_EVERY or done >= planned:
            shown[0] = now
            bar.update(task, completed=done, total=max(planned, done))

    return by_ops


def run_command(
    scenario: Annotated[Path, typer.Argument(metavar="SCENARIO", help="Scenario file (TOML).")],
    target: Annotated[
        list[str] | None,
        typer.Option(
            metavar="URL", help="Base URL; repeat to spread each burst over several replicas."
        ),
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(
            metavar="ENGINE", help=f"Override every step's sync engine: {', '.join(ENGINES)}."
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option(metavar="N", help="Override the scenario's seed.")
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="Write the JSON report.")
    ] = None,
    junit: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Write a JUnit XML report.")
    ] = None,
    html: Annotated[
        Path | None, typer.Option(metavar="FILE", help="Write a self-contained HTML report.")
    ] = None,
    history: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="The JSONL history file to stream (default: runs/<time>-<name>/history.jsonl).",
        ),
    ] = None,
    ca_file: CaFile = None,
    insecure: Annotated[
        bool, typer.Option(help="Do not verify TLS certificates (test servers only).")
    ] = False,
    http2: Annotated[str, typer.Option(metavar="MODE", help=f"{', '.join(_HTTP2)}.")] = "auto",
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    measure_policy: Annotated[
        bool,
        typer.Option(
            "--measure-policy",
            help="Measure the target's policy first (up to 2 minutes, as `auth-stress policy`) "
            "and note where it contradicts the scenario's.",
        ),
    ] = False,
    repeat: Annotated[
        int | None,
        typer.Option(
            metavar="K",
            min=1,
            max=10_000,
            help="Run K times; report how often each finding class reproduced (k of K).",
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            metavar="I/N",
            help="Run shard I of N (from 1): a disjoint slice of the sessions; default: from "
            "JOB_COMPLETION_INDEX and AUTH_STRESS_SHARDS when set, else 1/1. Merge the shards' "
            "histories with `auth-stress merge`.",
        ),
    ] = None,
    run_id: Annotated[
        str | None,
        typer.Option(
            metavar="ID",
            help="The run's id, shared by its shards (default: AUTH_STRESS_RUN_ID, else random; "
            "required with more than one shard).",
        ),
    ] = None,
    start_at: Annotated[
        str | None,
        typer.Option(
            metavar="TIME",
            help="Wait until TIME (unix seconds or ISO-8601 with a zone; default: "
            "AUTH_STRESS_START_AT) before the first step, so that shards begin together; a "
            "time already past starts at once.",
        ),
    ] = None,
    log_level: LogLevel = "warning",
) -> None:
    """Run a scenario against a target, check the history, report, and exit.

    Exit codes: 0 every expectation holds, 1 a violation was found, 2 usage error or invalid
    scenario, 3 inconclusive (target unreachable, interrupted, too many indeterminate ops),
    4 internal error.
    """
    start_logging(log_level)
    if engine is not None and engine not in ENGINES:
        raise fail(ExitCode.USAGE, f"--engine {engine!r}: expected {', '.join(ENGINES)}")
    if http2 not in _HTTP2:
        raise fail(ExitCode.USAGE, f"--http2 {http2!r}: expected {', '.join(_HTTP2)}")
    if repeat is not None and (junit is not None or html is not None):
        one_run = "--junit and --html describe one run: with --repeat use --json"
        raise fail(ExitCode.USAGE, f"{one_run}, or `auth-stress analyze` one run's history")
    part, identity = _shard_of(shard, run_id, os.environ)
    start_text = start_at if start_at is not None else os.environ.get(START_AT_ENV) or None
    try:
        begin = None if start_text is None else parse_start_at(start_text, time.time())
    except ValueError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None
    if repeat is not None and part.count > 1:
        raise fail(ExitCode.USAGE, "--repeat makes whole runs: it cannot run one shard")
    prepare_outputs({"--json": json_out, "--junit": junit, "--html": html, "--history": history})
    loaded = load(scenario)
    try:
        part.apply(loaded)
    except ValueError as exc:
        raise fail(ExitCode.USAGE, f"{scenario}: {exc}") from None
    options = RunOptions(
        scenario_path=scenario,
        targets=tuple(target or ()),
        engine=engine,
        seed=seed,
        history_path=history,
        ca_file=ca_file,
        insecure=insecure,
        http2=cast(HTTP2Mode, http2),
        measure_policy=measure_policy,
        shard=part,
        run_id=identity,
        run_secret=os.environ.get(RUN_KEY_ENV) or None,
        start_at=begin,
    )
    if repeat is not None:
        raise typer.Exit(run_repeated(loaded, options, repeat, json_out, progress))
    with progress_bar(progress) as bar:
        try:
            drive = run_async(drive_scenario, loaded, options, _progress_of(loaded, bar))
        except ScenarioError as exc:
            raise fail(ExitCode.USAGE, str(exc)) from None
    with uninterrupted():
        report = judge_drive(drive)
        emit(report, json_out, junit, html)
    stderr.print(f"history: {escape(str(drive.path))}", highlight=False, soft_wrap=True)
    if drive.history.sink_error is not None:
        problem = f"the history could not be written to {drive.path}"
        stderr.print(
            f"[bold red]error:[/] {escape(problem)}: {drive.history.sink_error.strerror}",
            highlight=False,
            soft_wrap=True,
        )
    raise typer.Exit(ExitCode.INTERNAL if drive.end.end == "crashed" else exit_code(report))
