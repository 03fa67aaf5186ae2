"""A real three-node Redis Cluster on 127.0.0.1, made of embedded Valkey servers.

Why this module exists: the reference server must work when pointed at any node of a cluster,
and only a real cluster shows what a real cluster does (slots, MOVED, nodes that pause). The
nodes are ``EmbeddedRedis`` processes started with cluster mode on; the slots are split in
three ranges, the nodes meet, and the cluster is ready once every node reports ``ok``.

Usage::

    with local_cluster() as cluster:
        ServerProcess("atomic", redis_url=cluster.urls[1])
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import redis

from reference_server.embedded_redis import EmbeddedRedis, free_port

__all__ = ["LocalCluster", "local_cluster"]

_SLOTS = 16384
_READY_TIMEOUT_S = 20.0


class LocalCluster:
    """Three primaries, each owning a third of the slots, no replicas."""

    def __init__(self, size: int = 3) -> None:
        # The bus port is named: the default (port + 10000) may be taken, or above 65535.
        options = ["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"]
        self._bus_ports = [free_port() for _ in range(size)]
        self.nodes = [
            EmbeddedRedis(extra_args=[*options, "--cluster-port", str(bus)])
            for bus in self._bus_ports
        ]

    @property
    def urls(self) -> list[str]:
        """One ``redis://`` URL per node (database 0, the only one a cluster has)."""
        return [node.url for node in self.nodes]

    def start(self) -> None:
        """Start the nodes, give each its slots, join them and wait until the cluster is ok."""
        for node in self.nodes:
            node.start()
        step = _SLOTS // len(self.nodes)
        for index, node in enumerate(self.nodes):
            first = index * step
            last = _SLOTS - 1 if index == len(self.nodes) - 1 else first + step - 1
            with redis.Redis(port=node.port) as client:
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        with redis.Redis(port=self.nodes[0].port) as first_node:
            for node, bus in zip(self.nodes[1:], self._bus_ports[1:], strict=True):
                first_node.execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, bus)
        self.wait_until_ok()

    def wait_until_ok(self) -> None:
        """Wait until every node sees every slot served."""
        deadline = time.monotonic() + _READY_TIMEOUT_S
        for node in self.nodes:
            with redis.Redis(port=node.port) as client:
                while b"cluster_state:ok" not in client.execute_command("CLUSTER", "INFO"):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"cluster not ok after {_READY_TIMEOUT_S} s")
                    time.sleep(0.05)

    def close(self) -> None:
        """Stop every node and remove its files."""
        for node in self.nodes:
            node.close()


@contextlib.contextmanager
def local_cluster(size: int = 3) -> Iterator[LocalCluster]:
    """A started cluster, stopped on exit."""
    cluster = LocalCluster(size)
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.close()
