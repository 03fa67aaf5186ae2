"""A client that authenticates by its TLS certificate (RFC 8705 ``tls_client_auth``), against a
target whose TLS wants a certificate its CA issued: every connection presents it, discovery,
logins, bursts and uses alike, and a run without it says what is missing."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
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
    assert "Traceback" not in without.stderr
