"""The shipped scenarios against the reference server's strategies, through the real CLI.

Each strategy runs as a real process on a real Redis; the tester reaches it over HTTP only.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.servers import ServerFactory

from tester.conftest import SCENARIOS, CliRunner

pytestmark = pytest.mark.integration

MULTI_TAB = str(SCENARIOS / "multi-tab-burst.toml")


def test_naive_is_caught(cli: CliRunner, server_factory: ServerFactory) -> None:
    server = server_factory("naive", grace=5.0)
    result = cli("run", MULTI_TAB, "--target", server.url)
    assert result.code == 1, result.stdout + result.stderr
    assert result.report is not None
    assert result.report["verdict"] == "fail"
    checkers = {f["checker"] for f in result.report["findings"]}
    assert checkers & {"fork", "sibling-invalidation"}, checkers
    assert "finding" in result.stdout
    assert "auth-stress analyze" in result.stdout


@pytest.mark.parametrize("strategy", ["atomic", "redis-lock"])
@pytest.mark.parametrize("replicas", [1, 2])
def test_correct_strategies_pass(
    cli: CliRunner, server_factory: ServerFactory, strategy: str, replicas: int
) -> None:
    servers = [server_factory(strategy, grace=5.0, replica=name) for name in ("a", "b")[:replicas]]
    targets = [arg for server in servers for arg in ("--target", server.url)]
    result = cli("run", MULTI_TAB, *targets)
    assert result.code == 0, result.stdout + result.stderr
    assert result.report is not None
    assert result.report["verdict"] == "pass"
    assert len(result.report["targets"]) == replicas


def test_local_lock_two_replicas_is_caught(cli: CliRunner, server_factory: ServerFactory) -> None:
    servers = [server_factory("local-lock", grace=5.0, replica=name) for name in ("a", "b")]
    result = cli("run", MULTI_TAB, "--target", servers[0].url, "--target", servers[1].url)
    assert result.code == 1, result.stdout + result.stderr
    assert result.findings("fork") or result.findings("sibling-invalidation")


def test_replay_after_grace_revokes_family_without_violation(
    cli: CliRunner, server_factory: ServerFactory
) -> None:
    server = server_factory("atomic", grace=5.0)
    result = cli("run", str(SCENARIOS / "replay-after-grace.toml"), "--target", server.url)
    assert result.code == 0, result.stdout + result.stderr
    assert result.report is not None
    stats = result.report["stats"]["kinds"]
    sessions = 4
    # Every replay was rejected (reuse detected) ...
    assert stats["refresh"]["fail"] == sessions
    # ... and the family was revoked: neither the mid-run probe nor the final probes succeed.
    assert stats["probe"]["ok"] == 0
    assert stats["probe"]["fail"] >= sessions


def test_strict_policy_with_zero_grace(cli: CliRunner, server_factory: ServerFactory) -> None:
    scenario = str(SCENARIOS / "strict-burst.toml")
    correct = cli("run", scenario, "--target", server_factory("atomic", grace=0.0).url)
    assert correct.code == 0, correct.stdout + correct.stderr
    assert correct.report is not None
    assert correct.report["policy"]["replay"] == "rejected"
    # Losers of each burst were rejected, which strict rules allow, and the winner's family
    # survived: the holder's own tabs did not log the user out.
    refresh = correct.report["stats"]["kinds"]["refresh"]
    assert refresh["fail"] > 0
    assert not correct.findings("self-inflicted-logout")
    naive = cli("run", scenario, "--target", server_factory("naive", grace=0.0).url)
    assert naive.code == 1, naive.stdout + naive.stderr
    assert naive.findings("fork")


def test_analyze_reproduces_the_verdict_offline(
    cli: CliRunner, server_factory: ServerFactory, tmp_path: object
) -> None:
    server = server_factory("naive", grace=5.0)
    live = cli("run", MULTI_TAB, "--target", server.url)
    assert live.code == 1
    history = [line for line in live.stderr.splitlines() if line.startswith("history:")]
    assert history, live.stderr
    offline = cli("analyze", history[-1].split(":", 1)[1].strip())
    assert offline.code == 1, offline.stdout + offline.stderr
    assert offline.report == live.report


def test_lost_response_retry(cli: CliRunner, server_factory: ServerFactory) -> None:
    scenario = str(SCENARIOS / "lost-response-retry.toml")
    graceful = cli("run", scenario, "--target", server_factory("atomic", grace=5.0).url)
    assert graceful.code == 0, graceful.stdout + graceful.stderr
    # A strict server declared idempotent: the retry is rejected and the checker says so.
    strict = cli("run", scenario, "--target", server_factory("atomic", grace=0.0).url)
    assert strict.code == 1, strict.stdout + strict.stderr
    assert strict.findings("lost-response-retry")


PROFILE_SCENARIO = """
name = "profile-{profile}"
[target]
kind = "oauth2"
client_id = "demo-client"
resource = "/api/me"
[auth]
password = "password"
[policy]
kind = "idempotent"
grace_seconds = 5
[run]
sessions = 6
[[steps]]
op = "login"
[[steps]]
op = "refresh"
parallel = 8
profile = "{profile}"
{extra}
[[steps]]
op = "use"
[[steps]]
op = "refresh"
"""


@pytest.mark.parametrize(
    ("profile", "extra", "caught"),
    [
        ("naive-parallel", "", True),
        ("multi-tab", "", True),
        ("server-fan-out", "", True),
        # One in-flight refresh per tab: a single tab never races itself...
        ("single-flight", "", False),
        # ... but several tabs, each single-flighting, still race each other.
        ("single-flight", "tabs = 4", True),
    ],
)
def test_client_profiles_against_naive(
    cli: CliRunner,
    server_factory: ServerFactory,
    tmp_path: Path,
    profile: str,
    extra: str,
    caught: bool,
) -> None:
    path = tmp_path / "profile.toml"
    path.write_text(PROFILE_SCENARIO.format(profile=profile, extra=extra))
    # naive sleeps between its read and its write, far longer than a burst: whether a profile's
    # requests overlap decides the verdict, not the machine's load (six bursts of four tabs
    # each could otherwise all miss the fast server's narrow window).
    server = server_factory("naive", grace=5.0, extra_args=("--inject-delay-ms", "50"))
    result = cli("run", str(path), "--target", server.url)
    assert result.code == (1 if caught else 0), result.stdout + result.stderr
    assert result.report is not None
    if caught:
        assert all(profile in f["found_by"] for f in result.report["findings"]), result.report[
            "findings"
        ][0]["found_by"]
    else:
        refreshes = result.report["stats"]["kinds"]["refresh"]
        assert refreshes["ok"] + refreshes["fail"] == 6 * 2  # one request per burst, then one
