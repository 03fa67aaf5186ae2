"""Benchmark: refresh throughput and latency per strategy beside /healthz, two replicas.

Why this script exists: issue 2 sets a goal (``atomic`` >= 1/2 and ``redis-lock`` >= 1/3 of the
same servers' ``/healthz`` throughput) and the README shows the table this prints.

One run starts one embedded Redis and, per strategy, two single-worker replicas on it. Each
cell is measured in rounds, each a refresh measurement paired with a /healthz one on the same
servers; the goal is judged on the median of the per-round ratios, and every ratio is shown. The
client is a raw-socket keep-alive HTTP/1.1 client (h11 parsing) on anyio with uvloop; each
connection owns one family and refreshes it sequentially with its latest token, connections are
spread evenly over both replicas. Servers run with ``--log-level warning`` (no per-request log
line) for both the refresh and the healthz measurements. Everything (client, servers, Redis)
shares this machine, so the numbers are a comparison, not a capacity figure. To show where
the time goes, a second table gives the CPU time per completed request of the client, the two
server process trees and Redis (from /proc, Linux only), and the load averages are printed
before and after.

The pseudo-strategy ``ceiling`` serves ``benchmarks/ceiling_app.py`` instead: the token
endpoint's form read, token minting, Ed25519 signature and response with no store at all, beside
its own ``/healthz``. Its ratio bounds what any Redis-backed strategy can reach on this machine.

Usage::

    .venv/bin/python benchmarks/reference_server.py [--seconds 2] [--rounds 3] [--strategies ...]
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


Round = tuple[Result, Result]


def run_strategy(
    strategy: str, redis_url: str, seconds: float, rounds: int
) -> list[tuple[int, list[Round]]]:
    """``rounds`` paired measurements (refresh, healthz) at each concurrency, on two fresh
    replicas; the order within a pair alternates so that drift in the machine's load does not
    always favour the same side."""
    with contextlib.ExitStack() as stack:
        servers: Sequence[Endpoint | ServerProcess]
        if strategy == "ceiling":
            servers = stack.enter_context(ceiling_servers(2))
        else:
            extra = ["--log-level", "warning"]
            servers = [
                stack.enter_context(
                    ServerProcess(strategy, redis_url=redis_url, grace=2.0, extra_args=extra)
                )
                for _ in range(2)
            ]
        rows = []
        options = {"use_uvloop": True}
        for concurrency in CONCURRENCY:
            pairs: list[Round] = []
            for index in range(rounds):
                kinds = ("refresh", "healthz") if index % 2 == 0 else ("healthz", "refresh")
                done = {
                    kind: anyio.run(
                        measure, servers, kind, concurrency, seconds, backend_options=options
                    )
                    for kind in kinds
                }
                pairs.append((done["refresh"], done["healthz"]))
            rows.append((concurrency, pairs))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="paired measurements per cell")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    args = parser.parse_args(argv)
    lines = [
        "| strategy | conc. | refresh/s | p50 ms | p99 ms | errors | /healthz/s | "
        "healthz p50 ms | refresh ÷ healthz (median) | per round |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    cpu_lines = [
        "| strategy | conc. | refresh: client | servers | Redis | healthz: client | servers |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    load_before = os.getloadavg()
    with RedisProcess() as redis:
        for strategy in args.strategies.split(","):
            cells = run_strategy(strategy, redis.url, args.seconds, args.rounds)
            for concurrency, pairs in cells:
                ratios = [r.rate / h.rate for r, h in pairs]
                ref = Result.pooled([r for r, _ in pairs])
                health = Result.pooled([h for _, h in pairs])
                lines.append(
                    f"| {strategy} | {concurrency} | {ref.rate:,.0f} | {ref.pct(0.5):.2f} | "
                    f"{ref.pct(0.99):.2f} | {ref.errors} | {health.rate:,.0f} | "
                    f"{health.pct(0.5):.2f} | {statistics.median(ratios):.2f} | "
                    f"{' '.join(f'{x:.2f}' for x in ratios)} |"
                )
                cpu_lines.append(
                    f"| {strategy} | {concurrency} | {ref.cpu_us('client')} | "
                    f"{ref.cpu_us('server')} | {ref.cpu_us('redis')} | "
                    f"{health.cpu_us('client')} | {health.cpu_us('server')} |"
                )
    load_after = os.getloadavg()
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.write("\nCPU us per request (both server replicas summed):\n\n")
    sys.stdout.write("\n".join(cpu_lines) + "\n")
    sys.stdout.write(
        f"\n2 replicas x 1 granian worker, one embedded Redis, {args.rounds} rounds of "
        f"{args.seconds:g} s per side and cell (rates and latencies pooled over the rounds), "
        f"client, servers and Redis share this host ({os.cpu_count()} cores); load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after.\n"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
