"""The measurement's policy, its [policy] block, its JSON, and comparing it with a declared one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stress.cli.policy import retirement_note
from stress.measure.drift import differences, drift
from stress.measure.result import (
    FIELDS,
    FieldResult,
    FieldValue,
    GraceBracket,
    Measurement,
    measurement_json,
    policy_toml,
)
from stress.policy import Policy, preset, resolve_policy
from stress.scenario import load_scenario

SCENARIO = """
name = "written"

[target]
kind = "oauth2"
base_url = "http://127.0.0.1:8000"

[auth]
password = "password"

{policy}
[[steps]]
op = "login"
"""


def _measurement(
    values: dict[str, FieldValue],
    *,
    unmeasured: frozenset[str] = frozenset(),
    lower: frozenset[str] = frozenset(),
    resolution: float = 0.1,
) -> Measurement:
    defaults: dict[str, FieldValue] = {
        "rotates": True,
        "replay": "same-pair",
        "grace_seconds": 2.0,
        "generations": 1,
        "reuse_revokes": "family",
        "tolerance_seconds": 0.0,
        "refresh_revokes_access": False,
        "use_retires": False,
        "max_replays": 0,
    }
    fields = [
        FieldResult(
            name=name,
            value={**defaults, **values}[name],
            measured=name not in unmeasured,
            why="",
            lower_bound=name in lower,
        )
        for name in FIELDS
    ]
    bracket = GraceBracket(accepted_at=1.95, rejected_at=2.05, resolution=resolution, grace_max=10)
    spared = GraceBracket(accepted_at=0.95, rejected_at=1.1, resolution=resolution, grace_max=10)
    return Measurement(
        target="http://127.0.0.1:8000/",
        measured_at="2025-01-01T00:00:00Z",
        seconds=1.0,
        requests=10,
        history="h.jsonl",
        end="completed",
        fields=fields,
        grace=bracket,
        tolerance=spared,
    )


@pytest.mark.parametrize(
    ("values", "policy"),
    [
        ({}, preset("idempotent", 2.0)),
        ({"replay": "new-pair"}, preset("overlap", 2.0)),
        ({"replay": "rejected", "grace_seconds": 0.0, "generations": 0}, preset("strict")),
        ({"rotates": False}, preset("none")),
        (
            {"replay": "access-only", "grace_seconds": 0.6},
            resolve_policy(replay="access-only", grace_seconds=0.6),
        ),
        ({"generations": 2}, resolve_policy(replay="same-pair", grace_seconds=2, generations=2)),
        (
            {
                "replay": "rejected",
                "grace_seconds": 0.0,
                "generations": 0,
                "reuse_revokes": "nothing",
            },
            resolve_policy(reuse_revokes="nothing"),
        ),
        (
            {"refresh_revokes_access": True},
            resolve_policy("idempotent", grace_seconds=2, refresh_revokes_access=True),
        ),
        (
            {"replay": "rejected", "grace_seconds": 0.0, "generations": 0, "tolerance_seconds": 1},
            resolve_policy("strict", tolerance_seconds=1),
        ),
        (
            {"replay": "access-only", "tolerance_seconds": 3.5},
            resolve_policy(replay="access-only", grace_seconds=2, tolerance_seconds=3.5),
        ),
    ],
)
def test_the_written_block_loads_as_the_measured_policy(
    tmp_path: Path, values: dict[str, FieldValue], policy: Policy
) -> None:
    measured = _measurement(values).policy()
    assert measured == policy
    block = policy_toml(measured, ["measured, for a test"])
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO.format(policy=block))
    assert load_scenario(path).policy.model() == policy


def test_a_preset_is_written_by_its_name_and_other_policies_field_by_field() -> None:
    assert (
        policy_toml(preset("idempotent", 2.0))
        == '[policy]\nkind = "idempotent"\ngrace_seconds = 2\n'
    )
    assert policy_toml(preset("strict"), ["why"]) == '[policy]\n# why\nkind = "strict"\n'
    custom = policy_toml(resolve_policy(replay="access-only", grace_seconds=0.6))
    assert custom.splitlines()[1:] == [
        'replay = "access-only"',
        "grace_seconds = 0.6",
        "generations = 1",
        'reuse_revokes = "family"',
        "refresh_revokes_access = false",
    ]
    tolerant = policy_toml(resolve_policy("strict", tolerance_seconds=1.5))
    assert tolerant == '[policy]\nkind = "strict"\ntolerance_seconds = 1.5\n'


def test_the_json_carries_fields_bracket_and_block() -> None:
    document = json.loads(measurement_json(_measurement({})))
    assert [f["name"] for f in document["fields"]] == list(FIELDS)
    assert document["grace"]["accepted_at"] == 1.95
    assert document["policy"]["preset"] == "idempotent"
    assert document["policy"]["toml"].startswith("[policy]\n")


# -- drift ----------------------------------------------------------------------------------------


def test_a_grace_within_the_resolution_agrees() -> None:
    measured = _measurement({"grace_seconds": 2.0}, resolution=0.2)
    assert drift(measured, preset("idempotent", 2.15)) == ([], [])
    drifts, _ = drift(measured, preset("idempotent", 2.5))
    assert [d.describe() for d in drifts] == ["grace_seconds: measured 2, declared 2.5"]


def test_every_differing_field_is_listed() -> None:
    drifts, _ = drift(_measurement({}), preset("strict"))
    assert [d.field for d in drifts] == ["replay", "grace_seconds", "generations"]


def test_a_lower_bound_agrees_with_any_larger_declaration() -> None:
    measured = _measurement(
        {"grace_seconds": 10.0, "generations": 4}, lower=frozenset({"grace_seconds", "generations"})
    )
    declared = resolve_policy(replay="same-pair", grace_seconds=60, generations=5)
    assert drift(measured, declared)[0] == []
    smaller = resolve_policy(replay="same-pair", grace_seconds=5, generations=3)
    assert [d.field for d in drift(measured, smaller)[0]] == ["grace_seconds", "generations"]


def test_an_unmeasured_field_is_not_compared_and_says_so() -> None:
    measured = _measurement({}, unmeasured=frozenset({"refresh_revokes_access"}))
    declared = resolve_policy("idempotent", grace_seconds=2, refresh_revokes_access=True)
    drifts, skipped = drift(measured, declared)
    assert drifts == []
    assert [s.split(":")[0] for s in skipped] == ["refresh_revokes_access"]


def test_published_and_declared_policies_compare_exactly() -> None:
    found = differences(preset("idempotent", 5.0), preset("idempotent", 2.0))
    assert [d.describe("published") for d in found] == ["grace_seconds: published 5, declared 2"]
    assert differences(preset("strict"), preset("strict")) == []


def test_a_tolerance_is_compared_only_where_it_outlasts_the_window() -> None:
    # Within a 2 s window a 1 s tolerance changes nothing: no drift either way.
    published = resolve_policy("idempotent", grace_seconds=2, tolerance_seconds=1)
    assert differences(published, preset("idempotent", 2.0)) == []
    strict = resolve_policy("strict", tolerance_seconds=1)
    found = differences(strict, preset("strict"))
    described = [d.describe("published") for d in found]
    assert described == ["tolerance_seconds: published 1, declared 0"]


def test_a_measured_tolerance_agrees_within_its_resolution() -> None:
    strict = {"replay": "rejected", "grace_seconds": 0.0, "generations": 0}
    measured = _measurement({**strict, "tolerance_seconds": 1.0}, resolution=0.1)
    assert drift(measured, resolve_policy("strict", tolerance_seconds=1.05)) == ([], [])
    drifts, _ = drift(measured, preset("strict"))
    assert [d.describe() for d in drifts] == ["tolerance_seconds: measured 1, declared 0"]


@pytest.mark.parametrize(
    ("lower", "retires_nothing"),
    [
        (frozenset({"grace_seconds", "generations"}), True),
        (frozenset({"grace_seconds"}), False),  # an older generation was rejected
        (frozenset({"generations"}), False),  # the window closed
        (frozenset(), False),
    ],
)
def test_a_target_retires_nothing_only_when_no_search_found_a_rejection(
    lower: frozenset[str], retires_nothing: bool
) -> None:
    values: dict[str, FieldValue] = {"replay": "new-pair", "grace_seconds": 10.0, "generations": 4}
    assert _measurement(values, lower=lower).retires_nothing is retires_nothing


@pytest.mark.parametrize(
    ("unmeasured", "hint"),
    [(frozenset({"use_retires"}), True), (frozenset(), False)],
)
def test_a_target_retiring_nothing_is_told_a_use_may_retire_when_none_was_tried(
    unmeasured: frozenset[str], hint: bool
) -> None:
    values: dict[str, FieldValue] = {"replay": "new-pair", "grace_seconds": 10.0, "generations": 4}
    lower = frozenset({"grace_seconds", "generations"})
    note = retirement_note(_measurement(values, lower=lower, unmeasured=unmeasured))
    assert note is not None
    assert note.startswith("no replay was rejected")
    assert ("give --resource" in note) is hint


@pytest.mark.parametrize(
    "values",
    [
        {"rotates": False},
        # The successor already issued, with no end in sight: Supabase Auth's parent rule.
        {"replay": "same-pair", "grace_seconds": 10.0, "generations": 4},
        # Doorkeeper: no end in sight, but a use of the new access token ends the window.
        {"replay": "new-pair", "grace_seconds": 10.0, "generations": 4, "use_retires": True},
    ],
)
def test_no_rotation_and_a_replayed_successor_are_not_said_to_retire_nothing(
    values: dict[str, FieldValue],
) -> None:
    lower = frozenset({"grace_seconds", "generations"})
    assert not _measurement(values, lower=lower).retires_nothing


def test_a_declared_no_rotation_agrees_with_a_target_that_rejected_no_replay() -> None:
    values: dict[str, FieldValue] = {"replay": "new-pair", "grace_seconds": 10.0, "generations": 4}
    measured = _measurement(values, lower=frozenset({"grace_seconds", "generations"}))
    drifts, skipped = drift(measured, preset("none"))
    assert drifts == []
    assert skipped == [
        "rotates, replay, grace_seconds, generations, reuse_revokes, tolerance_seconds: not "
        "compared (no replay was rejected, so the target may retire no refresh token, as the "
        "declared no rotation says)"
    ]
    # Whether a refresh revokes the access token is still compared...
    revoking = _measurement(
        {**values, "refresh_revokes_access": True},
        lower=frozenset({"grace_seconds", "generations"}),
    )
    assert [d.field for d in drift(revoking, preset("none"))[0]] == ["refresh_revokes_access"]
    # ...and a window that closed is rotation: no rotation declared is drift.
    closed = _measurement(values, lower=frozenset({"generations"}))
    assert "rotates" in [d.field for d in drift(closed, preset("none"))[0]]


def test_a_declared_replay_limit_is_written_and_loads_back(tmp_path: Path) -> None:
    """Not measured, but a policy that has one (declared, or rebuilt from a history's header)
    writes it, and the block loads as the same policy."""
    policy = resolve_policy("overlap", grace_seconds=30, max_replays=2)
    block = policy_toml(policy)
    assert "max_replays = 2" in block.splitlines()
    path = tmp_path / "scenario.toml"
    path.write_text(SCENARIO.format(policy=block))
    assert load_scenario(path).policy.model() == policy
    assert policy.describe().endswith("at most 2 replay(s)")
