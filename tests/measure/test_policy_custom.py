"""``auth-stress policy`` on custom APIs (JSON bodies, a refresh cookie) through their scenarios:
auth, token paths and cookies come from the scenario, and no raw token reaches any output."""

from __future__ import annotations

import pytest
from tester.conftest import EXAMPLES, ExpressTarget

from .conftest import PolicyRunner

pytestmark = pytest.mark.integration

# The Express-style target's two variants (tests/targets/express_style.py): check-then-write
# that rejects anything but the current token and revokes nothing, and strict reuse detection.
EXPECTED = {
    "body": ("express-multi-tab.toml", "nothing"),
    "cookie": ("cookie-multi-tab.toml", "family"),
}


def test_a_custom_api_is_measured_from_its_scenario_and_no_token_leaks(
    policy_cli: PolicyRunner, express_target: ExpressTarget
) -> None:
    variant = "cookie" if "cookie" in express_target.log.name else "body"
    scenario, scope = EXPECTED[variant]
    result = policy_cli(
        str(EXAMPLES / scenario),
        "--target",
        express_target.url,
        "--grace-max",
        "1",
        "--max-seconds",
        "30",
    )
    assert result.code == 0, result.stdout + result.stderr
    assert result.unmeasured() == set(), result.stdout
    assert result.fields() == {
        "rotates": True,
        "replay": "rejected",
        "grace_seconds": 0,
        "generations": 0,
        "reuse_revokes": scope,
        "tolerance_seconds": 0,
        "refresh_revokes_access": False,
        "use_retires": False,
        "max_replays": 0,
    }
    tokens = [t for t in express_target.token_log.read_text().split() if t]
    assert len(tokens) > 10  # the measurement really received tokens
    outputs = {
        "stdout": result.stdout,
        "stderr": result.stderr,
        "history": result.history.read_text(),
        "json": str(result.measurement),
    }
    for name, text in outputs.items():
        assert not [t for t in tokens if t in text], f"a raw token in {name}"
