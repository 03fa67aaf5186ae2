"""A client that authenticates by its TLS certificate (RFC 8705 ``tls_client_auth``), against a
target whose TLS wants a certificate its CA issued: every connection presents it, discovery,
logins, bursts and uses alike, and a run without it says what is missing."""

from __future__ import annotations

import os
import subprocess
import tomllib
from pathlib import Path

import pytest
from support.scenario_text import behaviour_scenario, steps
from support.targets import Https, TargetSpec, running_target

from .conftest import CliRunner

pytestmark = pytest.mark.integration


def test_a_client_certificate_is_learnt_by_init_and_presented_by_the_run(
    cli: CliRunner,
    tmp_path: Path,
    cert_files: tuple[Path, Path],
    client_cert_files: tuple[Path, Path],
) -> None:
    spec = TargetSpec("idempotent", https=Https(*cert_files, client=client_cert_files))
    chain, key = client_cert_files
    env = {
        "APP_PASSWORD": "password",
        "APP_CLIENT_CERT": chain.read_text(),
        "APP_CLIENT_KEY": key.read_text(),
    }
    written = tmp_path / "mtls.toml"
    flags = (
        "--client-id", "demo-client", "--username", "user{n}", "--password-env", "APP_PASSWORD",
        "--grace-max", "3", "--yes", "--ca-file", str(cert_files[0]),
    )  # fmt: skip
    with running_target(spec, tmp_path / "target.log") as url:
        refused = cli("init", "--target", url, *flags, "--output", str(written), env=env)
        assert refused.code == 3, refused.stdout + refused.stderr
        assert "TLSV13_ALERT_CERTIFICATE_REQUIRED" in refused.stderr
        assert "the server wants a client certificate" in " ".join(refused.stderr.split())
        assert "Traceback" not in refused.stderr
        assert "set target.token_endpoint" not in refused.stderr  # naming it would not help
        cert_flags = ("--client-cert-env", "APP_CLIENT_CERT", "--client-cert-key-env",
                      "APP_CLIENT_KEY")  # fmt: skip
        anonymous = [f for f in flags if f not in ("--client-id", "demo-client")]
        nameless = cli(
            "init", "--target", url, *anonymous, *cert_flags, "--output", str(written), env=env
        )
        assert nameless.code == 2, nameless.stdout + nameless.stderr
        assert "--client-id: a tls_client_auth client needs its id" in nameless.stderr
        made = cli(
            "init", "--target", url, *flags, "--client-cert-env", "APP_CLIENT_CERT",
            "--client-cert-key-env", "APP_CLIENT_KEY", "--output", str(written), env=env,
        )  # fmt: skip
        assert made.code == 0, made.stdout + made.stderr
        target = tomllib.loads(written.read_text())["target"]
        assert target["client_auth"] == "tls_client_auth"
        assert target["client_cert_env"] == "APP_CLIENT_CERT"
        assert target["client_cert_key_env"] == "APP_CLIENT_KEY"
        assert "export APP_CLIENT_CERT=...; export APP_CLIENT_KEY=..." in made.stdout
        ran = cli("run", str(written), "--ca-file", str(cert_files[0]), env=env)
        assert (ran.code, ran.report and ran.report["verdict"]) == (0, "pass"), ran.stdout
        # The same scenario without the certificate, its token endpoint given (no discovery):
        # the logins, sent by the burst engine, are refused with the same advice.
        bare = tmp_path / "bare.toml"
        text = "\n".join(
            line for line in written.read_text().splitlines()
            if not line.startswith(("client_cert", "client_auth"))
        ).replace('kind = "oauth2"', 'kind = "oauth2"\ntoken_endpoint = "/token"')  # fmt: skip
        bare.write_text(text)
        without = cli("run", str(bare), "--ca-file", str(cert_files[0]), env=env)
    assert without.code == 3, without.stdout + without.stderr
    assert "the server wants a client certificate" in " ".join(without.stdout.split())
    assert "took no request of the run; none was left" in " ".join(without.stdout.split())
    assert "Traceback" not in without.stderr


def test_the_reproducer_of_a_finding_over_mutual_tls_reaches_the_server(
    cli: CliRunner,
    tmp_path: Path,
    cert_files: tuple[Path, Path],
    client_cert_files: tuple[Path, Path],
) -> None:
    """The report's curl line and rerun command carry the run's TLS: its CA file and the
    client certificate's variables, read by bash as files; the certificate never in the line."""
    spec = TargetSpec("strict-revoke-family", https=Https(*cert_files, client=client_cert_files))
    chain, key = client_cert_files
    env = {"APP_CLIENT_CERT": chain.read_text(), "APP_CLIENT_KEY": key.read_text()}
    scenario = tmp_path / "logout.toml"
    with running_target(spec, tmp_path / "target.log") as url:
        text = behaviour_scenario(
            "logout",
            url,
            policy='kind = "strict"',
            run="sessions = 2\nop_timeout_seconds = 5\nmax_seconds = 30",
            steps=steps({"op": "login"}, {"op": "refresh", "parallel": 4, "profile": "multi-tab"}),
            client='client_auth = "tls_client_auth"\nclient_cert_env = "APP_CLIENT_CERT"\n'
            'client_cert_key_env = "APP_CLIENT_KEY"',
        )
        scenario.write_text(text)
        ran = cli("run", str(scenario), "--ca-file", str(cert_files[0]), env=env)
        assert ran.code == 1, ran.stdout + ran.stderr
        assert ran.report is not None
        line = next(f["curl"] for f in ran.report["findings"] if f["curl"])
        assert f"--cacert {cert_files[0]}" in line
        assert "--cert <(printenv APP_CLIENT_CERT) --key <(printenv APP_CLIENT_KEY)" in line
        assert "BEGIN" not in line
        assert "--ca-file" in ran.report["reproduce"][0]
        # The line reaches the server as it is (the token is stale: what it answers is beside
        # the point); without the certificate the handshake would fail, curl exit 56.
        sent = subprocess.run(
            ["bash", "-c", line + " -o /dev/null -w '%{http_code}'"],
            capture_output=True,
            text=True,
            env={**os.environ, **env, "REFRESH_TOKEN": "stale"},
            timeout=30,
            check=False,
        )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout in ("400", "401"), sent.stdout
