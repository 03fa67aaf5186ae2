"""How sessions get their first pair: password grant, a mint command, and login failures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from support.json_server import json_server
from support.servers import ServerFactory

from tester.conftest import CliRunner

pytestmark = pytest.mark.integration

MINT = """
import json, sys, urllib.parse, urllib.request
base, n = sys.argv[1], sys.argv[2]
form = urllib.parse.urlencode({"grant_type": "password", "username": f"user{n}",
                               "password": "password", "client_id": "demo-client"}).encode()
with urllib.request.urlopen(base + "/oauth/token", data=form, timeout=5) as response:
    tokens = json.load(response)
pair = {key: tokens[key] for key in ("access_token", "refresh_token")}
print(json.dumps(pair))
"""

SCENARIO = """
name = "auth"
[target]
kind = "oauth2"
client_id = "demo-client"
[auth]
{auth}
[policy]
kind = "idempotent"
grace_seconds = 5
[run]
sessions = 3
[[steps]]
op = "login"
[[steps]]
op = "refresh"
parallel = 4
"""


def write(tmp_path: Path, auth: str) -> str:
    path = tmp_path / "auth.toml"
    path.write_text(SCENARIO.format(auth=auth))
    return str(path)


def test_mint_command_supplies_pairs(
    cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory("atomic", grace=5.0)
    script = tmp_path / "mint.py"
    script.write_text(MINT)
    command = json.dumps([sys.executable, str(script), server.url, "{n}"])
    result = cli(
        "run", write(tmp_path, f'mode = "mint"\ncommand = {command}'), "--target", server.url
    )
    assert result.code == 0, result.stdout + result.stderr
    assert result.report is not None
    assert result.report["stats"]["kinds"]["login"]["ok"] == 3
    assert result.report["stats"]["kinds"]["refresh"]["ok"] == 12


def test_wrong_password_is_inconclusive_not_a_pass(
    cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory("atomic", grace=5.0)
    result = cli("run", write(tmp_path, 'password = "wrong"'), "--target", server.url)
    assert result.code == 3, result.stdout + result.stderr
    assert result.report is not None
    assert result.report["verdict"] == "unknown"
    assert result.report["inconclusive_reason"].startswith("no session could log in")
    assert "invalid_grant" in result.report["inconclusive_reason"]


def test_failing_mint_command_is_reported(
    cli: CliRunner, server_factory: ServerFactory, tmp_path: Path
) -> None:
    server = server_factory("atomic", grace=5.0)
    command = json.dumps([sys.executable, "-c", "raise SystemExit(3)"])
    result = cli(
        "run", write(tmp_path, f'mode = "mint"\ncommand = {command}'), "--target", server.url
    )
    assert result.code == 3, result.stdout + result.stderr
    assert result.report is not None
    assert "mint command failed" in result.report["inconclusive_reason"]


def test_a_server_without_the_password_grant_is_told_apart_from_a_wrong_password(
    cli: CliRunner, tmp_path: Path
) -> None:
    # A token endpoint that takes no password grant, as most OpenID providers are.
    reason = _login_refused(cli, tmp_path, 400, {"error": "unsupported_grant_type"})
    assert "unsupported_grant_type" in reason
    assert 'auth.mode = "mint"' in reason


def test_a_login_answered_by_something_in_front_of_the_server_is_named_so(
    cli: CliRunner, tmp_path: Path
) -> None:
    # A gateway's own refusal, in front of the token endpoint: a 403 with no RFC 6749 error.
    reason = _login_refused(cli, tmp_path, 403, {"message": "Forbidden"})
    assert "login answered info (no-oauth-error)" in reason
    assert "a firewall, a proxy or a sign-in page in front of it?" in reason


def _login_refused(cli: CliRunner, tmp_path: Path, status: int, body: object) -> str:
    """Why a run against a token endpoint that answers every login so was inconclusive."""
    with json_server(lambda *_: (status, body)) as url:
        scenario = tmp_path / "refusing.toml"
        scenario.write_text(  # no discovery: the token endpoint is given
            SCENARIO.format(auth='password = "password"').replace(
                'kind = "oauth2"', 'kind = "oauth2"\ndiscovery = false\ntoken_endpoint = "/token"'
            )
        )
        result = cli("run", str(scenario), "--target", url)
    assert result.code == 3, result.stdout + result.stderr
    assert result.report is not None
    reason: str = result.report["inconclusive_reason"]
    return reason
