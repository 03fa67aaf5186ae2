"""One call per CLI command: run a scenario, or re-check a saved history.

This is where the pieces meet: discovery, the target profile, the wire client, the runner, the
checkers and the report model. The CLI only parses arguments and renders what comes back.
"""

from __future__ import annotations

import re
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from stress.checkers import run_checkers
from stress.checkers.base import CheckContext, Threshold
from stress.claims import ClaimReader
from stress.discovery import discover, fetch_jwks
from stress.errors import ScenarioError
from stress.fingerprint import Fingerprinter
from stress.history import Header, History, Operation, load_history
from stress.report import RunReport, build_report
from stress.report.timeline import RequestDescriber, RequestShape
from stress.runner import ProgressCallback, Runner
from stress.scenario import Scenario
from stress.target import TargetProfile
from stress.wire import HTTP2Mode, WireClient, WireRequest

__all__ = ["RunOptions", "RunResult", "analyze_history", "check_context", "run_scenario"]

_MARK = "AUTHSTRESSTOKENPLACEHOLDER"


@dataclass(frozen=True)
class RunOptions:
    """What the command line adds to a scenario."""

    scenario_path: Path | None = None
    targets: Sequence[str] = ()
    engine: str | None = None
    seed: int | None = None
    history_path: Path | None = None
    runs_dir: Path = Path("runs")
    ca_file: str | None = None
    insecure: bool = False
    http2: HTTP2Mode = "auto"
    extra_argv: Sequence[str] = field(default_factory=tuple)


def check_context(scenario: Scenario) -> CheckContext:
    """The promises the checkers hold the target to, from the scenario."""
    return CheckContext(
        policy=scenario.policy.model(),
        thresholds={
            kind: Threshold(t.p50_ms, t.p95_ms, t.p99_ms, t.max_error_rate)
            for kind, t in scenario.thresholds.items()
        },
        documented_statuses=frozenset(scenario.target.documented_statuses),
        max_info_ratio=scenario.run.max_info_ratio,
    )


def _targets(scenario: Scenario, options: RunOptions) -> list[str]:
    targets = list(options.targets) or (
        [scenario.target.base_url] if scenario.target.base_url else []
    )
    if not targets:
        raise ScenarioError(
            f"{options.scenario_path or scenario.name}: no target: set target.base_url "
            "or pass --target URL"
        )
    for url in targets:
        if not re.match(r"^https?://[^/\s]+", url):
            raise ScenarioError(f"target {url!r}: expected an http:// or https:// base URL")
    return [url if url.endswith("/") else url + "/" for url in targets]


def _history_path(scenario: Scenario, options: RunOptions) -> Path:
    if options.history_path is not None:
        return options.history_path
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", scenario.name).strip("-") or "run"
    return options.runs_dir / f"{stamp}-{slug}" / "history.jsonl"


def _describer(profile: TargetProfile, targets: list[str]) -> RequestDescriber:
    """Map an operation to its request with shell placeholders where the tokens go."""

    def describe(op: Operation) -> RequestShape:
        base = op.invoke.target or targets[0]
        base = base if base.endswith("/") else base + "/"
        request: WireRequest
        if op.kind == "revoke":
            request, name = profile.revoke(base, _MARK), "$REFRESH_TOKEN"
        elif op.kind == "use":
            request, name = profile.use(base, _MARK), "$ACCESS_TOKEN"
        elif op.kind == "login":
            request, name = profile.login(base, "$USERNAME", "$PASSWORD", op.session), ""
        else:
            request, name = profile.refresh(base, _MARK), "$REFRESH_TOKEN"
        headers = {k: v.replace(_MARK, name) for k, v in request.headers}
        headers.pop("content-length", None)
        body = request.body.decode(errors="replace").replace(_MARK, name) or None
        return request.method, request.url, headers, body

    return describe


