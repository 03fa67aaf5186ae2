"""``run --measure-policy``: the target's policy is measured before the run, and a contradiction
with the scenario's is noted in the report (through the history's run-end record)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.targets import TargetSpec
from tester.conftest import CliRunner

pytestmark = pytest.mark.integration

SCENARIO = """
name = "declared-{kind}"
[target]
kind = "oauth2"
base_url = "{url}"
client_id = "demo-client"
[auth]
password = "password"
[policy]
{policy}
[[steps]]
op = "login"
[[steps]]
op = "refresh"
"""


@pytest.mark.parametrize("oauth_target", [TargetSpec("strict-revoke-family")], indirect=True)
@pytest.mark.parametrize(
    ("policy", "noted"),
    [
        ('kind = "idempotent"\ngrace_seconds = 1', True),
        ('kind = "strict"', False),
    ],
)
def test_a_measured_policy_that_contradicts_the_scenario_is_noted(
    cli: CliRunner, tmp_path: Path, oauth_target: str, policy: str, noted: bool
) -> None:
    scenario = tmp_path / "declared.toml"
    kind = policy.split('"')[1]
    scenario.write_text(SCENARIO.format(kind=kind, url=oauth_target, policy=policy))
    result = cli("run", str(scenario), "--measure-policy", timeout=150)
    assert result.report is not None, result.stderr
    notes = [n for n in result.report["notes"] if "measured before the run" in n]
    if not noted:
        assert notes == []
        return
    [note] = notes
    assert note.startswith("the policy measured before the run (strict) contradicts the scenario's")
    assert "replay: measured rejected, declared same-pair; grace_seconds: measured 0" in note
    assert (tmp_path / "policy.history.jsonl").is_file()
