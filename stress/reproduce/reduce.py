"""Shrink moves: every smaller scenario one step away from a given one, in a fixed order.

Delta debugging in the spirit of Hypothesis's shrinker and Lincheck's minimiser: the moves are
deterministic, the biggest reductions come first, and a move that yields an invalid scenario is
no candidate at all. The order, by pass:

1. fewer sessions, then fewer rounds (each: the minimum, half, one less);
2. fewer steps: chunks of half the steps, then a quarter, down to single steps;
3. narrower bursts: a refresh step's ``parallel`` and ``tabs``, a racing revoke dropped, a
   replay step's ``parallel`` (each: 1, half, one less);
4. shorter timed steps: a load step's duration halved, a sleep step's pause cut.

:func:`scenario_toml` writes a scenario back as TOML that ``auth-stress check`` accepts,
leaving out every value that equals its default, and proves it by reading it back.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import msgspec
import tomli_w

from stress.errors import ScenarioError
from stress.scenario import (
    LoadStep,
    RefreshStep,
    ReplayStep,
    Scenario,
    SleepStep,
    Step,
    parse_scenario,
)

__all__ = ["Candidate", "candidates", "describe", "scenario_toml", "validated"]

# A load step is not halved below this: shorter says little about sustained traffic.
_MIN_LOAD_SECONDS = 0.1


@dataclass(frozen=True)
class Candidate:
    """A smaller scenario and what changed, as a progress line says it."""

    scenario: Scenario
    change: str


def validated(scenario: Scenario) -> Scenario | None:
    """``scenario`` re-validated as if read from a file (cross-field rules included), or None."""
    try:
        return parse_scenario(msgspec.to_builtins(scenario), scenario.name)
    except ScenarioError:
        return None


def _smaller(value: int, floor: int) -> list[int]:
    """The minimum, half, and one less: smallest first, each once, all below ``value``."""
    options = [floor, value // 2, value - 1]
    return [v for v in dict.fromkeys(options) if floor <= v < value]


Move = tuple[str, Callable[[], Scenario]]
"""What a move changes (for the progress line) and how to build it; building may raise
``ValueError`` when the result breaks a cross-field rule of the schema."""


def _with_run(scenario: Scenario, **changes: Any) -> Scenario:
    run = msgspec.structs.replace(scenario.run, **changes)
    if run.concurrency is not None and run.concurrency >= run.sessions:
        run = msgspec.structs.replace(run, concurrency=None)  # no longer a bound
    return msgspec.structs.replace(scenario, run=run)


def _with_step(scenario: Scenario, index: int, **changes: Any) -> Scenario:
    steps = list(scenario.steps)
    steps[index] = msgspec.structs.replace(steps[index], **changes)
    return msgspec.structs.replace(scenario, steps=steps)


def _without(scenario: Scenario, start: int, end: int) -> Scenario:
    return msgspec.structs.replace(scenario, steps=[*scenario.steps[:start], *scenario.steps[end:]])


def describe(step: Step) -> str:
    """A step as a progress line names it: ``refresh``, ``load``."""
    return str(step.__struct_config__.tag)


def _sizes(scenario: Scenario) -> Iterator[Move]:
    run = scenario.run
    for sessions in _smaller(run.sessions, 1):
        yield (
            f"sessions {run.sessions} -> {sessions}",
            partial(_with_run, scenario, sessions=sessions),
        )
    for rounds in _smaller(run.rounds, 1):
        yield f"rounds {run.rounds} -> {rounds}", partial(_with_run, scenario, rounds=rounds)


def _deletions(scenario: Scenario) -> Iterator[Move]:
    steps = scenario.steps
    size = len(steps) // 2
    while size >= 1:
        for start in range(0, len(steps), size):
            end = min(start + size, len(steps))
            names = ", ".join(describe(step) for step in steps[start:end])
            where = f"step {start + 1}" if end - start == 1 else f"steps {start + 1}-{end}"
            yield f"drop {where} ({names})", partial(_without, scenario, start, end)
        size //= 2


def _bursts(scenario: Scenario) -> Iterator[Move]:
    for i, step in enumerate(scenario.steps):
        where = f"step {i + 1} ({describe(step)})"
        if isinstance(step, RefreshStep | ReplayStep):
            for parallel in _smaller(step.parallel, 1):
                narrower = (
                    {"tabs": min(step.tabs, parallel)} if isinstance(step, RefreshStep) else {}
                )
                yield (
                    f"{where} parallel {step.parallel} -> {parallel}",
                    partial(_with_step, scenario, i, parallel=parallel, **narrower),
                )
        if isinstance(step, RefreshStep):
            for tabs in _smaller(step.tabs, 1):
                yield (
                    f"{where} tabs {step.tabs} -> {tabs}",
                    partial(_with_step, scenario, i, tabs=tabs),
                )
            if step.revoke:
                yield f"{where} without its revoke", partial(_with_step, scenario, i, revoke=False)


def _durations(scenario: Scenario) -> Iterator[Move]:
    for i, step in enumerate(scenario.steps):
        where = f"step {i + 1} ({describe(step)})"
        if isinstance(step, LoadStep) and step.duration_seconds / 2 >= _MIN_LOAD_SECONDS:
            half = step.duration_seconds / 2
            yield (
                f"{where} duration {step.duration_seconds:g}s -> {half:g}s",
                partial(_with_step, scenario, i, duration_seconds=half),
            )
        if isinstance(step, SleepStep) and step.seconds > 0:
            for seconds in dict.fromkeys([0.0, step.seconds / 2]):
                yield (
                    f"{where} {step.seconds:g}s -> {seconds:g}s",
                    partial(_with_step, scenario, i, seconds=seconds),
                )


def candidates(scenario: Scenario) -> Iterator[Candidate]:
    """Every valid one-move reduction of ``scenario``, in the fixed order of the passes."""
    for moves in (_sizes, _deletions, _bursts, _durations):
        for change, build in moves(scenario):
            try:
                built = build()
            except ValueError:
                continue  # e.g. a refresh step left without the login before it
            checked = validated(built)
            if checked is not None:
                yield Candidate(checked, change)


def _plain(value: Any) -> Any:
    if isinstance(value, msgspec.Struct):
        return _table(value)
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    return value


def _table(struct: msgspec.Struct) -> dict[str, Any]:
    """A struct as a TOML table: its tag, then every field that differs from its default."""
    config = struct.__struct_config__
    table: dict[str, Any] = {}
    if isinstance(config.tag_field, str) and isinstance(config.tag, str):
        table[config.tag_field] = config.tag
    for field in msgspec.structs.fields(struct):
        value = getattr(struct, field.name)
        if field.default is not msgspec.NODEFAULT:
            default = field.default
        elif field.default_factory is not msgspec.NODEFAULT:
            default = field.default_factory()
        else:
            default = msgspec.NODEFAULT
        if value is None or value == default:
            continue  # TOML has no null: a None here is always the field's default
        table[field.encode_name] = _plain(value)
    return table


def scenario_toml(scenario: Scenario, comment: str = "") -> str:
    """``scenario`` as TOML, defaults left out, under ``comment`` (each line a ``#`` comment).

    Raises ``ValueError`` if the text does not read back as the same scenario (a bug).
    """
    text = tomli_w.dumps(_table(scenario))
    back = parse_scenario(tomllib.loads(text), scenario.name)
    if back != scenario:
        raise ValueError(f"scenario {scenario.name!r} does not survive a TOML round trip")
    header = "".join(f"# {line}".rstrip() + "\n" for line in comment.splitlines())
    return header + ("\n" if header else "") + text
