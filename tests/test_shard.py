"""Shards split a run by session, deterministically and exactly; fingerprint keys agree."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from stress.cli.run import parse_start_at
from stress.fingerprint import Fingerprinter, key_check, run_key
from stress.scenario import LoadStep, load_scenario
from stress.shard import Shard, parse_shard, shard_from_env

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"


@pytest.mark.parametrize(("total", "count"), [(16, 4), (10, 3), (5, 5), (100_000, 7)])
def test_the_shards_tile_the_sessions(total: int, count: int) -> None:
    parts = [Shard(i, count).share(total) for i in range(1, count + 1)]
    assert [n for part in parts for n in part] == list(range(total))
    assert max(map(len, parts)) - min(map(len, parts)) <= 1


def test_a_sharded_scenario_sums_to_the_unsharded_one() -> None:
    soak = load_scenario(SCENARIOS / "soak.toml")
    steps = [msgspec.structs.replace(s, rate=90.0) if isinstance(s, LoadStep) else s
             for s in soak.steps]  # fmt: skip
    soak = msgspec.structs.replace(soak, steps=steps)
    parts = [Shard(i, 3).apply(soak) for i in range(1, 4)]
    assert sum(p.run.sessions for p in parts) == soak.run.sessions
    assert sum(p.run.max_ops for p in parts) == soak.run.max_ops
    rates = [s.rate for p in parts for s in p.steps if isinstance(s, LoadStep) and s.rate]
    whole = [s.rate for s in soak.steps if isinstance(s, LoadStep) and s.rate]
    assert whole
    assert sum(rates) == pytest.approx(sum(whole))
    assert Shard(1, 1).apply(soak) is soak


def test_more_shards_than_sessions_is_refused() -> None:
    burst = load_scenario(SCENARIOS / "multi-tab-burst.toml")
    with pytest.raises(ValueError, match="16 sessions, fewer than 17 shards"):
        Shard(17, 17).apply(burst)


@pytest.mark.parametrize(
    ("text", "message"),
    [("0/4", "index 1 to 4"), ("5/4", "index 1 to 4"), ("x", "expected I/N"), ("1/0", "count")],
)
def test_bad_shards_say_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_shard(text)


def test_an_indexed_job_names_its_shard_from_zero() -> None:
    assert parse_shard("2/4") == Shard(2, 4)
    assert shard_from_env({"JOB_COMPLETION_INDEX": "0", "AUTH_STRESS_SHARDS": "4"}) == Shard(1, 4)
    assert shard_from_env({}) is None
    with pytest.raises(ValueError, match="AUTH_STRESS_SHARDS is not"):
        shard_from_env({"JOB_COMPLETION_INDEX": "3"})
    with pytest.raises(ValueError, match="index 1 to 4"):
        shard_from_env({"JOB_COMPLETION_INDEX": "4", "AUTH_STRESS_SHARDS": "4"})


def test_shards_of_one_run_fingerprint_alike_and_other_keys_differ() -> None:
    one, other = Fingerprinter(run_key("r1", "s")), Fingerprinter(run_key("r1", "s"))
    assert one("token") == other("token")
    assert one("token") != Fingerprinter(run_key("r1", "other secret"))("token")
    assert one("token") != Fingerprinter(run_key("r2", "s"))("token")
    assert one("token") != Fingerprinter(run_key("r1", None))("token")
    # The key check names the key without giving it away or matching a fingerprint.
    assert one.key_check == other.key_check == key_check(run_key("r1", "s"))
    assert one.key_check != Fingerprinter(run_key("r1", None)).key_check
    assert len(one.key_check) == 16


def test_a_start_time_is_unix_seconds_or_iso_with_a_zone_at_most_a_day_ahead() -> None:
    now = 1_800_000_000.0
    assert parse_start_at("1800000010.5", now) == 1_800_000_010.5
    assert parse_start_at("2027-01-15T08:00:00Z", now) == 1_800_000_000.0
    assert parse_start_at("2027-01-15T09:00:00+01:00", now) == 1_800_000_000.0
    assert parse_start_at("1000", now) == 1000.0  # past: the run starts at once, warned
    for text, message in [
        ("soon", "expected unix seconds or an ISO-8601"),
        ("2027-01-15T08:00:00", "give a time zone"),
        (str(now + 2 * 86_400), "more than 24 hours away"),
        ("inf", "more than 24 hours away"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_start_at(text, now)
