"""Every shipped scenario, one by one: silent against a correct server, loud against a bug.

The scenario library is only worth shipping if each file passes against the reference server's
``atomic`` strategy started as docs/ci.md starts it (one server, ``--grace 5``, for every file)
and fails against the server it was written to catch. ``LIBRARY`` is the table of record: a new
file in ``scenarios/`` must get a row (``test_every_shipped_scenario_is_in_the_table``).

The Express/cookie examples (docs/examples) target ``tests/targets/express_style.py`` and are
covered by ``test_cli_targets.py``; the soak runs as a shortened copy so that the suite stays
quick.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from support.servers import ServerFactory

from stress.scenario import load_scenario
from tester.conftest import SCENARIOS, CliResult, CliRunner

pytestmark = pytest.mark.integration


# Checkers through which a naive (read-then-write) server shows its race.
RACE = frozenset({"fork", "sibling-invalidation", "revocation-race", "token-uniqueness"})


@dataclass(frozen=True)
class Bug:
    """A server configuration that a scenario must catch, and the checkers that may catch it."""

    strategy: str
    grace: float
    checkers: frozenset[str]
    replicas: int = 1
    foreign_key_on_replica_b: bool = False
    why: str = ""
    # Server flags of every replica (a read-to-write gap that dwarfs a burst's arrival spread).
    extra_args: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One shipped scenario: how to run it against atomic, and which bugs it must catch."""

    file: str
    replicas: int = 1
    catches_naive: bool = True
    bugs: Sequence[Bug] = field(default_factory=tuple)
    shorten: Callable[[str], str] | None = None


def _short_soak(text: str) -> str:
    """The soak, bounded to a few seconds: same steps, fewer sessions, short load phases."""
    text, durations = re.subn(r"(?m)^duration_seconds = \d+$", "duration_seconds = 1.5", text)
    text, sessions = re.subn(r"(?m)^sessions = \d+$", "sessions = 10", text)
    assert (durations, sessions) == (2, 1), "soak.toml changed shape: update _short_soak"
    return text


NAIVE = "naive"
# The table. `catches_naive`: the scenario races refreshes within one family, so a read-then-write
# store must fail it. Sequential scenarios test a promise rather than a race: naive keeps those
# promises, so each names the misconfigured server it catches instead (`bugs`).
LIBRARY: dict[str, Case] = {
    "multi-tab-burst": Case("multi-tab-burst.toml"),
    "strict-burst": Case("strict-burst.toml"),
    "refresh-storm": Case("refresh-storm.toml"),
    "grandparent-reuse": Case("grandparent-reuse.toml"),
    "logout-during-refresh": Case("logout-during-refresh.toml"),
    "cross-replica-burst": Case(
        "cross-replica-burst.toml",
        replicas=2,
        bugs=(
            Bug(
                "local-lock",
                5.0,
                RACE,
                replicas=2,
                why="an in-process lock does not stop the replica next door",
                # Without it the replicas' reads and writes overlap only when a burst reaches
                # both within the millisecond or so between them; under CI load arrivals spread
                # over tens of ms, and the case passed by luck of the scheduler once in a while.
                extra_args=("--inject-delay-ms", "200"),
            ),
        ),
    ),
    "soak": Case("soak.toml", shorten=_short_soak),
    "replay-after-grace": Case(
        "replay-after-grace.toml",
        catches_naive=False,
        bugs=(
            Bug(
                "atomic",
                10.0,
                frozenset({"stale-reuse-accepted"}),
                why="the server's real grace window (10 s) is longer than the declared one (5 s)",
            ),
        ),
    ),
    "lost-response-retry": Case(
        "lost-response-retry.toml",
        catches_naive=False,
        bugs=(
            Bug(
                "atomic",
                0.0,
                frozenset({"lost-response-retry"}),
                why="a strict server (no retry window) where FAPI 2.0 requires one",
            ),
        ),
    ),
    "access-token-validity": Case(
        "access-token-validity.toml",
        catches_naive=False,
        bugs=(
            Bug(
                "atomic",
                5.0,
                frozenset({"jwt-claims"}),
                replicas=2,
                foreign_key_on_replica_b=True,
                why="replica b signs with a key that the discovered JWKS does not publish",
            ),
        ),
    ),
}

