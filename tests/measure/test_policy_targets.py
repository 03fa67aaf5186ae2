"""``auth-stress policy`` against the independent behaviour targets: every field it measures.

Each target (tests/targets/oauth_behaviours) models one real server's policy and knows nothing
of the tester. They run with a short grace window, and the command with a short
``--grace-max``, so that the whole file stays fast; the measurements run a few at a time
(each target is its own process, and each measurement only ever talks to its own target).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support.targets import TargetSpec, running_target
from test_init import auth_stress

from stress.measure.result import policy_values
from stress.scenario import load_scenario

from .conftest import PASSWORD_ENV, Measured, run_policy

pytestmark = pytest.mark.integration

GRACE = 0.6
# A burst whose outcome depends on its requests overlapping runs against a round trip far
# longer than its spread (as the verdict tests do).
SLOW = 0.1
FLAGS = ("--client-id", "demo-client", "--resource", "/api/me", "--grace-max", "1.5",
         "--max-seconds", "30")  # fmt: skip

STRICT = {"rotates": True, "replay": "rejected", "grace_seconds": 0, "generations": 0,
          "reuse_revokes": "family", "tolerance_seconds": 0,
          "refresh_revokes_access": False, "use_retires": False, "max_replays": 0}  # fmt: skip
WINDOW = {**STRICT, "replay": "same-pair", "grace_seconds": GRACE, "generations": 1}


@dataclass(frozen=True)
class Case:
    spec: TargetSpec
    fields: dict[str, Any]
    preset: dict[str, Any] | None = None  # the [policy] table, when the fields equal a preset
    burst: dict[str, Any] = field(default_factory=dict)  # burst outcomes that are certain

    @property
    def block(self) -> dict[str, Any]:
        """The [policy] table it writes: the preset, or every field but ``rotates`` (and the
        tolerance and ``max_replays`` when 0, ``use_retires`` when false)."""
        if self.preset is not None:
            return self.preset
        unwritten = {"rotates"} | {
            name
            for name in ("tolerance_seconds", "use_retires", "max_replays")
            if not self.fields[name]
        }
        return {k: v for k, v in self.fields.items() if k not in unwritten}


IDEMPOTENT = {"kind": "idempotent", "grace_seconds": GRACE}
USED = {**STRICT, "replay": "new-pair", "grace_seconds": 1.5, "generations": 4,
        "reuse_revokes": "nothing", "use_retires": True}  # fmt: skip
# Keycloak's default: a new refresh token at every refresh, and every old one still valid.
REISSUE = TargetSpec("reissue")
CASES = {
    "strict-revoke-family": Case(
        TargetSpec("strict-revoke-family"), STRICT, {"kind": "strict"},
        {"winners": 1, "rejected": 7, "survived": False},
    ),
    "strict-same-pair": Case(
        TargetSpec("strict-same-pair", db_latency=SLOW), STRICT, {"kind": "strict"},
        {"winners": 8, "distinct_pairs": 1, "survived": True},
    ),
    "strict-tolerant": Case(
        TargetSpec("strict-tolerant", grace=GRACE), {**STRICT, "tolerance_seconds": GRACE},
        {"kind": "strict", "tolerance_seconds": GRACE},
        {"winners": 1, "rejected": 7, "survived": True},
    ),
    "idempotent": Case(
        TargetSpec("idempotent", grace=GRACE), WINDOW, IDEMPOTENT,
        {"winners": 8, "distinct_pairs": 1, "survived": True},
    ),
    "idempotent-user": Case(
        TargetSpec("idempotent", grace=GRACE, reuse_revokes="user"),
        {**WINDOW, "reuse_revokes": "user"},
    ),
    "idempotent-nothing": Case(
        TargetSpec("idempotent", grace=GRACE, reuse_revokes="nothing"),
        {**WINDOW, "reuse_revokes": "nothing"},
    ),
    "overlap": Case(
        TargetSpec("overlap", grace=GRACE), {**WINDOW, "replay": "new-pair"},
        {"kind": "overlap", "grace_seconds": GRACE},
        {"winners": 8, "distinct_pairs": 8, "survived": True},
    ),
    # Keycloak's "Refresh Token Max Reuse": two replays, and the third is reuse.
    "overlap-max-replays": Case(
        TargetSpec("overlap", grace=GRACE, replays=2),
        {**WINDOW, "replay": "new-pair", "max_replays": 2},
    ),
    "access-only": Case(
        TargetSpec("access-only", grace=GRACE), {**WINDOW, "replay": "access-only"},
        burst={"winners": 8, "distinct_pairs": 1, "access_only": 7, "survived": True},
    ),
    "generations": Case(
        TargetSpec("generations", grace=GRACE, generations=2), {**WINDOW, "generations": 2},
    ),
    "last-write-wins": Case(
        TargetSpec("last-write-wins"), {**STRICT, "reuse_revokes": "nothing"},
        burst={"survived": True},
    ),
    "revoke-access-on-refresh": Case(
        TargetSpec("revoke-access-on-refresh", grace=GRACE),
        {**WINDOW, "refresh_revokes_access": True},
    ),
    # Doorkeeper: no window's end up to --grace-max, yet no "none": a use of the new access
    # token retires the predecessor, and a reuse after it revokes nothing.
    "revoke-on-use": Case(
        TargetSpec("revoke-on-use"), USED,
        burst={"winners": 8, "distinct_pairs": 8, "survived": True, "outlived_use": 7},
    ),
    # ...and the same server retiring the other siblings at that use.
    "revoke-on-use-siblings": Case(
        TargetSpec("revoke-on-use-siblings"), USED,
        burst={"winners": 8, "distinct_pairs": 8, "survived": True, "outlived_use": 0},
    ),
}  # fmt: skip

EXPECT = """
name = "{name}"

