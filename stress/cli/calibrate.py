"""``auth-stress calibrate``: how tightly each sync engine lands a burst, as a table and JSON.

A race is found only if the burst reaches the server inside its window, so users need to see
the engine's precision on their machine (built-in timestamping server, no target: arrivals are
the kernel's receive timestamps) and against their target (which must answer with
``X-Arrival-Ns``), beside the loopback floor measured in the same run (what N back-to-back
writes cost this machine). This module only parses options, checks that the target can be
measured at all, calls :func:`stress.calibrate.calibrate` and renders the result; it is
registered in :mod:`stress.cli`.

Targets that stamp arrivals only on POST (the reference server's ``/oauth/token``) are measured
with ``--method POST --body ... --content-type ...``; the reply may be an error status, only the
header matters.

Exit codes: 0 measured · 2 usage error · 3 the target is unreachable or sends no
``X-Arrival-Ns`` (nothing to measure, so no figure would mean anything).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from stress.calibrate import ARRIVAL_HEADER, DEFAULT_ENGINES, METHODS, Calibration, Probe, calibrate
from stress.cli.output import fail, start_logging, stdout
from stress.cli.target_options import CaFile
from stress.types import ExitCode
from stress.wire import WireClient
from stress.wire import run as run_async

__all__ = [
    "calibrate_command",
    "parse_engines",
    "parse_probe",
    "parse_sizes",
    "render_calibration",
]

MAX_SIZE = 1024  # the largest burst a scenario step allows


def parse_sizes(text: str) -> tuple[int, ...]:
    """``"2,8,32"`` -> ``(2, 8, 32)``; raises ``ValueError`` naming the bad part."""
    sizes = []
    for part in (p.strip() for p in text.split(",")):
        if not part.isdigit() or not 2 <= int(part) <= MAX_SIZE:
            raise ValueError(f"--sizes: {part!r} is not a burst size from 2 to {MAX_SIZE}")
        sizes.append(int(part))
    return tuple(sizes)


def parse_engines(values: list[str]) -> tuple[str, ...]:
    """Repeated or comma-separated engine names, checked against the engines calibrate knows."""
    engines = [e.strip() for value in values for e in value.split(",") if e.strip()]
    known = (*DEFAULT_ENGINES, "auto")
    for engine in engines:
        if engine not in known:
            raise ValueError(f"--engine {engine!r}: expected one of {', '.join(known)}")
    return tuple(dict.fromkeys(engines)) or DEFAULT_ENGINES


def parse_probe(method: str, body: str | None, content_type: str | None) -> Probe:
    """The calibration request from ``--method/--body/--content-type``; ``ValueError`` if bad."""
    try:
        return Probe(method.upper(), (body or "").encode("utf-8"), content_type)
    except ValueError as exc:
        option = "--body" if "body" in str(exc) else "--method"
        raise ValueError(f"{option}: {exc}") from None


async def _probe(url: str, probe: Probe, ca_file: str | None, insecure: bool) -> str | None:
    """Why ``url`` cannot be calibrated against, or None when it answers with the header."""
    async with WireClient(http2="never", ca_file=ca_file, insecure=insecure) as client:
        outcome = await client.request(probe.request(url), timeout=5.0)
    if outcome.response is None:
        return f"target unreachable: {url}: {outcome.error_detail or outcome.error}"
    if outcome.response.header(ARRIVAL_HEADER) is None:
        hint = (
            "a target may stamp only some routes, e.g. --method POST --body ... on its token "
            "endpoint"
            if probe.method == "GET"
            else "check the route"
        )
        return (
            f"target {url} answered {probe.method} with {outcome.response.status} but no "
            f"X-Arrival-Ns header, so arrival spreads cannot be measured there ({hint}; omit "
            "--target to measure the engines on the built-in server)"
        )
    return None


def _us(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


_CLOCKS = {
    "kernel": "kernel receive timestamps (SO_TIMESTAMPNS) on the built-in server: the wire's "
    "figure",
    "loop": "the built-in server's own clock (this system gave no kernel receive timestamps), "
    "so the figures include that server's loop delays",
    "target": "the target's X-Arrival-Ns (its own clock: its delays are included)",
}


def render_calibration(report: Calibration, console: Console) -> None:
    """One row per engine and burst size: arrival spreads beside the loopback floor, and more.

    Under the table: who stamped the arrivals, and how the floor was measured, so a reader can
    tell an engine's slack (arrival above floor) from the machine's limit (the floor).
    """
    title = f"Burst precision against {report.target}"
    if report.method != "GET":
        title += f" ({report.method})"
    table = Table(title=title, title_justify="left")
    table.add_column("engine", no_wrap=True)
    for name in (
        "N",
        "bursts",
        "arrival median us",
        "arrival p95 us",
        "loopback floor us",
        "release median us",
    ):
        table.add_column(name, justify="right")
    table.add_column("errors", justify="right")
    table.add_column("notes")
    for row in report.results:
        engine = row.engine if row.used == row.engine else f"{row.engine} -> {row.used}"
        table.add_row(
            engine,
            str(row.n),
            str(row.bursts),
            _us(row.arrival_median_us),
            _us(row.arrival_p95_us),
            _us(row.floor_us),
            _us(row.release_median_us),
            str(row.errors),
            "; ".join(row.notes),
        )
    console.print(table)
    clocks = sorted({row.arrival_clock for row in report.results if row.arrival_clock})
    for clock in clocks:
        console.print(f"Arrivals stamped by {_CLOCKS.get(clock, clock)}.")
    floor = report.floor
    if floor is not None:
        how = "one batched io_submit call" if floor.release == "batch" else "a send loop"
        stamped = "kernel-stamped" if floor.clock == "kernel" else "timed by the writer's clock"
        cost = ""
        if floor.per_write_us is not None:
            cost = f"; one write costs about {floor.per_write_us:.1f} us here"
        console.print(
            "Loopback floor: the release's writes (N, or one per connection for single-packet) "
            f"as one byte each on idle loopback connections, sent as the engines send them "
            f"({how}), {stamped}, just before each burst{cost}. Arrival spread above the floor "
            "is the engine's and the server's slack; the floor is this machine's limit."
        )


def calibrate_command(
    target: Annotated[
        str | None,
        typer.Option(
            help="Full URL that answers the calibration request with X-Arrival-Ns; default: "
            "a built-in timestamping server on 127.0.0.1."
        ),
    ] = None,
    method: Annotated[
        str, typer.Option(help=f"Calibration request method: {', '.join(METHODS)}.")
    ] = "GET",
    body: Annotated[
        str | None,
        typer.Option(help="Request body (UTF-8), e.g. a refresh-token form; not with GET."),
    ] = None,
    content_type: Annotated[
        str | None,
        typer.Option(help="Content-Type header, e.g. application/x-www-form-urlencoded."),
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write results as JSON.")] = None,
    engine: Annotated[
        list[str] | None,
        typer.Option(help="Engines to measure (repeat or comma-separate); default: all four."),
    ] = None,
    sizes: Annotated[str, typer.Option(help="Burst sizes N, comma-separated.")] = "2,8,32,128",
    bursts: Annotated[int, typer.Option(min=1, max=1000, help="Measured bursts per N.")] = 7,
    ca_file: CaFile = None,
    insecure: Annotated[
        bool, typer.Option(help="Do not verify TLS certificates (test servers only).")
    ] = False,
    log_level: Annotated[
        str, typer.Option("--log-level", help="debug, info, warning or error (JSON on stderr).")
    ] = "warning",
) -> None:
    """Measure each sync engine's arrival spread per burst size; exit 0, or 3 if unmeasurable."""
    try:
        size_list = parse_sizes(sizes)
        engines = parse_engines(engine or [])
        probe = parse_probe(method, body, content_type)
    except ValueError as exc:
        raise fail(ExitCode.USAGE, str(exc)) from None
    if target is not None and not re.match(r"^https?://[^/\s]+", target):
        raise fail(ExitCode.USAGE, f"--target {target!r}: expected an http:// or https:// URL")
    start_logging(log_level)
    if target is not None:
        problem = run_async(_probe, target, probe, ca_file, insecure)
        if problem is not None:
            raise fail(ExitCode.INCONCLUSIVE, problem)
    report = run_async(_calibrate, target, engines, size_list, bursts, probe, ca_file, insecure)
    render_calibration(report, stdout)
    if json_out is not None:
        json_out.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")


async def _calibrate(
    target: str | None,
    engines: tuple[str, ...],
    sizes: tuple[int, ...],
    bursts: int,
    probe: Probe,
    ca_file: str | None,
    insecure: bool,
) -> Calibration:
    return await calibrate(
        target,
        engines=engines,
        sizes=sizes,
        bursts=bursts,
        ca_file=ca_file,
        insecure=insecure,
        probe=probe,
    )
