"""One measurement's life: reach the target, stream the history, run the plan within bounds.

Like a run, a measurement leaves a history on disk (JSONL, streamed, tokens as fingerprints),
ending with a run-end record that says why it ended; unlike a run, it follows no scenario steps:
:class:`~stress.measure.prober.Prober` decides each trial from the previous ones. The
measurement is bounded in wall time (``Bounds.max_seconds``) and in requests
(``Bounds.max_requests``); SIGINT and SIGTERM stop it and keep what was recorded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from stress.claims import ClaimReader
from stress.client_certificate import target_certificate
from stress.control_http import control_client
from stress.discovery import discover
from stress.drive.actions import Actions
from stress.drive.bursts import Bursts
from stress.drive.logins import resolve_password
from stress.drive.recorder import OpBound, Recorder
from stress.fingerprint import Fingerprinter
from stress.history import Header, History
from stress.http_tls import verify_setting
from stress.interrupt import Interrupt, Interrupted, watched
from stress.measure.prober import Bounds, Prober
from stress.measure.result import Measurement
from stress.measure.trials import LoginFailed, Trials
from stress.run_record import EndReason, RunEnd
from stress.scenario import Scenario, parse_scenario
from stress.target import TargetProfile, target_headers
from stress.templates import request_templates
from stress.wire import WireClient

__all__ = ["ProbeSetup", "default_history_path", "flag_scenario", "measure_policy"]

logger = logging.getLogger(__name__)


def flag_scenario(
    *,
    target: str,
    client_id: str | None,
    auth: Mapping[str, Any],
    resource: str | None,
    op_timeout_seconds: float = 10.0,
    target_fields: Mapping[str, Any] | None = None,
    use: Mapping[str, Any] | None = None,
) -> Scenario:
    """The scenario a measurement without a scenario file stands on, from command-line flags:
    an RFC 6749 target found by discovery unless ``target_fields`` says more of ``[target]``
    (endpoints, client authentication, scope; or another ``kind`` with its requests), logged
    into as ``auth`` says (the ``[auth]`` table: the password grant with its password's
    variable, or a mint command). ``use`` is the ``[target.use]`` call of ``resource``'s path,
    when a use is not a GET."""
    document: dict[str, Any] = {
        "name": "policy",
        "target": {"kind": "oauth2", "base_url": target},
        "auth": dict(auth),
        "policy": {},
        "run": {"op_timeout_seconds": op_timeout_seconds},
        "steps": [{"op": "login"}],
    }
    if client_id:
        document["target"]["client_id"] = client_id
    if use is not None:
        document["target"]["use"] = dict(use)
    elif resource:
        document["target"]["resource"] = resource
    document["target"].update(target_fields or {})
    return parse_scenario(document, "the command line")


def default_history_path(runs_dir: Path = Path("runs")) -> Path:
    """Where a measurement's history goes unless told: its own folder under ``runs/``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return runs_dir / f"{stamp}-policy" / "history.jsonl"


@dataclass(frozen=True)
class ProbeSetup:
    """What to measure (a scenario's target and auth) and where the history goes."""

    scenario: Scenario
    target: str
    history_path: Path
    scenario_path: Path | None = None
    command: list[str] = field(default_factory=list)
    ca_file: str | None = None
    insecure: bool = False


async def measure_policy(
    setup: ProbeSetup, bounds: Bounds, interrupt: Interrupt | None = None
) -> Measurement:
    """Measure the target's policy; ``TargetError`` when discovery cannot reach it,
    ``ScenarioError`` when the scenario cannot be used (a secret's variable unset),
    ``Interrupted`` when the user stopped it before its history was opened.

    ``interrupt`` is the user's stop as the caller watches it (a run that measures before it
    starts); without one the measurement watches the stop signals itself.
    """
    if interrupt is None:
        with watched() as own:
            return await _measure(setup, bounds, own)
    return await _measure(setup, bounds, interrupt)


