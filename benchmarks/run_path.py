"""Benchmark: tester CPU per op of the full-fidelity run path beside the bare engine.

Why this script exists: a load step's op costs more tester CPU than a bare request of the
wire client, because the run path also records it (invoke and completion, fingerprints, JWT
claims, a JSONL line each); the goal is at most 100 us per op. One run starts one embedded
Redis and one reference server (``atomic``, one worker) on 127.0.0.1 and measures, one after
the other in the same minute, each in a fresh child process that measures its own
``getrusage(RUSAGE_SELF)`` CPU over the measured window only:

- **bare healthz**: :class:`stress.wire.WireClient`, ``--concurrency`` tasks looping
  ``GET /healthz`` (the sustained-load engine's own cost, as in ``throughput.py``);
- **bare mix**: the same client doing what a load step does, minimally: each task logs in,
  then loops refresh (POST the form, ``json.loads`` the answer, keep the new token) and use
  (``GET /api/me`` with the bearer token) in the mix 2:3, recording nothing;
- **run path** (and **run-path-unverified**, the same without a JWKS, so access tokens are
  read but their signatures not checked): what ``auth-stress run`` drives for a closed-model
  load step with the same sessions, the same mix and no think time (the driver, the
  recorder, fingerprints, claims, the history streamed to a JSONL file), CPU over the load
  only (read from the progress callback, after the logins and a warm-up); discovery, the
  logins and judging the history afterwards are not included (see ``analyze.py``).

The server shares the two cores with the tester, so rates mostly say how fast it answered;
CPU per op is the figure to compare, within one run. ``--rounds`` repeats the three back to
back; the table shows each round and the median. ``--baseline DIR`` adds another checkout's
run path (e.g. the one before a change) to every round, measured right before this one's, so
a before/after difference is not the machine's load changing between two runs.

Usage::

    .venv/bin/python benchmarks/run_path.py [--seconds 10] [--concurrency 32] [--rounds 3]
        [--source DIR] [--baseline DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# ``--source DIR`` measures another checkout's tester (e.g. the one before a change): its child
# processes import ``stress`` from there.
SOURCE_ENV = "RUN_PATH_BENCH_SOURCE"
sys.path.insert(0, os.environ.get(SOURCE_ENV) or str(Path(__file__).resolve().parent.parent))

from stress.launcher import RedisProcess, ServerProcess  # noqa: E402 (after the path is set)

__all__ = ["main"]

WARMUP_SECONDS = 1.0
MIX = ("refresh", "refresh", "use", "use", "use")

SCENARIO = """
name = "run-path"
[target]
kind = "oauth2"
client_id = "demo-client"
resource = "/api/me"
{jwks}
[auth]
username = "user{{n}}"
password = "password"
[policy]
kind = "idempotent"
grace_seconds = 2
[run]
sessions = {sessions}
op_timeout_seconds = 10
max_ops = 10000000
max_seconds = {bound}
probe_at_end = false
[[steps]]
op = "login"
[[steps]]
op = "load"
duration_seconds = {seconds}
mix = {{ refresh = 2, use = 3 }}
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- children --------------------------------------------------------------------------------


async def _bare(base: str, seconds: float, concurrency: int, mix: bool) -> dict[str, Any]:
    import anyio

    from stress.wire import WireClient, WireRequest

    form = ("content-type", "application/x-www-form-urlencoded")
    counts = {"ops": 0, "errors": 0}

    async def login(client: WireClient, n: int) -> tuple[str, str]:
        body = f"grant_type=password&username=user{n}&password=password&client_id=demo-client"
        outcome = await client.request(
            WireRequest("POST", f"{base}/oauth/token", (form,), body.encode()), timeout=10
        )
        assert outcome.response is not None
        pair = json.loads(outcome.response.body)
        return pair["refresh_token"], pair["access_token"]

    async with WireClient(http2="never") as client:

        async def loop(n: int) -> None:
            healthz = WireRequest("GET", f"{base}/healthz")
            refresh, access = await login(client, n) if mix else ("", "")
            i = 0
            while True:
                if not mix:
                    request = healthz
                elif MIX[i % len(MIX)] == "refresh":
                    body = f"grant_type=refresh_token&refresh_token={refresh}&client_id=demo-client"
                    request = WireRequest("POST", f"{base}/oauth/token", (form,), body.encode())
                else:
                    auth = ("authorization", f"Bearer {access}")
                    request = WireRequest("GET", f"{base}/api/me", (auth,))
                outcome = await client.request(request, timeout=10)
                response = outcome.response
                if response is None or response.status != 200:
                    counts["errors"] += 1
                elif request.method == "POST":
                    pair = json.loads(response.body)
                    refresh, access = pair["refresh_token"], pair["access_token"]
                counts["ops"] += 1
                i += 1

        async with anyio.create_task_group() as tg:
            for n in range(concurrency):
                tg.start_soon(loop, n)
            await anyio.sleep(WARMUP_SECONDS)
            ops0, cpu0, wall0 = counts["ops"], _cpu(), time.monotonic()
            await anyio.sleep(seconds)
            ops1, cpu1, wall1 = counts["ops"], _cpu(), time.monotonic()
            tg.cancel_scope.cancel()
    return {"ops": ops1 - ops0, "cpu": cpu1 - cpu0, "wall": wall1 - wall0,
            "errors": counts["errors"]}  # fmt: skip


