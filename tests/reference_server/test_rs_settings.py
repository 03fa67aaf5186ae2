"""Settings reach granian's worker processes through the environment and must come back equal."""

from __future__ import annotations

import pytest

from reference_server.settings import Settings, SettingsError, Strategy


def test_every_field_survives_the_environment() -> None:
    settings = Settings(
        redis_url="redis://127.0.0.1:1/0",
        strategy=Strategy.REDIS_LOCK,
        grace=0.25,
        tolerance=0.75,
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


@pytest.mark.parametrize("option", ["grace", "tolerance"])
def test_windows_must_be_shorter_than_the_refresh_lifetime(option: str) -> None:
    with pytest.raises(SettingsError, match=f"{option} must be shorter than refresh_ttl"):
        Settings(redis_url="r", refresh_ttl=10, **{option: 10})  # type: ignore[arg-type]


@pytest.mark.parametrize("option", ["grace", "tolerance"])
def test_windows_must_not_be_negative(option: str) -> None:
    with pytest.raises(SettingsError, match=f"{option} must be >= 0"):
        Settings(redis_url="r", **{option: -0.1})  # type: ignore[arg-type]


def test_the_tolerance_in_milliseconds() -> None:
    assert Settings(redis_url="r").tolerance_ms == 1000
    assert Settings(redis_url="r", tolerance=0.3).tolerance_ms == 300


@pytest.mark.parametrize(
    ("option", "value"), [("body_timeout", 0.0), ("max_concurrent_requests", 3)]
)
def test_limits_must_leave_room_to_work(option: str, value: float) -> None:
    with pytest.raises(SettingsError, match=option):
        Settings(redis_url="r", **{option: value})  # type: ignore[arg-type]
