"""A public client whose tokens are DPoP-bound (RFC 9449), against a target that wants a valid
proof with every token and API request, binds each token to the proof's key, and refuses a
proof it has seen: a burst's requests each carry their own, and the API gets DPoP tokens."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from support.scenario_text import behaviour_scenario, steps
from support.targets import TargetSpec, running_target

from stress.history import load_history

from .conftest import CliRunner

pytestmark = pytest.mark.integration

BURST = {"op": "refresh", "parallel": 4, "profile": "multi-tab"}


@pytest.mark.parametrize("nonce", [False, True], ids=["no-nonce", "nonce"])
def test_a_dpop_client_proves_its_key_on_every_request(
    cli: CliRunner, tmp_path: Path, nonce: bool
) -> None:
    """With ``nonce`` the token endpoint and the API each want their own nonce, as Okta does:
    the first request to each is refused for want of it and sent again, inside its op."""
    spec = TargetSpec("idempotent", dpop=True, dpop_nonce=nonce)
    scenario, bearer = tmp_path / "dpop.toml", tmp_path / "bearer.toml"
    with running_target(spec, tmp_path / "target.log") as url:
        text = behaviour_scenario(
            "dpop",
            url,
            policy='kind = "idempotent"\ngrace_seconds = 2',
            run="sessions = 3\nop_timeout_seconds = 5\nmax_seconds = 30",
            steps=steps(
                {"op": "login"},
                BURST,
                {"op": "use"},
                {"op": "refresh", "profile": "lost-response-retry"},
                {"op": "use"},
                {"op": "revoke"},
            ),
            resource=True,
        )
        scenario.write_text(
            text.replace('client_id = "demo-client"\n', 'client_id = "demo-client"\ndpop = true\n')
        )
        ran = cli("run", str(scenario))
        assert (ran.code, ran.report and ran.report["verdict"]) == (0, "pass"), ran.stdout
        history = load_history(tmp_path / "history.jsonl")
        completed = [op for op in history if op.type != "invoke" and op.kind != "probe"]
        taken = [op for op in completed if op.error != "response-lost"]
        assert {op.kind for op in taken} == {"login", "refresh", "use", "revoke"}
        assert all(op.type == "ok" for op in taken), [op.error for op in taken]
        assert not [op for op in history if op.error == "use_dpop_nonce"]
        written = (tmp_path / "history.jsonl").read_text()
        assert '"dpop","$DPOP_PROOF"' in written.replace(" ", "")
        assert "DPoP $ACCESS_TOKEN" in written
        assert "eyJ" not in written  # no proof is kept
        # Without proofs the target refuses every login: it does check them.
        bearer.write_text(text)
        refused = cli("run", str(bearer))
        assert refused.code == 3, refused.stdout + refused.stderr
        assert "invalid_dpop_proof" in refused.stdout
        said = " ".join(refused.stdout.split())
        assert "the server wants a DPoP proof from this client; set target.dpop = true" in said
        # init writes the client from its flag, and its measurement proves the key as a run does.
        written = tmp_path / "written.toml"
        made = cli(
            "init", "--target", url, "--client-id", "demo-client", "--dpop", "--username",
            "user{n}", "--password-env", "APP_PASSWORD", "--grace-max", "3", "--yes",
            "--output", str(written), env={"APP_PASSWORD": "password"},
        )  # fmt: skip
        assert made.code == 0, made.stdout + made.stderr
        assert tomllib.loads(written.read_text())["target"]["dpop"] is True
        assert "idempotent" in written.read_text()


def test_a_burst_refused_whole_for_a_new_nonce_is_released_again_with_it(
    cli: CliRunner, tmp_path: Path
) -> None:
    """The server's nonces expire after a second (as Okta's do): the burst after a 1.5 s pause
    carries the old one and every member is refused before its token is looked at, so the
    burst goes again, whole, with the new one; no member is left unknown."""
    spec = TargetSpec("idempotent", dpop=True, dpop_nonce=True, dpop_nonce_lifetime=1.0)
    scenario = tmp_path / "nonce.toml"
    with running_target(spec, tmp_path / "target.log") as url:
        text = behaviour_scenario(
            "nonce",
            url,
            policy='kind = "idempotent"\ngrace_seconds = 2',
            run="sessions = 1\nop_timeout_seconds = 5\nmax_seconds = 30",
            steps=steps({"op": "login"}, {"op": "sleep", "seconds": 1.5}, BURST),
            client="dpop = true",
        )
        scenario.write_text(text)
        ran = cli("run", str(scenario))
    assert (ran.code, ran.report and ran.report["verdict"]) == (0, "pass"), ran.stdout
    history = load_history(tmp_path / "history.jsonl")
    members = [op for op in history.operations() if op.burst is not None]
    assert len(members) == 4
    assert {op.outcome for op in members} == {"ok"}
    [burst] = history.end.bursts if history.end is not None else []
    assert burst.notes[-1] == "released again: the server wanted a new DPoP nonce of every request"