[target]
kind = "oauth2"
base_url = "{url}"
client_id = "demo-client"
resource = "/api/me"

[auth]
username = "user{{n}}"
password_env = "AUTH_STRESS_PASSWORD"

[policy]
{policy}

[[steps]]
op = "login"
"""


@dataclass
class Measurements:
    urls: dict[str, str]
    results: dict[str, Measured]
    workdir: Path


def _scenario(workdir: Path, name: str, url: str, policy: str) -> Path:
    path = workdir / f"{name}.toml"
    path.write_text(EXPECT.format(name=name, url=url, policy=policy))
    return path


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Measurements]:
    """Every target running, measured three at a time; plus two ``--expect`` runs."""
    workdir = tmp_path_factory.mktemp("policy-targets")
    with ExitStack() as stack:
        urls = {
            name: stack.enter_context(running_target(case.spec, workdir / f"{name}.log"))
            for name, case in CASES.items()
        }
        jobs: dict[str, tuple[str, ...]] = {
            name: ("--target", url, *FLAGS, "--write", str(workdir / f"{name}-policy.toml"))
            for name, url in urls.items()
        }
        urls["reissue"] = stack.enter_context(running_target(REISSUE, workdir / "reissue.log"))
        jobs["reissue"] = (
            "--target", urls["reissue"], *FLAGS, "--write", str(workdir / "reissue-policy.toml"),
        )  # fmt: skip
        unrotated = _scenario(workdir, "unrotated", urls["reissue"], 'kind = "none"')
        jobs["expect-none"] = (
            str(unrotated), "--expect", str(unrotated), "--grace-max", "1.5", "--max-seconds", "30",
        )  # fmt: skip
        url = urls["idempotent"]
        agreeing = _scenario(
            workdir, "agrees", url, f'kind = "idempotent"\ngrace_seconds = {GRACE}'
        )
        drifted = _scenario(workdir, "drifted", url, 'kind = "strict"')
        jobs["expect-agrees"] = (
            str(agreeing),
            "--expect",
            str(agreeing),
            "--grace-max",
            "1.5",
            "--max-seconds",
            "30",
        )
        jobs["expect-drifted"] = (
            str(agreeing),
            "--expect",
            str(drifted),
            "--grace-max",
            "1.5",
            "--max-seconds",
            "30",
        )
        with ThreadPoolExecutor(max_workers=3) as pool:
            futures = {name: pool.submit(run_policy, workdir, *args) for name, args in jobs.items()}
            results = {name: future.result() for name, future in futures.items()}
        yield Measurements(urls, results, workdir)


@pytest.mark.parametrize("name", list(CASES))
def test_every_field_is_measured_as_the_target_behaves(measured: Measurements, name: str) -> None:
    case, result = CASES[name], measured.results[name]
    assert result.code == 0, result.stdout + result.stderr
    assert result.unmeasured() == set(), result.stdout
    fields = result.fields()
    expected = dict(case.fields)
    assert result.measurement is not None
    # A window or a tolerance is right to within its search's resolution.
    for name, bracket in (("grace_seconds", "grace"), ("tolerance_seconds", "tolerance")):
        found, want = fields.pop(name), expected.pop(name)
        resolution = result.measurement[bracket]["resolution"] if want else 0
        assert abs(found - want) <= resolution + 1e-9, result.stdout
    assert fields == expected, result.stdout
    burst = result.measurement["burst"]
    assert {key: burst[key] for key in case.burst} == case.burst, burst["summary"]


@pytest.mark.parametrize("name", list(CASES))
def test_the_written_block_is_the_policy_and_a_scenario_accepts_it(
    measured: Measurements, name: str
) -> None:
    case, result = CASES[name], measured.results[name]
    assert result.code == 0, result.stdout + result.stderr
    text = (measured.workdir / f"{name}-policy.toml").read_text()
    assert text.startswith("[policy]\n# Measured by `auth-stress policy` against")
    block = tomllib.loads(text)["policy"]
    want = dict(case.block)
    for seconds in ("grace_seconds", "tolerance_seconds"):
        if want.get(seconds):
            assert abs(block.pop(seconds) - want.pop(seconds)) <= 0.1 + 1e-9, text
    assert block == want
    scenario = _scenario(measured.workdir, f"loads-{name}", measured.urls[name], "")
    scenario.write_text(scenario.read_text().replace("[policy]\n", text))
    # The block is the measured policy to the letter: every field, the grace as measured.
    assert policy_values(load_scenario(scenario).policy.model()) == result.fields()


def test_a_target_that_rejects_no_replay_is_said_to_maybe_retire_nothing(
    measured: Measurements,
) -> None:
    result = measured.results["reissue"]
    assert result.code == 0, result.stdout + result.stderr
    assert result.measurement is not None
    fields = {f["name"]: f for f in result.measurement["fields"]}
    assert (fields["replay"]["value"], fields["generations"]["value"]) == ("new-pair", 4)
    assert fields["grace_seconds"]["lower_bound"]
    assert fields["generations"]["lower_bound"]
    assert result.unmeasured() == {"reuse_revokes", "tolerance_seconds"}
    assert "note: no replay was rejected" in result.stdout
    assert 'kind = "none" describes it' in result.stdout
    text = (measured.workdir / "reissue-policy.toml").read_text()
    comments = [line for line in text.splitlines() if line.startswith("#")]
    start = next(i for i, c in enumerate(comments) if c.startswith("# No replay was rejected"))
    note = comments[start:]
    assert len(note) > 1, text
    assert max(map(len, note)) <= 95, text
    assert tomllib.loads(text)["policy"]["replay"] == "new-pair"  # the fields stay as measured


def test_no_rotation_declared_agrees_with_a_target_that_rejects_no_replay(
    measured: Measurements,
) -> None:
    result = measured.results["expect-none"]
    assert result.code == 0, result.stdout + result.stderr
    assert "policy agrees with" in result.stdout
    assert "the target may retire no refresh token" in result.stdout


def test_each_field_comes_with_the_ops_that_show_it(measured: Measurements) -> None:
    result = measured.results["strict-revoke-family"]
    assert result.measurement is not None
    reuse = next(f for f in result.measurement["fields"] if f["name"] == "reuse_revokes")
    summaries = [e["summary"] for e in reuse["evidence"]]
    assert [s.split(" (")[0] for s in summaries] == ["refresh", "probe", "probe"]
    assert "-> fail 400 invalid_grant" in summaries[1]
    assert "-> ok 200" in summaries[2]  # the user's other session survived: the family only
    for line in (f"#{e['op']} {e['summary']}" for e in reuse["evidence"]):
        assert line in result.stdout
    assert 'reuse_revokes = "family"' in result.stdout
    assert '[policy]\nkind = "strict"' in result.stdout


def test_expect_exits_0_when_the_declared_policy_agrees(measured: Measurements) -> None:
    result = measured.results["expect-agrees"]
    assert result.code == 0, result.stdout + result.stderr
    assert "policy agrees with" in result.stdout


def test_expect_exits_1_naming_each_drifted_field(measured: Measurements) -> None:
    result = measured.results["expect-drifted"]
    assert result.code == 1, result.stdout + result.stderr
    assert "policy drift" in result.stdout
    drifted = [
        line.strip().split(":")[0]
        for line in result.stdout.splitlines()
        if line.startswith("  ") and ": measured " in line
    ]
    assert drifted == ["replay", "grace_seconds", "generations"], result.stdout


def test_init_writes_the_measured_policy_with_when_it_was_measured(
    measured: Measurements, tmp_path: Path
) -> None:
    out = tmp_path / "starter.toml"
    made = auth_stress(
        "init", "--target", measured.urls["generations"], "--output", str(out), "--client-id",
        "demo-client", "--resource", "/api/me", "--grace-max", "1.5", "--yes",
        cwd=tmp_path, env=PASSWORD_ENV,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    assert "measured: replay same-pair" in made.stderr
    text = out.read_text()
    assert "# Measured by `auth-stress policy` against" in text
    policy = load_scenario(out).policy.model()
    assert (policy.replay, policy.generations, policy.reuse_revokes) == ("same-pair", 2, "family")
    assert abs(policy.grace_seconds - GRACE) <= 0.1 + 1e-9
    assert list((tmp_path / "runs").glob("*-policy/history.jsonl"))  # its history is kept
