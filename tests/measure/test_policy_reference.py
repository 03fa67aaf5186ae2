"""``auth-stress policy`` against the reference server, and ``run``'s warning when a target's
published policy contradicts the scenario's.

The reference server's correct strategies promise an idempotent window (the same pair) for
``--grace`` seconds and revoke the family on a reuse after it; they publish that promise in their
RFC 8414 metadata (``x_refresh_token_rotation``). Its strict mode (``--grace 0``) refuses the
predecessor without revoking for ``--tolerance`` seconds, and revokes after that.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from support.servers import ServerFactory
from tester.conftest import CliRunner

from .conftest import Measured, run_policy

pytestmark = pytest.mark.integration

GRACE = 2.0
STRATEGIES = ("atomic", "redis-lock")
FLAGS = ("--client-id", "demo-client", "--resource", "/api/me", "--grace-max", "3")

SCENARIO = """
name = "published-{grace}"

[target]
kind = "oauth2"
base_url = "{url}"
client_id = "demo-client"

[auth]
password = "password"

[policy]
kind = "idempotent"
grace_seconds = {grace}

[run]
sessions = 2

[[steps]]
op = "login"

[[steps]]
op = "refresh"
parallel = 4
"""


@pytest.fixture(scope="module")
def measured(
    server_factory: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Measured]]:
    """Both strategies measured at once (each its own server process)."""
    workdir = tmp_path_factory.mktemp("policy-reference")
    urls = {s: server_factory(s, grace=GRACE).url for s in STRATEGIES}
    with ThreadPoolExecutor(max_workers=len(STRATEGIES)) as pool:
        futures = {
            s: pool.submit(
                run_policy, workdir, "--target", url, *FLAGS, "--write", str(workdir / f"{s}.toml")
            )
            for s, url in urls.items()
        }
        yield {s: future.result() for s, future in futures.items()}


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_idempotent_same_pair_window_within_resolution_and_family_revocation(
    measured: dict[str, Measured], strategy: str
) -> None:
    result = measured[strategy]
    assert result.code == 0, result.stdout + result.stderr
    assert result.unmeasured() == set(), result.stdout
    fields = result.fields()
    assert result.measurement is not None
    bracket = result.measurement["grace"]
    assert abs(fields.pop("grace_seconds") - GRACE) <= bracket["resolution"], result.stdout
    assert bracket["accepted_at"] < GRACE <= bracket["rejected_at"], bracket
    assert fields == {
        "rotates": True,
        "replay": "same-pair",
        "generations": 1,
        "reuse_revokes": "family",
        "tolerance_seconds": 0,
        "refresh_revokes_access": False,
        "use_retires": False,
        "max_replays": 0,
    }
    assert '[policy]\nkind = "idempotent"\ngrace_seconds = ' in result.stdout
    # The burst decides no field, and its outcome here depends on Redis keeping up (a 503
    # told to come back later may be retried after the window): it is only reported.
    assert result.measurement["burst"]["size"] == 8


TOLERANCE = 0.5


def test_strict_mode_is_single_use_with_its_tolerance_and_family_revocation(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    extra = ("--tolerance", str(TOLERANCE))
    url = server_factory("atomic", grace=0.0, extra_args=extra).url
    result = run_policy(tmp_path, "--target", url, *FLAGS)
    assert result.code == 0, result.stdout + result.stderr
    assert result.unmeasured() == set(), result.stdout
    fields = result.fields()
    assert result.measurement is not None
    bracket = result.measurement["tolerance"]
    assert abs(fields.pop("tolerance_seconds") - TOLERANCE) <= bracket["resolution"], bracket
    assert bracket["accepted_at"] < TOLERANCE <= bracket["rejected_at"], bracket
    assert fields == {
        "rotates": True,
        "replay": "rejected",
        "grace_seconds": 0,
        "generations": 0,
        "reuse_revokes": "family",
        "refresh_revokes_access": False,
        "use_retires": False,
        "max_replays": 0,
    }
    assert '[policy]\nkind = "strict"\ntolerance_seconds = ' in result.stdout


def _scenario(tmp_path: Path, url: str, grace: float) -> str:
    path = tmp_path / f"published-{grace:g}.toml"
    path.write_text(SCENARIO.format(url=url, grace=f"{grace:g}"))
    return str(path)


def test_run_notes_a_published_policy_that_contradicts_the_scenario(
    cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    url = server_factory("atomic", grace=GRACE).url
    result = cli("run", _scenario(tmp_path, url, 5.0))
    assert result.report is not None, result.stderr
    notes = [n for n in result.report["notes"] if "x_refresh_token_rotation" in n]
    assert notes == [
        "the target publishes its refresh-token policy (x_refresh_token_rotation: idempotent, "
        "grace 2s, tolerance 1s) and it contradicts the scenario's (idempotent, grace 5s): "
        "grace_seconds: published 2, declared 5"
    ]
    assert "x_refresh_token_rotation" in result.stderr  # warned, not only reported
    assert "x_refresh_token_rotation" in result.stdout  # and in the console report


def test_run_says_nothing_when_the_published_policy_agrees(
    cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    url = server_factory("atomic", grace=GRACE).url
    result = cli("run", _scenario(tmp_path, url, GRACE))
    assert result.report is not None, result.stderr
    assert not [n for n in result.report["notes"] if "x_refresh_token_rotation" in n]
    assert "x_refresh_token_rotation" not in result.stderr


def test_a_confidential_client_without_discovery_is_measured_from_flags(
    server_factory: ServerFactory, metadata_less_site: str, tmp_path: Path
) -> None:
    # Discovery at the base URL finds nothing (a plain web server); the flags name the token
    # endpoint and the client's credentials, which the reference server requires of this client.
    url = server_factory("atomic", grace=GRACE).url
    flags = (
        "--token-endpoint", f"{url}/oauth/token", "--client-id", "demo-confidential",
        "--client-secret-env", "MY_CLIENT_SECRET", "--client-auth", "body", "--grace-max", "3",
    )  # fmt: skip
    secret = {"MY_CLIENT_SECRET": "secret"}
    result = run_policy(tmp_path, "--target", metadata_less_site, *flags, env=secret)
    assert result.code == 0, result.stdout + result.stderr
    fields = result.fields()
    assert fields["rotates"] is True
    assert fields["replay"] == "same-pair"
    assert fields["reuse_revokes"] == "family"
    header = json.loads(result.history.read_text().splitlines()[0])
    command = header["command"]
    assert command[command.index("--client-secret-env") + 1] == "MY_CLIENT_SECRET"
    assert command[command.index("--client-auth") + 1] == "body"
    assert command[command.index("--token-endpoint") + 1] == f"{url}/oauth/token"
    assert "secret" not in command  # the variable's name is recorded, never its value

    wrong = run_policy(
        tmp_path, "--target", metadata_less_site, *flags, env={"MY_CLIENT_SECRET": "wrong"}
    )
    assert wrong.code == 3, wrong.stdout + wrong.stderr
    assert "invalid_client" in wrong.stderr  # the secret was sent, and checked