async def _measure(setup: ProbeSetup, bounds: Bounds, interrupt: Interrupt) -> Measurement:
    scenario = setup.scenario
    base = setup.target if setup.target.endswith("/") else setup.target + "/"
    resolve_password(scenario.auth)  # an unset password variable stops us before any file
    certificate = target_certificate(scenario.target, [base])
    verify = verify_setting(setup.ca_file, setup.insecure, certificate)
    headers = target_headers(scenario.target)  # an unset variable stops us here too
    async with control_client(
        timeout=scenario.run.op_timeout_seconds, verify=verify, headers=headers
    ) as http:
        with interrupt.stops():
            endpoints = (await discover(http, scenario.target, base)).endpoints
    if interrupt.received:
        raise Interrupted("interrupted before the measurement started")
    profile = TargetProfile(scenario.target, endpoints)
    # The measurement's own requests: logins (unless minted), refreshes, probes, and uses when
    # there is a protected API to use.
    api = scenario.target.resource or scenario.target.use
    needed = scenario.request_kinds() | ({"use"} if api else set())
    templates = request_templates(scenario.target, endpoints, base, needed)
    header = Header(
        scenario=scenario.name,
        scenario_path=str(setup.scenario_path) if setup.scenario_path else None,
        command=setup.command,
        policy=scenario.policy.model(),
        targets=[base],
        requests=templates,
        seed=0,
        started_unix=time.time(),
    )
    setup.history_path.parent.mkdir(parents=True, exist_ok=True)
    with setup.history_path.open("wb") as sink:
        history = History(header, sink)
        # Single requests ride HTTP/1.1 keep-alive, as a run's do; the burst picks its engine's.
        async with WireClient(
            ca_file=setup.ca_file,
            insecure=setup.insecure,
            http1_requests=True,
            certificate=certificate,
        ) as wire:
            life = _Life(setup, bounds, history)
            actions = Actions(life.recorder, wire, profile, [base], scenario.run, life.unreachable)
            bursts = Bursts(actions, None)
            trials = Trials(actions, bursts, scenario.auth, _folder(setup.scenario_path))
            prober = Prober(trials, bounds, has_resource=endpoints.resource is not None)
            return await life.run(prober, bursts, base, interrupt)


def _folder(path: Path | None) -> Path | None:
    return path.parent if path is not None else None


_REASONS: dict[EndReason, str] = {
    "time-bound": "the measurement reached its time bound (--max-seconds)",
    "op-bound": "the measurement reached its request bound (--max-requests)",
    "interrupted": "the measurement was interrupted",
    "target-unreachable": "the target stopped answering",
    "login-failed": "a fresh session could not log in",
    "crashed": "the tester crashed",
}


class _Life:
    """The measurement's bounds, its stop and its run-end record."""

    def __init__(self, setup: ProbeSetup, bounds: Bounds, history: History) -> None:
        self.setup = setup
        self.bounds = bounds
        self.recorder = Recorder(
            history,
            Fingerprinter(),
            ClaimReader(None),
            max_ops=bounds.max_requests,
            planned=bounds.max_requests,
        )
        self.end: EndReason = "completed"
        self.detail: str | None = None
        self._scope: anyio.CancelScope | None = None

    def stop(self, end: EndReason, detail: str | None = None) -> None:
        if self.end == "completed":
            self.end, self.detail = end, detail
        if self._scope is not None:
            self._scope.cancel()

    def unreachable(self, detail: str) -> None:
        self.stop("target-unreachable", detail)

    async def run(
        self, prober: Prober, bursts: Bursts, base: str, interrupt: Interrupt
    ) -> Measurement:
        started = time.monotonic()
        try:
            with interrupt.stops(lambda: self.stop("interrupted")):
                with anyio.move_on_after(self.bounds.max_seconds) as bound:
                    self._scope = bound
                    try:
                        await prober.run()
                    except* OpBound as exc:
                        self.stop("op-bound", str(exc.exceptions[0]))
                    except* LoginFailed as exc:
                        self.stop("login-failed", str(exc.exceptions[0]))
                if bound.cancelled_caught:
                    self.stop("time-bound")
        except Exception as exc:
            logger.exception("the measurement crashed; the partial history is kept")
            self.stop("crashed", f"{type(exc).__name__}: {exc}")
        finally:
            self.recorder.close_pending(self.end)
            fields = prober.finish(_REASONS.get(self.end))
            wall = time.monotonic() - started
            self.recorder.finish(
                RunEnd(
                    end=self.end,
                    detail=self.detail,
                    wall_seconds=wall,
                    notes=list(prober.notes),
                    bursts=list(bursts.records),
                )
            )
        notes = list(prober.notes)
        if self.end != "completed":
            notes.append(f"{_REASONS[self.end]}" + (f": {self.detail}" if self.detail else ""))
        return Measurement(
            target=base,
            measured_at=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            seconds=round(wall, 3),
            requests=self.recorder.started,
            history=str(self.setup.history_path),
            end=self.end,
            fields=fields,
            grace=prober.bracket,
            tolerance=prober.tolerance,
            burst=prober.burst,
            notes=notes,
        )
