"""The CLI's verdicts on independent servers, each run with the policy it really promises.

Each target in tests/targets/oauth_behaviours models one real server's behaviour under
concurrent and repeated refreshes. The scenario is the multi-tab burst a user would write from
the README (8 tabs refresh one token at once, twice), plus a replay of an older token where the
policy is about replays; the assertion is the exact verdict and the exact failing checkers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from support.targets import TargetSpec

from .conftest import CliRunner

SCENARIO = """
name = "verdict-{name}"

[target]
kind = "oauth2"
base_url = "{url}"
client_id = "demo-client"
resource = "/api/me"

[auth]
username = "user{{n}}"
password = "password"

[policy]
{policy}

[run]
sessions = 6
op_timeout_seconds = 5
max_seconds = 30

[[steps]]
op = "login"

[[steps]]
op = "refresh"
parallel = 8
profile = "multi-tab"

[[steps]]
op = "use"

[[steps]]
op = "refresh"
parallel = 8
profile = "multi-tab"
{extra}
"""

REPLAY_GRANDPARENT = """
[[steps]]
op = "replay"
age = 2
"""


@dataclass(frozen=True)
class Case:
    spec: TargetSpec
    policy: str
    failing: frozenset[str] = frozenset()
    extra: str = ""

    @property
    def verdict(self) -> str:
        return "fail" if self.failing else "pass"


# Targets whose burst outcome depends on the requests overlapping run with a round trip far
# longer than a burst's spread, so that the outcome is certain.
SLOW = 0.1
CASES = {
    "strict-revoke-family": Case(
        TargetSpec("strict-revoke-family"),
        'kind = "strict"',
        frozenset({"self-inflicted-logout"}),
    ),
    "strict-same-pair": Case(TargetSpec("strict-same-pair", db_latency=SLOW), 'kind = "strict"'),
    "idempotent": Case(
        TargetSpec("idempotent", grace=2.0),
        'kind = "idempotent"\ngrace_seconds = 2',
        extra=REPLAY_GRANDPARENT,
    ),
    "overlap": Case(TargetSpec("overlap", grace=2.0), 'kind = "overlap"\ngrace_seconds = 2'),
    "access-only": Case(
        TargetSpec("access-only", grace=2.0), 'replay = "access-only"\ngrace_seconds = 2'
    ),
    "generations": Case(
        TargetSpec("generations", grace=2.0, generations=2),
        'replay = "same-pair"\ngrace_seconds = 2\ngenerations = 2',
        extra=REPLAY_GRANDPARENT,
    ),
    "last-write-wins": Case(
        TargetSpec("last-write-wins", db_latency=SLOW),
        'kind = "strict"',
        frozenset({"fork", "dead-successor"}),
    ),
    "revoke-access-on-refresh": Case(
        TargetSpec("revoke-access-on-refresh", grace=2.0),
        'kind = "idempotent"\ngrace_seconds = 2\nrefresh_revokes_access = true',
    ),
    # The same generations server judged under a policy that promises only the predecessor:
    # its accepted grandparent replays are stale reuses.
    "generations-declared-one": Case(
        TargetSpec("generations", grace=2.0, generations=2),
        'kind = "idempotent"\ngrace_seconds = 2',
        frozenset({"stale-reuse-accepted"}),
        extra=REPLAY_GRANDPARENT,
    ),
}


def _scenario(tmp_path: Path, name: str, url: str, case: Case) -> str:
    path = tmp_path / f"{name}.toml"
    text = SCENARIO.format(name=name, url=url, policy=case.policy, extra=case.extra)
    path.write_text(text)
    return str(path)


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "oauth_target"),
    [(name, case.spec) for name, case in CASES.items()],
    ids=list(CASES),
    indirect=["oauth_target"],
)
def test_verdict_under_the_promised_policy(
    cli: CliRunner, tmp_path: Path, name: str, oauth_target: str
) -> None:
    case = CASES[name]
    result = cli("run", _scenario(tmp_path, name, oauth_target, case))
    assert result.report is not None, result.stderr
    failing = {c for c, v in result.report["checkers"].items() if v != "pass"}
    assert (result.report["verdict"], failing) == (case.verdict, case.failing), result.stdout
    assert result.code == (1 if case.failing else 0), result.stderr
