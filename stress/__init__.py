"""auth-stress: finds concurrency bugs in refresh-token rotation.

The package is split the way Jepsen splits a test: a scenario is planned into operations, a runner
drives them against a target and records a history, and pure checkers prove violations from that
history. Only the runner and the wire clients touch the network.
"""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
