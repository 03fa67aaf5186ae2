"""Prometheus text-format counters for the reference server.

Why this module exists: the tester and humans need to see refresh outcomes, reuse detections,
revocations, lock waits and Redis errors without a metrics dependency. Counters are kept per
process: with ``--workers N`` (or several replicas) each process reports its own numbers and a
scrape reaches whichever process accepted the connection; sum across processes if needed.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict

__all__ = ["Metrics"]

_HELP: dict[str, tuple[str, str]] = {
    "auth_ref_requests_total": ("counter", "HTTP requests by path and status."),
    "auth_ref_refresh_total": ("counter", "Refresh requests by strategy and outcome."),
    "auth_ref_reuse_detections_total": ("counter", "Families revoked because of token reuse."),
    "auth_ref_revocations_total": ("counter", "RFC 7009 revocations by outcome."),
    "auth_ref_lock_wait_seconds_sum": ("counter", "Total time spent waiting for family locks."),
    "auth_ref_lock_wait_seconds_count": ("counter", "Number of family lock acquisitions."),
    "auth_ref_lock_timeouts_total": ("counter", "Lock waits that ended in 503."),
    "auth_ref_fenced_commits_rejected_total": (
        "counter",
        "redis-lock commits refused by the generation compare-and-set (lease had expired).",
    ),
    "auth_ref_redis_errors_total": ("counter", "Redis errors that ended in 503."),
}


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    body = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + body + "}"


class Metrics:
    """Per-process counters rendered in the Prometheus exposition format."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: defaultdict[tuple[str, str], float] = defaultdict(float)
        # Series keys by (name, label items as passed): formatting labels costs more than the
        # increment, and a process only ever sees a few dozen series.
        self._series: dict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, str]] = {}

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to the counter ``name`` with ``labels``."""
        series = self._series.get((name, tuple(labels.items())))
        if series is None:
            if name not in _HELP:
                raise KeyError(name)
            series = (name, _labels(labels))
            self._series[(name, tuple(labels.items()))] = series
        with self._lock:
            self._values[series] += amount

    def value(self, name: str, **labels: str) -> float:
        """The current value of one counter (0 if never incremented)."""
        with self._lock:
            return self._values.get((name, _labels(labels)), 0.0)

    def render(self) -> str:
        """The exposition text, one HELP/TYPE block per metric."""
        with self._lock:
            items = sorted(self._values.items())
        lines: list[str] = []
        for name, (kind, text) in _HELP.items():
            lines.append(f"# HELP {name} {text} Per process (pid {os.getpid()}).")
            lines.append(f"# TYPE {name} {kind}")
            lines.extend(f"{n}{lab} {val:g}" for (n, lab), val in items if n == name)
        return "\n".join(lines) + "\n"
