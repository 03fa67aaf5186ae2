"""A GraphQL auth API, whose refusals are 200s with ``errors`` (tests/targets/graphql_api.py):
the tester reads them as the refusals they are, so the multi-tab logout it exists to find is
found, and an error the server did not expect stays unknown."""

from __future__ import annotations

import sys
import tomllib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.targets import serving

from stress.history import load_history
from stress.launcher import free_port

from .conftest import CliRunner

pytestmark = pytest.mark.integration

# The aliases (`tokens:`) give the login's and the refresh's answers one token path.
SCENARIO = '''\
name = "graphql"
[target]
kind = "json"
base_url = "URL"
resource = "/graphql?query=%7Bme%7Bemail%7D%7D"
access_token_path = "data.tokens.accessToken"
refresh_token_path = "data.tokens.refreshToken"
[target.login]
path = "/graphql"
[target.login.json]
query = """mutation($email: String!, $password: String!) {
  tokens: login(email: $email, password: $password) { accessToken refreshToken } }"""
variables = { email = "{username}", password = "{password}" }
[target.refresh]
path = "/graphql"
[target.refresh.json]
query = """mutation($token: String!) {
  tokens: refresh(token: $token) { accessToken refreshToken } }"""
variables = { token = "{refresh_token}" }
[auth]
username = "user{n}@example.com"
password_env = "APP_PASSWORD"
[policy]
kind = "strict"
[run]
sessions = 2
op_timeout_seconds = 5
max_seconds = 30
[[steps]]
op = "login"
[[steps]]
op = "use"
[[steps]]
op = "refresh"
parallel = 4
profile = "multi-tab"
[[steps]]
op = "use"
'''


@pytest.fixture
def graphql_api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "tests.targets.graphql_api", "--port", str(port)]
    argv += ["--unexpected"] if request.param == "unexpected" else []
    with serving(argv, port, tmp_path / "graphql.log", name="graphql api") as url:
        yield url


@pytest.mark.parametrize("graphql_api", ["coded"], indirect=True)
def test_a_refusal_answered_200_with_errors_is_a_refusal(
    cli: CliRunner, tmp_path: Path, graphql_api: str
) -> None:
    scenario = tmp_path / "graphql.toml"
    scenario.write_text(SCENARIO.replace("URL", graphql_api))
    ran = cli("run", str(scenario), env={"APP_PASSWORD": "hunter2"})
    assert ran.code == 1, ran.stdout + ran.stderr
    assert ran.report is not None
    assert {f["checker"] for f in ran.report["findings"]} == {"self-inflicted-logout"}
    history = load_history(tmp_path / "history.jsonl")
    refused = [op for op in history if op.type == "fail" and op.kind == "refresh"]
    assert len(refused) == 6  # each session's three losers
    assert {op.error for op in refused} == {"UNAUTHENTICATED"}
    uses = [op for op in history if op.kind == "use" and op.type != "invoke"]
    assert [op.status for op in uses] == [200] * 4
    assert sorted(op.type for op in uses) == ["fail", "fail", "ok", "ok"]


@pytest.mark.parametrize("graphql_api", ["unexpected"], indirect=True)
def test_an_error_the_server_did_not_expect_is_unknown(
    cli: CliRunner, tmp_path: Path, graphql_api: str
) -> None:
    """Apollo's INTERNAL_SERVER_ERROR says nothing of what the resolver consumed: the loser
    refused so is unknown, never a refusal (the ones after it, refused for the family it
    revoked, are refusals); the family's death is still seen at the next use. The API is used
    by a POSTed query here (``[target.use]``), as Apollo Server wants one."""
    scenario = tmp_path / "graphql.toml"
    posted = SCENARIO.replace('resource = "/graphql?query=%7Bme%7Bemail%7D%7D"\n', "").replace(
        "[auth]", '[target.use]\npath = "/graphql"\njson = { query = "{ me { email } }" }\n[auth]'
    )
    scenario.write_text(posted.replace("URL", graphql_api))
    ran = cli("run", str(scenario), env={"APP_PASSWORD": "hunter2"})
    history = load_history(tmp_path / "history.jsonl")
    members = [op for op in history.operations() if op.kind == "refresh" and op.burst is not None]
    losers = [op for op in members if op.outcome != "ok"]
    assert Counter((op.outcome, op.error) for op in losers) == {
        ("info", "INTERNAL_SERVER_ERROR"): 2,
        ("fail", "UNAUTHENTICATED"): 4,
    }
    assert ran.code == 1, ran.stdout + ran.stderr
    assert ran.report is not None
    assert {f["checker"] for f in ran.report["findings"]} == {"self-inflicted-logout"}
    uses = [op for op in history.operations() if op.kind == "use"]
    assert sorted(op.outcome for op in uses) == ["fail", "fail", "ok", "ok"]
    assert history.header.requests["use"].method == "POST"  # the query, POSTed


