"""The pipeline: discover the target, drive the scenario, then judge the history it left.

``run`` and ``analyze`` end in the same function, :func:`analyze_history`, which reads a history
file and nothing else: the verdict of a run is the verdict of its history, and re-checking a
history offline gives the identical report. Everything the judgement needs (policy, thresholds,
request shapes for reproducer lines, how and why the run ended) is written into the history by
the run. The CLI only parses arguments and renders what comes back.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import shlex
import signal
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urljoin

import anyio
import msgspec

from stress.checkers import run_checkers
from stress.checkers.base import CheckContext, Threshold
from stress.claims import ClaimReader
from stress.client_certificate import target_certificate
from stress.control_http import control_client
from stress.discovery import POLICY_EXTENSION, discover, fetch_jwks
from stress.drive import Driver, ProgressCallback
from stress.errors import HistoryError, ScenarioError, TargetError
from stress.fingerprint import Fingerprinter, key_check, run_key
from stress.history import Clock, Header, History, Operation, load_history
from stress.http_tls import verify_setting
from stress.interrupt import STOP_SIGNALS, Interrupt, Interrupted, watched
from stress.measure.drift import differences, drift
from stress.measure.prober import Bounds
from stress.measure.runner import ProbeSetup, measure_policy
from stress.policy import Policy
from stress.report import RunReport, build_report
from stress.report.timeline import RequestDescriber, RequestShape
from stress.run_record import (
    Checks,
    Limits,
    RequestTemplate,
    RunEnd,
    TlsRecord,
    inconclusive_reason,
)
from stress.scenario import Scenario
from stress.shard import Shard, scenario_digest
from stress.signing_keys import KeySource
from stress.target import Endpoints, TargetProfile, target_headers
from stress.templates import request_templates
from stress.wire import HTTP2Mode, WireClient

__all__ = [
    "RUN_KEY_ENV",
    "Drive",
    "DriveBody",
    "DriveParts",
    "Overrides",
    "RunIdentity",
    "RunOptions",
    "RunResult",
    "analyze_history",
    "check_context",
    "checks_of",
    "drive_scenario",
    "drive_with",
    "header_of",
    "history_path",
    "judge",
    "judge_drive",
    "published_policy_notes",
    "run_folder",
    "run_scenario",
    "uninterrupted",
]

logger = logging.getLogger(__name__)

RUN_KEY_ENV = "AUTH_STRESS_RUN_KEY"
"""The environment variable holding the secret the shards of one run key fingerprints with."""


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
    # Where a mint command runs, for a scenario that is not (or no longer) its file: a shrink
    # candidate runs where its original would.
    scenario_dir: Path | None = None
    # Measure the target's policy first (as `auth-stress policy` does) and note any drift.
    measure_policy: bool = False
    # One shard of a run split over several processes (see stress.shard), the run's id (the
    # shards must agree on it) and the secret the shards key their fingerprints with.
    shard: Shard = field(default_factory=lambda: Shard(1, 1))
    run_id: str | None = None
    run_secret: str | None = field(default=None, repr=False)
    # The wall-clock time (unix seconds) the run's first step waits for, so that shards
    # started at different moments begin together.
    start_at: float | None = None


@dataclass(frozen=True)
class RunIdentity:
    """Which run a history belongs to, and the key its fingerprints are made with."""

    run_id: str
    key: bytes = field(repr=False)

    @classmethod
    def of(cls, options: RunOptions) -> RunIdentity:
        """The run's id (random unless given) and key (random, from the shared secret, or,
        failing that, from the run id, with a warning saying what that gives away)."""
        if options.run_id is None:
            run_id = uuid.uuid4().hex
            if options.run_secret is None:
                return cls(run_id, secrets.token_bytes(32))
        else:
            run_id = options.run_id
        if options.run_secret is None:
            logger.warning(
                "%s is not set: token fingerprints are keyed by the run id alone, so whoever "
                "holds the histories and the run id can confirm a guessed low-entropy token",
                RUN_KEY_ENV,
                extra={"run_id": run_id},
            )
        return cls(run_id, run_key(run_id, options.run_secret))


@dataclass(frozen=True)
class Overrides:
    """Judge a history by other promises than the ones it was recorded with (reported)."""

    source: str
    policy: Policy | None = None
    checks: Checks | None = None


@dataclass(frozen=True)
class RunResult:
    """A finished run: its report, where its history is, whether the tester crashed, and
    whether the user asked to stop (a command running several scenarios then runs no more)."""

    report: RunReport
    history_path: Path
    crashed: bool
    interrupted: bool = False


def checks_of(scenario: Scenario) -> Checks:
    """The scenario's checks besides the policy, as the history records them."""
    return Checks(
        thresholds={
            kind: Limits(t.p50_ms, t.p95_ms, t.p99_ms, t.max_error_rate)
            for kind, t in scenario.thresholds.items()
        },
        documented_statuses=list(scenario.target.documented_statuses),
        max_info_ratio=scenario.run.max_info_ratio,
    )


