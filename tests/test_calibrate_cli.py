"""``auth-stress calibrate`` as a real process: built-in server, unmeasurable targets, bad usage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.servers import ServerFactory
from typer.testing import CliRunner

from stress.calibrate import Probe
from stress.cli import app
from stress.cli.calibrate import parse_engines, parse_probe, parse_sizes
from stress.launcher import free_port

ROOT = Path(__file__).resolve().parents[1]


def _calibrate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "stress", "calibrate", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
    )


def test_option_parsing() -> None:
    assert parse_sizes("2, 8,32") == (2, 8, 32)
    for bad in ("1", "0,2", "x", "2,,8", "4096"):
        with pytest.raises(ValueError, match="--sizes"):
            parse_sizes(bad)
    assert parse_engines(["last-byte,none", "last-byte"]) == ("last-byte", "none")
    assert parse_engines([]) == ("none", "barrier", "last-byte", "single-packet")
    with pytest.raises(ValueError, match="--engine 'fast'"):
        parse_engines(["fast"])


def test_built_in_server_table_and_json(tmp_path: Path) -> None:
    out = tmp_path / "calibration.json"
    proc = _calibrate(
        "--engine", "last-byte,single-packet", "--sizes", "2,4", "--bursts", "2",
        "--json", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(out.read_text())
    assert doc["built_in"] is True
    rows = [(r["engine"], r["n"]) for r in doc["results"]]
    assert rows == [("last-byte", 2), ("last-byte", 4), ("single-packet", 2), ("single-packet", 4)]
    for row in doc["results"]:
        assert row["errors"] == 0
        assert 0 <= row["arrival_median_us"] <= row["arrival_p95_us"]
        assert row["floor_us"] >= 0
    clock = "kernel" if sys.platform == "linux" else "loop"
    assert {row["arrival_clock"] for row in doc["results"]} == {clock}
    assert doc["floor"]["clock"] == clock
    assert doc["floor"]["per_write_us"] > 0
    assert "arrival median us" in proc.stdout
    assert "loopback floor us" in proc.stdout
    assert "single-packet" in proc.stdout
    text = " ".join(proc.stdout.split())
    if clock == "kernel":
        assert "Arrivals stamped by kernel receive timestamps (SO_TIMESTAMPNS)" in text
    assert "Loopback floor:" in text


def test_unreachable_target_exits_3() -> None:
    proc = _calibrate("--target", f"http://127.0.0.1:{free_port()}/x", "--bursts", "1")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "unreachable" in proc.stderr


@pytest.mark.integration
def test_target_without_arrival_header_exits_3(server_factory: ServerFactory) -> None:
    server = server_factory("atomic", grace=5.0)
    proc = _calibrate("--target", server.url + "/healthz", "--sizes", "2", "--bursts", "1")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "X-Arrival-Ns" in proc.stderr
    assert proc.stdout == ""


def test_probe_parsing() -> None:
    form = parse_probe("post", "grant_type=x", "application/x-www-form-urlencoded")
    assert form == Probe("POST", b"grant_type=x", "application/x-www-form-urlencoded")
    request = form.request("http://127.0.0.1:1/oauth/token")
    assert (request.method, request.body) == ("POST", b"grant_type=x")
    assert request.headers == (("Content-Type", "application/x-www-form-urlencoded"),)
    assert parse_probe("GET", None, None).request("http://127.0.0.1:1/").headers == ()
    with pytest.raises(ValueError, match="--body"):
        parse_probe("GET", "x=1", None)
    with pytest.raises(ValueError, match="--method"):
        parse_probe("TRACE", None, None)


@pytest.mark.integration
def test_post_calibration_against_reference_token_endpoint(
    server_factory: ServerFactory, tmp_path: Path
) -> None:
    # The reference server stamps X-Arrival-Ns only on POST /oauth/token and /oauth/revoke;
    # a made-up refresh token is rejected (400) and the rejection still carries the stamp.
    server = server_factory("atomic", grace=5.0)
    out = tmp_path / "post.json"
    proc = _calibrate(
        "--target", server.url + "/oauth/token",
        "--method", "POST",
        "--body", "grant_type=refresh_token&refresh_token=calibration",
        "--content-type", "application/x-www-form-urlencoded",
        "--engine", "last-byte", "--sizes", "2", "--bursts", "2", "--json", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    doc = json.loads(out.read_text())
    assert (doc["built_in"], doc["method"]) == (False, "POST")
    (row,) = doc["results"]
    assert (row["engine"], row["n"], row["errors"]) == ("last-byte", 2, 0)
    assert row["arrival_clock"] == "target"  # the reference server stamps in its own loop
    assert row["arrival_median_us"] is not None
    assert 0 <= row["arrival_median_us"] <= row["arrival_p95_us"]
    assert "(POST)" in proc.stdout


@pytest.mark.integration
def test_get_on_token_endpoint_suggests_post(server_factory: ServerFactory) -> None:
    server = server_factory("atomic", grace=5.0)
    proc = _calibrate("--target", server.url + "/oauth/token", "--sizes", "2", "--bursts", "1")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "--method POST" in " ".join(proc.stderr.split())


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--body", "x=1"), "--body"),
        (("--method", "TRACE"), "--method"),
        (("--sizes", "2,abc"), "--sizes"),
        (("--engine", "warp"), "--engine"),
        (("--target", "ftp://127.0.0.1/"), "--target"),
        (("--bursts", "0"), "--bursts"),
    ],
)
def test_usage_errors_exit_2(args: tuple[str, ...], message: str) -> None:
    # Usage is checked before anything starts, so the command runs in-process here.
    result = CliRunner().invoke(app, ["calibrate", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