LOGIN = (
    '{"query": "mutation($email: String!, $password: String!) { tokens: login(email: $email, '
    'password: $password) { accessToken refreshToken } }", '
    '"variables": {"email": "{username}", "password": "{password}"}}'
)
REFRESH = (
    '{"query": "mutation($token: String!) { tokens: refresh(token: $token) { accessToken '
    'refreshToken } }", "variables": {"token": "{refresh_token}"}}'
)
LOGOUT = (
    '{"query": "mutation($token: String!) { logout(token: $token) }", '
    '"variables": {"token": "{refresh_token}"}}'
)


@pytest.mark.parametrize("graphql_api", ["coded"], indirect=True)
def test_init_learns_a_graphql_api_from_the_bodies_given(
    cli: CliRunner, tmp_path: Path, graphql_api: str
) -> None:
    """The mutations are given (init cannot guess one); init finds the tokens two objects down,
    checks the refresh and the logout work, and the scenario it writes finds the bug."""
    written = tmp_path / "graphql.toml"
    made = cli(
        "init", "--target", graphql_api, "--login-path", "/graphql", "--refresh-path",
        "/graphql", "--revoke-path", "/graphql", "--login-json", LOGIN, "--refresh-json",
        REFRESH, "--revoke-json", LOGOUT, "--resource", "/graphql?query=%7Bme%7Bemail%7D%7D",
        "--username", "user{n}@example.com", "--password-env", "APP_PASSWORD",
        "--policy", "strict", "--yes", "--output", str(written),
        env={"APP_PASSWORD": "hunter2"},
    )  # fmt: skip
    assert made.code == 0, made.stdout + made.stderr
    target = tomllib.loads(written.read_text())["target"]
    assert target["access_token_path"] == "data.tokens.accessToken"
    assert target["refresh_token_path"] == "data.tokens.refreshToken"
    assert target["refresh"]["json"]["variables"] == {"token": "{refresh_token}"}
    assert "logout(token" in target["revoke"]["json"]["query"]
    ran = cli("run", str(written), env={"APP_PASSWORD": "hunter2"})
    assert ran.code == 1, ran.stdout + ran.stderr
    assert ran.report is not None
    assert "self-inflicted-logout" in {f["checker"] for f in ran.report["findings"]}


USE = ("--resource", "/graphql", "--use-json", '{"query": "{ me { email } }"}')


@pytest.mark.parametrize("graphql_api", ["coded"], indirect=True)
def test_init_and_policy_use_the_api_by_posting_a_query(
    cli: CliRunner, tmp_path: Path, graphql_api: str
) -> None:
    """A GraphQL API is called with a POST: --use-json makes `use` that request (the access
    token as a Bearer header) in the scenario init writes and in the policy's measurement,
    whose uses the API answers."""
    custom = ("--target", graphql_api, "--login-path", "/graphql", "--refresh-path", "/graphql",
              "--login-json", LOGIN, "--refresh-json", REFRESH, *USE, "--username",
              "user{n}@example.com", "--password-env", "APP_PASSWORD")  # fmt: skip
    written = tmp_path / "graphql.toml"
    made = cli(
        "init", *custom, "--policy", "strict", "--yes", "--output", str(written),
        env={"APP_PASSWORD": "hunter2"},
    )  # fmt: skip
    assert made.code == 0, made.stdout + made.stderr
    target = tomllib.loads(written.read_text())["target"]
    assert "resource" not in target
    assert target["use"] == {
        "path": "/graphql",
        "method": "POST",
        "json": {"query": "{ me { email } }"},
    }
    assert cli("check", str(written)).code == 0
    history = tmp_path / "policy.jsonl"
    measured = cli("policy", *custom, "--history", str(history), env={"APP_PASSWORD": "hunter2"})
    assert measured.code == 0, measured.stdout + measured.stderr
    assert "refresh_revokes_access = false" in measured.stdout
    uses = [op for op in load_history(history).operations() if op.kind == "use"]
    assert uses
    assert {op.outcome for op in uses} == {"ok"}, [(op.status, op.done) for op in uses]