@dataclass(frozen=True)
class RunResult:
    """A finished run: its report, where its history is, and whether the tester crashed."""

    report: RunReport
    history_path: Path
    crashed: bool


async def run_scenario(
    scenario: Scenario, options: RunOptions, progress: ProgressCallback | None = None
) -> RunResult:
    """Run a scenario end to end: discover, drive, check, and build the report."""
    targets = _targets(scenario, options)
    verify: bool | str = False if options.insecure else (options.ca_file or True)
    async with httpx.AsyncClient(timeout=scenario.run.op_timeout_seconds, verify=verify) as http:
        endpoints = await discover(http, scenario.target, targets[0])
        jwks = await fetch_jwks(http, targets[0], endpoints.jwks) if endpoints.jwks else None
    profile = TargetProfile(scenario.target, endpoints)
    claims = ClaimReader(jwks)
    path = _history_path(scenario, options)
    path.parent.mkdir(parents=True, exist_ok=True)
    seed = options.seed if options.seed is not None else scenario.run.seed
    header = Header(
        scenario=scenario.name,
        policy=scenario.policy.model(),
        targets=targets,
        seed=seed,
        started_unix=time.time(),
    )
    with path.open("wb") as sink:
        history = History(header, sink)
        # Single ops (login, use, probe, load) ride cheap HTTP/1.1 keep-alive, as load tools
        # do; bursts still pick their engine's protocol. ``--http2 always`` keeps h2 for all.
        async with WireClient(
            ca_file=options.ca_file,
            insecure=options.insecure,
            http2=options.http2,
            http1_requests=options.http2 != "always",
        ) as client:
            runner = Runner(
                scenario,
                profile,
                targets,
                client,
                history,
                claims,
                engine=options.engine,
                fingerprint=Fingerprinter(),
                progress=progress,
            )
            outcome = await runner.run()
    operations = history.operations()
    results = run_checkers(operations, check_context(scenario))
    reproduce = _reproduce(options, targets, seed, path)
    report = build_report(
        scenario=scenario.name,
        scenario_path=str(options.scenario_path) if options.scenario_path else None,
        targets=targets,
        policy=scenario.policy.model(),
        results=results,
        operations=operations,
        wall_seconds=outcome.wall_seconds,
        started_unix=header.started_unix,
        reproduce=reproduce,
        inconclusive_reason=outcome.inconclusive_reason,
        bursts=outcome.bursts,
        describe=_describer(profile, targets),
        notes=outcome.notes,
    )
    return RunResult(report=report, history_path=path, crashed=outcome.end == "crashed")


def _reproduce(options: RunOptions, targets: list[str], seed: int, history: Path) -> list[str]:
    lines = []
    if options.scenario_path is not None:
        argv = ["auth-stress", "run", str(options.scenario_path)]
        for target in targets:
            argv += ["--target", target]
        if options.engine:
            argv += ["--engine", options.engine]
        argv += ["--seed", str(seed)]
        lines.append(shlex.join(argv))
        lines.append(
            shlex.join(
                ["auth-stress", "analyze", str(history), "--scenario", str(options.scenario_path)]
            )
        )
    return lines


def analyze_history(history_path: Path, scenario: Scenario, scenario_path: Path) -> RunReport:
    """Re-run the checkers on a saved history: no network, same verdict as the live run."""
    history = load_history(history_path)
    operations = history.operations()
    results = run_checkers(operations, check_context(scenario))
    pending = [op for op in operations if op.done is None]
    return build_report(
        scenario=scenario.name,
        scenario_path=str(scenario_path),
        targets=history.header.targets,
        policy=scenario.policy.model(),
        results=results,
        operations=operations,
        wall_seconds=0.0,
        started_unix=history.header.started_unix,
        reproduce=[
            shlex.join(
                ["auth-stress", "analyze", str(history_path), "--scenario", str(scenario_path)]
            )
        ],
        inconclusive_reason="history ends with unfinished operations" if pending else None,
    )
