"""Settings reach granian's worker processes through the environment and must come back equal."""

from __future__ import annotations

import pytest

from reference_server.settings import Settings, SettingsError, Strategy


def test_every_field_survives_the_environment() -> None:
    settings = Settings(
        redis_url="redis://127.0.0.1:1/0",
        strategy=Strategy.REDIS_LOCK,
        grace=0.25,
        access_ttl=60,
        inject_delay_ms=7,
        inject_unpublished_key=True,
        signing_key_path="/tmp/key.pem",
        redis_timeout=0.5,
        redis_cluster=True,
        body_timeout=2.5,
        max_concurrent_requests=64,
    )
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings.from_env(Settings(redis_url="r").to_env()).inject_unpublished_key is False


def test_grace_must_be_shorter_than_the_refresh_lifetime() -> None:
    with pytest.raises(SettingsError, match="grace"):
        Settings(redis_url="r", grace=10, refresh_ttl=10)


@pytest.mark.parametrize(
    ("option", "value"), [("body_timeout", 0.0), ("max_concurrent_requests", 3)]
)
def test_limits_must_leave_room_to_work(option: str, value: float) -> None:
    with pytest.raises(SettingsError, match=option):
        Settings(redis_url="r", **{option: value})  # type: ignore[arg-type]
