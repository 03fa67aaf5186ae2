"""``auth-stress init`` through the real CLI against a real reference server.

The written file must be accepted by ``auth-stress check`` and, run as is, pass against a
correct server: a starter that needs fixing before it works is not a starter.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from support.json_server import json_server
from support.servers import ServerFactory

from stress.launcher import free_port

pytestmark = pytest.mark.integration


def auth_stress(
    *args: str, cwd: Path, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stress", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        check=False,
    )


@pytest.fixture
def atomic_url(server_factory: ServerFactory) -> str:
    return str(server_factory("atomic", grace=5.0).url)


@pytest.fixture
def short_grace_url(server_factory: ServerFactory) -> str:
    """An atomic server whose 1 s window a measurement bounded at 3 s brackets quickly."""
    return str(server_factory("atomic", grace=1.0).url)


def measured_grace(stderr: str) -> float:
    """The grace window init measured, to be asserted within the measurement's resolution
    (10 %), as the policy tests do: the bracket comes from real timings of a real server, and
    on a loaded machine it once stated 1.02 s for a 1 s window."""
    found = re.search(r"measured: idempotent, grace ([0-9.]+)s", stderr)
    assert found is not None, stderr
    return float(found.group(1))


def test_flags_and_yes_write_a_scenario_that_checks_and_passes(
    atomic_url: str, tmp_path: Path
) -> None:
    out = tmp_path / "scenarios" / "mine.toml"
    made = auth_stress(
        "init", "--target", atomic_url, "--output", str(out), "--client-id", "demo-client",
        "--password-env", "MY_TEST_PASSWORD", "--resource", "/api/me", "--no-measure", "--yes",
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert f"wrote {out}" in made.stdout
    assert "/oauth/token" in made.stderr  # what discovery found is shown
    data = tomllib.loads(out.read_text())
    assert data["name"] == "mine"
    assert data["target"]["base_url"] == atomic_url
    assert data["target"]["client_id"] == "demo-client"
    assert data["auth"] == {"username": "user{n}", "password_env": "MY_TEST_PASSWORD"}
    assert data["policy"] == {"kind": "idempotent", "grace_seconds": 5}
    assert [s["op"] for s in data["steps"]] == ["login", "refresh", "use", "refresh", "use"]
    assert "#   token       /oauth/token" in out.read_text()

    checked = auth_stress("check", str(out), cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr
    ran = auth_stress(
        "run", str(out), "--no-progress", "--history", str(tmp_path / "h.jsonl"),
        cwd=tmp_path, env={"MY_TEST_PASSWORD": "password"},
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "verdict: PASS" in ran.stdout


def test_a_confidential_client_on_a_target_without_metadata_is_written_from_flags(
    short_grace_url: str, metadata_less_site: str, tmp_path: Path
) -> None:
    # The base URL is a plain web server that knows no discovery metadata (404 for it all),
    # as many real servers are; the flags name the endpoints and the client's credentials.
    base = metadata_less_site
    out = tmp_path / "confidential.toml"
    secrets = {"MY_TEST_PASSWORD": "password", "MY_CLIENT_SECRET": "secret"}
    made = auth_stress(
        "init", "--target", base, "--output", str(out), "--yes",
        "--token-endpoint", short_grace_url + "/oauth/token",
        "--revocation-endpoint", short_grace_url + "/oauth/revoke",
        "--client-id", "demo-confidential", "--client-secret-env", "MY_CLIENT_SECRET",
        "--scope", "api profile", "--password-env", "MY_TEST_PASSWORD", "--grace-max", "3",
        cwd=tmp_path, env=secrets,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    assert "export MY_TEST_PASSWORD=...; export MY_CLIENT_SECRET=...;" in made.stdout
    # Nothing was discovered: the endpoints are said to be the ones given.
    assert (
        f"endpoints: token {short_grace_url}/oauth/token (given), "
        f"revocation {short_grace_url}/oauth/revoke (given), jwks -"
    ) in " ".join(made.stderr.split())
    target = tomllib.loads(out.read_text())["target"]
    assert target == {
        "kind": "oauth2",
        "base_url": base,
        "token_endpoint": short_grace_url + "/oauth/token",
        "revocation_endpoint": short_grace_url + "/oauth/revoke",
        "client_id": "demo-confidential",
        "client_auth": "basic",  # the default with a secret (RFC 6749 section 2.3.1)
        "client_secret_env": "MY_CLIENT_SECRET",
        "scope": "api profile",
    }
    assert abs(measured_grace(made.stderr) - 1.0) <= 0.1  # logged in with the secret
    ran = auth_stress(
        "run", str(out), "--no-progress", "--history", str(tmp_path / "h.jsonl"),
        cwd=tmp_path, env=secrets,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "verdict: PASS" in ran.stdout


# Stands in for a login the tester cannot do itself (an authorization-code flow through a login
# page): it logs user N in at TARGET by the password grant and prints the token response.
MINT = """import json, sys, urllib.parse, urllib.request
target, n = sys.argv[1], sys.argv[2]
form = {"grant_type": "password", "username": f"user{n}", "password": "password",
        "client_id": "demo-client"}
