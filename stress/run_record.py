"""What a history records about its run besides the ops: how to judge it, and how it ended.

The history file is the only contract between the tester's network half and its analysis half
(``auth-stress analyze`` must reach the run's own verdict from the file alone), so everything
the verdict and the report depend on is written into it: the checks the scenario asked for and
the shape of each request (for reproducer lines) in the header, and a trailing
:class:`RunEnd` with why the run ended, its wall time, the run's own notes and each burst's
engine and spread. A history without a ``RunEnd`` was cut off (the tester was killed): it is
judged like an interrupted run. Tokens never appear here: request templates carry shell
placeholders (``$REFRESH_TOKEN``) and credential headers are replaced by placeholders.
"""

from __future__ import annotations

import shlex
from typing import Literal

import msgspec

__all__ = [
    "INCONCLUSIVE_ENDS",
    "BurstRecord",
    "Checks",
    "EndReason",
    "Limits",
    "RequestTemplate",
    "RunEnd",
    "ShardEnd",
    "ShardId",
    "TlsRecord",
    "inconclusive_reason",
]

EndReason = Literal[
    "completed",
    "time-bound",
    "op-bound",
    "interrupted",
    "target-unreachable",
    "login-failed",
    "history-unwritable",
    "crashed",
]
"""Why a run ended. The bounds are normal ends; the rest leave a pass proving nothing."""

INCONCLUSIVE_ENDS: frozenset[EndReason] = frozenset(
    {"interrupted", "target-unreachable", "login-failed", "history-unwritable", "crashed"}
)


class Limits(msgspec.Struct, frozen=True, omit_defaults=True):
    """Latency (ms) and error-rate limits for one op kind; None means no limit."""

    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_error_rate: float | None = None


class Checks(msgspec.Struct, frozen=True, kw_only=True):
    """What the scenario holds the target to, apart from the policy."""

    thresholds: dict[str, Limits] = {}
    # Non-2xx statuses the target documents for concurrency (409, 429): reported, not failed.
    documented_statuses: list[int] = []
    max_info_ratio: float = 0.5


class RequestTemplate(msgspec.Struct, frozen=True, kw_only=True):
    """One kind of request with placeholders where tokens and secrets go.

    ``path`` is relative to the target an op was sent to (its ``target`` field).
    """

    method: str
    path: str
    headers: list[tuple[str, str]] = []
    body: str | None = None


class TlsRecord(msgspec.Struct, frozen=True, kw_only=True):
    """How the run did TLS, for the reproducer's curl lines: the CA bundle it trusted (a file,
    or a folder of hashed certificates), no certificate check at all, and the variables that
    hold the client certificate and its key (mutual TLS). Names and paths, never their text."""

    ca_file: str | None = None
    ca_folder: bool = False
    insecure: bool = False
    client_cert_env: str | None = None
    client_cert_key_env: str | None = None

    def curl_options(self) -> list[str]:
        """curl's options for the same TLS, as shell words; a variable's text is read as a
        file, as bash and zsh give one (``<(printenv VAR)``), so the certificate stays out of
        the line.

        >>> TlsRecord(ca_file="my ca.pem", client_cert_env="APP_CERT").curl_options()
        ['--cacert', "'my ca.pem'", '--cert', '<(printenv APP_CERT)']
        """
        options: list[str] = []
        if self.insecure:
            options.append("--insecure")
        elif self.ca_file is not None:
            options += ["--capath" if self.ca_folder else "--cacert", shlex.quote(self.ca_file)]
        for flag, name in (("--cert", self.client_cert_env), ("--key", self.client_cert_key_env)):
            if name is not None:
                options += [flag, f"<(printenv {shlex.quote(name)})"]
        return options


class BurstRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One synchronised burst: the engine used, its size and the measured spreads.

    ``release_spread_ns`` is the spread of the client-side send times; ``arrival_spread_ns`` the
    spread of server-reported arrival times (None when the target does not report them).
    """

    burst: int
    engine: str
    size: int
    release_spread_ns: int | None
    arrival_spread_ns: int | None
    notes: tuple[str, ...] = ()


class ShardId(msgspec.Struct, frozen=True):
    """Which shard of a run a history records (1-based ``index`` of ``count``)."""

    index: int
    count: int


class ShardEnd(msgspec.Struct, frozen=True, kw_only=True):
    """How one shard of a merged run ended: its own end, wall time, ops and start skew.

    ``start_skew_seconds`` is its first op's wall-clock time minus the agreed start (the
    ``--start-at`` time, else the earliest shard's first op); None when it sent nothing.
    """

    shard: ShardId
    end: EndReason
    detail: str | None = None
    wall_seconds: float
    ops: int
    start_skew_seconds: float | None = None


class RunEnd(msgspec.Struct, frozen=True, kw_only=True, tag="end", tag_field="record"):
    """The last line of a complete history."""

    end: EndReason
    detail: str | None = None
    wall_seconds: float = 0.0
    # What the run noticed that no checker can see (e.g. open-model arrivals that found every
    # session busy): shown with the report, never part of the verdict.
    notes: list[str] = []
    bursts: list[BurstRecord] = []
    # Targets (origins) that stopped answering, with the monotonic ns their failures began:
    # what was sent to them afterwards says nothing about the target's behaviour.
    dead_targets: dict[str, int] = {}
    # A merged run: how each of its shards ended (empty for a run made in one process).
    shards: list[ShardEnd] = []


def inconclusive_reason(end: RunEnd | None) -> str | None:
    """Why a pass on this run would prove nothing; None when the run ended normally."""
    if end is None:
        return "the history has no run-end record: the tester was stopped before it finished"
    if end.end == "interrupted":
        return "interrupted"
    if end.end == "target-unreachable":
        return f"target unreachable: {end.detail}"
    if end.end == "login-failed":
        return f"no session could log in: {end.detail}"
    if end.end == "history-unwritable":
        return f"the history could not be written: {end.detail}"
    if end.end == "crashed":
        return f"internal error: {end.detail}"
    if end.dead_targets:
        return f"target {', '.join(sorted(end.dead_targets))} stopped answering during the run"
    return None
