"""Benchmark: refresh throughput and latency per strategy beside /healthz and beside the
store-free ceiling, two replicas.

Why this script exists: the goal is ``atomic`` at 0.75 or more of the store-free ceiling's
refresh throughput at concurrency 32, and benchmarks/README.md shows the table this prints.

One run starts one embedded Redis (or uses ``--redis-url``) and two replicas of the pseudo-
strategy ``ceiling``, which stay up for the whole run: ``benchmarks/ceiling_app.py``, the token
endpoint's form read, token minting, Ed25519 signature and response with no store at all. Per
strategy it starts two single-worker replicas on the Redis. Each cell is measured in rounds;
a round measures the strategy's refresh, its servers' ``/healthz`` and the ceiling's refresh
back to back, in an order that rotates from round to round so that drift in the machine's load
does not always favour the same side. The ratios (refresh ÷ healthz, refresh ÷ ceiling) are the
medians of the per-round ratios, and every ratio is shown. The client is a raw-socket
keep-alive HTTP/1.1 client (h11 parsing) on anyio with uvloop; each connection owns one family
and refreshes it sequentially with its latest token, connections are spread evenly over both
replicas. Servers run with ``--log-level warning`` (no per-request log line). Everything
(client, servers, Redis) shares this machine, so the numbers are a comparison, not a capacity
figure. To show where the time goes, a second table gives the CPU time per completed request
of the client, the two server process trees and Redis (from /proc, Linux only), and the load
averages are printed before and after.

Usage::

    .venv/bin/python benchmarks/reference_server.py [--seconds 2] [--rounds 3] [--strategies ...]
        [--redis-url redis://127.0.0.1:6379/0]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import anyio
import h11
from anyio.abc import SocketStream

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from stress.launcher import RedisProcess, ServerProcess, free_port

__all__ = ["main"]

STRATEGIES = ["naive", "local-lock", "redis-lock", "atomic", "ceiling"]
HERE = Path(__file__).resolve().parent
CONCURRENCY = (1, 32)
GOAL = 0.75


def _process_cpu() -> dict[str, float]:
    """CPU seconds used so far by this process ("client") and its descendants, by the kind of
    the child they descend from ("server" or "redis"); empty where /proc is missing."""
    if not os.path.isdir("/proc"):
        return {}
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    command: dict[int, bytes] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat, open(f"/proc/{entry}/cmdline", "rb") as cmd:
                fields = stat.read().rsplit(")", 1)[1].split()
                command[int(entry)] = cmd.read()
        except OSError:
            continue
        parent[int(entry)] = int(fields[1])
        cpu[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    me = os.getpid()
    totals = {"client": time.process_time(), "server": 0.0, "redis": 0.0}
    for pid, used in cpu.items():
        child, up = pid, parent.get(pid, 0)
        while up not in (me, 0, 1) and up in parent:
            child, up = up, parent[up]
        if up == me:
            kind = "redis" if b"embedded_redis" in command.get(child, b"") else "server"
            totals[kind] += used
    return totals


@dataclass
class Result:
    """Completed requests and their latencies (seconds) in one measurement."""

    count: int
    seconds: float
    latencies: list[float]
    errors: int
    cpu: dict[str, float]

    @classmethod
    def pooled(cls, results: list[Result]) -> Result:
        """Several rounds as one measurement (counts, time, latencies and CPU added up)."""
        cpu = {k: sum(r.cpu[k] for r in results) for k in results[0].cpu}
        return cls(
            sum(r.count for r in results),
            sum(r.seconds for r in results),
            [lat for r in results for lat in r.latencies],
            sum(r.errors for r in results),
            cpu if all(r.cpu.keys() == cpu.keys() for r in results) else {},
        )

    def cpu_us(self, kind: str) -> str:
        """CPU microseconds of ``kind`` per completed request, or '?' without /proc."""
        if kind not in self.cpu or not self.count:
            return "?"
        return f"{self.cpu[kind] / self.count * 1e6:,.0f}"

    @property
    def rate(self) -> float:
        return self.count / self.seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


class Conn:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, stream: SocketStream, host: str) -> None:
        self.stream = stream
        self.host = host
        self.h11 = h11.Connection(h11.CLIENT)

    async def request(
        self, method: str, path: str, body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        headers = [("host", self.host), ("content-length", str(len(body)))]
        if body:
            headers.append(("content-type", "application/x-www-form-urlencoded"))
        data = self.h11.send(h11.Request(method=method, target=path, headers=headers)) or b""
        data += self.h11.send(h11.Data(data=body)) or b""
        data += self.h11.send(h11.EndOfMessage()) or b""
        await self.stream.send(data)
        status, resp_headers, chunks = 0, {}, []
        while True:
            event = self.h11.next_event()
            if event is h11.NEED_DATA:
                self.h11.receive_data(await self.stream.receive(65536))
            elif isinstance(event, h11.Response):
                status = event.status_code
                resp_headers = {k.decode(): v.decode() for k, v in event.headers}
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                self.h11.start_next_cycle()
                return status, resp_headers, b"".join(chunks)
            else:
                raise ConnectionError(f"unexpected {event!r}")


async def _login(conn: Conn, state: dict[str, str], index: int) -> None:
    body = urlencode({"grant_type": "password", "username": f"user{index}", "password": "password"})
    status, _, raw = await conn.request("POST", "/oauth/token", body.encode())
    if status != 200:
        raise RuntimeError(f"login failed: {status} {raw[:200]!r}")
    state["rt"] = json.loads(raw)["refresh_token"]


async def _refresh(conn: Conn, state: dict[str, str]) -> bool:
    body = urlencode({"grant_type": "refresh_token", "refresh_token": state["rt"]})
    status, _, raw = await conn.request("POST", "/oauth/token", body.encode())
    if status == 200:
        state["rt"] = json.loads(raw)["refresh_token"]
        return True
    return False


async def _healthz(conn: Conn, state: dict[str, str]) -> bool:
    status, _, _ = await conn.request("GET", "/healthz")
    return status == 200


@dataclass
class Endpoint:
    """Where a server listens."""

    host: str
    port: int


@contextlib.contextmanager
def ceiling_servers(count: int) -> Iterator[list[Endpoint]]:
    """``count`` granian processes serving ``ceiling_app``, each ready once /healthz answers."""
    env = {**os.environ, "PYTHONPATH": str(HERE.parent)}
    ports = [free_port() for _ in range(count)]
    argv = [sys.executable, "-m", "granian", "--interface", "asgi", "--host", "127.0.0.1"]
    tail = ["--workers", "1", "--no-ws", "--log-level", "warning", "benchmarks.ceiling_app:app"]
    procs = [
        subprocess.Popen([*argv, "--port", str(port), *tail], cwd=HERE.parent, env=env)
        for port in ports
    ]
    try:
        for port in ports:
            _wait_ready(port)
        yield [Endpoint("127.0.0.1", port) for port in ports]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


def _wait_ready(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            anyio.run(_healthz_once, port)
            return
        time.sleep(0.1)
    raise RuntimeError(f"ceiling app on port {port} did not answer /healthz")


async def _healthz_once(port: int) -> None:
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        if not await _healthz(Conn(stream, f"127.0.0.1:{port}"), {}):
            raise OSError("not ready")


async def measure(
    servers: Sequence[Endpoint | ServerProcess], kind: str, concurrency: int, seconds: float
) -> Result:
    """Run ``concurrency`` connections for ``seconds`` doing ``kind`` ('refresh'/'healthz')."""
    latencies: list[float] = []
    counts = {"ok": 0, "err": 0}
    op = _refresh if kind == "refresh" else _healthz
    started = anyio.Event()
    deadline = [0.0]

    async def worker(index: int) -> None:
        server = servers[index % len(servers)]
        stream = await anyio.connect_tcp(server.host, server.port)
        async with stream:
            conn = Conn(stream, f"{server.host}:{server.port}")
            state: dict[str, str] = {}
            if kind == "refresh":
                await _login(conn, state, index)
            await started.wait()
            while (now := time.perf_counter()) < deadline[0]:
                ok = await op(conn, state)
                latencies.append(time.perf_counter() - now)
                counts["ok" if ok else "err"] += 1

    async with anyio.create_task_group() as tg:
        for i in range(concurrency):
            tg.start_soon(worker, i)
        await anyio.sleep(0.3)  # connections and logins done
        cpu0 = _process_cpu()
        t0 = time.perf_counter()
        deadline[0] = t0 + seconds
        started.set()
    elapsed = time.perf_counter() - t0
    cpu1 = _process_cpu()
    used = {kind: cpu1[kind] - cpu0[kind] for kind in cpu1 if kind in cpu0}
    return Result(counts["ok"], elapsed, latencies, counts["err"], used)


@dataclass
class Round:
    """One round of a cell: the strategy's refresh, its servers' /healthz, the ceiling's
    refresh."""

    refresh: Result
    healthz: Result
    ceiling: Result


def run_strategy(
    strategy: str,
    redis_url: str,
    ceiling: Sequence[Endpoint],
    seconds: float,
    rounds: int,
) -> list[tuple[int, list[Round]]]:
    """``rounds`` rounds at each concurrency, on two fresh replicas (the ceiling's own for
    ``ceiling``)."""
    with contextlib.ExitStack() as stack:
        servers: Sequence[Endpoint | ServerProcess] = ceiling
        if strategy != "ceiling":
            extra = ["--log-level", "warning"]
            servers = [
                stack.enter_context(
                    ServerProcess(strategy, redis_url=redis_url, grace=2.0, extra_args=extra)
                )
                for _ in range(2)
            ]
        rows = []
        options = {"use_uvloop": True}
        sides = {"refresh": servers, "healthz": servers}
        if strategy != "ceiling":
            sides["ceiling"] = ceiling
        for concurrency in CONCURRENCY:
            cell: list[Round] = []
            for index in range(rounds):
                shift = index % len(sides)
                order = list(sides)[shift:] + list(sides)[:shift]
                done = {
                    side: anyio.run(
                        measure,
                        sides[side],
                        "healthz" if side == "healthz" else "refresh",
                        concurrency,
                        seconds,
                        backend_options=options,
                    )
                    for side in order
                }
                top = done.get("ceiling", done["refresh"])
                cell.append(Round(done["refresh"], done["healthz"], top))
            rows.append((concurrency, cell))
    return rows


def _ratios(values: Sequence[float]) -> str:
    return f"{statistics.median(values):.2f} | {' '.join(f'{x:.2f}' for x in values)}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print Markdown tables."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per cell")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--redis-url", default="", help="a Redis to use instead of an embedded one")
    args = parser.parse_args(argv)
    lines = [
        "| strategy | conc. | refresh/s | p50 ms | p99 ms | errors | /healthz/s | "
        "refresh ÷ healthz | per round | ceiling refresh/s | refresh ÷ ceiling | per round |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---|",
    ]
    cpu_lines = [
        "| strategy | conc. | refresh: client | servers | Redis | healthz: client | servers |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    goal = ""
    load_before = os.getloadavg()
    with contextlib.ExitStack() as stack:
        redis_url = args.redis_url or stack.enter_context(RedisProcess()).url
        ceiling = stack.enter_context(ceiling_servers(2))
        for strategy in args.strategies.split(","):
            cells = run_strategy(strategy, redis_url, ceiling, args.seconds, args.rounds)
            for concurrency, cell in cells:
                ref = Result.pooled([r.refresh for r in cell])
                health = Result.pooled([r.healthz for r in cell])
                top = Result.pooled([r.ceiling for r in cell])
                to_ceiling = [r.refresh.rate / r.ceiling.rate for r in cell]
                lines.append(
                    f"| {strategy} | {concurrency} | {ref.rate:,.0f} | {ref.pct(0.5):.2f} | "
                    f"{ref.pct(0.99):.2f} | {ref.errors} | {health.rate:,.0f} | "
                    f"{_ratios([r.refresh.rate / r.healthz.rate for r in cell])} | "
                    f"{top.rate:,.0f} | {_ratios(to_ceiling)} |"
                )
                cpu_lines.append(
                    f"| {strategy} | {concurrency} | {ref.cpu_us('client')} | "
                    f"{ref.cpu_us('server')} | {ref.cpu_us('redis')} | "
                    f"{health.cpu_us('client')} | {health.cpu_us('server')} |"
                )
                if strategy == "atomic" and concurrency == max(CONCURRENCY):
                    ratio = statistics.median(to_ceiling)
                    verdict = "met" if ratio >= GOAL else "NOT met"
                    goal = (
                        f"- atomic at concurrency {concurrency}: {ratio:.2f} of the store-free "
                        f"ceiling, median of {len(cell)} rounds (goal >= {GOAL}: {verdict})\n"
                    )
    load_after = os.getloadavg()
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.write("\nCPU us per request (both server replicas summed):\n\n")
    sys.stdout.write("\n".join(cpu_lines) + "\n\n" + goal)
    redis = "the Redis at --redis-url" if args.redis_url else "one embedded Redis"
    sys.stdout.write(
        f"\n2 replicas x 1 granian worker per strategy and 2 of the ceiling, {redis}, "
        f"{args.rounds} rounds of {args.seconds:g} s per side and cell (rates and latencies "
        f"pooled over the rounds), client, servers and Redis share this host "
        f"({os.cpu_count()} cores); load average {load_before[0]:.2f} before, "
        f"{load_after[0]:.2f} after.\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