request = urllib.request.Request(target + "/oauth/token", urllib.parse.urlencode(form).encode())
print(urllib.request.urlopen(request).read().decode())
"""


def test_a_mint_command_logs_in_where_there_is_no_password_grant(
    short_grace_url: str, tmp_path: Path
) -> None:
    (tmp_path / "login.py").write_text(MINT)
    out = tmp_path / "scenarios" / "minted.toml"
    made = auth_stress(
        "init", "--target", short_grace_url, "--output", str(out), "--yes", "--client-id",
        "demo-client", "--mint-command", f"{sys.executable} login.py {{target}} {{n}}",
        "--grace-max", "3",
        cwd=tmp_path,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    assert abs(measured_grace(made.stderr) - 1.0) <= 0.1  # the measurement logged in by it
    assert "next: auth-stress check" in made.stdout  # no password variable to export
    auth = tomllib.loads(out.read_text())["auth"]
    # The command runs in the scenario's folder: the script it names is found from there.
    assert auth == {
        "mode": "mint",
        "command": [sys.executable, "../login.py", "{target}", "{n}"],
    }
    ran = auth_stress(
        "run", str(out), "--no-progress", "--history", str(tmp_path / "h.jsonl"), cwd=tmp_path
    )
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "verdict: PASS" in ran.stdout


def test_prompts_ask_for_what_flags_did_not_give(atomic_url: str, tmp_path: Path) -> None:
    out = tmp_path / "strict.toml"
    # client id, user template, password env, policy, grace, resource
    answers = "demo-client\nalice{n}\nPW\nstrict\n0\n\n"
    made = auth_stress("init", "--target", atomic_url, "--output", str(out), "--no-measure",
                       cwd=tmp_path, stdin=answers)  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    assert "Policy" in made.stdout
    data = tomllib.loads(out.read_text())
    assert data["target"]["client_id"] == "demo-client"
    assert "resource" not in data["target"]
    assert data["auth"] == {"username": "alice{n}", "password_env": "PW"}
    assert data["policy"] == {"kind": "strict"}
    assert auth_stress("check", str(out), cwd=tmp_path).returncode == 0


def test_existing_file_needs_force(atomic_url: str, tmp_path: Path) -> None:
    out = tmp_path / "taken.toml"
    out.write_text("# mine\n")
    refused = auth_stress("init", "--target", atomic_url, "--output", str(out), "--yes",
                          "--no-measure", cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 2
    assert "exists" in refused.stderr
    assert "--force" in refused.stderr
    assert out.read_text() == "# mine\n"
    forced = auth_stress("init", "--target", atomic_url, "--output", str(out), "--yes",
                         "--force", "--no-measure", cwd=tmp_path)  # fmt: skip
    assert forced.returncode == 0, forced.stderr
    assert out.read_text().startswith("# Starter scenario")


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (("--policy", "sometimes"), "--policy 'sometimes'"),
        (("--policy", "strict", "--grace", "5"), "grace_seconds must be 0"),
        (("--grace", "-1"), "--grace -1"),
        (("--password-env", "not a var"), "not an environment variable name"),
        (("--grace", "2"), "--grace goes with --policy"),
        (("--password-env", "AUTH_STRESS_UNSET_PASSWORD"), "set AUTH_STRESS_UNSET_PASSWORD"),
        (("--client-secret-env", "a-b"), "--client-secret-env 'a-b': not an environment"),
        (("--client-auth", "mtls"), "--client-auth 'mtls': expected none, body, basic"),
        (("--client-auth", "basic"), "--client-auth basic: expected basic, body or client_secret"),
        (("--client-auth", "private_key_jwt"), "with --client-key-env, tls_client_auth"),
        (("--client-key-env", "K", "--client-auth", "basic"), "--client-auth basic: expected"),
        (("--client-key-env", "K", "--client-secret-env", "S"), "give one or the other"),
        (("--client-key-env", "a-b"), "--client-key-env 'a-b': not an environment"),
        (("--client-cert-env", "a-b"), "--client-cert-env 'a-b': not an environment"),
        (("--client-cert-key-env", "K"), "--client-cert-key-env goes with --client-cert-env"),
        (("--client-cert-env", "C"), "presented over TLS only, and the target http://127.0.0.1"),
        (
            ("--client-auth", "tls_client_auth"),
            "tls_client_auth or self_signed_tls_client_auth with --client-cert-env alone",
        ),
        (("--client-key-env", "K"), "--client-id: a private_key_jwt client needs its id"),
        (
            (
                "--client-key-env",
                "AUTH_STRESS_UNSET_KEY",
                "--client-id",
                "app",
                "--password-env",
                "PATH",
            ),
            "set AUTH_STRESS_UNSET_KEY (the client's private key)",
        ),
        (("--client-secret-env", "S", "--client-auth", "none"), "--client-auth none: expected"),
        (
            ("--client-secret-env", "AUTH_STRESS_UNSET_SECRET", "--password-env", "PATH"),
            "set AUTH_STRESS_UNSET_SECRET (the client's secret)",
        ),
        (("--mint-command", "login '{n}"), '--mint-command "login \'{n}": No closing quotation'),
        (("--mint-command", " "), "--mint-command: expected a command, found nothing"),
        (("--mint-command", "x", "--password-env", "P"), "go with the password grant"),
        (("--login-path", "/login"), "--login-path and --refresh-path go together"),
        (("--login-json", "{}"), "--login-json: go with --login-path and --refresh-path"),
        (("--login-path", "/l", "--refresh-path", "/r", "--login-json", "[1]"), "a JSON object"),
        (("--login-path", "/l", "--refresh-path", "/r", "--login-json", "{"), "not JSON"),
        (
            ("--login-path", "/l", "--refresh-path", "/r", "--refresh-json", '{"t": "x"}'),
            "--refresh-json: expected {refresh_token} where the token goes",
        ),
        (
            ("--login-path", "/l", "--refresh-path", "/r", "--revoke-json", "{}"),
            "--revoke-json goes with --revoke-path",
        ),
        (("--refresh-json", "{}"), "--refresh-json: go with --login-path and --refresh-path"),
        (("--use-json", "{}"), "--use-method, --use-json: go with --resource"),
        (("--resource", "/q", "--use-method", "FETCH"), "--use-method 'FETCH': expected one of"),
        (("--resource", "/q", "--use-method", "get", "--use-json", "{}"), "a GET sends no body"),
        (("--resource", "/q", "--use-json", '{"variables": null}'), "cannot hold a JSON null"),
        (("--resource", "/q", "--use-json", "[]"), "--use-json: expected a JSON object"),
        (("--login-path", "ftp://x/l", "--refresh-path", "/r"), "--login-path 'ftp://x/l'"),
        (
            ("--login-path", "/l", "--refresh-path", "/r", "--client-id", "c"),
            "--client-id: for OAuth 2.0 targets",
        ),
        (
            ("--login-path", "/l", "--refresh-path", "/r", "--password-env", "AUTH_STRESS_UNSET"),
            "init logs the first test user in to learn the API: set AUTH_STRESS_UNSET",
        ),
    ],
)
def test_bad_answers_are_usage_errors(
    atomic_url: str, tmp_path: Path, flags: tuple[str, ...], message: str
) -> None:
    out = tmp_path / "bad.toml"
    result = auth_stress("init", "--target", atomic_url, "--output", str(out), "--yes", *flags,
                         cwd=tmp_path)  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr.replace("\n", " ")
    assert not out.exists()


def test_unreachable_target_exits_3(tmp_path: Path) -> None:
    out = tmp_path / "never.toml"
    url = f"http://127.0.0.1:{free_port()}"
    result = auth_stress("init", "--target", url, "--output", str(out), "--yes", cwd=tmp_path)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "unreachable" in result.stderr
    assert not out.exists()


def test_not_a_url_is_a_usage_error(tmp_path: Path) -> None:
    result = auth_stress("init", "--target", "localhost:8000", "--yes", cwd=tmp_path)
    assert result.returncode == 2
    assert "expected an http:// or https:// base URL" in result.stderr


def _no_password_grant(method: str, path: str, base: str) -> tuple[int, object]:
    """Discovery metadata of a provider without the password grant, as most OpenID ones are."""
    if path != "/.well-known/oauth-authorization-server":
        return 404, {}
    grants = ["authorization_code", "refresh_token"]
    return 200, {"issuer": base, "token_endpoint": f"{base}/token", "grant_types_supported": grants}


def test_a_server_that_lists_no_password_grant_is_warned_about_before_any_login(
    tmp_path: Path,
) -> None:
    with json_server(_no_password_grant) as url:
        flags = ("--output", str(tmp_path / "op.toml"), "--no-measure", "--policy", "strict")
        warned = auth_stress("init", "--target", url, *flags, "--yes", cwd=tmp_path)
        minted = auth_stress(
            "init", "--target", url, *flags, "--yes", "--force", "--mint-command", "./login {n}",
            cwd=tmp_path,
        )  # fmt: skip
    assert warned.returncode == 0, warned.stdout + warned.stderr
    assert "authorization_code, refresh_token, not the password grant" in warned.stderr
    assert "--mint-command" in warned.stderr
    assert minted.returncode == 0, minted.stdout + minted.stderr
    assert "not the password grant" not in minted.stderr  # it logs in another way