# The grace window docs/ci.md starts the reference server with.
DOCUMENTED_GRACE = 5.0


def _scenario_path(case: Case, tmp_path: Path) -> str:
    path = SCENARIOS / case.file
    if case.shorten is None:
        return str(path)
    short = tmp_path / case.file
    short.write_text(case.shorten(path.read_text(encoding="utf-8")), encoding="utf-8")
    return str(short)


def _targets(urls: Sequence[str]) -> list[str]:
    return [arg for url in urls for arg in ("--target", url)]


def _explain(result: CliResult) -> str:
    return f"exit {result.code}\n{result.stdout[-6000:]}\n{result.stderr[-3000:]}"


def _analyze_matches(cli: CliRunner, tmp_path: Path, result: CliResult) -> None:
    """``analyze`` of the run's history, offline and without the scenario, is the same report."""
    offline = cli("analyze", str(tmp_path / "history.jsonl"))
    assert (offline.code, offline.report) == (result.code, result.report), _explain(offline)


def test_every_shipped_scenario_is_in_the_table() -> None:
    shipped = {path.stem for path in SCENARIOS.glob("*.toml")}
    assert shipped == set(LIBRARY), "add a row to LIBRARY for each new scenario"
    for name, case in LIBRARY.items():
        assert load_scenario(SCENARIOS / case.file).name == name
        # Anything not caught by naive must say what it does catch.
        assert case.catches_naive or case.bugs, name


# Against one atomic server, every scenario is run by the CI recipe test (test_ci_recipe.py),
# exactly as docs/ci.md runs it; here only the scenarios that need several replicas.
@pytest.mark.parametrize("name", sorted(n for n, c in LIBRARY.items() if c.replicas > 1))
def test_passes_against_atomic_replicas(
    name: str, cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    case = LIBRARY[name]
    servers = [
        server_factory("atomic", grace=DOCUMENTED_GRACE, replica=r) for r in "ab"[: case.replicas]
    ]
    result = cli(
        "run", _scenario_path(case, tmp_path), *_targets([s.url for s in servers]), timeout=120
    )
    assert result.code == 0, _explain(result)
    assert result.report is not None
    assert result.report["verdict"] == "pass"
    # Not even a warning: a correct server gives the checkers nothing to say.
    assert result.report["findings"] == [], _explain(result)
    assert len(result.report["targets"]) == case.replicas
    _analyze_matches(cli, tmp_path, result)


@pytest.mark.parametrize("name", sorted(n for n, c in LIBRARY.items() if c.catches_naive))
def test_fails_against_naive(
    name: str, cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    case = LIBRARY[name]
    grace = load_scenario(SCENARIOS / case.file).policy.model().grace_seconds
    servers = [server_factory(NAIVE, grace=grace, replica=r) for r in "ab"[: case.replicas]]
    result = cli(
        "run", _scenario_path(case, tmp_path), *_targets([s.url for s in servers]), timeout=120
    )
    assert result.code == 1, _explain(result)
    assert result.report is not None
    assert result.report["verdict"] == "fail"
    checkers = {f["checker"] for f in result.report["findings"] if f["severity"] == "error"}
    assert checkers & RACE, checkers
    _analyze_matches(cli, tmp_path, result)


BUGS = [(name, bug) for name, case in sorted(LIBRARY.items()) for bug in case.bugs]


@pytest.mark.parametrize(
    ("name", "bug"), BUGS, ids=[f"{name}-{bug.strategy}-grace{bug.grace:g}" for name, bug in BUGS]
)
def test_catches_its_bug(
    name: str, bug: Bug, cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    case = LIBRARY[name]
    servers = []
    for replica in "ab"[: bug.replicas]:
        extra = bug.extra_args
        if bug.foreign_key_on_replica_b and replica == "b":
            extra += ("--inject-unpublished-key",)
        servers.append(
            server_factory(bug.strategy, grace=bug.grace, replica=replica, extra_args=extra)
        )
    result = cli(
        "run", _scenario_path(case, tmp_path), *_targets([s.url for s in servers]), timeout=120
    )
    assert result.code == 1, f"{bug.why}\n{_explain(result)}"
    assert result.report is not None
    checkers = {f["checker"] for f in result.report["findings"] if f["severity"] == "error"}
    assert checkers & bug.checkers, f"{bug.why}: {checkers}"
