"""Shards: one run split by session over several tester processes or machines.

A burst's synchronisation happens inside one process, so a storm too big for one load machine is
scaled out, not up: each machine fires its own tight bursts for its own slice of the sessions,
and the histories are merged and judged as one (:mod:`stress.merge`). Like k6's execution
segments, shard ``i`` of ``n`` (1-based) takes a disjoint, deterministic, contiguous slice of
the session numbers, ``[total*(i-1)//n, total*i//n)``; the slices of shards 1..n cover every
session exactly once. Session numbers stay global (user ``{n}`` of shard 3 is the same user as
in the unsharded run), and what is counted across the run (``max_ops``, ``concurrency``, an
open-model ``rate``) is split in proportion to the sessions, so the shards' sum is the
unsharded run's.

In a Kubernetes Indexed Job the shard comes from the environment: ``JOB_COMPLETION_INDEX``
(0-based, set by Kubernetes) and ``AUTH_STRESS_SHARDS`` (the Job's completion count, which
Kubernetes does not expose to pods, so the manifest sets it).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import msgspec

from stress.run_record import ShardId
from stress.scenario import LoadStep, Scenario, Step

__all__ = [
    "COUNT_ENV",
    "INDEX_ENV",
    "Shard",
    "parse_shard",
    "scenario_digest",
    "shard_from_env",
]

INDEX_ENV = "JOB_COMPLETION_INDEX"
COUNT_ENV = "AUTH_STRESS_SHARDS"
_MAX_SHARDS = 10_000


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __post_init__(self) -> None:
        if not 1 <= self.count <= _MAX_SHARDS:
            raise ValueError(f"shard count {self.count}: expected 1 to {_MAX_SHARDS}")
        if not 1 <= self.index <= self.count:
            raise ValueError(
                f"shard {self.index}/{self.count}: expected an index 1 to {self.count}"
            )

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    @property
    def id(self) -> ShardId:
        return ShardId(self.index, self.count)

    def share(self, total: int) -> range:
        """This shard's contiguous part of ``range(total)``; the shards' parts tile it."""
        return range(total * (self.index - 1) // self.count, total * self.index // self.count)

    def apply(self, scenario: Scenario) -> Scenario:
        """The scenario this shard runs: its sessions, and its share of run-wide amounts.

        Raises ValueError when there are fewer sessions than shards (a shard with nothing to do
        is a mistake in the job's size, not something to run silently).
        """
        if self.count == 1:
            return scenario
        run = scenario.run
        sessions = len(self.share(run.sessions))
        if self.count > run.sessions:
            raise ValueError(
                f"shard {self}: the scenario has {run.sessions} sessions, fewer than "
                f"{self.count} shards"
            )
        part = msgspec.structs.replace(
            run,
            sessions=sessions,
            max_ops=max(1, len(self.share(run.max_ops))),
            concurrency=None
            if run.concurrency is None
            else max(1, len(self.share(run.concurrency))),
        )
        fraction = sessions / run.sessions
        steps = [self._step(step, fraction) for step in scenario.steps]
        return msgspec.structs.replace(scenario, run=part, steps=steps)

    @staticmethod
    def _step(step: Step, fraction: float) -> Step:
        if isinstance(step, LoadStep) and step.rate is not None:
            return msgspec.structs.replace(step, rate=step.rate * fraction)
        return step

    def first_session(self, total: int) -> int:
        """The global number of this shard's first session."""
        return self.share(total).start


def parse_shard(text: str) -> Shard:
    """``I/N`` (1-based), e.g. ``2/4``; ValueError with a one-line reason otherwise."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if match is None:
        raise ValueError(f"--shard {text!r}: expected I/N, e.g. 2/4 (shard 2 of 4, from 1)")
    try:
        return Shard(int(match[1]), int(match[2]))
    except ValueError as exc:
        raise ValueError(f"--shard {text!r}: {exc}") from None


def shard_from_env(env: Mapping[str, str]) -> Shard | None:
    """The shard a Kubernetes Indexed Job's pod runs, or None outside one.

    ``JOB_COMPLETION_INDEX`` is 0-based; the count comes from ``AUTH_STRESS_SHARDS``, which the
    manifest must set to the Job's ``completions``.
    """
    index, count = env.get(INDEX_ENV), env.get(COUNT_ENV)
    if index is None and count is None:
        return None
    if index is None or count is None:
        missing = COUNT_ENV if count is None else INDEX_ENV
        given = INDEX_ENV if count is None else COUNT_ENV
        raise ValueError(f"{given} is set but {missing} is not: set both, or pass --shard I/N")
    if not index.strip().isdigit() or not count.strip().isdigit():
        raise ValueError(f"{INDEX_ENV}={index!r} {COUNT_ENV}={count!r}: expected two integers")
    try:
        return Shard(int(index) + 1, int(count))
    except ValueError as exc:
        raise ValueError(f"{INDEX_ENV}={index} {COUNT_ENV}={count}: {exc}") from None


def scenario_digest(path: Path) -> str:
    """``sha256:<hex>`` of the scenario file's bytes: shards of one run ran the same file."""
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
