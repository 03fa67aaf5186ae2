"""A proxy named by the environment is not used: the tester reaches the target directly.

The burst engine connects to the target itself, so the control plane does too; with
``HTTP_PROXY`` set (a CI job behind a corporate proxy), discovery used to go through a proxy that
cannot reach 127.0.0.1, while the bursts went direct.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.scenario_text import behaviour_scenario, steps
from support.targets import TargetSpec

from .conftest import CliRunner

pytestmark = pytest.mark.integration

# Nothing listens on port 9 (discard): a request sent through this proxy fails.
DEAD_PROXY = "http://127.0.0.1:9"
PROXIED = {
    name: value
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY")
    for name, value in (
        (variable, "" if variable == "NO_PROXY" else DEAD_PROXY),
        (variable.lower(), "" if variable == "NO_PROXY" else DEAD_PROXY),
    )
}


@pytest.mark.parametrize(
    "oauth_target",
    [TargetSpec("idempotent", grace=2.0, signing_key_rotates_after=1)],
    indirect=True,
)
def test_a_run_ignores_the_proxy_the_environment_names(
    cli: CliRunner, tmp_path: Path, oauth_target: str
) -> None:
    path = tmp_path / "proxied.toml"
    path.write_text(
        behaviour_scenario(
            "proxied",
            oauth_target,
            policy='kind = "idempotent"\ngrace_seconds = 2',
            run="sessions = 2",
            steps=steps({"op": "login"}, {"op": "refresh", "parallel": 2}, {"op": "use"}),
            resource=True,
        )
    )
    result = cli("run", str(path), env=PROXIED)
    assert result.report is not None, result.stderr
    assert (result.code, result.report["verdict"]) == (0, "pass"), result.stdout + result.stderr
    # Discovery, the JWKS (read at the start and again for the rotated key) and the bursts.
    assert result.report["checkers"]["jwt-claims"] == "pass", result.stdout