def check_context(
    policy: Policy, checks: Checks, dead_targets: dict[str, int] | None = None
) -> CheckContext:
    """The promises the checkers hold the target to (and the targets that died meanwhile)."""
    return CheckContext(
        policy=policy,
        thresholds={
            kind: Threshold(t.p50_ms, t.p95_ms, t.p99_ms, t.max_error_rate)
            for kind, t in checks.thresholds.items()
        },
        documented_statuses=frozenset(checks.documented_statuses),
        max_info_ratio=checks.max_info_ratio,
        dead_targets=dict(dead_targets or {}),
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


def run_folder(runs_dir: Path, name: str, suffix: str = "") -> Path:
    """``runs/<time>-<name><suffix>``: the folder a run (or a repetition, shrink, replay) of
    the scenario named ``name`` keeps its files in."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "run"
    return runs_dir / f"{stamp}-{slug}{suffix}"


def history_path(scenario: Scenario, options: RunOptions) -> Path:
    """The history file a run writes: ``--history``, else ``runs/<time>-<name>/history.jsonl``."""
    if options.history_path is not None:
        return options.history_path
    return run_folder(options.runs_dir, scenario.name) / "history.jsonl"


def _command(options: RunOptions, targets: list[str], seed: int) -> list[str]:
    """The command line that runs the same scenario against the same targets again."""
    if options.scenario_path is None:
        return []
    argv = ["auth-stress", "run", str(options.scenario_path)]
    for target in targets:
        argv += ["--target", target]
    if options.engine:
        argv += ["--engine", options.engine]
    if options.insecure:
        argv.append("--insecure")
    elif options.ca_file is not None:
        argv += ["--ca-file", options.ca_file]
    return [*argv, "--seed", str(seed)]


def _tls_record(scenario: Scenario, options: RunOptions) -> TlsRecord | None:
    """How the run does TLS, for the reproducer's curl lines; None when nothing was said of it
    (the system's CAs, no client certificate)."""
    target = scenario.target
    record = TlsRecord(
        ca_file=options.ca_file,
        ca_folder=options.ca_file is not None and Path(options.ca_file).is_dir(),
        insecure=options.insecure,
        client_cert_env=target.client_cert_env,
        client_cert_key_env=target.client_cert_key_env,
    )
    return None if record == TlsRecord() else record


@dataclass(frozen=True)
class Drive:
    """What driving a scenario left: the history (on disk; in memory only its count, pending
    invokes and whatever could not be written) and how it ended."""

    path: Path
    history: History
    end: RunEnd
    # The user asked to stop: during the run, or after its run-end record was written (a
    # command making several runs must not start the next).
    interrupted: bool = False


Discovered = tuple[Endpoints, dict[str, Any] | None, Policy | None]
"""The target's endpoints, its JWKS and the policy it publishes (each when it has one)."""


async def _discover(
    scenario: Scenario, base: str, verify: ssl.SSLContext | bool, interrupt: Interrupt
) -> Discovered | TargetError | None:
    """What discovery found, why the target cannot be used, or None when interrupted
    (``ScenarioError`` before any request when a header's variable is not set)."""
    headers = target_headers(scenario.target)
    with interrupt.stops():
        try:
            async with control_client(
                timeout=scenario.run.op_timeout_seconds, verify=verify, headers=headers
            ) as http:
                discovery = await discover(
                    http,
                    scenario.target,
                    base,
                    revocation_needed="revoke" in scenario.request_kinds(),
                )
                endpoints = discovery.endpoints
                jwks = await fetch_jwks(http, base, endpoints.jwks) if endpoints.jwks else None
                if endpoints.jwks and jwks is None:
                    logger.warning("access tokens will not be verified: no usable JWKS")
        except TargetError as exc:
            return exc
        return endpoints, jwks, discovery.published
    return None


def header_of(
    scenario: Scenario, options: RunOptions, identity: RunIdentity | None = None
) -> Header:
    """The history header a run of ``scenario`` with ``options`` starts with (before discovery
    adds the request shapes); ``identity`` is the run's, when its fingerprints are keyed by it
    (without one, the history gets a random run id and no key check)."""
    targets = _targets(scenario, options)
    seed = options.seed if options.seed is not None else scenario.run.seed
    path = options.scenario_path
    return Header(
        scenario=scenario.name,
        scenario_path=str(options.scenario_path) if options.scenario_path else None,
        command=_command(options, targets, seed),
        policy=scenario.policy.model(),
        checks=checks_of(scenario),
        targets=targets,
        seed=seed,
        started_unix=time.time(),
        run_id=identity.run_id if identity is not None else uuid.uuid4().hex,
        shard=options.shard.id,
        scenario_digest=scenario_digest(path) if path is not None and path.is_file() else None,
        key_check=key_check(identity.key) if identity is not None else None,
        clock=Clock(time.time_ns(), time.monotonic_ns()),
        tls=_tls_record(scenario, options),
        start_at=options.start_at,
    )


@dataclass(frozen=True)
class DriveParts:
    """What a drive body works with once the target is discovered: the history is open."""

    scenario: Scenario
    options: RunOptions
    profile: TargetProfile
    targets: list[str]
    wire: WireClient
    history: History
    claims: ClaimReader
    # What the run noticed before its first op (a published or measured policy that
    # contradicts the scenario's), for the run-end record.
    notes: list[str]
    # The user's stop: the body's run ends "interrupted" when it fires.
    interrupt: Interrupt

    @property
    def scenario_dir(self) -> Path | None:
        """Where a mint command runs: the scenario file's folder unless told otherwise."""
        if self.options.scenario_dir is not None:
            return self.options.scenario_dir
        return self.options.scenario_path.parent if self.options.scenario_path else None


DriveBody = Callable[[DriveParts], Awaitable[RunEnd]]
"""Sends a run's requests and records them in ``parts.history``; returns its run-end record,
already written (the driver's ``run``, or a replay's)."""


async def drive_scenario(
    scenario: Scenario, options: RunOptions, progress: ProgressCallback | None = None
) -> Drive:
    """Discover the target and drive the scenario, streaming the history; judge nothing.

    A target that cannot be used before the first op, or an interrupt during discovery, still
    leaves a history whose run-end record says why, so every report asked for can be written.
    """

    identity = RunIdentity.of(options)
    shard = options.shard
    try:
        part = shard.apply(scenario)
    except ValueError as exc:
        raise ScenarioError(str(exc)) from None

    async def body(parts: DriveParts) -> RunEnd:
        driver = Driver(
            part,
            parts.profile,
            parts.targets,
            parts.wire,
            parts.history,
            parts.claims,
            engine=options.engine,
            fingerprint=Fingerprinter(identity.key),
            progress=progress,
            scenario_dir=parts.scenario_dir,
            notes=parts.notes,
            first_session=shard.first_session(scenario.run.sessions),
            schedule_seed=_schedule_seed(parts.history.header.seed, shard),
            interrupt=parts.interrupt,
        )
        return await driver.run()

    return await drive_with(scenario, options, header_of(scenario, options, identity), body)


def _schedule_seed(seed: int, shard: Shard) -> int:
    """The seed of a shard's open-model arrivals: the run's own unsharded, and distinct per
    shard (identical schedules on every shard would fire the arrivals in lockstep)."""
    return seed if shard.count == 1 else seed * 1_000_033 + shard.index


async def drive_with(
    scenario: Scenario, options: RunOptions, header: Header, body: DriveBody
) -> Drive:
    """Discover the target, open the history with ``header``, and let ``body`` drive it.

    What every way of sending a scenario's requests shares (a run, a replay): the history file,
    discovery, the wire client, the user's stop watched from the first request to the run-end
    record, and a history that says why when the target could not be used.
    """
    with watched() as interrupt:
        return await _drive(scenario, options, header, body, interrupt)


async def _drive(
    scenario: Scenario, options: RunOptions, header: Header, body: DriveBody, interrupt: Interrupt
) -> Drive:
    targets = list(header.targets)
    path = history_path(scenario, options)
    path.parent.mkdir(parents=True, exist_ok=True)
    certificate = target_certificate(scenario.target, targets)
    verify = verify_setting(options.ca_file, options.insecure, certificate)
    discovered = await _discover(scenario, targets[0], verify, interrupt)
    if isinstance(discovered, TargetError):
        return _ended(path, header, RunEnd(end="target-unreachable", detail=str(discovered)))
    if discovered is None:
        return _ended(path, header, RunEnd(end="interrupted", detail="during discovery"))
    endpoints, jwks, published = discovered
    notes = published_policy_notes(published, scenario.policy.model())
    if options.measure_policy:
        measured = await _measured_policy_notes(scenario, targets[0], path, options, interrupt)
        if measured is None:
            detail = "during the policy measurement"
            return _ended(path, header, RunEnd(end="interrupted", detail=detail))
        notes += measured
    if options.start_at is not None and not await _wait_until(options.start_at, interrupt):
        return _ended(path, header, RunEnd(end="interrupted", detail="waiting for --start-at"))
    profile = TargetProfile(scenario.target, endpoints)
    requests = request_templates(scenario.target, endpoints, targets[0], scenario.request_kinds())
    # The clock is read here, by the process whose monotonic times the ops will carry.
    clock = Clock(time.time_ns(), time.monotonic_ns())
    header = msgspec.structs.replace(header, requests=requests, clock=clock)
    with _sink(path) as sink:
        # Streamed, not retained: the run's memory must not grow with its length. Written once
        # per turn of the loop, whatever was appended in it (a write per record cost a system
        # call each), and flushed before the file closes, however the run ends.
        defer = asyncio.get_running_loop().call_soon
        history = History(header, sink, retain=False, defer=defer)
        try:
            # Single ops (login, use, probe, load) ride cheap HTTP/1.1 keep-alive, as load
            # tools do; bursts still pick their engine's protocol. ``--http2 always`` keeps h2.
            async with WireClient(
                ca_file=options.ca_file,
                insecure=options.insecure,
                certificate=certificate,
                http2=options.http2,
                http1_requests=options.http2 != "always",
            ) as wire:
                source = _jwks_source(scenario, targets[0], endpoints.jwks, verify)
                claims = ClaimReader(jwks, source)
                parts = DriveParts(
                    scenario, options, profile, targets, wire, history, claims, notes, interrupt
                )
                end = await body(parts)
        finally:
            history.flush()
    return Drive(path=path, history=history, end=end, interrupted=interrupt.received)


def _jwks_source(
    scenario: Scenario, base: str, jwks: str | None, verify: ssl.SSLContext | bool
) -> KeySource | None:
    """How the run fetches the target's JWKS again (for a token signed by a key it lacks), with
    the headers and the bound discovery used; None when the target publishes none."""
    if jwks is None:
        return None
    headers = target_headers(scenario.target)
    timeout = scenario.run.op_timeout_seconds

    async def fetch() -> dict[str, Any] | None:
        async with control_client(timeout=timeout, verify=verify, headers=headers) as http:
            return await fetch_jwks(http, base, jwks)

    return fetch


START_LATE_SECONDS = 5.0
"""A ``--start-at`` this far in the past is warned about; the run starts at once."""


async def _wait_until(start_at: float, interrupt: Interrupt) -> bool:
    """Sleep until the wall-clock time ``start_at``; False when interrupted meanwhile.

    The CLI bounds how far ahead a start may be; a start already past starts now (later than
    ``START_LATE_SECONDS`` with a warning: the merged report shows the shard's skew).
    """
    late = time.time() - start_at
    if late > START_LATE_SECONDS:
        logger.warning(
            "--start-at is %.1f s in the past: starting now", late, extra={"start_at": start_at}
        )
        return True
    with interrupt.stops():
        await anyio.sleep(max(0.0, start_at - time.time()))
    return not interrupt.received


def _ended(path: Path, header: Header, end: RunEnd) -> Drive:
    with _sink(path) as sink:
        history = History(header, sink)
        history.finish(end)
    return Drive(path=path, history=history, end=end, interrupted=end.end == "interrupted")


def _sink(path: Path) -> BinaryIO:
    """The history file, unbuffered: each record is one write the history can see fail."""
    return path.open("wb", buffering=0)


@contextmanager
def uninterrupted() -> Iterator[list[int]]:
    """Hold the stop signals (:data:`STOP_SIGNALS`) off while reports are judged and written: a
    second Ctrl-C must not lose the reports of a run that already stopped. Yields the signals
    that arrived, so a command making several runs stops after this one instead of forgetting
    them."""
    held: list[int] = []

    def hold(signum: int, _frame: object) -> None:
        held.append(signum)

    previous = {sig: signal.signal(sig, hold) for sig in STOP_SIGNALS}
    try:
        yield held
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def judge_drive(drive: Drive) -> RunReport:
    """The verdict of a drive: that of its history file, or, if the file failed, of what it
    holds followed by what the run kept in memory from then on."""
    if drive.history.sink_error is None:
        return analyze_history(drive.path)
    return judge(_recovered(drive.history, drive.path), drive.path)


def _recovered(kept: History, path: Path) -> History:
    """The whole history of a run whose file failed after ``kept.kept_from`` ops."""
    if kept.kept_from == 0:
        return kept
    try:
        whole = load_history(path)
        for op in kept:
            whole.append(op)
        if kept.end is not None:
            whole.finish(kept.end)
    except (HistoryError, ValueError):
        logger.warning("the history file cannot be read back; judging what memory kept")
        return kept
    whole.sink_error = kept.sink_error
    return whole


async def run_scenario(
    scenario: Scenario, options: RunOptions, progress: ProgressCallback | None = None
) -> RunResult:
    """Run a scenario end to end: discover, drive (streaming the history), then judge it."""
    drive = await drive_scenario(scenario, options, progress)
    return RunResult(
        report=judge_drive(drive),
        history_path=drive.path,
        crashed=drive.end.end == "crashed",
        interrupted=drive.interrupted,
    )


def published_policy_notes(published: Policy | None, declared: Policy) -> list[str]:
    """A note (also logged as a warning) when the target's published policy contradicts the
    scenario's; none when the target publishes none or they agree."""
    if published is None:
        return []
    drifts = differences(published, declared)
    if not drifts:
        return []
    note = (
        f"the target publishes its refresh-token policy ({POLICY_EXTENSION}: "
        f"{published.describe()}) and it contradicts the scenario's ({declared.describe()}): "
        + "; ".join(d.describe("published") for d in drifts)
    )
    logger.warning("%s", note, extra={"fields": [d.field for d in drifts]})
    return [note]


async def _measured_policy_notes(
    scenario: Scenario, target: str, path: Path, options: RunOptions, interrupt: Interrupt
) -> list[str] | None:
    """Measure the target's policy before the run and note where it contradicts the scenario's;
    None when the user stopped the measurement (the run then does not start).

    The measurement keeps its own history beside the run's (``policy.history.jsonl``).
    """
    setup = ProbeSetup(
        scenario=scenario,
        target=target,
        history_path=path.with_name("policy.history.jsonl"),
        scenario_path=options.scenario_path,
        ca_file=options.ca_file,
        insecure=options.insecure,
    )
    try:
        measurement = await measure_policy(setup, Bounds(), interrupt)
    except Interrupted:
        return None
    if interrupt.received:
        return None
    declared = scenario.policy.model()
    drifts, _ = drift(measurement, declared)
    if not drifts:
        return []
    note = (
        f"the policy measured before the run ({measurement.policy().describe()}) contradicts "
        f"the scenario's ({declared.describe()}): "
        + "; ".join(d.describe("measured") for d in drifts)
    )
    logger.warning("%s", note, extra={"fields": [d.field for d in drifts]})
    return [note]


def _describer(header: Header) -> RequestDescriber:
    """Map an operation to its request shape (for its curl line), from the header alone."""
    default = header.targets[0] if header.targets else "http://127.0.0.1/"

    def describe(op: Operation) -> RequestShape:
        template: RequestTemplate | None = header.requests.get(op.kind)
        if template is None:
            return "POST", default, {}, None
        base = op.invoke.target or default
        url = urljoin(base if base.endswith("/") else base + "/", template.path)
        return template.method, url, dict(template.headers), template.body

    return describe


def analyze_history(path: Path, overrides: Overrides | None = None) -> RunReport:
    """Judge a saved history: no network, no scenario; the run's own verdict.

    ``overrides`` judges it by other promises instead; the report says so.
    """
    return judge(load_history(path), path, overrides)


def judge(history: History, path: Path, overrides: Overrides | None = None) -> RunReport:
    """The checkers' verdict on ``history`` (read from ``path``) and the report built on it."""
    header = history.header
    operations = history.operations()
    policy, checks = header.policy, header.checks
    notes = list(history.end.notes) if history.end is not None else []
    if history.sink_error is not None:
        notes.append(
            f"the history file {path} could not be written ({history.sink_error.strerror}); "
            "this report was judged from what the run kept in memory"
        )
    if overrides is not None:
        policy = overrides.policy or policy
        checks = overrides.checks or checks
        notes.append(
            f"judged under the promises of {overrides.source} (policy {policy.describe()}), "
            f"not the ones recorded (policy {header.policy.describe()})"
        )
    end = history.end
    dead = end.dead_targets if end is not None else {}
    results = run_checkers(operations, check_context(policy, checks, dead))
    reproduce = [shlex.join(header.command)] if header.command else []
    reproduce.append(shlex.join(["auth-stress", "analyze", str(path)]))
    return build_report(
        scenario=header.scenario,
        scenario_path=header.scenario_path,
        targets=header.targets,
        policy=policy,
        results=results,
        operations=operations,
        wall_seconds=end.wall_seconds if end is not None else 0.0,
        started_unix=header.started_unix,
        reproduce=reproduce,
        inconclusive_reason=inconclusive_reason(end),
        bursts=end.bursts if end is not None else None,
        describe=_describer(header),
        notes=notes,
        thresholds=checks.thresholds,
        curl_options=header.tls.curl_options() if header.tls is not None else (),
    )