def _run_path(
    base: str, seconds: float, concurrency: int, folder: Path, verify: bool
) -> dict[str, Any]:
    from stress.pipeline import RunOptions, drive_scenario
    from stress.scenario import load_scenario
    from stress.wire import run

    scenario = folder / "run-path.toml"
    # Without a JWKS (a path that has none) access tokens are read but not verified.
    jwks = "" if verify else 'jwks_uri = "/no-jwks-here"'
    text = SCENARIO.format(sessions=concurrency, seconds=seconds, bound=seconds + 60, jwks=jwks)
    scenario.write_text(text)
    history = folder / "run-path.jsonl"
    options = RunOptions(scenario_path=scenario, targets=(base,), history_path=history)
    loaded = load_scenario(scenario)
    # CPU over the load only: from the first completion after the logins (and a warm-up) to
    # the last, read every 64th completion (a read costs about a microsecond).
    marks: list[tuple[float, int, float]] = []

    def progress(done: int, planned: int) -> None:
        if done >= concurrency * 4 and done % 64 == 0:
            marks.append((_cpu(), done, time.monotonic()))
            if len(marks) > 2:
                del marks[1]

    run(drive_scenario, loaded, options, progress)
    (cpu0, done0, wall0), (cpu1, done1, wall1) = marks[0], marks[-1]
    return {"ops": done1 - done0, "cpu": cpu1 - cpu0, "wall": wall1 - wall0, "errors": 0}


def _child(mode: str, base: str, seconds: float, concurrency: int) -> None:
    from stress.wire import run

    if mode.startswith("run-path"):
        with tempfile.TemporaryDirectory() as folder:
            verify = mode == "run-path"
            result = _run_path(base, seconds, concurrency, Path(folder), verify)
    else:
        result = run(_bare, base, seconds, concurrency, mode == "bare-mix")
    print(json.dumps(result))


# -- parent ----------------------------------------------------------------------------------


def _measure(
    mode: str, base: str, seconds: float, concurrency: int, source: str | None
) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", mode, base, str(seconds), str(concurrency)],
        capture_output=True, text=True, timeout=seconds + 300, check=False,
        env={**os.environ, SOURCE_ENV: source or ""},
    )  # fmt: skip
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Parse the arguments and print the table (or, as ``--child``, measure one mode)."""
    if len(sys.argv) == 6 and sys.argv[1] == "--child":
        _child(sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--source", help="measure the run path of this checkout instead")
    parser.add_argument(
        "--baseline",
        help="also measure the run path of this checkout, right before the other in each round "
        "(a before/after pair under the same load)",
    )
    args = parser.parse_args()
    load_before = os.getloadavg()
    plan: list[tuple[str, str | None]] = [("bare-healthz", None), ("bare-mix", None)]
    for mode in ("run-path", "run-path-unverified"):
        if args.baseline:
            plan.append((mode, args.baseline))
        plan.append((mode, args.source))
    rows: dict[tuple[str, str | None], list[dict[str, Any]]] = {each: [] for each in plan}
    with (
        RedisProcess() as redis,
        ServerProcess("atomic", redis_url=redis.url, extra_args=["--log-level", "warning"]) as srv,
    ):
        for _ in range(args.rounds):
            for mode, source in plan:
                result = _measure(mode, srv.url, args.seconds, args.concurrency, source)
                rows[(mode, source)].append(result)
    print(f"machine: {platform.machine()}, nproc {os.cpu_count()}, load average "
          f"{load_before[0]:.1f} before, {os.getloadavg()[0]:.1f} after; concurrency "
          f"{args.concurrency}, {args.seconds:g} s per mode, {args.rounds} round(s); run path "
          f"of {args.source or 'this checkout'}"
          + (f", baseline {args.baseline}" if args.baseline else ""))  # fmt: skip
    print()
    print("| mode | ops/s | tester CPU us per op (each round) | median |")
    print("|---|---|---|---|")
    for (mode, source), measured in rows.items():
        per_op = [r["cpu"] / r["ops"] * 1e6 for r in measured if r["ops"]]
        rate = statistics.median(r["ops"] / r["wall"] for r in measured if r["wall"])
        shown = ", ".join(f"{v:.0f}" for v in per_op)
        label = f"{mode} (baseline)" if args.baseline and source == args.baseline else mode
        print(f"| {label} | {rate:,.0f} | {shown} | {statistics.median(per_op):.0f} |")


if __name__ == "__main__":
    main()
