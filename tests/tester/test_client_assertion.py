"""A confidential client that authenticates with ``private_key_jwt`` (RFC 7523), against a target
that checks every assertion and refuses one it has seen: a burst's requests each carry their own.

Keycloak's "Signed JWT" clients, Okta, Auth0 and Spring Authorization Server register clients
this way; a tester without it could not log in, and one that reused an assertion would have its
concurrent refreshes refused for a replay the server rightly caught.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from support.scenario_text import behaviour_scenario, steps
from support.targets import TargetSpec, running_target

from stress.history import load_history

from .conftest import CliRunner

pytestmark = pytest.mark.integration

BURST = {"op": "refresh", "parallel": 4, "profile": "multi-tab"}
CONFIDENTIAL = 'client_id = "demo-client"\nclient_auth = "private_key_jwt"\n'


def _key_pair(tmp_path: Path) -> tuple[str, Path]:
    """A new P-256 key: its private PEM, and the file holding its public PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = tmp_path / "client-public.pem"
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def test_a_private_key_jwt_client_signs_each_request_afresh(cli: CliRunner, tmp_path: Path) -> None:
    private, public = _key_pair(tmp_path)
    spec = TargetSpec("idempotent", client_assertion_key=str(public))
    scenario = tmp_path / "confidential.toml"
    with running_target(spec, tmp_path / "target.log") as url:
        text = behaviour_scenario(
            "confidential",
            url,
            policy='kind = "idempotent"\ngrace_seconds = 2',
            run="sessions = 3\nop_timeout_seconds = 5\nmax_seconds = 30",
            steps=steps({"op": "login"}, BURST, {"op": "use"}, {"op": "revoke"}),
            resource=True,
        )
        scenario.write_text(
            text.replace('client_id = "demo-client"\n', CONFIDENTIAL + 'client_key_env = "KEY"\n')
        )
        ran = cli("run", str(scenario), env={"KEY": private})
        assert (ran.code, ran.report and ran.report["verdict"]) == (0, "pass"), ran.stdout
        history = load_history(tmp_path / "history.jsonl")
        # Every request of the client was taken (the probes of revoked tokens are refused).
        completed = [op for op in history if op.type != "invoke" and op.kind != "probe"]
        assert {op.kind for op in completed} == {"login", "refresh", "use", "revoke"}
        assert all(op.type == "ok" for op in completed), [op.error for op in completed]
        # Neither the key nor an assertion is kept: the reproducer names a placeholder.
        text = (tmp_path / "history.jsonl").read_text()
        assert "client_assertion=$CLIENT_ASSERTION" in text
        assert private.splitlines()[1] not in text
        assert "eyJ" not in text  # no JWT of any kind in the history
        # The same client with no assertion is refused: the target does check them.
        public_client = tmp_path / "public.toml"
        confidential = CONFIDENTIAL + 'client_key_env = "KEY"\n'
        public_client.write_text(
            scenario.read_text().replace(confidential, 'client_id = "demo-client"\n')
        )
        refused = cli("run", str(public_client))
        assert refused.code == 3, refused.stdout + refused.stderr
        assert "invalid_client" in refused.stdout
        unset = cli("run", str(scenario))
        assert unset.code == 2, unset.stdout + unset.stderr
        assert "target.client_key_env: environment variable KEY is not set" in unset.stderr
        garbled = cli("run", str(scenario), env={"KEY": "-----BEGIN PRIVATE KEY-----\nAAAA"})
        assert garbled.code == 2, garbled.stdout + garbled.stderr
        assert "target.client_key_env: KEY holds no key to sign with: not an" in garbled.stderr
        # init learns the same client from its flags, and writes them.
        written = tmp_path / "written.toml"
        made = cli(
            "init", "--target", url, "--client-id", "demo-client", "--client-key-env", "KEY",
            "--username", "user{n}", "--password-env", "APP_PASSWORD", "--policy", "idempotent",
            "--grace", "2", "--yes", "--output", str(written),
            env={"KEY": private, "APP_PASSWORD": "password"},
        )  # fmt: skip
        assert made.code == 0, made.stdout + made.stderr
        assert "client authentication methods" not in made.stderr
        target = tomllib.loads(written.read_text())["target"]
        assert (target["client_auth"], target["client_key_env"]) == ("private_key_jwt", "KEY")
        assert "export KEY=..." in made.stdout
        # With a secret instead of the key, init says what the server's metadata wants (with
        # --policy given it logs nobody in, so the file is written all the same).
        secret = cli(
            "init", "--target", url, "--client-id", "demo-client", "--client-secret-env", "S",
            "--username", "user{n}", "--password-env", "APP_PASSWORD", "--policy", "idempotent",
            "--grace", "2", "--yes", "--output", str(tmp_path / "secret.toml"),
            env={"APP_PASSWORD": "password", "S": "not-it"},
        )  # fmt: skip
        assert secret.code == 0, secret.stdout + secret.stderr
        said = " ".join(secret.stderr.split())
        assert "lists the client authentication methods private_key_jwt for its token " in said
        assert "endpoint, not client_secret_basic" in said
