"""Reading the policy a target publishes in its metadata (an optional vendor extension)."""

from __future__ import annotations

import logging

import pytest

from stress.discovery import published_policy
from stress.policy import preset, resolve_policy


def test_the_reference_servers_extension_reads_as_its_preset() -> None:
    metadata = {
        "x_refresh_token_rotation": {
            "policy": "idempotent",
            "grace_seconds": 2,
            "strategy": "atomic",
        }
    }
    assert published_policy(metadata) == preset("idempotent", 2.0)
    strict = {"x_refresh_token_rotation": {"policy": "strict", "grace_seconds": 0}}
    assert published_policy(strict) == preset("strict")


def test_explicit_fields_are_read_too() -> None:
    metadata = {
        "x_refresh_token_rotation": {
            "replay": "access-only",
            "grace_seconds": 30,
            "reuse_revokes": "user",
        }
    }
    expected = resolve_policy(replay="access-only", grace_seconds=30, reuse_revokes="user")
    assert published_policy(metadata) == expected


def test_a_target_that_publishes_nothing_has_no_published_policy() -> None:
    assert published_policy({"token_endpoint": "/oauth/token"}) is None


@pytest.mark.parametrize(
    "extension",
    [
        "idempotent",
        {"policy": "sometimes"},
        {"policy": "strict", "grace_seconds": 5},
        {"policy": "idempotent", "grace_seconds": "2"},
    ],
)
def test_an_unreadable_extension_is_ignored_with_a_warning(
    extension: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="stress.discovery"):
        assert published_policy({"x_refresh_token_rotation": extension}) is None
    assert "ignoring the published policy" in caplog.text
