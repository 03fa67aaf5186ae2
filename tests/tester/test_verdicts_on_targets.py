"""The CLI's verdicts on independent servers, each run with the policy it really promises.

Each target in tests/targets/oauth_behaviours models one real server's behaviour under
concurrent and repeated refreshes. The scenario is the multi-tab burst a user would write from
the README (8 tabs refresh one token at once, twice), plus a replay of an older token where the
policy is about replays; the assertion is the exact verdict and the exact failing checkers
(the cases: tests/support/verdict_cases.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.verdict_cases import CASES, scenario_text

from .conftest import CliRunner


@pytest.mark.integration
@pytest.mark.parametrize(
    ("name", "oauth_target"),
    [(name, case.spec) for name, case in CASES.items()],
    ids=list(CASES),
    indirect=["oauth_target"],
)
def test_verdict_under_the_promised_policy(
    cli: CliRunner, tmp_path: Path, name: str, oauth_target: str
) -> None:
    case = CASES[name]
    path = tmp_path / f"{name}.toml"
    path.write_text(scenario_text(name, oauth_target, case))
    result = cli("run", str(path))
    assert result.report is not None, result.stderr
    failing = {c for c, v in result.report["checkers"].items() if v not in ("pass", "warning")}
    assert (result.report["verdict"], failing) == (case.verdict, case.failing), result.stdout
    assert result.code == (1 if case.failing else 0), result.stderr
