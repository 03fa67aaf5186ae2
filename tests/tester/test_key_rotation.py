"""A target that rotates its signing key during a run: later tokens verify, the report says so.

The target (``--signing-key-rotates-after``) signs its first access tokens with ``k1`` and the
rest with ``k2``, which its JWKS lists from then on, as Dex and other servers rotating keys do.
A run that kept the JWKS of its discovery would judge every later token unverifiable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.scenario_text import behaviour_scenario, steps
from support.targets import TargetSpec

from stress.history import load_history

from .conftest import CliRunner

pytestmark = pytest.mark.integration

# 4 logins and 4 bursts of 4 (idempotent: one new pair each) sign 8 access tokens before the
# use steps; the key changes after the sixth, in the middle of the first bursts.
ROTATING = TargetSpec("idempotent", grace=2.0, signing_key_rotates_after=6)

BURST = {"op": "refresh", "parallel": 4, "profile": "multi-tab"}
STEPS = steps({"op": "login"}, BURST, {"op": "use"}, BURST)


@pytest.mark.parametrize("oauth_target", [ROTATING], indirect=True)
def test_tokens_signed_by_a_key_rotated_in_mid_run_verify(
    cli: CliRunner, tmp_path: Path, oauth_target: str
) -> None:
    path = tmp_path / "key-rotation.toml"
    path.write_text(
        behaviour_scenario(
            "key-rotation",
            oauth_target,
            policy='kind = "idempotent"\ngrace_seconds = 2',
            run="sessions = 4\nop_timeout_seconds = 5\nmax_seconds = 30",
            steps=STEPS,
            resource=True,
        )
    )
    result = cli("run", str(path))
    assert result.report is not None, result.stderr
    assert result.report["checkers"]["jwt-claims"] == "pass", result.stdout
    assert (result.code, result.report["verdict"]) == (0, "pass"), result.stdout
    history = load_history(tmp_path / "history.jsonl")
    verdicts = [op.claims.verified for op in history if op.claims is not None]
    assert len(verdicts) > 6  # tokens of both keys were read...
    assert all(verdicts)  # ...and every one verified
    assert history.end is not None
    [note] = [n for n in history.end.notes if "JWKS, fetched again" in n]
    assert "for a token signed by 'k2'" in note
    assert "added 'k2'" in note
    assert "the target rotated its signing key during the run" in note
